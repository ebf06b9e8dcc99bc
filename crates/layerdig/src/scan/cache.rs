//! Layer results as values, and the cache that keeps them.
//!
//! A layer's scan result ([`LayerResult`]: its hits before resolution, its file index, its byte
//! counts and digests, the package databases it holds) depends only on the layer's bytes, the
//! rules and the options that change what is found. It is keyed by (layer digest, ruleset
//! fingerprint, options) and serialised with a checksum, so it can be kept (`--cache DIR`) and
//! shipped between processes (a Dask sweep); resolving an image is a function of its config and
//! its ordered layer results.
//!
//! [`LayerCache`] is the scanner's: an in-memory table (a layer shared by several images a
//! scanner reads is scanned once, and two threads asking for the same layer wait for one scan)
//! and, when asked for, a persistent store in SQLite (safe with several processes at once: WAL
//! journal, busy timeout; every entry checksummed, a corrupt entry dropped and rescanned, a
//! corrupt database file set aside and rebuilt).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::owners::LayerPackages;
use super::{Hit, LayerScan};
use crate::image::Digest;
use crate::layer::{Compression, LayerIndex, LayerStats, LayerWalk};

/// What a serialised layer result starts with; the byte after it is the format's version.
const MAGIC: &[u8; 4] = b"LDLR";
const VERSION: u8 = 1;

/// One layer's scan result, as a value: cheap to clone, serialisable with
/// [`LayerResult::to_bytes`] and read back, checked, with [`LayerResult::from_bytes`].
///
/// It holds the secrets the layer's files hold (a resolved image's findings are made from it):
/// keep its bytes where reports with `--show-secrets` are kept.
#[derive(Clone)]
pub struct LayerResult(pub(super) Arc<LayerScan>);

impl std::fmt::Debug for LayerResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerResult")
            .field("digest", &self.0.walk.digest)
            .field("diff_id", &self.0.walk.diff_id)
            .field("hits", &self.0.hits.len())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct StoredRef<'a> {
    clean: bool,
    index: &'a LayerIndex,
    stats: &'a LayerStats,
    compression: Option<Compression>,
    digest: &'a Option<Digest>,
    diff_id: &'a Option<Digest>,
    hits: &'a [Hit],
    packages: &'a LayerPackages,
}

#[derive(Deserialize)]
struct Stored {
    clean: bool,
    index: LayerIndex,
    stats: LayerStats,
    compression: Option<Compression>,
    digest: Option<Digest>,
    diff_id: Option<Digest>,
    hits: Vec<Hit>,
    packages: LayerPackages,
}

/// Why bytes are not a layer result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid layer result: {0}")]
pub struct LayerResultError(String);

impl LayerResult {
    /// The blob digest its bytes hashed to.
    pub fn digest(&self) -> Option<&Digest> {
        self.0.walk.digest.as_ref()
    }

    /// The uncompressed digest its tar hashed to.
    pub fn diff_id(&self) -> Option<&Digest> {
        self.0.walk.diff_id.as_ref()
    }

    /// Its counts.
    pub fn stats(&self) -> &LayerStats {
        &self.0.walk.stats
    }

    /// How many detector hits its files and hidden data had (before resolution).
    pub fn hits(&self) -> usize {
        self.0.hits.len()
    }

    /// Whether the layer was read to its end with no problem: only such results are kept in a
    /// cache (a layer with a problem is read again each time, and its problem reported again).
    pub fn is_clean(&self) -> bool {
        self.0.walk.complete && self.0.walk.problems.is_empty()
    }

    /// The result as bytes: a header, the SHA-256 of the payload, and the payload (compressed).
    /// Problems are not kept, only whether there were any: a result read back from bytes that
    /// was not [clean](LayerResult::is_clean) is not used to resolve an image (the layer is read
    /// again, so its problems are reported).
    pub fn to_bytes(&self) -> Vec<u8> {
        let s = &self.0;
        let stored = StoredRef {
            clean: self.is_clean(),
            index: &s.walk.index,
            stats: &s.walk.stats,
            compression: s.walk.compression,
            digest: &s.walk.digest,
            diff_id: &s.walk.diff_id,
            hits: &s.hits,
            packages: &s.packages,
        };
        // Serialising owned, in-memory values to JSON does not fail.
        let json = serde_json::to_vec(&stored).unwrap_or_default();
        let payload = zstd::bulk::compress(&json, 3).unwrap_or_default();
        let mut out = Vec::with_capacity(payload.len() + 37);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        out
    }

