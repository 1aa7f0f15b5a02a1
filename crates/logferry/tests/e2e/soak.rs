//! Long uptime over a glob whose names keep changing: an app that logs to a new file name every
//! few seconds and deletes the old ones, or kubelet creating and removing pod logs. Whatever
//! the agent keeps per file (metric series, positions, tags, parsers, the tailer's memory of
//! paths) must go with the file, or memory and the metrics page grow with every name ever seen.

use std::fs;
use std::path::Path;

use super::support::*;

/// Names created (and deleted) in all.
const NAMES: usize = 10_000;
/// Files present at once.
const BATCH: usize = 200;
/// Where the baseline is taken: the first names warm up buffers, caches and the allocator.
const BASELINE_AT: usize = 3_000;

/// Current resident memory (VmRSS) of a process, in KiB.
fn rss_kib(pid: u32) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// The series of the metrics page that name a file.
fn path_series(port: u16) -> usize {
    let (_, page) = http(port, "GET", "/metrics").expect("the metrics endpoint answers");
    page.lines()
        .filter(|l| !l.starts_with('#') && l.contains("path=\""))
        .count()
}

/// Waits until the deleted files are closed and forgotten, then reads (series, RSS KiB).
fn settled(port: u16, pid: u32, most_series: usize) -> (usize, f64) {
    let mut series = 0;
    wait_until("the deleted files' series to go", || {
        series = path_series(port);
        series <= most_series
    });
    (series, rss_kib(pid))
}

fn write_batch(dir: &Path, from: usize) {
    for n in from..from + BATCH {
        fs::write(
            dir.join(format!("app-{n:05}.log")),
            format!("line {n} payload\n"),
        )
        .unwrap();
    }
}

fn delete_batch(dir: &Path, from: usize) {
    for n in from..from + BATCH {
        fs::remove_file(dir.join(format!("app-{n:05}.log"))).unwrap();
    }
}

#[test]
fn a_glob_through_ten_thousand_rotated_names_keeps_series_and_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    let config = dir.path().join("fluentd.conf");
    fs::write(
        &config,
        format!(
            "<source>\n  @type tail\n  @id soak\n  path {l}/*.log\n  pos_file {d}/soak.pos\n  tag app.log\n  refresh_interval 100ms\n  rotate_wait 100ms\n  poll_interval 20ms\n</source>\n<match **>\n  @type file\n  path {d}/out.log\n  flush_interval 50ms\n</match>\n",
            l = logs.display(),
            d = dir.path().display()
        ),
    )
    .unwrap();
    let port = free_port();
    let agent = Agent::start_with(&config, &["--health-listen", &format!("127.0.0.1:{port}")]);
    wait_until("the health endpoint", || {
        http(port, "GET", "/healthz").is_some_and(|(s, _)| s == 200)
    });
    let out = dir.path().join("out.log");
    let pid = agent.child.id();
    // Four series per path in the pos_file, which keeps a few closed files once the batch's
    // are closed.
    let most_series = 4 * 32;
    let mut baseline = None;
    for from in (0..NAMES).step_by(BATCH) {
        write_batch(&logs, from);
        wait_until("the batch delivered", || count_lines(&out) >= from + BATCH);
        delete_batch(&logs, from);
        if from + BATCH == BASELINE_AT {
            baseline = Some(settled(port, pid, most_series));
        }
    }
    let (series_then, rss_then) = baseline.unwrap();
    let (series_now, rss_now) = settled(port, pid, most_series);
    let per_name = (rss_now - rss_then) * 1024.0 / (NAMES - BASELINE_AT) as f64;
    eprintln!(
        "soak: after {BASELINE_AT} names {series_then} path series, RSS {:.1} MiB; after {NAMES} names {series_now} path series, RSS {:.1} MiB ({per_name:.0} bytes per name)",
        rss_then / 1024.0,
        rss_now / 1024.0
    );
    // What the tailer kept per name before it forgot empty paths, with read buffers sized to
    // `read_size`, was ~1.2 KiB; a path and a small record kept per name would be ~200 bytes.
    // Measured flat: ~10 bytes a name over 30,000 names, within the allocator's noise.
    assert!(
        per_name < 160.0,
        "RSS grew {per_name:.0} bytes per name: {:.1} → {:.1} MiB",
        rss_then / 1024.0,
        rss_now / 1024.0
    );
    let log = agent.stop();
    let got = messages(&out);
    assert_eq!(got.len(), NAMES, "{log}");
    let mut numbers: Vec<usize> = got
        .iter()
        .map(|m| {
            m["line ".len()..m.len() - " payload".len()]
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert!(
        numbers.iter().copied().eq(0..NAMES),
        "a line lost or repeated"
    );
}
