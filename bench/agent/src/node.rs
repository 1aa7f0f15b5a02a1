//! The node workload: kubelet's layout for many containers (`/var/log/pods/NS_POD_UID/app/0.log`
//! in the CRI format, with `/var/log/containers/POD_NS_app-ID.log` links to them), the DaemonSet's
//! config (tail over the links, `cri` parser, `kubernetes_metadata`, `google_cloud` with
//! `detect_json`), and a writer that appends to the active containers' logs at a fixed rate each.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::workload::{self, Kind};

/// How often the writer appends to every active file (a container's runtime writes as its
/// process does; batching per tick keeps the writer's own syscalls from crowding the agent).
const TICK: Duration = Duration::from_millis(100);

/// Lays out `files` containers under `root`; returns their log files (the link targets).
pub fn lay_out(root: &Path, files: usize) -> io::Result<Vec<PathBuf>> {
    let pods = root.join("var/log/pods");
    let containers = root.join("var/log/containers");
    std::fs::create_dir_all(&containers)?;
    let mut logs = Vec::with_capacity(files);
    for i in 0..files {
        let namespace = format!("team-{}", i % 20);
        let pod = format!("api-{i:05}-7d9f8b6c4d-x{:04x}", i * 7919 % 65_536);
        let uid = format!("{:08x}-0000-4000-8000-{:012x}", i, i * 31);
        let dir = pods.join(format!("{namespace}_{pod}_{uid}/app"));
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("0.log");
        File::create(&log)?;
        let id = format!("{:064x}", (i as u128 + 1) * 0x9E37_79B9_7F4A_7C15);
        std::os::unix::fs::symlink(
            &log,
            containers.join(format!("{pod}_{namespace}_app-{id}.log")),
        )?;
        logs.push(log);
    }
    Ok(logs)
}

/// The DaemonSet's node config with the bench's places and sink.
pub fn config(root: &Path, endpoint: SocketAddr, extra: &[String]) -> String {
    let extra: String = extra.iter().map(|line| format!("  {line}\n")).collect();
    format!(
        "<source>\n  @type tail\n  path {root}/var/log/containers/*.log\n  pos_file {root}/containers.log.pos\n  tag kubernetes.*\n  read_from_head true\n  refresh_interval 5s\n  <parse>\n    @type cri\n  </parse>\n</source>\n\
         <filter kubernetes.**>\n  @type kubernetes_metadata\n</filter>\n\
         <match kubernetes.**>\n  @type google_cloud\n  endpoint http://{endpoint}\n  project_id bench-project\n  use_metadata_service false\n  k8s_cluster_name bench-cluster\n  k8s_cluster_location us-central1-a\n  detect_json true\n{extra}</match>\n",
        root = root.display(),
    )
}

/// Appends `lines` CRI lines in all, `per_file_rate` a second to each of the first `active`
/// files, in turn; returns each line's write time (ns since `base`, by sequence number) and
/// the bytes written.
pub fn write(
    logs: &[PathBuf],
    active: usize,
    per_file_rate: u64,
    lines: u64,
    base: Instant,
) -> io::Result<(Vec<u64>, u64)> {
    let mut files: Vec<File> = logs[..active.min(logs.len())]
        .iter()
        .map(|p| OpenOptions::new().append(true).open(p))
        .collect::<io::Result<_>>()?;
    let mut written_at = Vec::with_capacity(lines as usize);
    let mut buf = Vec::new();
    let mut text = Vec::new();
    let start = Instant::now();
    let mut seq = 0;
    let mut bytes = 0;
    let mut ticks = 0u64;
    while seq < lines {
        ticks += 1;
        // Lines each file is due by the end of this tick.
        let due = (TICK.as_secs_f64() * ticks as f64 * per_file_rate as f64) as u64;
        let this_tick =
            due - (TICK.as_secs_f64() * (ticks - 1) as f64 * per_file_rate as f64) as u64;
        for file in &mut files {
            buf.clear();
            for _ in 0..this_tick {
                if seq == lines {
                    break;
                }
                text.clear();
                workload::line(Kind::Text, seq, &mut text);
                buf.extend_from_slice(b"2026-12-03T07:00:00.123456789Z stdout F ");
                buf.extend_from_slice(&text);
                seq += 1;
            }
            if buf.is_empty() {
                break;
            }
            file.write_all(&buf)?;
            bytes += buf.len() as u64;
            let now = base.elapsed().as_nanos() as u64;
            written_at.resize(seq as usize, now);
        }
        let next = start + TICK.mul_f64(ticks as f64);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok((written_at, bytes))
}
