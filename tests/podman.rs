//! A real container engine for the tests: podman's Docker-compatible API service
//! (`podman system service`) on a socket in a temporary directory, with podman's storage there
//! too, holding every committed fixture image under a name of its own.
//!
//! Run as root in a container without systemd: storage driver `vfs` (no overlay mounts),
//! `--cgroup-manager cgroupfs` and `--events-backend file` (no systemd or journald), and every
//! directory podman writes (`--root`, `--runroot`, `--tmpdir`) in the temporary directory.
//! The images are copied in with `skopeo copy … containers-storage:[vfs@ROOT+RUNROOT]NAME`
//! before the service starts. The service is stopped, and its storage removed, on drop.
//!
//! If podman or skopeo is missing or the service does not come up, [`PodmanService::start`]
//! panics saying why: a test that needs the engine fails, it does not pass without it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::fixtures;

/// A fixture loaded into the service's storage: the committed file or directory, how skopeo
/// reads it, and the name the engine knows it by.
#[derive(Debug, Clone, Copy)]
pub struct LoadedFixture {
    /// The fixture's file or directory name under `fixtures/images`.
    pub file: &'static str,
    /// skopeo's transport for it, with `{}` for the path (and the reference it selects).
    pub transport: &'static str,
    /// The image name in the engine.
    pub name: &'static str,
}

/// Every committed fixture image, as loaded. The zstd forms come first: they are the same
/// images (same config, same image id) as the others, and containers-storage keeps the manifest
/// of the last copy as the image's. podman 4.3 cannot export an image whose manifest has zstd
/// layers as a docker archive ("zstd compression is not supported for docker images"), so the
/// gzip or plain forms must be copied last, for every name of the image to export.
pub const LOADED: [LoadedFixture; 7] = [
    LoadedFixture { file: "demo.zstd.oci", transport: "oci:{}:latest", name: "localhost/fixture/demo-zstd:1" },
    LoadedFixture { file: "archives.zstd.oci", transport: "oci:{}:1", name: "localhost/fixture/archives-zstd:1" },
    LoadedFixture { file: "demo.umoci.oci", transport: "oci:{}:latest", name: "localhost/fixture/demo-umoci:1" },
    LoadedFixture { file: "archives.oci", transport: "oci:{}:1", name: "localhost/fixture/archives-oci:1" },
    LoadedFixture { file: "demo.oci.tar", transport: "oci-archive:{}", name: "localhost/fixture/demo-oci:1" },
    LoadedFixture {
        file: "archives.docker.tar",
        transport: "docker-archive:{}",
        name: "localhost/fixture/archives-docker:1",
    },
    LoadedFixture { file: "demo.docker.tar", transport: "docker-archive:{}", name: "localhost/fixture/demo-docker:1" },
];

/// How long the service may take to answer its first ping.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `podman system service` with the fixtures loaded.
#[derive(Debug)]
pub struct PodmanService {
    /// Storage, socket and log; removed on drop, after the service is stopped.
    _dir: tempfile::TempDir,
    child: Child,
    socket: PathBuf,
    /// How long copying the fixtures in took.
    pub load_time: Duration,
    /// How long the service took from start to its first answer.
    pub start_time: Duration,
}

static SHARED: Mutex<Weak<PodmanService>> = Mutex::new(Weak::new());

impl PodmanService {
    /// The service the tests running now share, started if none is running. It stops when the
    /// last test holding it drops it.
    pub fn shared() -> Arc<PodmanService> {
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(service) = slot.upgrade() {
            return service;
        }
        let service = Arc::new(PodmanService::start());
        *slot = Arc::downgrade(&service);
        service
    }

