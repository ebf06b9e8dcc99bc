//! `generate OUTDIR`: large bench images built from real software on this machine (system
//! libraries and binaries, Python and Node packages, crate sources), with a few planted secrets
//! (one deleted by a later layer's whiteout), and optionally one multi-GiB file and a layer of
//! many tiny files.
//!
//! Everything streams: each layer tar is written once, straight into the outer archive(s), with
//! SHA-256 computed on the way (uncompressed for the diff_id, compressed for the blob digest).
//! An entry's size and name are only known at its end, so its header is written last, over a
//! placeholder. The same layer bytes can feed an `oci-archive` (gzip layers) and a classic
//! `docker save` archive (uncompressed layers) in one pass.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use layerdig_bench::{binary, no_keyword_text, source_text};

/// Which archives to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An `oci-archive` tar with gzip layers.
    Oci,
    /// A classic `docker save` tar with uncompressed layers.
    Docker,
    /// Both, from one pass over the sources.
    Both,
}

/// Options of `generate`.
pub struct Options {
    /// Where the archives go.
    pub out_dir: PathBuf,
    /// Target uncompressed size of the whole image.
    pub size: u64,
    /// Archives to write.
    pub format: Format,
    /// Size of one single-file layer of mixed text (0: none).
    pub big_file: u64,
    /// Number of files in a layer of tiny node_modules-like files (0: none).
    pub tiny_files: usize,
    /// Add a layer of every jar, war and wheel on this machine.
    pub archives: bool,
    /// Base name of the archives.
    pub name: Option<String>,
}

/// Secrets planted in the image (the same test values the fixtures use).
mod planted {
    pub const AWS_KEY_ID: &str = "AKIABNC2R2QVGLCFOXVM";
    pub const AWS_SECRET: &str = "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";
    pub const STRIPE: &str = "sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB";
    pub const GITHUB: &str = "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";
    pub const SLACK: &str = "xoxb-5424961880-0912427393424-u672H7IYL5K2f2G1OAB6UpRs";
    pub const SSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACA8Fm28l/q5TOtvx84tepIX5Ihncuv3H4A66+wdx4djtwAAAJCAE3GLgBNx
iwAAAAtzc2gtZWQyNTUxOQAAACA8Fm28l/q5TOtvx84tepIX5Ihncuv3H4A66+wdx4djtw
AAAEDMtOswIdeUz6xniaYySBw5igb6SA9KIuhgGH8q+XmXZjwWbbyX+rlM62/Hzi16khfk
iGdy6/cfgDrr7B3Hh2O3AAAAB3Jvb3RAdm0BAgMEBQY=
-----END OPENSSH PRIVATE KEY-----
";
}

/// What goes into one layer.
enum Plan {
    /// Real files from these `(source directory, path in the image)` pairs, walked in sorted
    /// order until the layer holds `budget` bytes.
    Tree { sources: Vec<(PathBuf, String)>, budget: u64 },
    /// The application: small files, some holding secrets.
    App,
    /// One file of `size` bytes of mixed text and binary data, with a secret inside.
    BigFile { size: u64 },
    /// `count` tiny files in a node_modules-like tree.
    TinyFiles { count: usize },
    /// Every jar, war and wheel on this machine (Java and Python packages), plus a Spring Boot
    /// style jar holding a secret in its deflated `application.properties`.
    Archives,
    /// Whiteouts deleting the application's `.env` and root's `.ssh` directory.
    Cleanup,
}

struct LayerSpec {
    created_by: String,
    plan: Plan,
}

