//! The image configuration (OCI image spec `config.md`): the runtime config, the layers'
//! uncompressed digests (`diff_ids`) and the build history.

use std::collections::BTreeMap;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Digest;
use crate::redact::Redacted;
use crate::vocab::{ConfigField, HistoryField};

/// An image configuration. Fields without a type of their own (`author`, `os.features`,
/// anything a tool added) are kept in `extra`, so that every string in the config is searched.
/// `Debug` shows values redacted.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// When the image was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The runtime configuration: environment, labels, command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RuntimeConfig>,
    /// The layers' uncompressed digests.
    #[serde(default)]
    pub rootfs: RootFs,
    /// How each layer was made, base first, including entries that made no layer.
    #[serde(default)]
    pub history: Vec<History>,
    /// Every other field, as it is.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The part of the configuration a container starts with. `Debug` shows environment, label,
/// command and entrypoint values redacted: they are where images carry secrets.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// `KEY=VALUE` environment entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// User.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field (`Healthcheck`, `OnBuild`, `Shell`, `StopSignal`, `ExposedPorts`,
    /// `Volumes`, anything a tool added), as it is.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `rootfs` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Uncompressed digest of each layer, base first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// One build step. `Debug` shows `created_by` and `comment` redacted: build arguments are
/// recorded there.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, e.g. `/bin/sh -c #(nop) COPY file:… in /app/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer (`ENV`, `CMD`, …).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl ImageConfig {
    /// The `created_by` of each layer-making history entry, in layer order. The result has one
    /// element per layer-making entry; callers index it by layer and treat a missing one as
    /// unknown (configs are not required to have history).
    pub fn layer_history(&self) -> Vec<Option<&str>> {
        self.history.iter().filter(|h| !h.empty_layer).map(|h| h.created_by.as_deref()).collect()
    }

    /// Every string of the configuration, where secrets hide, with the field it comes from:
    /// each `Env` entry, label, `Cmd` and `Entrypoint` argument, `WorkingDir` and `User`, every
    /// string in the runtime config's other fields and in the config's own untyped fields
    /// (`author`, …), and each history entry's `created_by` (where build arguments are
    /// recorded), `comment` and `author`. Not the digests, platform and dates, which are the
    /// image's structure.
    pub fn secret_candidates(&self) -> Vec<ConfigString<'_>> {
        let mut out = Vec::new();
        if let Some(runtime) = &self.config {
            for (i, entry) in runtime.env.iter().flatten().enumerate() {
                out.push(ConfigString { field: ConfigField::Env(i), value: entry });
            }
            for (name, value) in runtime.labels.iter().flatten() {
                out.push(ConfigString { field: ConfigField::Label(name.clone()), value });
            }
            for (i, value) in runtime.cmd.iter().flatten().enumerate() {
                out.push(ConfigString { field: ConfigField::Cmd(i), value });
            }
            for (i, value) in runtime.entrypoint.iter().flatten().enumerate() {
                out.push(ConfigString { field: ConfigField::Entrypoint(i), value });
            }
            for (name, value) in [("WorkingDir", &runtime.working_dir), ("User", &runtime.user)] {
                if let Some(value) = value {
                    out.push(ConfigString { field: ConfigField::Other(format!("config.{name}")), value });
                }
            }
            for (name, value) in &runtime.extra {
                strings(&format!("config.{name}"), value, &mut out);
            }
        }
        for (name, value) in &self.extra {
            strings(name, value, &mut out);
        }
        for (entry, h) in self.history.iter().enumerate() {
            for (field, value) in [
                (HistoryField::CreatedBy, &h.created_by),
                (HistoryField::Comment, &h.comment),
                (HistoryField::Author, &h.author),
            ] {
                if let Some(value) = value {
                    out.push(ConfigString { field: ConfigField::History { entry, field }, value });
                }
            }
        }
        out
    }
}

/// Every string in `value` (at `path`, dotted for object keys, `[i]` for array items) as a
/// configuration string; arrays and objects nest at most 16 deep.
fn strings<'a>(path: &str, value: &'a Value, out: &mut Vec<ConfigString<'a>>) {
    super::document::each_string(path, value, 16, &mut |field, _, value| {
        out.push(ConfigString { field: ConfigField::Other(field.to_string()), value });
    });
}

/// One configuration string to run through the detectors. `Debug` shows the value redacted.
#[derive(Clone)]
pub struct ConfigString<'a> {
    /// The field it is, e.g. `Env[2]` or `history[9].created_by`.
    pub field: ConfigField,
    /// The string.
    pub value: &'a str,
}

/// Untyped fields in `Debug`: their names, with every string in them redacted.
struct RedactedValues<'a>(&'a BTreeMap<String, Value>);

impl fmt::Debug for RedactedValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut strings = Vec::new();
        for (name, value) in self.0 {
            self::strings(name, value, &mut strings);
        }
        f.debug_map().entries(strings.iter().map(|s| (s.field.to_string(), Redacted(s.value)))).finish()
    }
}

