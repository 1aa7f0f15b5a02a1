//! `logferry check`: the original ConfigMap loads as-is; mistakes are all reported with
//! file:line:column.

use std::fs;
use std::process::Command;

use super::support::BIN;

/// The ConfigMap of the original system, tabs and all.
const ORIGINAL: &str = "\t<source>\n\t  type tail\n\t  format none\n\t  #path /var/log/app.log\n\t  path /api/log/app.log\n\t  pos_file /api/log/app.log.pos\n\t  tag app.log\n\t</source>\n\n\t#<match app.**>\n\t#  type file\n\t#  path /etc/fluentd/log/app.*.log\n\t#</match>\n\n\t<match **>\n\t  type google_cloud\n\t</match>\n";

#[test]
fn the_original_configmap_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fluentd.conf");
    fs::write(&path, ORIGINAL).unwrap();
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("path          /api/log/app.log"),
        "{stdout}"
    );
    assert!(
        stdout.contains("match ** -> output0 (google_cloud"),
        "{stdout}"
    );
}

#[test]
fn five_mistakes_are_all_reported_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    let text = "<source>\n  @type tail\n  pth /api/log/app.log\n  tag app.log\n  read_from_head yse\n</source>\n<filter **>\n  @type grpe\n</filter>\n<match **>\n  @type file\n  path /tmp/x\n  chunk_limit_size 8x\n</match>\n<match app.**>\n  @type stdout\n</matc>\n";
    fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let name = path.display().to_string();
    for (position, what) in [
        ("1:1", "missing required parameter `path`"),
        ("3:3", "unknown parameter `pth`"),
        ("5:18", "yse"),
        ("8:9", "grpe"),
        ("13:20", "8x"),
    ] {
        let at = format!("{name}:{position}");
        assert!(
            stderr.contains(&at),
            "expected a diagnostic at {at} ({what}):\n{stderr}"
        );
        assert!(stderr.contains(what), "expected {what:?}:\n{stderr}");
    }
    assert!(stderr.contains("did you mean `path`?"), "{stderr}");
    assert!(stderr.contains("did you mean `grep`?"), "{stderr}");
    assert!(
        stderr.contains("</matc>") || stderr.contains("matc"),
        "{stderr}"
    );
}

#[test]
fn fluentd_args_names_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.conf");
    fs::write(&path, "<source>\n  @type tail\n  path /nonexistent/x.log\n  tag x\n</source>\n<match **>\n  @type null\n</match>\n").unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(BIN)
        .env("FLUENTD_ARGS", format!("-c {}", path.display()))
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    super::support::wait_until("the agent to load the config from FLUENTD_ARGS", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("adding source type=\"tail\"")
            || child.try_wait().unwrap().is_some()
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "{}",
        fs::read_to_string(&log).unwrap()
    );
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = super::support::wait_exit(&mut child);
    let stderr = fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("path /nonexistent/x.log"), "{stderr}");
}

/// Two outputs on one disk buffer directory (here one v1 `<buffer>`, one v0.12 flat
/// `buffer_path` inside a label) are refused when the file is read, with both places named.
#[test]
fn two_outputs_on_one_buffer_directory_are_refused_with_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.conf");
    let text = "<source>\n  @type forward\n</source>\n<match a.**>\n  @type null\n  <buffer>\n    @type file\n    path /var/log/logferry/buffer\n  </buffer>\n</match>\n<label @B>\n  <match b.**>\n    @type null\n    buffer_type file\n    buffer_path /var/log/logferry/buffer/\n  </match>\n</label>\n";
    fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let name = path.display().to_string();
    assert!(stderr.contains(&format!("{name}:15:17")), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the buffer directory /var/log/logferry/buffer/ is already used by the output at {name}:8"
        )),
        "{stderr}"
    );
}

/// Values logferry accepts but does not act on are warned about, by `check` and at start, as
/// the README promises: `follow_inodes false` and the file output's `append false` were read
/// and dropped silently, and so was every `@log_level`.
#[test]
fn accepted_but_ignored_values_are_warned_about_by_check_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ignored.conf");
    let d = dir.path().display();
    let text = format!(
        "<system>\n  log_level debug\n</system>\n<source>\n  @type tail\n  @log_level warn\n  path {d}/app.log\n  pos_file {d}/app.log.pos\n  tag app\n  follow_inodes false\n  <parse>\n    @type none\n  </parse>\n</source>\n<match **>\n  @type file\n  path {d}/out\n  append false\n</match>\n"
    );
    fs::write(&path, text).unwrap();
    let name = path.display().to_string();
    let expected = [
        (
            "2:3",
            "parameter `log_level` is accepted for compatibility but has no effect: logferry has one log level for every plugin: set it with `logferry run --log-level`",
        ),
        (
            "6:3",
            "parameter `@log_level` is accepted for compatibility but has no effect",
        ),
        (
            "10:17",
            "`follow_inodes false` is accepted for compatibility but has no effect: logferry always follows files by inode",
        ),
        (
            "18:10",
            "`append false` is accepted for compatibility but has no effect: logferry always appends",
        ),
    ];

    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "warnings do not fail a check:\n{stderr}"
    );
    for (position, text) in expected {
        assert!(
            stderr.contains(&format!("{name}:{position}")),
            "no diagnostic at {position}:\n{stderr}"
        );
        assert!(stderr.contains(text), "expected {text:?}:\n{stderr}");
    }
    assert_eq!(stderr.matches("has no effect").count(), 4, "{stderr}");

    // `run` logs the same warnings as it starts.
    fs::write(dir.path().join("app.log"), "one line\n").unwrap();
    let agent = super::support::Agent::start(&path);
    super::support::wait_until("the agent to follow the file", || {
        agent.log().contains("following tail")
    });
    let log = agent.stop();
    for (_, text) in expected {
        assert!(log.contains(text), "expected {text:?} in the log:\n{log}");
    }
}
