//! Google's `gcloud` CLI against the emulator, as a user points it there: a throwaway
//! `CLOUDSDK_CONFIG` with `api_endpoint_overrides/logging` set to the emulator and
//! `auth/disable_credentials true`. `gcloud logging write`, `read` (with `--freshness`,
//! `--order`, `--limit`, `--format json`), `logs list` and `logs delete` must behave as they do
//! against Cloud Logging.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{DEADLINE, Server};

/// Runs `gcloud` with `config` and the project `demo`, failing the test on a timeout.
async fn gcloud(config: &Path, args: &[&str]) -> Output {
    let gcloud = which("gcloud").expect(
        "gcloud is not on the PATH: the tests drive Google's own CLI against the emulator \
         (the Google Cloud CLI is part of the machine image)",
    );
    tokio::time::timeout(
        DEADLINE,
        tokio::process::Command::new(gcloud)
            .args(args)
            .args(["--project", "demo", "--quiet"])
            .env("CLOUDSDK_CONFIG", config)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("gcloud {args:?} did not finish"))
    .unwrap()
}

/// Runs `gcloud` and returns its stdout, failing the test if it failed.
async fn ok(config: &Path, args: &[&str]) -> String {
    let out = gcloud(config, args).await;
    assert!(
        out.status.success(),
        "gcloud {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// A gcloud configuration whose Logging API is the emulator at `url`.
async fn config_for(dir: &Path, url: &str) -> PathBuf {
    let config = dir.join("gcloud-config");
    for (property, value) in [
        ("api_endpoint_overrides/logging", format!("{url}/")),
        ("auth/disable_credentials", "true".to_owned()),
        ("core/disable_usage_reporting", "true".to_owned()),
        ("component_manager/disable_update_check", "true".to_owned()),
    ] {
        let out = gcloud(&config, &["config", "set", property, &value]).await;
        assert!(
            out.status.success(),
            "gcloud config set {property}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    config
}

fn entries(json: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(json)
        .unwrap_or_else(|e| panic!("gcloud --format json printed {json:?}: {e}"))
        .as_array()
        .expect("a JSON list of entries")
        .clone()
}

#[tokio::test]
async fn gcloud_writes_reads_lists_and_deletes_logs() {
    let server = Server::start().await;
    let temp = tempfile::tempdir().unwrap();
    let config = config_for(temp.path(), &server.url).await;

    ok(
        &config,
        &["logging", "write", "app", "disk full", "--severity=ERROR"],
    )
    .await;
    ok(
        &config,
        &[
            "logging",
            "write",
            "app",
            r#"{"message": "order 17 paid", "amount": 12.5}"#,
            "--payload-type=json",
            "--severity=INFO",
        ],
    )
    .await;
    ok(&config, &["logging", "write", "audit", "login ok"]).await;

    // Newest first by default, as Cloud Logging answers.
    let read = |filter: &'static str, extra: &'static [&'static str]| {
        let config = config.clone();
        async move {
            let mut args = vec!["logging", "read", filter, "--freshness=1d", "--format=json"];
            args.extend_from_slice(extra);
            entries(&ok(&config, &args).await)
        }
    };
    let app = read(r#"logName="projects/demo/logs/app""#, &[]).await;
    assert_eq!(app.len(), 2, "{app:?}");
    assert_eq!(app[0]["jsonPayload"]["message"], "order 17 paid");
    assert_eq!(app[0]["jsonPayload"]["amount"], 12.5);
    assert_eq!(app[0]["severity"], "INFO");
    assert_eq!(app[1]["textPayload"], "disk full");
    assert_eq!(app[1]["severity"], "ERROR");
    assert_eq!(app[1]["resource"]["type"], "global");
    assert!(app[1]["insertId"].is_string() && app[1]["receiveTimestamp"].is_string());

    let oldest_first = read(r#"logName="projects/demo/logs/app""#, &["--order=asc"]).await;
    assert_eq!(oldest_first[0]["textPayload"], "disk full");
    assert_eq!(oldest_first[1]["jsonPayload"]["message"], "order 17 paid");

    let one = read("", &["--limit=1"]).await;
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0]["textPayload"], "login ok",
        "the newest entry of all logs"
    );

    let errors = read("severity>=ERROR", &[]).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["textPayload"], "disk full");
    let paid = read(r#"jsonPayload.message:"paid""#, &[]).await;
    assert_eq!(paid.len(), 1);

    // Entries older than the freshness window are not read.
    let written = server
        .write(serde_json::json!({
            "entries": [{
                "logName": "projects/demo/logs/app",
                "resource": {"type": "global"},
                "timestamp": days_ago(7),
                "jsonPayload": {"message": "from last week"},
            }]
        }))
        .await;
    assert_eq!(
        written.status,
        200,
        "{}",
        String::from_utf8_lossy(&written.body)
    );
    assert_eq!(
        read(r#"logName="projects/demo/logs/app""#, &[]).await.len(),
        2
    );
    assert_eq!(
        read(r#"logName="projects/demo/logs/app""#, &["--freshness=30d"])
            .await
            .len(),
        3
    );

    // `logs list` prints a NAME column of log resource names.
    let logs = ok(&config, &["logging", "logs", "list"]).await;
    let mut names: Vec<&str> = logs.lines().skip(1).collect();
    names.sort();
    assert_eq!(
        names,
        ["projects/demo/logs/app", "projects/demo/logs/audit"],
        "{logs}"
    );

    ok(&config, &["logging", "logs", "delete", "app"]).await;
    let logs = ok(&config, &["logging", "logs", "list"]).await;
    assert_eq!(
        logs.lines().skip(1).collect::<Vec<_>>(),
        ["projects/demo/logs/audit"]
    );
    assert!(
        read(r#"logName="projects/demo/logs/app""#, &[])
            .await
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test]
async fn gcloud_shows_the_emulators_error_for_a_bad_filter() {
    let server = Server::start().await;
    let temp = tempfile::tempdir().unwrap();
    let config = config_for(temp.path(), &server.url).await;
    let out = gcloud(
        &config,
        &["logging", "read", "severity>>ERROR", "--freshness=1d"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("INVALID_ARGUMENT") && stderr.contains("severity"),
        "{stderr}"
    );
    server.stop().await;
}

/// An RFC 3339 timestamp `days` days ago (UTC), without a date library.
fn days_ago(days: u64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - days * 86_400;
    gcloud_logging::Timestamp::new(secs as i64, 0)
        .unwrap()
        .to_string()
}