fn plans(opts: &Options) -> Vec<LayerSpec> {
    let tiny_estimate = opts.tiny_files as u64 * 2048;
    let real = opts.size.saturating_sub(opts.big_file).saturating_sub(tiny_estimate);
    let part = |pct: u64| real / 100 * pct;
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let python = glob_dirs(&home.join(".pyenv/versions"), "lib/python3");
    let cargo_src = glob_dirs(&home.join(".cargo/registry/src"), "");
    let mut specs = Vec::new();
    let mut tree = |created_by: &str, pct: u64, sources: Vec<(PathBuf, String)>| {
        let sources: Vec<_> = sources.into_iter().filter(|(p, _)| p.is_dir()).collect();
        if real > 0 && !sources.is_empty() {
            specs.push(LayerSpec {
                created_by: created_by.to_string(),
                plan: Plan::Tree { sources, budget: part(pct) },
            });
        }
    };
    let sys = |p: &str| (PathBuf::from(p), p.trim_start_matches('/').to_string());
    tree(
        "/bin/sh -c #(nop) ADD file:4c1ae3c2f3e0b5b0d1a5 in / ",
        35,
        vec![sys("/etc"), sys("/usr/bin"), sys("/usr/lib/x86_64-linux-gnu")],
    );
    let mut runtime = vec![sys("/usr/lib/python3"), sys("/usr/lib/python3.11"), sys("/usr/share")];
    runtime.splice(2..2, python.into_iter().map(|p| (p.clone(), format!("usr/local/lib/{}", file_name(&p)))));
    tree("/bin/sh -c apt-get update && apt-get install -y python3 python3-pip locales", 20, runtime);
    tree(
        "/bin/sh -c apt-get install -y build-essential clang && rm -rf /var/lib/apt/lists/*",
        20,
        vec![sys("/usr/include"), sys("/usr/lib/gcc"), sys("/usr/lib/llvm-14"), sys("/usr/libexec")],
    );
    let mut deps = vec![(PathBuf::from("/usr/lib/node_modules"), "app/node_modules".to_string())];
    deps.extend(cargo_src.into_iter().map(|p| (p.clone(), format!("app/vendor/{}", file_name(&p)))));
    deps.push((PathBuf::from("/usr/lib/google-cloud-sdk"), "opt/google-cloud-sdk".to_string()));
    deps.push(sys("/opt"));
    tree("/bin/sh -c #(nop) COPY dir:9a6b2c61e0f4 in /app/ ", 25, deps);
    specs.push(LayerSpec { created_by: "/bin/sh -c #(nop) COPY dir:0d5f1e27ab44 in /app/ ".into(), plan: Plan::App });
    if opts.tiny_files > 0 {
        specs.push(LayerSpec {
            created_by: "/bin/sh -c npm ci --omit=dev".into(),
            plan: Plan::TinyFiles { count: opts.tiny_files },
        });
    }
    if opts.archives {
        specs.push(LayerSpec {
            created_by: "/bin/sh -c #(nop) COPY dir:5be1a4 in /app/lib/ ".into(),
            plan: Plan::Archives,
        });
    }
    if opts.big_file > 0 {
        specs.push(LayerSpec {
            created_by: "/bin/sh -c /app/bin/export --all > /data/export.log".into(),
            plan: Plan::BigFile { size: opts.big_file },
        });
    }
    specs.push(LayerSpec { created_by: "/bin/sh -c rm -rf /app/.env /root/.ssh".into(), plan: Plan::Cleanup });
    specs
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `base/*/<suffix>*` directories, sorted.
fn glob_dirs(base: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in sorted_dir(base) {
        if suffix.is_empty() {
            out.push(dir);
            continue;
        }
        let (sub, prefix) = suffix.rsplit_once('/').unwrap_or(("", suffix));
        out.extend(sorted_dir(&dir.join(sub)).into_iter().filter(|p| file_name(p).starts_with(prefix) && p.is_dir()));
    }
    out
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Generate the archives; their paths.
///
/// # Errors
/// When an archive cannot be written.
pub fn run(opts: &Options) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&opts.out_dir).with_context(|| format!("create {}", opts.out_dir.display()))?;
    let name = opts.name.clone().unwrap_or_else(|| default_name(opts));
    let want_oci = matches!(opts.format, Format::Oci | Format::Both);
    let want_docker = matches!(opts.format, Format::Docker | Format::Both);
    let oci_path = opts.out_dir.join(format!("{name}.oci.tar"));
    let docker_path = opts.out_dir.join(format!("{name}.docker.tar"));
    let partial = |p: &Path| p.with_extension("tar.partial");
    let mut oci = if want_oci { Some(Outer::create(&partial(&oci_path))?) } else { None };
    let mut docker = if want_docker { Some(Outer::create(&partial(&docker_path))?) } else { None };
    if let Some(o) = oci.as_mut() {
        o.dir("blobs/")?;
        o.dir("blobs/sha256/")?;
    }

    let specs = plans(opts);
    let mut done = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let start = Instant::now();
        let out = LayerOut::new(docker.as_mut(), oci.as_mut())?;
        let mut b = tar::Builder::new(out);
        b.mode(tar::HeaderMode::Deterministic);
        b.follow_symlinks(false);
        write_layer(&mut b, &spec.plan)?;
        let layer = b.into_inner()?.finish()?;
        eprintln!(
            "generate: layer {i}: {:.1} MiB{} in {:.1}s: {}",
            layer.size as f64 / 1048576.0,
            layer.gz.as_ref().map(|(_, n)| format!(" ({:.1} MiB gzip)", *n as f64 / 1048576.0)).unwrap_or_default(),
            start.elapsed().as_secs_f64(),
            spec.created_by
        );
        done.push(layer);
    }

    let config = config_json(&specs, &done);
    let config_hex = hex_sha(&config);
    let mut written = Vec::new();
    if let Some(mut o) = oci {
        o.file(&format!("blobs/sha256/{config_hex}"), &config)?;
        let layers: Vec<_> = done
            .iter()
            .map(|l| {
                let (digest, size) = l.gz.clone().unwrap_or_default();
                json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{digest}"), "size": size})
            })
            .collect();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len()},
            "layers": layers,
        }))?;
        let manifest_hex = hex_sha(&manifest);
        o.file(&format!("blobs/sha256/{manifest_hex}"), &manifest)?;
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_hex}"),
                "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": format!("localhost/layerdig-bench/{name}:latest")},
            }],
        }))?;
        o.file("index.json", &index)?;
        o.file("oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#)?;
        o.finish()?;
        std::fs::rename(partial(&oci_path), &oci_path)?;
        written.push(oci_path);
    }
    if let Some(mut o) = docker {
        o.file(&format!("{config_hex}.json"), &config)?;
        // The legacy per-layer directories `docker save` still writes (symlinks to the layers).
        let mut parent: Option<String> = None;
        for l in &done {
            let id = hex_sha(format!("{} {}", parent.as_deref().unwrap_or(""), l.diff_id).as_bytes());
            o.file(&format!("{id}/VERSION"), b"1.0")?;
            let mut legacy = json!({"id": id, "created": "2026-11-27T00:00:00Z"});
            if let Some(p) = &parent {
                legacy["parent"] = json!(p);
            }
            o.file(&format!("{id}/json"), &serde_json::to_vec(&legacy)?)?;
            o.symlink(&format!("{id}/layer.tar"), &format!("../{}.tar", l.diff_id))?;
            parent = Some(id);
        }
        let tag = format!("localhost/layerdig-bench/{name}:latest");
        let layers: Vec<String> = done.iter().map(|l| format!("{}.tar", l.diff_id)).collect();
        let manifest = json!([{"Config": format!("{config_hex}.json"), "RepoTags": [tag], "Layers": layers}]);
        o.file("manifest.json", &serde_json::to_vec(&manifest)?)?;
        let repos = json!({format!("localhost/layerdig-bench/{name}"): {"latest": parent.unwrap_or_default()}});
        o.file("repositories", &serde_json::to_vec(&repos)?)?;
        o.finish()?;
        std::fs::rename(partial(&docker_path), &docker_path)?;
        written.push(docker_path);
    }
    Ok(written)
}

