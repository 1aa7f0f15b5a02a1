//! Child processes measured from the outside: spawn with stderr watched for a marker line,
//! stop with SIGTERM, and reap with `wait4` so the kernel reports the child's own CPU time and
//! peak RSS.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the kernel accounted to a finished child.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub cpu_s: f64,
    /// The kernel's share of `cpu_s` (system time).
    pub sys_s: f64,
    /// Minor page faults (memory the kernel had to map in).
    pub page_faults: u64,
    /// `ru_maxrss`, except after [`Watched::terminate`] (see there).
    pub max_rss_kib: u64,
    pub exit_code: i32,
}

pub struct Watched {
    pub child: Child,
    /// When `marker` first appeared on stderr, since `base`.
    marker_at: Arc<Mutex<Option<Duration>>>,
    /// The last stderr lines, for error messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl Watched {
    /// Spawns `command` with stderr read line by line; notes when a line contains `marker`.
    pub fn spawn(
        mut command: Command,
        base: Instant,
        marker: &'static str,
    ) -> std::io::Result<Watched> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let stderr = child.stderr.take().expect("piped");
        let marker_at = Arc::new(Mutex::new(None));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (m, l) = (marker_at.clone(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains(marker) {
                    m.lock().unwrap().get_or_insert_with(|| base.elapsed());
                }
                let mut log = l.lock().unwrap();
                if log.len() >= 200 {
                    log.remove(0);
                }
                log.push(line);
            }
        });
        Ok(Watched {
            child,
            marker_at,
            log,
        })
    }

    pub fn marker_at(&self) -> Option<Duration> {
        *self.marker_at.lock().unwrap()
    }

    /// Waits up to `timeout` for the marker line.
    pub fn wait_marker(&self, timeout: Duration) -> Option<Duration> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(at) = self.marker_at() {
                return Some(at);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        None
    }

    /// The first stderr line starting with `prefix`, without it (waits up to `timeout`).
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
            {
                return Some(line.trim().to_owned());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(20)..].join("\n")
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Resident set size now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// CPU seconds so far (utime + stime from /proc/PID/stat).
    pub fn cpu_s(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        let after = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Some(ticks / hz)
    }

    /// Sends SIGTERM and reaps the child. Peak RSS is the last VmHWM seen before the exit:
    /// `ru_maxrss` would also count the harness's own memory, which a spawned child inherits
    /// until it calls exec.
    pub fn terminate(self) -> Usage {
        let pid = self.pid();
        let mut hwm = proc_status_kib(pid, "VmHWM:").unwrap_or(0);
        // SAFETY: the pid is our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        while let Some(now) = proc_status_kib(pid, "VmHWM:") {
            hwm = hwm.max(now);
            std::thread::sleep(Duration::from_millis(2));
        }
        let usage = reap(self.child);
        Usage {
            max_rss_kib: hwm,
            ..usage
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Waits for `child` with `wait4`, returning its rusage.
pub fn reap(child: Child) -> Usage {
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: all-zero is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is a child of ours that has not been reaped (std only reaps on wait()).
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    std::mem::forget(child);
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        cpu_s: tv(usage.ru_utime) + tv(usage.ru_stime),
        sys_s: tv(usage.ru_stime),
        page_faults: usage.ru_minflt as u64,
        max_rss_kib: usage.ru_maxrss as u64,
        exit_code: if got == pid && libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
    }
}

/// CPU seconds `wc -l` spends on `path` (median of `times`).
pub fn wc_cpu_s(path: &std::path::Path, times: usize) -> f64 {
    let mut runs: Vec<f64> = (0..times.max(1))
        .map(|_| {
            let child = Command::new("wc")
                .arg("-l")
                .arg(path)
                .stdout(Stdio::null())
                .spawn()
                .expect("wc -l runs");
            reap(child).cpu_s
        })
        .collect();
    crate::median(&mut runs)
}
