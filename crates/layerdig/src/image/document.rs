//! The JSON documents of an input besides image configs: indexes, manifests and attestations.
//! Registries keep them and serve them to anyone who pulls the image, so a secret in an
//! annotation or in BuildKit's provenance (which records `--build-arg` values) leaks as surely
//! as one in a layer. The scanner runs every string in them through the detectors.

use std::sync::Arc;

use serde_json::Value;

use super::Digest;
use crate::vocab::DocumentKind;

/// One JSON document of an input.
#[derive(Debug, Clone)]
pub struct SourceDocument {
    /// What it is.
    pub kind: DocumentKind,
    /// Its blob's digest; none for `index.json` and the layout's other files.
    pub digest: Option<Digest>,
    /// The layout file's name, for a document that is no blob (`index.json`, `manifest.json`,
    /// `repositories`, `<id>/json`, `oci-layout`).
    pub name: Option<String>,
    /// The parsed document.
    pub value: Arc<Value>,
}

/// One string of a document: its JSON path, the object key it is under (what the detectors
/// judge a value by, like a label's name), and the string.
pub struct DocumentString<'a> {
    /// `manifests[0].annotations.org.example.note`.
    pub field: String,
    /// The nearest object key (`org.example.note`), or empty for an array item at the top.
    pub key: &'a str,
    /// The string.
    pub value: &'a str,
}

/// Keys whose values are the document's structure, not its content: digests, media types,
/// sizes. Their strings are not searched.
const STRUCTURE_KEYS: [&str; 5] = ["digest", "mediaType", "artifactType", "schemaVersion", "_type"];

/// The most bytes of one descriptor's embedded `data` decoded and searched.
const MAX_EMBEDDED: usize = 4 << 20;

impl SourceDocument {
    /// Where in this document a secret at `field` is, as a location says it.
    pub fn place(&self, field: String) -> crate::vocab::Document {
        crate::vocab::Document {
            kind: self.kind,
            digest: self.digest.as_ref().map(ToString::to_string),
            name: self.name.clone(),
            field,
        }
    }

    /// The content descriptors carry inline (OCI image spec 1.1: `data`, base64): each
    /// descriptor's field path and the decoded bytes (at most 4 MiB each). A `data` string that
    /// is not base64 is left to [`SourceDocument::strings`].
    pub fn embedded_data(&self) -> Vec<(String, Vec<u8>)> {
        use base64::Engine as _;
        let mut out = Vec::new();
        each_string("", &self.value, 32, &mut |field, key, value| {
            if key == "data" && value.len() <= MAX_EMBEDDED / 3 * 4 + 4 {
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value) {
                    out.push((field.to_string(), bytes));
                }
            }
        });
        out
    }

    /// Every string in the document but those under the keys of its structure (digests, media
    /// types, sizes), nested at most 32 deep.
    pub fn strings(&self) -> Vec<DocumentString<'_>> {
        let mut out = Vec::new();
        each_string("", &self.value, 32, &mut |field, key, value| {
            if !STRUCTURE_KEYS.contains(&key) {
                out.push(DocumentString { field: field.to_string(), key, value });
            }
        });
        out
    }
}

/// Hand `visit` every string in `value`, depth first, with its path (`path`, then `.key` for an
/// object member, or just `key` while the path is empty, and `[i]` for an array item) and the
/// nearest object key it is under (empty at the top); arrays and objects nest at most
/// `max_depth` deep. The image config's strings and the documents' are walked by this.
pub(super) fn each_string<'a>(
    path: &str,
    value: &'a Value,
    max_depth: usize,
    visit: &mut dyn FnMut(&str, &'a str, &'a str),
) {
    fn walk<'a>(
        path: &mut String,
        key: &'a str,
        value: &'a Value,
        depth: usize,
        max_depth: usize,
        visit: &mut dyn FnMut(&str, &'a str, &'a str),
    ) {
        match value {
            Value::String(s) => visit(path, key, s),
            Value::Array(items) if depth < max_depth => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(path, key, item, depth + 1, max_depth, visit);
                    path.truncate(len);
                }
            }
            Value::Object(map) if depth < max_depth => {
                for (k, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    walk(path, k, item, depth + 1, max_depth, visit);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    walk(&mut path.to_string(), "", value, 0, max_depth, visit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_have_paths_and_keys_and_skip_structure() {
        let value: Value = serde_json::from_str(
            r#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{"digest": "sha256:00", "annotations": {"org.example.note": "hello"}}]}"#,
        )
        .unwrap();
        let doc = SourceDocument {
            kind: DocumentKind::Index,
            digest: None,
            name: Some("index.json".into()),
            value: Arc::new(value),
        };
        let strings: Vec<(String, &str, &str)> = doc.strings().into_iter().map(|s| (s.field, s.key, s.value)).collect();
        assert_eq!(
            strings,
            vec![("manifests[0].annotations.org.example.note".to_string(), "org.example.note", "hello")]
        );
    }
}