    /// Read a result written by [`LayerResult::to_bytes`], checking its checksum.
    ///
    /// # Errors
    /// When the bytes are not one (another format or version, cut short, corrupt).
    pub fn from_bytes(bytes: &[u8]) -> Result<LayerResult, LayerResultError> {
        let err = |m: &str| LayerResultError(m.to_string());
        if bytes.len() < 37 || &bytes[..4] != MAGIC {
            return Err(err("no layer result header"));
        }
        if bytes[4] != VERSION {
            return Err(LayerResultError(format!("format version {} (this build reads {VERSION})", bytes[4])));
        }
        let (sum, payload) = bytes[5..].split_at(32);
        if Sha256::digest(payload).as_slice() != sum {
            return Err(err("checksum mismatch (corrupt or cut short)"));
        }
        // A payload that passed its checksum was written by `to_bytes`; its size is bounded by
        // what the writer compressed, at most 1 GiB here.
        let json = zstd::bulk::decompress(payload, 1 << 30).map_err(|e| LayerResultError(e.to_string()))?;
        let stored: Stored =
            serde_json::from_slice(&json).map_err(|e| LayerResultError(crate::image::json_error(&e)))?;
        Ok(LayerResult(Arc::new(LayerScan {
            walk: LayerWalk {
                index: stored.index,
                stats: stored.stats,
                compression: stored.compression,
                digest: stored.digest,
                diff_id: stored.diff_id,
                problems: Vec::new(),
                complete: stored.clean,
            },
            hits: stored.hits,
            packages: stored.packages,
        })))
    }
}

/// The fingerprint of what a layer's result depends on besides its bytes: this build, the
/// rules, and the options that change what is found.
pub(super) fn fingerprint(rules: &crate::detect::Rules, options: &super::Options) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([VERSION]);
    h.update(rules.fingerprint());
    let a = &options.archives;
    h.update(
        format!("window={};max_layer_bytes={};archives={:?}", options.window, options.walk.max_layer_bytes, a)
            .as_bytes(),
    );
    let digest: [u8; 32] = h.finalize().into();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

enum Slot {
    /// A thread is scanning it; the others wait.
    Pending(Arc<(Mutex<Option<LayerResult>>, Condvar)>),
    Ready(LayerResult),
}

/// How many layer results the in-memory table keeps (the oldest go first).
const MEMORY_ENTRIES: usize = 1024;

/// The scanner's layer results: in memory for the scanner's life, and in a persistent store
/// when one is open.
pub(super) struct LayerCache {
    memory: Mutex<(HashMap<String, Slot>, VecDeque<String>)>,
    store: Option<Store>,
}

impl std::fmt::Debug for LayerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerCache").field("store", &self.store.as_ref().map(|s| &s.path)).finish_non_exhaustive()
    }
}

/// Where a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Got {
    Scanned,
    /// From this scanner's memory (another image, or another thread, read it).
    Memory,
    /// From the persistent store.
    Store,
    /// Given by the caller (made by another process).
    Given,
}

impl LayerCache {
    pub(super) fn new(store: Option<Store>) -> LayerCache {
        LayerCache { memory: Mutex::new((HashMap::new(), VecDeque::new())), store }
    }

    /// The store's warnings since last asked (a corrupt entry dropped, a failed write).
    pub(super) fn take_warnings(&self) -> Vec<String> {
        match &self.store {
            Some(store) => std::mem::take(&mut *store.warnings.lock().unwrap_or_else(|e| e.into_inner())),
            None => Vec::new(),
        }
    }

