//! Timing child processes: wall time, peak RSS from `wait4`, and the peak of the anonymous part
//! of the resident set sampled from `/proc` (a memory-mapped input counts in RSS as file pages
//! the kernel can drop at will; the anonymous part is what the process itself holds).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What one child process cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set (`ru_maxrss`), bytes.
    pub max_rss: u64,
    /// Peak anonymous resident memory sampled every few milliseconds, bytes (0 when the
    /// process ended before the first sample).
    pub max_anon: u64,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
}

impl Usage {
    /// Add a later process that ran after this one: times add, peaks take the larger.
    pub fn then(self, other: Usage) -> Usage {
        Usage {
            wall: self.wall + other.wall,
            max_rss: self.max_rss.max(other.max_rss),
            max_anon: self.max_anon.max(other.max_anon),
            code: if self.code == Some(0) { other.code } else { self.code },
        }
    }
}

/// The hidden subcommand of this binary that runs one command and reports what it cost.
pub const HELPER: &str = "__measure-child";

static RUNS: AtomicU64 = AtomicU64::new(0);

/// Run `cmd` (program and arguments only) to its end, feeding `stdin` (when given) from memory;
/// its output is discarded.
///
/// The command is started by a fresh copy of this binary ([`HELPER`]), not by this process:
/// Linux carries the spawning process's peak RSS into the child's `ru_maxrss` across `exec`,
/// and this process holds memory-mapped images. The helper is a few MiB, so a child's peak is
/// its own once it is above that.
pub fn run(cmd: &Command, stdin: Option<&[u8]>) -> Result<Usage> {
    let exe = std::env::current_exe().context("current_exe")?;
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let report = std::env::temp_dir().join(format!("layerdig-bench-usage-{}-{n}", std::process::id()));
    let mut helper = Command::new(exe);
    helper.arg(HELPER).arg(&report).arg(cmd.get_program()).args(cmd.get_args());
    helper.stdout(Stdio::null()).stderr(Stdio::null());
    helper.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = helper.spawn().with_context(|| format!("spawn {cmd:?}"))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A reader that exits early closes the pipe; its exit code says what went wrong.
        let _ = pipe.write_all(bytes);
    }
    let status = child.wait().with_context(|| format!("wait for {cmd:?}"))?;
    let text = std::fs::read_to_string(&report);
    let _ = std::fs::remove_file(&report);
    let text = text.with_context(|| format!("{cmd:?}: the measuring helper failed ({status})"))?;
    let v: Vec<i64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [wall_ns, max_rss, max_anon, code] = v[..] else { bail!("{cmd:?}: bad helper report {text:?}") };
    Ok(Usage {
        wall: Duration::from_nanos(wall_ns as u64),
        max_rss: max_rss as u64,
        max_anon: max_anon as u64,
        code: (code >= 0).then_some(code as i32),
    })
}

/// The helper's side: `HELPER REPORT PROGRAM ARGS...` runs the program with this process's
/// standard streams and writes `wall_ns max_rss max_anon code` to REPORT.
pub fn helper_main(args: &[std::ffi::OsString]) -> Result<()> {
    let [report, program, rest @ ..] = args else { bail!("usage: {HELPER} REPORT PROGRAM [ARGS...]") };
    let u = direct(Command::new(program).args(rest), None)?;
    let line = format!("{} {} {} {}\n", u.wall.as_nanos(), u.max_rss, u.max_anon, u.code.unwrap_or(-1));
    std::fs::write(report, line).with_context(|| format!("write {}", report.to_string_lossy()))
}

/// Run `cmd` to its end as a child of this process, feeding `stdin` (when given) from memory;
/// other streams as the command sets them. Its `ru_maxrss` includes this process's peak RSS
/// (see [`run`]).
pub fn direct(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Usage> {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawn {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let stop = Arc::new(AtomicBool::new(false));
    let anon = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, anon) = (stop.clone(), anon.clone());
        std::thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = std::fs::read_to_string(&path).ok().and_then(|s| rss_anon_kib(&s)) {
                    anon.fetch_max(kb * 1024, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A reader that exits early closes the pipe; its exit code says what went wrong.
        let _ = pipe.write_all(bytes);
    }
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid for writes.
    // `child` is not waited for again afterwards (dropping a `Child` does not wait).
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    if rc != pid {
        bail!("wait4 on {cmd:?}: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) { Some(libc::WEXITSTATUS(status)) } else { None };
    Ok(Usage { wall, max_rss: usage.ru_maxrss as u64 * 1024, max_anon: anon.load(Ordering::Relaxed), code })
}

fn rss_anon_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `name` is an executable on `PATH`; its path if so.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

/// Whether `path` is an executable file.
pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Median, minimum and maximum of some durations.
pub fn summary(times: &[Duration]) -> (Duration, Duration, Duration) {
    let mut t = times.to_vec();
    t.sort();
    let n = t.len();
    let median = if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2
    };
    (median, t.first().copied().unwrap_or_default(), t.last().copied().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect::<Vec<_>>();
        let (m, lo, hi) = summary(&ms(&[30, 10, 20]));
        assert_eq!((m, lo, hi), (Duration::from_millis(20), Duration::from_millis(10), Duration::from_millis(30)));
        assert_eq!(summary(&ms(&[10, 40, 20, 30])).0, Duration::from_millis(25));
        assert_eq!(summary(&[]).0, Duration::ZERO);
    }

    #[test]
    fn reads_rss_anon_from_proc_status() {
        assert_eq!(rss_anon_kib("VmRSS:\t  100 kB\nRssAnon:\t   4321 kB\nRssFile: 5 kB\n"), Some(4321));
        assert_eq!(rss_anon_kib("VmRSS: 1 kB\n"), None);
    }

    #[test]
    fn times_a_child_and_reads_its_peak_rss() {
        let u = direct(Command::new("true").stdout(Stdio::null()), None).unwrap();
        assert_eq!(u.code, Some(0));
        assert!(u.max_rss > 0);
        let u = direct(Command::new("cat").stdout(Stdio::null()), Some(b"hello")).unwrap();
        assert_eq!(u.code, Some(0));
    }
}
