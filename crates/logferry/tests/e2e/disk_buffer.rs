//! The disk buffer end to end: lines read while Cloud Logging is unreachable are acknowledged
//! into `<buffer> @type file` (so the pos_file moves), the agent is killed with -9 and its
//! newest segment left with a torn record, and the restarted agent replays the buffer first:
//! every line arrives exactly once, and the torn record is reported.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::support::*;

fn config(dir: &Path, endpoint: &str) -> PathBuf {
    let d = dir.display();
    let path = dir.join("fluentd.conf");
    fs::write(
        &path,
        format!(
            "<source>\n  @type tail\n  path {d}/app.log\n  pos_file {d}/app.log.pos\n  tag app.log\n  read_from_head true\n  poll_interval 20ms\n</source>\n<match **>\n  @type google_cloud\n  endpoint {endpoint}\n  project_id local-project\n  use_metadata_service false\n  resource_type global\n  request_timeout 5s\n  <buffer>\n    @type file\n    path {d}/buffer\n    total_limit_size 8m\n    flush_interval 100ms\n    chunk_limit_size 256k\n    retry_wait 200ms\n    retry_max_interval 1s\n  </buffer>\n</match>\n"
        ),
    )
    .unwrap();
    path
}

fn write_lines(log: &Path, lines: std::ops::Range<usize>) {
    let mut text = String::new();
    for i in lines {
        text.push_str(&format!("line {i} {}\n", "y".repeat(i % 50)));
    }
    append(log, &text);
}

/// The offset the pos_file holds for its first file.
fn pos_offset(pos_file: &Path) -> u64 {
    fs::read_to_string(pos_file)
        .ok()
        .and_then(|t| {
            let line = t.lines().next()?.to_string();
            u64::from_str_radix(line.split('\t').nth(1)?, 16).ok()
        })
        .unwrap_or(0)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "seg"));
    files.sort();
    files
}

#[test]
fn kill_9_during_an_outage_then_a_torn_segment_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let log = dir.path().join("app.log");
    let pos_file = dir.path().join("app.log.pos");
    let buffer = dir.path().join("buffer");
    let first = 20_000;
    write_lines(&log, 0..first);

    // Cloud Logging unreachable: nothing listens on this port.
    let down = format!("http://127.0.0.1:{}", free_port());
    let config_path = config(dir.path(), &down);
    let mut agent = Agent::start(&config_path);
    // The lines are acknowledged once they are in the disk buffer: the position reaches the end.
    let size = fs::metadata(&log).unwrap().len();
    wait_until("the pos_file to reach the end of the log", || {
        pos_offset(&pos_file) == size
    });
    assert!(emulator.query("").is_empty());
    let _ = agent.child.kill(); // SIGKILL during the outage
    let _ = agent.child.wait();
    let crashed_log = agent.log();
    assert!(
        crashed_log.contains("failed to flush the buffer"),
        "{crashed_log}"
    );

    // A crash in the middle of an append: the newest segment ends in part of a record.
    let newest = segments(&buffer).pop().expect("a segment");
    fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap()
        .write_all(&[0x00, 0x10, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3])
        .unwrap();

    // The endpoint is back; more lines come while the buffer is replayed.
    let config_path = config(dir.path(), &emulator.url);
    let agent = Agent::start(&config_path);
    let second = 25_000;
    write_lines(&log, first..second);
    wait_until("every line in the emulator", || {
        emulator.query("").len() >= second
    });
    std::thread::sleep(Duration::from_millis(500)); // anything extra would show by now
    let agent_log = agent.stop();
    assert!(
        agent_log.contains("torn record"),
        "the torn tail is reported:\n{agent_log}"
    );
    assert!(
        agent_log.contains("replaying undelivered events"),
        "{agent_log}"
    );

    let messages: Vec<String> = emulator
        .query("")
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_exactly_once_in_order(&messages, second);
    // Everything delivered: only the (empty) newest segment is left.
    let left = segments(&buffer);
    assert!(left.len() <= 1, "{left:?}");
}
