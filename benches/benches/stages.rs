//! One criterion group per stage of a scan: inflate, untar, prefilter + confirm (detectors on
//! text, on text without keywords, on binary data), resolve, and end to end.

use std::hint::black_box;
use std::io::Read;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use layerdig::detect::{Detector, Window};
use layerdig::{Collect, Rules, Scanner};
use layerdig_bench::{binary, layer_tar, no_keyword_text, plain_code_text, source_text};
use layerdig_tests::{Comp, Layout, SynthImage, SynthLayer, compress};

const MIB: usize = 1 << 20;

fn inflate(c: &mut Criterion) {
    let tar = layer_tar(400, 16 * 1024);
    let gz = compress(&tar, Comp::Gzip);
    let zst = compress(&tar, Comp::Zstd);
    let mut g = c.benchmark_group("inflate");
    g.throughput(Throughput::Bytes(tar.len() as u64));
    g.bench_function("gzip", |b| {
        b.iter(|| {
            let mut d = flate2::read::MultiGzDecoder::new(&gz[..]);
            std::io::copy(&mut d, &mut std::io::sink()).unwrap()
        })
    });
    g.bench_function("zstd", |b| {
        b.iter(|| {
            let mut d = zstd::stream::read::Decoder::new(&zst[..]).unwrap();
            std::io::copy(&mut d, &mut std::io::sink()).unwrap()
        })
    });
    g.finish();
}

fn untar(c: &mut Criterion) {
    let tar = layer_tar(2000, 4 * 1024);
    let mut g = c.benchmark_group("untar");
    g.throughput(Throughput::Bytes(tar.len() as u64));
    g.bench_function("tar-crate-read-all", |b| {
        b.iter(|| {
            let mut a = tar::Archive::new(&tar[..]);
            let mut n = 0u64;
            let mut buf = Vec::new();
            for e in a.entries().unwrap() {
                let mut e = e.unwrap();
                buf.clear();
                e.read_to_end(&mut buf).unwrap();
                n += buf.len() as u64;
            }
            n
        })
    });
    g.finish();
}

fn detect(c: &mut Criterion) {
    let rules = Rules::builtin();
    let mut det = Detector::new(&rules);
    let text = source_text(8 * MIB, 7);
    let quiet = no_keyword_text(8 * MIB, 9);
    let plain = plain_code_text(8 * MIB, 13);
    let bin = binary(8 * MIB, 11);
    let mut out = Vec::new();
    out.clear();
    let before = det.stats();
    det.scan(b"src/plain.rs", &plain, Window::default(), &mut out);
    let after = det.stats();
    assert!(
        out.is_empty() && after.regex_runs == before.regex_runs && after.entropy_values == before.entropy_values,
        "plain code text must hold no keyword"
    );
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("source-text", |b| {
        b.iter(|| {
            out.clear();
            det.scan(b"usr/lib/app/module.py", black_box(&text), Window::default(), &mut out);
            out.len()
        })
    });
    g.bench_function("plain-code", |b| {
        b.iter(|| {
            out.clear();
            det.scan(b"src/plain.rs", black_box(&plain), Window::default(), &mut out);
            out.len()
        })
    });
    g.bench_function("no-keywords", |b| {
        b.iter(|| {
            out.clear();
            det.scan(b"data/numbers.csv", black_box(&quiet), Window::default(), &mut out);
            out.len()
        })
    });
    g.bench_function("binary", |b| {
        b.iter(|| {
            out.clear();
            det.scan(b"usr/lib/libfoo.so", black_box(&bin), Window::default(), &mut out);
            out.len()
        })
    });
    g.finish();
    // The keyword automaton alone: what every byte of every file pays before any regex runs.
    let mut g = c.benchmark_group("prefilter");
    g.throughput(Throughput::Bytes(text.len() as u64));
    for (name, input) in [("source-text", &text), ("plain-code", &plain), ("no-keywords", &quiet), ("binary", &bin)] {
        g.bench_function(name, |b| b.iter(|| det.candidates(black_box(input)).len()));
    }
    // Many small files: each pays the walks' set-up and their run past the parts' ends.
    g.bench_function("plain-code-in-1-KiB-files", |b| {
        b.iter(|| plain.chunks(1024).map(|p| det.candidates(black_box(p)).len()).sum::<usize>())
    });
    g.finish();
    c.bench_function("rules/compile-builtin", |b| b.iter(|| black_box(Rules::try_builtin().unwrap())));
}

fn end_to_end(c: &mut Criterion) {
    let rules = Rules::builtin();
    let dir = std::env::temp_dir().join("layerdig-bench-e2e");
    let _ = std::fs::remove_dir_all(&dir);
    let layers: Vec<SynthLayer> =
        (0..4).map(|i| SynthLayer::new(layer_tar(500, 8 * 1024 + i), Comp::Gzip, "COPY . /")).collect();
    let total: usize = layers.iter().map(|l| l.tar.len()).sum();
    Layout::oci(&[SynthImage::new(layers.clone())], false, false).write_dir(&dir);
    let plain_dir = std::env::temp_dir().join("layerdig-bench-e2e-plain.tar");
    let plain: Vec<SynthLayer> =
        layers.iter().map(|l| SynthLayer::new(l.tar.clone(), Comp::None, "COPY . /")).collect();
    Layout::docker_classic(&SynthImage::new(plain)).write_tar(&plain_dir);
    let mut g = c.benchmark_group("end-to-end");
    g.throughput(Throughput::Bytes(total as u64));
    g.sample_size(10);
    let scanner = Scanner::new(&rules);
    g.bench_function("oci-gzip-4-layers", |b| {
        b.iter(|| {
            let mut sink = Collect::new();
            scanner.scan_path(&dir, &mut sink).unwrap()
        })
    });
    g.bench_function("docker-archive-plain-4-layers", |b| {
        b.iter(|| {
            let mut sink = Collect::new();
            scanner.scan_path(&plain_dir, &mut sink).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, inflate, untar, detect, end_to_end);
criterion_main!(benches);