fn default_name(opts: &Options) -> String {
    let mut parts = vec!["bench".to_string()];
    if opts.size > 0 {
        parts.push(human(opts.size));
    }
    if opts.big_file > 0 {
        parts.push(format!("bigfile{}", human(opts.big_file)));
    }
    if opts.archives {
        parts.push("jars".to_string());
    }
    if opts.tiny_files > 0 {
        parts.push(if opts.tiny_files.is_multiple_of(1000) {
            format!("tiny{}k", opts.tiny_files / 1000)
        } else {
            format!("tiny{}", opts.tiny_files)
        });
    }
    parts.join("-")
}

fn human(n: u64) -> String {
    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;
    if n.is_multiple_of(G) {
        format!("{}g", n / G)
    } else if n.is_multiple_of(M) {
        format!("{}m", n / M)
    } else {
        n.to_string()
    }
}

/// Parse `512M`, `1G`, `4G`, `100k`, or a plain byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                _ => return Err(format!("unknown size suffix in {s:?}")),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    num.parse::<u64>().map(|n| n * mult).map_err(|e| format!("{s:?}: {e}"))
}

fn hex_sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn config_json(specs: &[LayerSpec], layers: &[LayerDone]) -> Vec<u8> {
    let mut history: Vec<_> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"created": format!("2026-11-27T00:00:{i:02}Z"), "created_by": s.created_by}))
        .collect();
    history.push(json!({
        "created": "2026-11-27T00:01:00Z",
        "created_by": format!("/bin/sh -c #(nop) ENV SLACK_TOKEN={}", planted::SLACK),
        "empty_layer": true,
    }));
    history.push(json!({"created": "2026-11-27T00:01:01Z", "created_by": "/bin/sh -c #(nop) CMD [\"python3\", \"/app/main.py\"]", "empty_layer": true}));
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("sha256:{}", l.diff_id)).collect();
    serde_json::to_vec(&json!({
        "created": "2026-11-27T00:01:01Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", format!("SLACK_TOKEN={}", planted::SLACK)],
            "Cmd": ["python3", "/app/main.py"],
            "WorkingDir": "/app",
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap_or_default()
}

fn write_layer(b: &mut tar::Builder<LayerOut<'_>>, plan: &Plan) -> Result<()> {
    let mut dirs = HashSet::new();
    match plan {
        Plan::Tree { sources, budget } => {
            for (src, dest) in sources {
                if b.get_ref().len >= *budget {
                    break;
                }
                parents(b, dest, &mut dirs)?;
                walk(b, src, dest, *budget)?;
            }
        }
        Plan::App => {
            parents(b, "app/config/x", &mut dirs)?;
            parents(b, "root/.ssh/x", &mut dirs)?;
            let env = format!(
                "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nSTRIPE_SECRET_KEY={}\nDEBUG=false\n",
                planted::AWS_KEY_ID,
                planted::AWS_SECRET,
                planted::STRIPE
            );
            file(b, "app/.env", env.as_bytes(), 0o600)?;
            let settings = format!("server:\n  port: 8080\n  workers: 4\ngithub:\n  token: {}\n", planted::GITHUB);
            file(b, "app/config/settings.yml", settings.as_bytes(), 0o644)?;
            file(b, "root/.ssh/id_ed25519", planted::SSH_KEY.as_bytes(), 0o600)?;
            file(b, "app/main.py", &source_text(64 * 1024, 42), 0o644)?;
            file(b, "app/README.md", b"# app\n\nRun with `python3 main.py`.\n", 0o644)?;
        }
        Plan::BigFile { size } => {
            parents(b, "data/x", &mut dirs)?;
            let mut h = header(tar::EntryType::Regular, *size, 0o644);
            b.append_data(&mut h, "data/export.log", MixedText::new(*size))?;
        }
        Plan::TinyFiles { count } => tiny_files(b, *count, &mut dirs)?,
        Plan::Archives => archives(b, &mut dirs)?,
        Plan::Cleanup => {
            parents(b, "app/x", &mut dirs)?;
            parents(b, "root/x", &mut dirs)?;
            file(b, "app/.wh..env", b"", 0o644)?;
            file(b, "root/.wh..ssh", b"", 0o644)?;
        }
    }
    Ok(())
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_795_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn file<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, data.len() as u64, mode);
    b.append_data(&mut h, path, data)
}

