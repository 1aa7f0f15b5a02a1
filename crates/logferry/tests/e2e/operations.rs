//! Operating the agent: the metrics and probe endpoint during a run, and config reloads (SIGHUP
//! and `POST /api/config.reload`) under load and with a bad config.

use std::fs;
use std::time::Duration;

use super::support::*;

fn numbered(from: usize, to: usize) -> String {
    (from..to).map(|i| format!("line {i} payload\n")).collect()
}

/// The value of the series `name{labels}` in a Prometheus text page.
fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_during_a_run_add_up_to_the_lines_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = tail_to_file(dir.path(), "  @id app_tail\n");
    let log = dir.path().join("app.log");
    fs::write(&log, "").unwrap();
    let port = free_port();
    let agent = Agent::start_with(&config, &["--health-listen", &format!("127.0.0.1:{port}")]);
    wait_until("the health endpoint", || {
        http(port, "GET", "/healthz").is_some_and(|(s, _)| s == 200)
    });
    let total = 30_000;
    for block in 0..10 {
        append(&log, &numbered(block * 3_000, (block + 1) * 3_000));
        // Scrape mid-run: what is read is never less than what is acknowledged.
        let (_, page) = http(port, "GET", "/metrics").unwrap();
        let path = log.display().to_string();
        let read = metric(
            &page,
            &format!("logferry_tail_lines_read_total{{plugin_id=\"app_tail\",path=\"{path}\"}}"),
        )
        .unwrap_or(0.0);
        let acked = metric(
            &page,
            "logferry_output_entries_acked_total{plugin_id=\"output0\",type=\"file\"}",
        )
        .unwrap_or(0.0);
        assert!(acked <= read, "acked {acked} > read {read}");
        std::thread::sleep(Duration::from_millis(30));
    }
    let out = dir.path().join("out.log");
    wait_until("every line delivered", || count_lines(&out) >= total);
    let path = log.display().to_string();
    let size = fs::metadata(&log).unwrap().len() as f64;
    let mut page = String::new();
    // The position gauges are refreshed at most once a second: until then they may still show
    // the empty file they started with.
    wait_until("the counters to settle", || {
        page = http(port, "GET", "/metrics").unwrap().1;
        metric(
            &page,
            "logferry_output_buffer_entries{plugin_id=\"output0\",type=\"file\"}",
        ) == Some(0.0)
            && metric(
                &page,
                &format!("logferry_tail_bytes_behind{{plugin_id=\"app_tail\",path=\"{path}\"}}"),
            ) == Some(0.0)
            && metric(
                &page,
                &format!(
                    "fluentd_tail_file_position{{plugin_id=\"app_tail\",type=\"tail\",path=\"{path}\"}}"
                ),
            ) == Some(size)
    });
    let n = total as f64;
    for series in [
        format!("logferry_tail_lines_read_total{{plugin_id=\"app_tail\",path=\"{path}\"}}"),
        "fluentd_input_status_num_records_total{plugin_id=\"app_tail\",type=\"tail\"}".to_string(),
        "fluentd_output_status_emit_records{plugin_id=\"output0\",type=\"file\"}".to_string(),
        "logferry_output_entries_acked_total{plugin_id=\"output0\",type=\"file\"}".to_string(),
        "logferry_output_entries_sent_total{plugin_id=\"output0\",type=\"file\"}".to_string(),
    ] {
        assert_eq!(metric(&page, &series), Some(n), "{series}\n{page}");
    }
    assert_eq!(
        metric(
            &page,
            &format!(
                "fluentd_tail_file_position{{plugin_id=\"app_tail\",type=\"tail\",path=\"{path}\"}}"
            )
        ),
        Some(size)
    );
    assert_eq!(
        metric(
            &page,
            &format!("logferry_tail_bytes_read_total{{plugin_id=\"app_tail\",path=\"{path}\"}}")
        ),
        Some(size)
    );
    // The concurrency limiter's series: a limit of at least one, nothing in flight once every
    // line is acknowledged, and one RTT observed per delivered request at least.
    let limit = metric(
        &page,
        "logferry_output_concurrency_limit{plugin_id=\"output0\",type=\"file\"}",
    );
    assert!(limit.is_some_and(|l| l >= 1.0), "{page}");
    assert_eq!(
        metric(
            &page,
            "logferry_output_requests_in_flight{plugin_id=\"output0\",type=\"file\"}"
        ),
        Some(0.0),
        "{page}"
    );
    let rtts = metric(
        &page,
        "logferry_output_rtt_seconds_count{plugin_id=\"output0\",type=\"file\"}",
    );
    assert!(rtts.is_some_and(|n| n >= 1.0), "{page}");
    let exposures = metric(
        &page,
        "logferry_exposure_window_seconds_count{plugin_id=\"app_tail\"}",
    )
    .unwrap();
    assert!(exposures >= 1.0, "{page}");
    assert_eq!(
        metric(
            &page,
            "fluentd_output_status_retry_count{plugin_id=\"output0\",type=\"file\"}"
        ),
        Some(0.0)
    );
    assert!(
        page.contains("# TYPE logferry_exposure_window_seconds histogram"),
        "{page}"
    );
    let (status, body) = http(port, "GET", "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, plugins) = http(port, "GET", "/api/plugins.json").unwrap();
    assert_eq!(status, 200);
    let plugins: serde_json::Value = serde_json::from_str(&plugins).unwrap();
    assert_eq!(plugins["plugins"][1]["emit_records"], total, "{plugins}");
    agent.stop();
    assert_exactly_once_in_order(&messages(&out), total);
}

