//! The log file's life: SIGHUP reopen after external rotation, built-in size rotation, the
//! Python-style text format, and flag validation.

use std::process::Command;

use crate::support::{Server, access_lines, json_lines, log_lines, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_file_after_an_external_rename() {
    let server = Server::start(&[]).await;
    let mut c = server.client().await;
    c.get("/?before=1").await;
    let log = server.log_path();
    wait_until("the first access line", || access_lines(&log).len() == 1).await;

    let rotated = server.dir.path().join("app.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    c.get("/?between=1").await; // still written to the renamed file
    server.signal("HUP");
    wait_until("the reopened file", || log.exists()).await;
    c.get("/?after=1").await;
    wait_until("the line after reopen", || access_lines(&log).len() == 1).await;

    let old: Vec<_> = access_lines(&rotated)
        .iter()
        .map(|l| l["httpRequest"]["requestUrl"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(old, ["/?before=1", "/?between=1"]);
    assert_eq!(
        access_lines(&log)[0]["httpRequest"]["requestUrl"],
        "/?after=1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_rotation_keeps_files_under_the_limit_and_loses_nothing() {
    let server = Server::start(&["--rotate-size", "4k", "--rotate-keep", "50"]).await;
    let mut c = server.client().await;
    for n in 0..200 {
        c.get(&format!("/health?n={n}")).await;
    }
    let base = server.log_path();
    let files = || {
        let mut v = vec![base.clone()];
        v.extend((1..=50).map(|n| server.dir.path().join(format!("app.log.{n}"))));
        v
    };
    let count = || files().iter().map(|p| access_lines(p).len()).sum::<usize>();
    // Reading while the writer shifts files can miscount; the settled state must be exact.
    wait_until("200 access lines across the rotated files", || {
        count() == 200
    })
    .await;
    assert_eq!(count(), 200);
    assert!(
        server.dir.path().join("app.log.3").exists(),
        "expected several rotations"
    );
    for path in files().iter().filter(|p| p.exists()) {
        let len = std::fs::metadata(path).unwrap().len();
        assert!(len <= 4096, "{} is {len} bytes", path.display());
        json_lines(path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_format_looks_like_python_logging_and_uvicorn() {
    let server = Server::start(&["--log-format", "text"]).await;
    let mut c = server.client().await;
    c.post("/log", r#"{"severity":"WARNING","message":"low disk"}"#)
        .await;
    let log = server.log_path();
    wait_until("the access line", || {
        log_lines(&log).iter().any(|l| l.contains(" access: "))
    })
    .await;
    let lines = log_lines(&log);
    let warning = lines
        .iter()
        .find(|l| l.ends_with("WARNING app: low disk"))
        .expect("app line");
    // `2026-11-25 10:00:00,123 WARNING app: low disk`
    let (date, rest) = warning.split_at(23);
    assert_eq!(&date[4..5], "-");
    assert_eq!(&date[10..11], " ");
    assert_eq!(&date[19..20], ",");
    assert_eq!(rest, " WARNING app: low disk");
    let access = lines.iter().find(|l| l.contains(" access: ")).unwrap();
    assert!(access.contains(" INFO access: 127.0.0.1:"), "{access}");
    assert!(
        access.ends_with(r#" - "POST /log HTTP/1.1" 200"#),
        "{access}"
    );
}

#[test]
fn contradictory_flags_exit_with_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_web-api"))
        .args(["--rotate-size", "10m"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rotate-size needs --log-file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_exit_marker_from_a_previous_run_is_removed_at_start() {
    // A restarted container must not leave the sidecar believing the new run is over.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("exited");
    let port_file = dir.path().join("port");
    std::fs::write(&marker, "{\"drained\":true}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_web-api"))
        .args(["--bind", "127.0.0.1:0", "--workers", "1"])
        .arg("--port-file")
        .arg(&port_file)
        .arg("--log-file")
        .arg(dir.path().join("app.log"))
        .arg("--exit-marker")
        .arg(&marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the port file", || port_file.exists()).await;
    let stale_left = marker.exists();
    let _ = child.kill();
    let _ = child.wait();
    assert!(!stale_left, "the marker of the previous run is still there");
}