/// Directory entries for every parent of `path` not yet in the layer.
fn parents<W: Write>(b: &mut tar::Builder<W>, path: &str, seen: &mut HashSet<String>) -> io::Result<()> {
    let mut acc = String::new();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for p in &parts[..parts.len().saturating_sub(1)] {
        acc.push_str(p);
        acc.push('/');
        if seen.insert(acc.clone()) {
            let mut h = header(tar::EntryType::Directory, 0, 0o755);
            b.append_data(&mut h, &acc, io::empty())?;
        }
    }
    Ok(())
}

/// Add the tree under `src` as `dest`, in sorted order, until the layer holds `budget` bytes.
fn walk(b: &mut tar::Builder<LayerOut<'_>>, src: &Path, dest: &str, budget: u64) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.is_dir() {
        b.append_dir(dest, src)?;
        for child in sorted_dir(src) {
            if b.get_ref().len >= budget {
                return Ok(());
            }
            let name = format!("{dest}/{}", file_name(&child));
            match walk(b, &child, &name, budget) {
                Ok(()) => {}
                // Files that vanish or cannot be read while we walk are left out.
                Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        }
    } else if meta.is_file() || meta.file_type().is_symlink() {
        b.append_path_with_name(src, dest)?;
    }
    Ok(())
}

/// Every `.jar`, `.war` and `.whl` under the machine's Java and Python package directories, at
/// `app/lib/` (sorted, each real file once), then `app/lib/orders.jar`: a Spring Boot layout
/// whose deflated `BOOT-INF/classes/application.properties` holds the planted Stripe key.
fn archives<W: Write>(b: &mut tar::Builder<W>, dirs: &mut HashSet<String>) -> Result<()> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let roots = [
        PathBuf::from("/usr/share/java"),
        PathBuf::from("/usr/share/maven-repo"),
        PathBuf::from("/usr/lib/jvm"),
        PathBuf::from("/usr/share/gradle"),
        home.join(".m2/repository"),
        home.join(".cache/pip"),
        home.join(".pyenv/versions"),
    ];
    let mut found = Vec::new();
    for root in &roots {
        collect_archives(root, &mut found);
    }
    let mut seen = HashSet::new();
    parents(b, "app/lib/x", dirs)?;
    for path in found {
        let Ok(real) = std::fs::canonicalize(&path) else { continue };
        if !seen.insert(real.clone()) {
            continue;
        }
        let name = real.to_string_lossy().trim_start_matches('/').replace('/', "_");
        let data = std::fs::read(&real)?;
        file(b, &format!("app/lib/{name}"), &data, 0o644)?;
    }
    let properties = format!(
        "spring.application.name=orders\nspring.datasource.url=jdbc:postgresql://db:5432/orders\nstripe.secret-key={}\n",
        planted::STRIPE
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("META-INF/MANIFEST.MF", deflated)?;
    w.write_all(b"Main-Class: org.springframework.boot.loader.launch.JarLauncher\n")?;
    w.start_file("BOOT-INF/classes/application.properties", deflated)?;
    w.write_all(properties.as_bytes())?;
    let jar = w.finish()?.into_inner();
    file(b, "app/lib/orders.jar", &jar, 0o644)?;
    Ok(())
}

