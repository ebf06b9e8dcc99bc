//! Arbitrary bytes as one layer tarball, walked entry by entry with every file's bytes run
//! through the detectors, as the scanner does.
//!
//! The first byte chooses how the rest is stored: `1` gzip-compresses it and `2` zstd-compresses
//! it here (so the fuzzer mutates the tar inside the compression); `3` splits it into two gzip
//! members, the second with a comment, and `4` into two zstd frames around a skippable frame,
//! each followed by bytes that are no member or frame (the framing's hiding places); anything
//! else takes it as it is (plain tar, or compressed bytes recognised by their magic, mutated as
//! such). Whatever the bytes, the layer's byte account adds up to its stream and its blob.
#![no_main]

use std::io::{Read, Write};

use layerdig::detect::{Detector, Window};
use layerdig::layer::{self, Content, EntryKind, Flow, WalkOptions};
use layerdig::{ImageSource, Rules};
use libfuzzer_sys::fuzz_target;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (head, tail) = rest.split_at(rest.len() / 2);
    let blob = match mode {
        1 => gzip(rest),
        2 => zstd::encode_all(rest, 1).expect("in memory"),
        3 => {
            // A comment is zero-terminated: none inside it.
            let comment: Vec<u8> = tail.iter().copied().filter(|&b| b != 0).take(16).collect();
            let mut second = flate2::GzBuilder::new().comment(comment).write(Vec::new(), flate2::Compression::fast());
            second.write_all(tail).expect("in memory");
            [gzip(head), second.finish().expect("in memory"), b"tail".to_vec()].concat()
        }
        4 => {
            let mut skippable = 0x184D_2A53u32.to_le_bytes().to_vec();
            skippable.extend_from_slice(&(head.len().min(32) as u32).to_le_bytes());
            skippable.extend_from_slice(&head[..head.len().min(32)]);
            let first = zstd::encode_all(head, 1).expect("in memory");
            let second = zstd::encode_all(tail, 1).expect("in memory");
            [first, skippable, second, b"tail".to_vec()].concat()
        }
        _ => rest.to_vec(),
    };
    let path = layerdig_fuzz::input_file("walk_layer", &blob);
    // Not a layer nor an image: an error is the right answer.
    let Ok(source) = ImageSource::open(&path) else { return };
    let rules: &Rules = &layerdig_fuzz::RULES;
    let mut detector = Detector::new(rules);
    let options = WalkOptions { max_layer_bytes: layerdig_fuzz::MAX_LAYER_BYTES, verify_digests: true };
    let mut buf = Vec::new();
    let mut matches = Vec::new();
    for image in source.images() {
        for layer in &image.layers {
            let mut visitor = |entry: &layer::Entry<'_>, content: Content<'_>| {
                layerdig_fuzz::check_normalized(entry.path);
                match entry.kind {
                    EntryKind::Hardlink { target } | EntryKind::Whiteout { target } => {
                        layerdig_fuzz::check_normalized(target)
                    }
                    EntryKind::OpaqueWhiteout { dir } => layerdig_fuzz::check_normalized(dir),
                    _ => {}
                }
                let bytes: &[u8] = match content {
                    Content::None => return Ok(Flow::Continue),
                    Content::Slice(s) => s,
                    Content::Reader(r) => {
                        buf.clear();
                        r.take(layerdig_fuzz::MAX_LAYER_BYTES).read_to_end(&mut buf).map_err(|e| {
                            layerdig::Error::Sink(layerdig::SinkError::Other(format!("reading an entry: {e}")))
                        })?;
                        &buf
                    }
                };
                matches.clear();
                detector.scan(entry.path, bytes, Window::default(), &mut matches);
                for m in &matches {
                    layerdig_fuzz::check_match(m, bytes, 0);
                }
                let head = &bytes[..bytes.len().min(64 << 10)];
                if let Some(m) = detector.classify_file(entry.path, head, entry.size, !matches.is_empty()) {
                    layerdig_fuzz::check_match(&m, head, 0);
                }
                Ok(Flow::Continue)
            };
            let walk = layer::walk(&path, layer, &options, &mut visitor);
            assert!(walk.stats.files <= walk.stats.entries, "more files than entries: {:?}", walk.stats);
            let account = walk.stats.account;
            if walk.compression.is_some() {
                assert_eq!(account.stream_total(), walk.stats.uncompressed_bytes, "{:?}", walk.stats);
            }
            if account.compressed + account.framing_hidden > 0 {
                assert_eq!(
                    account.compressed + account.framing_hidden,
                    walk.stats.compressed_bytes,
                    "{:?}",
                    walk.stats
                );
            }
        }
    }
});