    /// The result for `key`: from memory, from the store, or from `scan` (then kept, when
    /// `keep` says it may be).
    pub(super) fn get_or_scan(
        &self,
        key: &str,
        scan: impl FnOnce() -> LayerResult,
        keep: impl FnOnce(&LayerResult) -> bool,
    ) -> (LayerResult, Got) {
        let waiting = {
            let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
            match memory.0.get(key) {
                Some(Slot::Ready(r)) => return (r.clone(), Got::Memory),
                Some(Slot::Pending(p)) => Some(Arc::clone(p)),
                None => {
                    memory.0.insert(key.to_string(), Slot::Pending(Arc::new((Mutex::new(None), Condvar::new()))));
                    None
                }
            }
        };
        if let Some(pending) = waiting {
            let (lock, cvar) = &*pending;
            let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            while guard.is_none() {
                guard = cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            if let Some(r) = guard.clone() {
                return (r, Got::Memory);
            }
        }
        let stored = self.store.as_ref().and_then(|s| s.get(key));
        let (result, got, kept) = match stored {
            Some(r) => (r, Got::Store, true),
            None => {
                let r = scan();
                let kept = keep(&r);
                if kept && let Some(store) = &self.store {
                    store.put(key, &r);
                }
                (r, Got::Scanned, kept)
            }
        };
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        // A result with problems is not kept: the next image to hold the layer reads it again
        // and reports its problems as its own.
        let slot = if kept {
            memory.1.push_back(key.to_string());
            memory.0.insert(key.to_string(), Slot::Ready(result.clone()))
        } else {
            memory.0.remove(key)
        };
        while memory.1.len() > MEMORY_ENTRIES {
            if let Some(old) = memory.1.pop_front() {
                memory.0.remove(&old);
            }
        }
        drop(memory);
        if let Some(Slot::Pending(p)) = slot {
            let (lock, cvar) = &*p;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(result.clone());
            cvar.notify_all();
        }
        (result, got)
    }
}

/// The persistent store: one SQLite database file in the cache directory.
#[derive(Debug)]
pub(super) struct Store {
    path: PathBuf,
    conn: Mutex<rusqlite::Connection>,
    /// Problems met (a corrupt entry dropped, a write that failed): said once, not fatal.
    pub(super) warnings: Mutex<Vec<String>>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS layers (
    key TEXT PRIMARY KEY,
    layer TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created INTEGER NOT NULL,
    used INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    value BLOB NOT NULL
)";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The cache's database file in `dir`.
pub fn cache_file(dir: &Path) -> PathBuf {
    dir.join("layers.sqlite")
}

impl Store {
    /// Open (or create) the store in `dir`. A file that is not a readable database is set
    /// aside (`layers.sqlite.corrupt`) and a new one made.
    pub(super) fn open(dir: &Path) -> Result<Store, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cache directory {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // The cache holds the secrets it found: only its owner reads it.
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = cache_file(dir);
        let mut warnings = Vec::new();
        let conn = match Store::connect(&path) {
            Ok(conn) => conn,
            Err(first) => {
                let aside = path.with_extension("sqlite.corrupt");
                let _ = std::fs::rename(&path, &aside);
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                warnings.push(format!(
                    "cache {}: not a readable database ({first}); set aside as {} and rebuilt",
                    path.display(),
                    aside.display()
                ));
                Store::connect(&path).map_err(|e| format!("cache {}: {e}", path.display()))?
            }
        };
        Ok(Store { path, conn: Mutex::new(conn), warnings: Mutex::new(warnings) })
    }

    fn connect(path: &Path) -> Result<rusqlite::Connection, rusqlite::Error> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute(SCHEMA, [])?;
        // A file that is not a database fails here, not at first use.
        conn.query_row("SELECT count(*) FROM layers", [], |_| Ok(()))?;
        Ok(conn)
    }

    fn warn(&self, message: String) {
        self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push(message);
    }

