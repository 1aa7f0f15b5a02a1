//! Measures the emulator and prints Markdown tables: ingest rate over REST (`entries:write`) and
//! over gRPC (`WriteLogEntries`), the same entries in batches of 1000 into separate projects,
//! and p50/p95 latency of representative filters over the REST-written entries.
//! `cargo run --release -p emulator --example emulator-bench -- --entries 1000000`

use std::time::Duration;

use clap::Parser;
use emulator::client::Client;
use emulator::{EmulatorConfig, serve};
use gcloud_logging::{LogEntry, Timestamp};
use googleapis_tonic_google_logging_v2::google::logging::v2;
use googleapis_tonic_google_logging_v2::google::logging::v2::logging_service_v2_client::LoggingServiceV2Client;
use serde_json::{Value, json};
use tokio::time::Instant;

#[derive(Parser)]
struct Args {
    /// Entries to store before querying.
    #[arg(long, default_value_t = 1_000_000)]
    entries: usize,
    /// Entries per `entries:write` request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Runs of each filter.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Data directory (a fresh temp dir by default).
    #[arg(long)]
    data: Option<std::path::PathBuf>,
}

fn entry(i: usize, base: i64, project: &str) -> Value {
    let ts = Timestamp::new(base + (i / 1000) as i64, ((i % 1000) * 1_000_000) as u32).unwrap();
    let resource = match i % 4 {
        0 | 1 => {
            json!({"type": "container", "labels": {"cluster_name": "fastapi-cluster", "container_name": "fastapi"}})
        }
        2 => json!({"type": "container", "labels": {"cluster_name": "batch-cluster"}}),
        _ => {
            json!({"type": "k8s_container", "labels": {"cluster_name": "fastapi-cluster", "pod_name": format!("web-{}", i % 13)}})
        }
    };
    let severity = [
        "INFO", "INFO", "INFO", "DEBUG", "WARNING", "INFO", "INFO", "ERROR",
    ][i % 8];
    let mut e = json!({
        "logName": format!("projects/{project}/logs/{}", if i.is_multiple_of(10) { "stderr" } else { "app.log" }),
        "resource": resource,
        "timestamp": ts.to_string(),
        "insertId": format!("{i:012}"),
        "severity": severity,
        "labels": {"pod": format!("web-{}", i % 13)},
    });
    if i.is_multiple_of(2) {
        e["textPayload"] = json!(format!("GET /items/{i} 200 {}ms", i % 97));
    } else {
        e["jsonPayload"] = json!({"message": format!("request {i} handled"), "status": if i % 50 == 1 { 503 } else { 200 }, "latency_ms": i % 97});
    }
    e
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, EmulatorConfig::new(&data), async {
        let _ = stopped.await;
    }));
    let client = Client::new(&url)?;
    while client.request("GET", "/healthz", None, &[]).await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Entries span the last N milliseconds, so `--freshness 1d` style filters see all of them.
    let base = Timestamp::now().seconds - (args.entries / 1000) as i64 - 1;
    let rest_rate = ingest_rest(&client, &args, base).await;
    let grpc_rate = ingest_grpc(&url, &args, base).await?;

    let mid = Timestamp::new(base + (args.entries / 2000) as i64, 0).unwrap();
    let mid_end = Timestamp::new(mid.seconds + 60, 0).unwrap();
    let filters = [
        (
            "original system's query",
            r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#
                .to_string(),
        ),
        ("severity", "severity>=ERROR".to_string()),
        ("one log", r#"log_id("stderr")"#.to_string()),
        (
            "one-minute window",
            format!(r#"timestamp>="{mid}" timestamp<"{mid_end}""#),
        ),
        (
            "payload field",
            "jsonPayload.status=503 severity>=WARNING".to_string(),
        ),
        (
            "rare bare word (text index)",
            r#""request 4243 handled""#.to_string(),
        ),
    ];
    println!(
        "Emulator benchmark: {} entries stored, batches of {}, {} writers\n",
        args.entries, args.batch, args.writers
    );
    println!("| measurement | result |");
    println!("|---|---|");
    println!(
        "| ingest over REST (`entries:write`) | {:.0} entries/s ({:.1} s) |",
        rest_rate.0, rest_rate.1
    );
    println!(
        "| ingest over gRPC (`WriteLogEntries`) | {:.0} entries/s ({:.1} s) |",
        grpc_rate.0, grpc_rate.1
    );
    println!("\n| filter (pageSize 50, newest first) | matches on page | p50 | p95 |");
    println!("|---|---|---|---|");
    for (name, filter) in &filters {
        let mut times = Vec::with_capacity(args.runs);
        let mut count = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            let resp: Value = client
                .call(
                    "/v2/entries:list",
                    &json!({"resourceNames": ["projects/bench"], "filter": filter, "orderBy": "timestamp desc", "pageSize": 50}),
                )
                .await?;
            times.push(t.elapsed());
            count = resp["entries"].as_array().map_or(0, Vec::len);
        }
        times.sort();
        println!(
            "| {name}: `{}` | {count} | {:.1} ms | {:.1} ms |",
            filter.replace('|', "\\|"),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.95).as_secs_f64() * 1e3
        );
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// Writes every entry into project `bench` over REST; returns (entries/s, seconds).
async fn ingest_rest(client: &Client, args: &Args, base: i64) -> (f64, f64) {
    let batches = args.entries.div_ceil(args.batch);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let client = client.clone();
        let (n, size, writers) = (args.entries, args.batch, args.writers);
        tasks.push(tokio::spawn(async move {
            for b in (w..batches).step_by(writers) {
                let entries: Vec<Value> = (b * size..((b + 1) * size).min(n))
                    .map(|i| entry(i, base, "bench"))
                    .collect();
                let body = serde_json::to_vec(&json!({"entries": entries})).unwrap();
                let r = client
                    .request(
                        "POST",
                        "/v2/entries:write",
                        Some(("application/json", &body)),
                        &[],
                    )
                    .await
                    .unwrap();
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    (args.entries as f64 / seconds, seconds)
}

/// The same entries into project `bench-grpc` over gRPC, the writers sharing one HTTP/2
/// connection as a gRPC client does; returns (entries/s, seconds).
async fn ingest_grpc(url: &str, args: &Args, base: i64) -> anyhow::Result<(f64, f64)> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect()
        .await?;
    let batches = args.entries.div_ceil(args.batch);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let mut client = LoggingServiceV2Client::new(channel.clone());
        let (n, size, writers) = (args.entries, args.batch, args.writers);
        tasks.push(tokio::spawn(async move {
            for b in (w..batches).step_by(writers) {
                let entries = (b * size..((b + 1) * size).min(n))
                    .map(|i| {
                        let e: LogEntry =
                            serde_json::from_value(entry(i, base, "bench-grpc")).unwrap();
                        emulator::convert::entry_to_proto(e).unwrap()
                    })
                    .collect();
                client
                    .write_log_entries(v2::WriteLogEntriesRequest {
                        entries,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok((args.entries as f64 / seconds, seconds))
}