    /// Load the fixtures into fresh storage and start the service.
    ///
    /// # Panics
    /// When podman or skopeo is not installed, a copy fails, or the service does not answer
    /// within a minute, saying which and with the tool's own words.
    pub fn start() -> PodmanService {
        let dir = tempfile::Builder::new().prefix("layerdig-podman-").tempdir().expect("temporary directory");
        let root = dir.path().join("root");
        let runroot = dir.path().join("runroot");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("mkdir tmp");
        let socket = dir.path().join("podman.sock");

        let loading = Instant::now();
        for fixture in LOADED {
            let from = fixture.transport.replace("{}", &fixtures().join(fixture.file).display().to_string());
            let to = format!("containers-storage:[vfs@{}+{}]{}", root.display(), runroot.display(), fixture.name);
            let out = Command::new("skopeo")
                .args(["copy", "--quiet", &from, &to])
                .env("TMPDIR", &tmp)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run skopeo (is it installed? apt-get install skopeo): {e}"));
            assert!(
                out.status.success(),
                "skopeo copy {from} {to} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let load_time = loading.elapsed();

        let starting = Instant::now();
        let log = std::fs::File::create(dir.path().join("service.log")).expect("service log");
        let mut child = Command::new("podman")
            .args(global_flags(&root, &runroot, &tmp))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run podman (is it installed? apt-get install podman): {e}"));
        loop {
            if ping(&socket) {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("service.log")).unwrap_or_default();
                panic!("podman system service exited ({status}) before it answered: {log}");
            }
            if starting.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.path().join("service.log")).unwrap_or_default();
                panic!("podman system service did not answer GET /_ping in {START_TIMEOUT:?}: {log}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let start_time = starting.elapsed();
        PodmanService { _dir: dir, child, socket, load_time, start_time }
    }

    /// `DOCKER_HOST` for it: `unix:///tmp/…/podman.sock`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// podman's global flags for storage in temporary directories, as root, without systemd.
fn global_flags(root: &Path, runroot: &Path, tmp: &Path) -> Vec<String> {
    vec![
        format!("--root={}", root.display()),
        format!("--runroot={}", runroot.display()),
        format!("--tmpdir={}", tmp.display()),
        "--storage-driver=vfs".into(),
        "--cgroup-manager=cgroupfs".into(),
        "--events-backend=file".into(),
    ]
}

/// Whether `GET /_ping` on `socket` answers 200 (the test's own check, independent of the
/// client under test).
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut status = String::new();
    let mut reader = BufReader::new(stream);
    if reader.read_line(&mut status).is_err() {
        return false;
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    status.starts_with("HTTP/1.1 200")
}

/// What a scan of an image in the engine shares with a scan of the fixture it was loaded from,
/// from two JSON reports (`-f json`, or `Report::to_json`): each finding location as `rule
/// fingerprint source path:line:column status layer removed_in config_key disposition
/// created_by`, and each layer as `index diff_id created_by files added deleted`.
///
/// The engine re-exports what it stored rather than the file it loaded. So, unless `same_bytes`
/// (a docker archive that podman itself wrote, which it exports byte for byte alike), these are
/// left out: the layers' blob digests (podman exports layers uncompressed, so an OCI fixture's
/// gzip or zstd blob digests are not the export's), and `hidden` and `metadata` locations (gzip
/// headers, blobs nothing references, index annotations: bytes of the original file that are
/// not in the export, while the export has legacy `<id>/json` documents of its own). With
/// `same_bytes` every location is compared, with its layer digest, structure and document.
/// The image's name is never compared.
pub fn comparable(report: &serde_json::Value, same_bytes: bool) -> (BTreeSet<String>, Vec<String>) {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut findings = BTreeSet::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        for l in f["locations"].as_array().into_iter().flatten() {
            if !same_bytes && !matches!(l["source"].as_str(), Some("file" | "config" | "history")) {
                continue;
            }
            let mut row = format!(
                "{} {} {} {}:{}:{} {} {} {} {} {} {}",
                text(&f["rule_id"]),
                text(&f["fingerprint"]),
                text(&l["source"]),
                text(&l["path"]),
                text(&l["line"]),
                text(&l["column"]),
                text(&l["status"]),
                text(&l["layer_index"]),
                text(&l["removed_in_layer"]),
                text(&l["config_key"]),
                text(&l["disposition"]),
                text(&l["created_by"]),
            );
            if same_bytes {
                for key in ["layer_digest", "structure", "document"] {
                    row.push(' ');
                    row.push_str(&text(&l[key]));
                }
            }
            findings.insert(row);
        }
    }
    let mut layers = Vec::new();
    for image in report["images"].as_array().into_iter().flatten() {
        for layer in image["layers"].as_array().into_iter().flatten() {
            layers.push(format!(
                "{} {} {} {} {} {}",
                text(&layer["index"]),
                text(&layer["diff_id"]),
                text(&layer["created_by"]),
                text(&layer["files"]),
                text(&layer["added"]),
                text(&layer["deleted"]),
            ));
        }
    }
    (findings, layers)
}