impl fmt::Debug for ImageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageConfig")
            .field("architecture", &self.architecture)
            .field("os", &self.os)
            .field("variant", &self.variant)
            .field("created", &self.created)
            .field("config", &self.config)
            .field("rootfs", &self.rootfs)
            .field("history", &self.history)
            .field("extra", &RedactedValues(&self.extra))
            .finish()
    }
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(l: &Option<Vec<String>>) -> Option<Vec<Redacted<'_>>> {
            l.as_ref().map(|l| l.iter().map(|v| Redacted(v)).collect())
        }
        // `KEY=VALUE` entries keep their key.
        let env = self.env.as_ref().map(|env| {
            env.iter()
                .map(|e| match e.split_once('=') {
                    Some((k, v)) => format!("{k}={}", crate::redact::redact(v.as_bytes())),
                    None => crate::redact::redact(e.as_bytes()),
                })
                .collect::<Vec<_>>()
        });
        let labels = self.labels.as_ref().map(|l| l.iter().map(|(k, v)| (k, Redacted(v))).collect::<BTreeMap<_, _>>());
        f.debug_struct("RuntimeConfig")
            .field("env", &env)
            .field("labels", &labels)
            .field("cmd", &list(&self.cmd))
            .field("entrypoint", &list(&self.entrypoint))
            .field("working_dir", &self.working_dir.as_deref().map(Redacted))
            .field("user", &self.user)
            .field("extra", &RedactedValues(&self.extra))
            .finish()
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("created", &self.created)
            .field("created_by", &self.created_by.as_deref().map(Redacted))
            .field("comment", &self.comment.as_deref().map(Redacted))
            .field("empty_layer", &self.empty_layer)
            .field("author", &self.author.as_deref().map(Redacted))
            .finish()
    }
}

impl fmt::Debug for ConfigString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigString").field("field", &self.field).field("value", &Redacted(self.value)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: every string of the config is searched, with the field it is in, and none is
    /// shown by `Debug`.
    #[test]
    fn every_string_of_the_config_is_a_candidate() {
        let key = "AKIABNC2R2QVGLCFOXVM";
        let json = format!(
            r#"{{"author": "ci {key}", "os.features": ["f"], "x-build": {{"args": [{{"token": "{key}"}}], "n": 3}},
              "created": "2026-01-01T00:00:00Z", "architecture": "amd64",
              "config": {{"WorkingDir": "/srv/{key}", "User": "app", "StopSignal": "SIGTERM",
                "Healthcheck": {{"Test": ["CMD", "curl -H 'X-Key: {key}' localhost"]}},
                "OnBuild": ["RUN echo {key}"], "ExposedPorts": {{"8080/tcp": {{}}}}}},
              "history": [{{"created_by": "make", "author": "{key}"}}]}}"#
        );
        let config: ImageConfig = serde_json::from_str(&json).expect("config");
        let found: Vec<(String, &str)> =
            config.secret_candidates().into_iter().map(|c| (c.field.to_string(), c.value)).collect();
        for (field, value) in [
            ("config.WorkingDir", format!("/srv/{key}")),
            ("config.User", "app".to_string()),
            ("config.Healthcheck.Test[1]", format!("curl -H 'X-Key: {key}' localhost")),
            ("config.OnBuild[0]", format!("RUN echo {key}")),
            ("config.StopSignal", "SIGTERM".to_string()),
            ("author", format!("ci {key}")),
            ("os.features[0]", "f".to_string()),
            ("x-build.args[0].token", key.to_string()),
            ("history[0].author", key.to_string()),
            ("history[0].created_by", "make".to_string()),
        ] {
            assert!(found.iter().any(|(f, v)| *f == field && **v == value), "{field}: {found:?}");
        }
        // The structure is not searched: dates, platform, digests.
        assert!(!found.iter().any(|(f, _)| f == "created" || f == "architecture"), "{found:?}");
        let shown = format!("{config:?}");
        assert!(!shown.contains("BNC2R2QV"), "{shown}");
        assert!(shown.contains("x-build.args[0].token"), "{shown}");
        // A field path reads back.
        assert_eq!(
            "config.Healthcheck.Test[1]".parse::<ConfigField>(),
            Ok(ConfigField::Other("config.Healthcheck.Test[1]".into()))
        );
    }

    /// Issue 7: a `{:?}` of an image's configuration never prints the values secrets hide in.
    #[test]
    fn debug_shows_config_values_redacted() {
        let key = "AKIABNC2R2QVGLCFOXVM";
        let json = format!(
            r#"{{"config": {{"Env": ["AWS_ACCESS_KEY_ID={key}", "{key}"], "Labels": {{"k": "{key}"}},
                "Cmd": ["--key={key}"], "Entrypoint": ["{key}"], "User": "app"}},
              "history": [{{"created_by": "|1 KEY={key} /bin/sh -c make", "comment": "{key}"}}]}}"#
        );
        let config: ImageConfig = serde_json::from_str(&json).expect("config");
        let candidates = config.secret_candidates();
        assert_eq!(candidates.len(), 8, "{candidates:?}");
        for text in [format!("{config:?}"), format!("{config:#?}"), format!("{candidates:?}")] {
            assert!(!text.contains("BNC2R2QV"), "{text}");
        }
        let text = format!("{config:?}");
        assert!(text.contains("AWS_ACCESS_KEY_ID=AKIA… (20 chars)"), "{text}");
        assert!(text.contains(r#"user: Some("app")"#), "{text}");
    }
}
