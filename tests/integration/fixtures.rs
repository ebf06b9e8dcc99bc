//! The committed fixture images, made by podman, skopeo and umoci: every planted file at its
//! layer with its status, in every form.

use layerdig::{ImageFormat, ImageSource, Status};
use layerdig_tests::fixtures;
use serde_json::Value;

pub(crate) fn planted() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("planted.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["planted"].as_array().unwrap().clone()
}

pub(crate) const FORMS: [(&str, ImageFormat); 4] = [
    ("demo.docker.tar", ImageFormat::DockerArchive),
    ("demo.oci.tar", ImageFormat::OciArchive),
    ("demo.zstd.oci", ImageFormat::OciLayout),
    ("demo.umoci.oci", ImageFormat::OciLayout),
];

/// Expected (status, removed_in_layer) of a planted file in a fixture form.
pub(crate) fn expected(p: &Value, form: &str) -> (Status, Option<usize>) {
    let status = p["status"].as_str().unwrap();
    let removed = p["removed_in_layer"].as_u64().map(|n| n as usize);
    if status.starts_with("present") {
        if form == "demo.umoci.oci" && status.contains("deleted in layer 8") {
            return (Status::Deleted, Some(8));
        }
        return (Status::Present, None);
    }
    let s = match status {
        "deleted" => Status::Deleted,
        "overwritten" => Status::Overwritten,
        other => panic!("unknown status {other}"),
    };
    (s, removed)
}

#[test]
fn every_planted_file_has_its_layer_and_status_in_every_form() {
    for (form, format) in FORMS {
        let source = ImageSource::open(fixtures().join(form)).unwrap();
        assert_eq!(source.format(), format, "{form}");
        assert!(source.problems().is_empty(), "{form}: {:?}", source.problems());
        let image = &source.images()[0];
        assert_eq!(image.layers.len(), if form == "demo.umoci.oci" { 9 } else { 8 }, "{form}");
        let layerdig::Listing { files, problems, .. } =
            layerdig::list(&source, image, &layerdig::Rules::builtin(), false, None);
        assert!(problems.is_empty(), "{form}: {problems:?} (digests must verify)");
        for p in planted() {
            let Some(path) = p["path"].as_str() else { continue };
            let layer = p["layer"].as_u64().unwrap() as usize;
            let record = files
                .iter()
                .find(|f| f.path == path && f.layer_index == layer)
                .unwrap_or_else(|| panic!("{form}: {path} not in layer {layer}"));
            assert_eq!((record.status, record.removed_in_layer), expected(&p, form), "{form}: {path}");
        }
    }
}

#[test]
fn layers_carry_their_instruction() {
    let source = ImageSource::open(fixtures().join("demo.oci.tar")).unwrap();
    let layers = &source.images()[0].layers;
    assert!(layers[2].created_by.as_deref().unwrap().contains("rm /app/.env"));
    assert!(layers[5].created_by.as_deref().unwrap().contains("rm -rf /root/.ssh"));
    let config = source.images()[0].config.as_ref().unwrap();
    assert!(config.config.as_ref().unwrap().env.as_ref().unwrap().iter().any(|e| e.starts_with("SLACK_TOKEN=")));
}