fn collect_archives(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in sorted_dir(dir) {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.is_dir() {
            collect_archives(&p, out);
        } else if p.extension().is_some_and(|e| e == "jar" || e == "war" || e == "whl") {
            out.push(p);
        }
    }
}

/// A node_modules-like tree of `count` tiny files, their contents taken from small real files
/// on this machine (or generated when there are none), one of them holding a secret.
fn tiny_files<W: Write>(b: &mut tar::Builder<W>, count: usize, dirs: &mut HashSet<String>) -> Result<()> {
    let mut pool: Vec<(String, Vec<u8>)> = Vec::new();
    for root in ["/usr/lib/node_modules", "/usr/share/nodejs", "/usr/lib/python3/dist-packages"] {
        collect_small(Path::new(root), &mut pool, 4000);
    }
    if pool.is_empty() {
        pool = (0..64).map(|i| (format!("m{i}.js"), source_text(200 + i * 37, i as u64 + 1))).collect();
    }
    const PER_PACKAGE: usize = 25;
    for i in 0..count {
        let pkg = i / PER_PACKAGE;
        let (base, data) = &pool[i % pool.len()];
        let path = format!("app/node_modules/@scope{:02}/pkg-{pkg:05}/lib/{:02}-{base}", pkg % 50, i % PER_PACKAGE);
        parents(b, &path, dirs)?;
        if i == count / 2 {
            let js = format!("module.exports = {{ stripeKey: \"{}\" }};\n", planted::STRIPE);
            file(b, &path, js.as_bytes(), 0o644)?;
        } else {
            file(b, &path, data, 0o644)?;
        }
    }
    Ok(())
}

