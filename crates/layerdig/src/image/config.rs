//! The image configuration (OCI image spec `config.md`): the runtime config, the layers'
//! uncompressed digests (`diff_ids`) and the build history.

use std::collections::BTreeMap;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Digest;
use crate::redact::Redacted;
use crate::vocab::{ConfigField, HistoryField};

/// An image configuration. Unknown fields are ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
}

impl ImageConfig {
    /// The `created_by` of each layer-making history entry, in layer order. The result has one
    /// element per layer-making entry; callers index it by layer and treat a missing one as
    /// unknown (configs are not required to have history).
    pub fn layer_history(&self) -> Vec<Option<&str>> {
        self.history.iter().filter(|h| !h.empty_layer).map(|h| h.created_by.as_deref()).collect()
    }

    /// The configuration strings in which secrets hide: each `Env` entry, each label, each
    /// `Cmd` and `Entrypoint` argument, and each history entry's `created_by` (where build
    /// arguments are recorded) and `comment`, with the field they come from.
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
        }
        for (entry, h) in self.history.iter().enumerate() {
            for (field, value) in [(HistoryField::CreatedBy, &h.created_by), (HistoryField::Comment, &h.comment)] {
                if let Some(value) = value {
                    out.push(ConfigString { field: ConfigField::History { entry, field }, value });
                }
            }
        }
        out
    }
}

/// One configuration string to run through the detectors. `Debug` shows the value redacted.
#[derive(Clone)]
pub struct ConfigString<'a> {
    /// The field it is, e.g. `Env[2]` or `history[9].created_by`.
    pub field: ConfigField,
    /// The string.
    pub value: &'a str,
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
            .field("working_dir", &self.working_dir)
            .field("user", &self.user)
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
        assert_eq!(candidates.len(), 7);
        for text in [format!("{config:?}"), format!("{config:#?}"), format!("{candidates:?}")] {
            assert!(!text.contains("BNC2R2QV"), "{text}");
        }
        let text = format!("{config:?}");
        assert!(text.contains("AWS_ACCESS_KEY_ID=AKIA… (20 chars)"), "{text}");
        assert!(text.contains(r#"user: Some("app")"#), "{text}");
    }
}
