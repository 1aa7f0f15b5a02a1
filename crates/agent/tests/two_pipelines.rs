//! Two pipelines in one process, each with its own metrics and health: every count on one
//! agent's page is its own, though both name their plugins alike. Metrics, health and the
//! forward inputs' sockets are handles the runtime is given, not globals.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::health;
use agent::metrics::CounterFamily;
use agent::runtime::{RunOptions, RunSummary, run};
use agent::telemetry::Telemetry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Generous: CI machines are slow and shared.
const DEADLINE: Duration = Duration::from_secs(60);

/// One agent: a tail source (`@id in`) over `app.log` to a file output (`@id out`), its
/// telemetry served on its own operations endpoint.
struct Agent {
    dir: tempfile::TempDir,
    telemetry: Telemetry,
    endpoint: SocketAddr,
    stop: CancellationToken,
    running: tokio::task::JoinHandle<Result<RunSummary, agent::runtime::RunError>>,
}

impl Agent {
    async fn start(lines: usize, endpoints: &CancellationToken) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let text: String = (0..lines).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();
        let config = format!(
            "<source>\n  @type tail\n  @id in\n  path {log}\n  pos_file {log}.pos\n  read_from_head true\n  tag app\n  <parse>\n    @type none\n  </parse>\n</source>\n<match app>\n  @type file\n  @id out\n  path {out}\n</match>\n",
            log = log.display(),
            out = out_path(dir.path()).display(),
        );
        let (pipeline, _) = agent::config::load_str(&config, Path::new("agent.conf"))
            .unwrap_or_else(|diags| panic!("the test config is valid: {diags:?}"));
        let telemetry = Telemetry::default();
        let endpoint = health::bind(
            "127.0.0.1:0".parse().unwrap(),
            telemetry.clone(),
            None,
            endpoints.clone(),
        )
        .await
        .unwrap();
        let options = RunOptions {
            telemetry: telemetry.clone(),
            ..RunOptions::default()
        };
        let stop = CancellationToken::new();
        let running = tokio::spawn(run(
            pipeline,
            options,
            stop.clone(),
            CancellationToken::new(),
        ));
        Agent {
            dir,
            telemetry,
            endpoint,
            stop,
            running,
        }
    }

    fn delivered_lines(&self) -> usize {
        std::fs::read_to_string(out_path(self.dir.path()))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    async fn get(&self, path: &str) -> String {
        get(self.endpoint, path).await
    }
}

fn out_path(dir: &Path) -> PathBuf {
    dir.join("out.log")
}

/// The value of the series with these labels, without creating it.
fn value(family: &CounterFamily, labels: &[&str]) -> Option<u64> {
    family
        .snapshot()
        .into_iter()
        .find(|(values, _)| values.iter().map(String::as_str).eq(labels.iter().copied()))
        .map(|(_, counter)| counter.get())
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = tokio::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pipelines_in_one_process_count_only_their_own_records() {
    let endpoints = CancellationToken::new();
    let (a_lines, b_lines) = (3, 7);
    let a = Agent::start(a_lines, &endpoints).await;
    let b = Agent::start(b_lines, &endpoints).await;

    for (agent, lines) in [(&a, a_lines), (&b, b_lines)] {
        let metrics = &agent.telemetry.metrics;
        wait_until("every line delivered and acknowledged", || {
            agent.delivered_lines() == lines
                && value(&metrics.output_entries_acked, &["out", "file"]) == Some(lines as u64)
        })
        .await;
    }
    for (agent, lines) in [(&a, a_lines), (&b, b_lines)] {
        let m = &agent.telemetry.metrics;
        assert_eq!(value(&m.input_records, &["in", "tail"]), Some(lines as u64));
        assert_eq!(
            value(&m.output_emit_records, &["out", "file"]),
            Some(lines as u64)
        );
        let log = agent.dir.path().join("app.log").display().to_string();
        assert_eq!(value(&m.tail_lines_read, &["in", &log]), Some(lines as u64));

        // Its endpoint serves its own numbers, in the page's usual names and labels.
        let page = agent.get("/metrics").await;
        for series in [
            format!(
                "fluentd_input_status_num_records_total{{plugin_id=\"in\",type=\"tail\"}} {lines}\n"
            ),
            format!(
                "logferry_output_entries_acked_total{{plugin_id=\"out\",type=\"file\"}} {lines}\n"
            ),
            format!("logferry_tail_lines_read_total{{plugin_id=\"in\",path=\"{log}\"}} {lines}\n"),
        ] {
            assert!(page.contains(&series), "expected {series:?} in\n{page}");
        }
        let other = if lines == a_lines { &b } else { &a };
        let other_log = other.dir.path().join("app.log").display().to_string();
        assert!(
            !page.contains(&other_log),
            "the other agent's path is on this page:\n{page}"
        );

        let plugins = agent.get("/api/plugins.json").await;
        let body = plugins.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        let input = &json["plugins"][0];
        assert_eq!(input["plugin_id"], "in", "{json}");
        assert_eq!(input["emit_records"], lines, "{json}");

        let ready = agent.get("/readyz").await;
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    }

    // A third agent's health, with no pipeline started: not ready, whatever the others are.
    let idle = Telemetry::default();
    let idle_endpoint = health::bind(
        "127.0.0.1:0".parse().unwrap(),
        idle.clone(),
        None,
        endpoints.clone(),
    )
    .await
    .unwrap();
    let not_ready = get(idle_endpoint, "/readyz").await;
    assert!(not_ready.starts_with("HTTP/1.1 503"), "{not_ready}");
    assert!(
        not_ready.contains("no configuration loaded yet"),
        "{not_ready}"
    );
    assert!(
        !get(idle_endpoint, "/metrics")
            .await
            .contains("plugin_id=\"in\""),
        "an agent without a pipeline shows no input series"
    );

    for agent in [a, b] {
        agent.stop.cancel();
        let summary = tokio::time::timeout(DEADLINE, agent.running)
            .await
            .expect("the pipeline stops")
            .unwrap()
            .unwrap();
        assert!(summary.drained);
    }
    endpoints.cancel();
}