    fn get(&self, key: &str) -> Option<LayerResult> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let value: Option<Vec<u8>> =
            match conn.query_row("SELECT value FROM layers WHERE key = ?1", [key], |row| row.get(0)) {
                Ok(v) => Some(v),
                Err(rusqlite::Error::QueryReturnedNoRows) => None,
                Err(e) => {
                    drop(conn);
                    self.warn(format!("cache {}: {e}; the layer was scanned instead", self.path.display()));
                    return None;
                }
            };
        let value = value?;
        match LayerResult::from_bytes(&value) {
            Ok(r) => {
                let _ = conn.execute("UPDATE layers SET used = ?2 WHERE key = ?1", rusqlite::params![key, now()]);
                Some(r)
            }
            Err(e) => {
                let _ = conn.execute("DELETE FROM layers WHERE key = ?1", [key]);
                drop(conn);
                self.warn(format!(
                    "cache {}: an entry was {e}; dropped, and the layer scanned again",
                    self.path.display()
                ));
                None
            }
        }
    }

    fn put(&self, key: &str, result: &LayerResult) {
        let bytes = result.to_bytes();
        let (layer, fingerprint) = key.rsplit_once('|').unwrap_or((key, ""));
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let t = now();
        let done = conn.execute(
            "INSERT OR REPLACE INTO layers (key, layer, fingerprint, created, used, bytes, value) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
            rusqlite::params![key, layer, fingerprint, t, bytes.len() as i64, bytes],
        );
        if let Err(e) = done {
            drop(conn);
            self.warn(format!("cache {}: could not keep a layer's result: {e}", self.path.display()));
        }
    }
}

/// What a cache directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CacheInfo {
    /// The database file.
    pub path: PathBuf,
    /// Layer results kept.
    pub entries: u64,
    /// Their bytes (serialised, compressed).
    pub bytes: u64,
    /// Entries made with this build, rules and options (the others are used by no scan like
    /// this one: `prune` removes them).
    pub current: u64,
    /// Distinct rule-and-option fingerprints among the entries.
    pub fingerprints: u64,
}

/// How `prune` chooses what to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    /// Entries no scan with the current build, rules and options would use.
    Stale,
    /// Entries not used for this many seconds, and the stale ones.
    UnusedFor(u64),
    /// Everything.
    All,
}

/// Look at and prune a cache directory, for the scanner's rules and options.
#[derive(Debug)]
pub struct CacheAdmin {
    store: Store,
    fingerprint: String,
}

impl CacheAdmin {
    pub(super) fn new(store: Store, fingerprint: String) -> CacheAdmin {
        CacheAdmin { store, fingerprint }
    }

    /// What the cache holds.
    ///
    /// # Errors
    /// The database's error.
    pub fn info(&self) -> Result<CacheInfo, String> {
        let conn = self.store.conn.lock().unwrap_or_else(|e| e.into_inner());
        let q = |sql: &str| -> Result<u64, String> {
            conn.query_row(sql, [&self.fingerprint], |row| row.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| e.to_string())
        };
        Ok(CacheInfo {
            path: self.store.path.clone(),
            entries: q("SELECT count(*) FROM layers WHERE ?1 = ?1")?,
            bytes: q("SELECT coalesce(sum(bytes), 0) FROM layers WHERE ?1 = ?1")?,
            current: q("SELECT count(*) FROM layers WHERE fingerprint = ?1")?,
            fingerprints: q("SELECT count(DISTINCT fingerprint) FROM layers WHERE ?1 = ?1")?,
        })
    }

    /// Remove what `how` says; returns how many entries went. The file shrinks (VACUUM).
    ///
    /// # Errors
    /// The database's error.
    pub fn prune(&self, how: Prune) -> Result<u64, String> {
        let conn = self.store.conn.lock().unwrap_or_else(|e| e.into_inner());
        let removed = match how {
            Prune::All => conn.execute("DELETE FROM layers", []),
            Prune::Stale => conn.execute("DELETE FROM layers WHERE fingerprint <> ?1", [&self.fingerprint]),
            Prune::UnusedFor(secs) => conn.execute(
                "DELETE FROM layers WHERE fingerprint <> ?1 OR used < ?2",
                rusqlite::params![self.fingerprint, now() - secs as i64],
            ),
        }
        .map_err(|e| e.to_string())?;
        conn.execute_batch("VACUUM").map_err(|e| e.to_string())?;
        Ok(removed as u64)
    }

    /// Problems met opening it (a corrupt file set aside).
    pub fn warnings(&self) -> Vec<String> {
        self.store.warnings.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