fn collect_small(dir: &Path, pool: &mut Vec<(String, Vec<u8>)>, max: usize) {
    for p in sorted_dir(dir) {
        if pool.len() >= max {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.is_dir() {
            collect_small(&p, pool, max);
        } else if meta.is_file()
            && meta.len() > 0
            && meta.len() <= 4096
            && let Ok(data) = std::fs::read(&p)
        {
            pool.push((file_name(&p), data));
        }
    }
}

/// `size` bytes of mixed content, made 1 MiB at a time: mostly code-like text, some text without
/// keywords, some random binary, and AWS credentials planted at a third and two thirds.
struct MixedText {
    remaining: u64,
    total: u64,
    chunk: Vec<u8>,
    pos: usize,
    index: u64,
    planted: u32,
}

impl MixedText {
    fn new(size: u64) -> MixedText {
        MixedText { remaining: size, total: size, chunk: Vec::new(), pos: 0, index: 0, planted: 0 }
    }
}

impl Read for MixedText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        if self.pos == self.chunk.len() {
            const CHUNK: usize = 1 << 20;
            let seed = self.index + 1;
            self.chunk = match self.index % 8 {
                3 => no_keyword_text(CHUNK, seed),
                7 => binary(CHUNK, seed),
                _ => source_text(CHUNK, seed),
            };
            let done = self.total - self.remaining;
            if self.planted < 2 && done >= self.total / 3 * (self.planted as u64 + 1) {
                let line = format!(
                    "\n[export] aws_access_key_id = {}\n[export] aws_secret_access_key = {}\n",
                    planted::AWS_KEY_ID,
                    planted::AWS_SECRET
                );
                self.chunk[..line.len()].copy_from_slice(line.as_bytes());
                self.planted += 1;
            }
            self.pos = 0;
            self.index += 1;
        }
        let n = buf.len().min(self.chunk.len() - self.pos).min(self.remaining as usize);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// An outer archive being written: entries whose size is known up front, and streamed entries
/// whose header is written over a placeholder once they end.
struct Outer {
    w: BufWriter<File>,
    pos: u64,
}

impl Write for Outer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl Outer {
    fn create(path: &Path) -> Result<Outer> {
        let f = File::create(path).with_context(|| format!("create {}", path.display()))?;
        Ok(Outer { w: BufWriter::with_capacity(1 << 20, f), pos: 0 })
    }

    fn entry(&mut self, h: &tar::Header, data: &[u8]) -> io::Result<()> {
        self.write_all(h.as_bytes())?;
        self.write_all(data)?;
        self.pad(data.len() as u64)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let pad = (512 - size % 512) % 512;
        self.write_all(&[0u8; 512][..pad as usize])
    }

    fn named(kind: tar::EntryType, name: &str, size: u64, mode: u32) -> io::Result<tar::Header> {
        let mut h = header(kind, size, mode);
        h.set_path(name)?;
        h.set_cksum();
        Ok(h)
    }

    fn dir(&mut self, name: &str) -> io::Result<()> {
        let h = Self::named(tar::EntryType::Directory, name, 0, 0o755)?;
        self.entry(&h, &[])
    }

    fn file(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let h = Self::named(tar::EntryType::Regular, name, data.len() as u64, 0o444)?;
        self.entry(&h, data)
    }

    fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        let mut h = header(tar::EntryType::Symlink, 0, 0o777);
        h.set_path(name)?;
        h.set_link_name(target)?;
        h.set_cksum();
        self.entry(&h, &[])
    }

    /// Start a streamed entry: a placeholder header; returns its offset.
    fn begin(&mut self) -> io::Result<u64> {
        let at = self.pos;
        self.write_all(&[0u8; 512])?;
        Ok(at)
    }

    /// End a streamed entry of `size` bytes begun at `at`: pad it, then write its header.
    fn end(&mut self, at: u64, name: &str, size: u64) -> io::Result<()> {
        self.pad(size)?;
        let h = Self::named(tar::EntryType::Regular, name, size, 0o444)?;
        self.w.seek(SeekFrom::Start(at))?;
        self.w.write_all(h.as_bytes())?;
        self.w.seek(SeekFrom::Start(self.pos))?;
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.write_all(&[0u8; 1024])?;
        self.w.flush()?;
        self.w.get_ref().sync_all()
    }
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One layer tar being written: hashed (diff_id), and copied uncompressed into a docker
/// archive and/or gzip-compressed (and hashed again) into an OCI archive.
struct LayerOut<'a> {
    sha: Sha256,
    len: u64,
    plain: Option<(&'a mut Outer, u64)>,
    gz: Option<(GzEncoder<Hashing<&'a mut Outer>>, u64)>,
}

/// A finished layer: diff_id (hex), uncompressed size, and the gzip blob's digest and size.
struct LayerDone {
    diff_id: String,
    size: u64,
    gz: Option<(String, u64)>,
}

impl<'a> LayerOut<'a> {
    fn new(plain: Option<&'a mut Outer>, gz: Option<&'a mut Outer>) -> io::Result<LayerOut<'a>> {
        let plain = match plain {
            Some(o) => {
                let at = o.begin()?;
                Some((o, at))
            }
            None => None,
        };
        let gz = match gz {
            Some(o) => {
                let at = o.begin()?;
                let enc =
                    GzEncoder::new(Hashing { inner: o, sha: Sha256::new(), len: 0 }, flate2::Compression::default());
                Some((enc, at))
            }
            None => None,
        };
        Ok(LayerOut { sha: Sha256::new(), len: 0, plain, gz })
    }

    fn finish(self) -> io::Result<LayerDone> {
        let diff_id = format!("{:x}", self.sha.finalize());
        if let Some((o, at)) = self.plain {
            o.end(at, &format!("{diff_id}.tar"), self.len)?;
        }
        let gz = match self.gz {
            Some((enc, at)) => {
                let h = enc.finish()?;
                let digest = format!("{:x}", h.sha.finalize());
                h.inner.end(at, &format!("blobs/sha256/{digest}"), h.len)?;
                Some((digest, h.len))
            }
            None => None,
        };
        Ok(LayerDone { diff_id, size: self.len, gz })
    }
}

impl Write for LayerOut<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some((o, _)) = self.plain.as_mut() {
            o.write_all(buf)?;
        }
        if let Some((enc, _)) = self.gz.as_mut() {
            enc.write_all(buf)?;
        }
        self.sha.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Refuse to write over the source trees or into the repository by accident.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    let abs = std::path::absolute(dir)?;
    for forbidden in ["/usr", "/etc", "/opt"] {
        if abs.starts_with(forbidden) {
            bail!("{}: refusing to write bench images under {forbidden}", abs.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1X").is_err());
    }

    #[test]
    fn mixed_text_is_exactly_its_size_and_holds_the_secret() {
        let mut data = Vec::new();
        MixedText::new(5 << 20).read_to_end(&mut data).unwrap();
        assert_eq!(data.len(), 5 << 20);
        let text = String::from_utf8_lossy(&data);
        assert_eq!(text.matches(planted::AWS_KEY_ID).count(), 2);
    }

    #[test]
    fn a_small_image_opens_and_has_its_planted_findings() {
        let dir = std::env::temp_dir().join(format!("layerdig-bench-gen-{}", std::process::id()));
        let opts = Options {
            out_dir: dir.clone(),
            size: 0,
            format: Format::Both,
            big_file: 3 << 20,
            tiny_files: 200,
            archives: false,
            name: Some("t".into()),
        };
        let paths = run(&opts).unwrap();
        assert_eq!(paths.len(), 2);
        let rules = layerdig::Rules::builtin();
        for p in &paths {
            let mut sink = layerdig::Collect::new();
            let stats = layerdig::Scanner::new(&rules).scan_path(p, &mut sink).unwrap();
            assert!(!stats.incomplete, "{}", p.display());
            let report = sink.into_report(stats);
            let ids: Vec<_> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
            assert!(ids.iter().any(|id| id.contains("aws")), "{ids:?}");
            let deleted = report.findings.iter().any(|f| f.best_status() == Some(layerdig::Status::Deleted));
            assert!(deleted, "{}: a deleted finding", p.display());
        }
        let blobs = crate::blobs::ImageBlobs::open(&paths[0]).unwrap();
        assert_eq!(blobs.layers.len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