#[test]
fn reloads_under_load_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = tail_to_file(dir.path(), "");
    let log = dir.path().join("app.log");
    fs::write(&log, "").unwrap();
    let agent = Agent::start(&config);
    wait_until("following tail", || {
        agent.log().contains("following tail of")
    });
    let total = 60_000;
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for block in 0..total / 500 {
                append(&log, &numbered(block * 500, (block + 1) * 500));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let reloads = 5;
    for i in 1..=reloads {
        std::thread::sleep(Duration::from_millis(150));
        agent.signal("HUP");
        wait_until("the reload", || {
            agent.log().matches("configuration reloaded").count() >= i
        });
    }
    writer.join().unwrap();
    let out = dir.path().join("out.log");
    if !wait_for(|| count_lines(&out) >= total) {
        assert_exactly_once_in_order(&messages(&out), total);
        panic!("timed out:\n{}", agent.log());
    }
    // Anything repeated would arrive late: give it the chance.
    std::thread::sleep(Duration::from_millis(500));
    let log_text = agent.stop();
    assert_exactly_once_in_order(&messages(&out), total);
    assert_eq!(
        log_text.matches("configuration reloaded").count(),
        reloads,
        "{log_text}"
    );
}

#[test]
fn a_bad_config_on_reload_is_rejected_and_the_pipeline_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let config = tail_to_file(dir.path(), "");
    let good = fs::read_to_string(&config).unwrap();
    let log = dir.path().join("app.log");
    append(&log, &numbered(0, 1_000));
    let port = free_port();
    let agent = Agent::start_with(&config, &["--health-listen", &format!("127.0.0.1:{port}")]);
    let out = dir.path().join("out.log");
    wait_until("the first lines", || count_lines(&out) >= 1_000);
    fs::write(&config, good.replace("@type file", "@type fiel")).unwrap();
    agent.signal("HUP");
    wait_until("the rejection", || {
        agent
            .log()
            .contains("is invalid; the running pipeline goes on")
    });
    let (status, body) = http(port, "POST", "/api/config.reload").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown output plugin `fiel`"), "{body}");
    assert!(body.contains("fluentd.conf:"), "{body}");
    append(&log, &numbered(1_000, 2_000));
    wait_until("lines written after the rejection", || {
        count_lines(&out) >= 2_000
    });
    assert_eq!(http(port, "GET", "/readyz").unwrap().0, 200);
    fs::write(&config, &good).unwrap();
    let (status, body) = http(port, "POST", "/api/config.reload").unwrap();
    assert_eq!(status, 200, "{body}");
    append(&log, &numbered(2_000, 3_000));
    wait_until("lines written after the good reload", || {
        count_lines(&out) >= 3_000
    });
    let log_text = agent.stop();
    assert_exactly_once_in_order(&messages(&out), 3_000);
    assert!(log_text.contains("did you mean `file`?"), "{log_text}");
}

/// `POST /api/config.reload` with `Authorization: Bearer <token>` when `token` is given.
fn reload_with(port: u16, token: Option<&str>) -> Option<(u16, String)> {
    let authorization = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    http_with(port, "POST", "/api/config.reload", &authorization)
}

/// With `--reload-token-file`, the token decides who may reload, loopback included: a missing
/// or wrong one is refused (403) and reloads nothing; the right one reloads. (A peer that is not
/// loopback cannot be made on one machine; the agent's `health` tests cover that gate.)
#[test]
fn with_a_reload_token_a_request_without_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = tail_to_file(dir.path(), "");
    let token_file = dir.path().join("reload-token");
    fs::write(&token_file, "k8s-secret-value\n").unwrap();
    let port = free_port();
    let agent = Agent::start_with(
        &config,
        &[
            "--health-listen",
            &format!("127.0.0.1:{port}"),
            "--reload-token-file",
            &token_file.display().to_string(),
        ],
    );
    wait_until("the health endpoint", || {
        http(port, "GET", "/healthz").is_some_and(|(s, _)| s == 200)
    });
    let (status, body) = reload_with(port, None).unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, body) = reload_with(port, Some("k8s-secret-valuE")).unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(!agent.log().contains("configuration reloaded"));
    let (status, body) = reload_with(port, Some("k8s-secret-value")).unwrap();
    assert_eq!(status, 200, "{body}");
    wait_until("the reload", || {
        agent.log().contains("configuration reloaded")
    });
    let log_text = agent.stop();
    assert_eq!(
        log_text.matches("refused a configuration reload").count(),
        2,
        "{log_text}"
    );
}

#[test]
fn an_empty_reload_token_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = tail_to_file(dir.path(), "");
    let token_file = dir.path().join("reload-token");
    fs::write(&token_file, " \n").unwrap();
    let output = std::process::Command::new(BIN)
        .args(["run", "-c"])
        .arg(&config)
        .arg("--reload-token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        format!("{stdout}{stderr}").contains("the file is empty"),
        "{stdout}{stderr}"
    );
}
