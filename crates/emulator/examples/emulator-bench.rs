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
    /// Skip the gRPC ingest (the queries run over the REST-written entries either way).
    #[arg(long)]
    rest_only: bool,
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

/// CPU time this process (server and client) has used so far, from `/proc/self/stat` (whose
/// clock ticks are 1/100 s on Linux); zero where it cannot be read.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state; utime and stime
    // are the 14th and 15th fields of the line, the 12th and 13th after the name.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<f64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse().ok())
        .collect();
    ticks.iter().sum::<f64>() / 100.0
}

/// What one ingest run measured.
struct Ingest {
    entries_per_second: f64,
    seconds: f64,
    /// Process CPU (emulator and this client) per entry, in microseconds.
    cpu_micros_per_entry: f64,
}

impl Ingest {
    fn measured(entries: usize, started: Instant, cpu_before: f64) -> Ingest {
        let seconds = started.elapsed().as_secs_f64();
        Ingest {
            entries_per_second: entries as f64 / seconds,
            seconds,
            cpu_micros_per_entry: (cpu_seconds() - cpu_before) * 1e6 / entries as f64,
        }
    }

    fn row(&self, what: &str) -> String {
        format!(
            "| {what} | {:.0} entries/s ({:.1} s) | {:.1} µs |",
            self.entries_per_second, self.seconds, self.cpu_micros_per_entry
        )
    }
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
    let grpc_rate = if args.rest_only {
        None
    } else {
        Some(ingest_grpc(&url, &args, base).await?)
    };

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
    println!("| measurement | result | CPU per entry (emulator + client) |");
    println!("|---|---|---|");
    println!("{}", rest_rate.row("ingest over REST (`entries:write`)"));
    if let Some(grpc_rate) = grpc_rate {
        println!("{}", grpc_rate.row("ingest over gRPC (`WriteLogEntries`)"));
    }
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

/// The indices of the entries of each batch writer `w` of `args.writers` sends, in order.
fn batches_of(args: &Args, w: usize) -> impl Iterator<Item = std::ops::Range<usize>> + use<> {
    let (n, size) = (args.entries, args.batch);
    (w..n.div_ceil(size))
        .step_by(args.writers)
        .map(move |b| b * size..((b + 1) * size).min(n))
}

/// Writes every entry into project `bench` over REST. The request bodies are made before the
/// clock starts: the emulator's work is what is timed.
async fn ingest_rest(client: &Client, args: &Args, base: i64) -> Ingest {
    let bodies: Vec<Vec<Vec<u8>>> = (0..args.writers)
        .map(|w| {
            batches_of(args, w)
                .map(|batch| {
                    let entries: Vec<Value> = batch.map(|i| entry(i, base, "bench")).collect();
                    serde_json::to_vec(&json!({"entries": entries})).unwrap()
                })
                .collect()
        })
        .collect();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for bodies in bodies {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for body in bodies {
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
    Ingest::measured(args.entries, started, cpu_before)
}

/// The same entries into project `bench-grpc` over gRPC, the writers sharing one HTTP/2
/// connection as a gRPC client does. The requests are made before the clock starts (their
/// encoding is timed: tonic does it as it sends).
async fn ingest_grpc(url: &str, args: &Args, base: i64) -> anyhow::Result<Ingest> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect()
        .await?;
    let requests: Vec<Vec<v2::WriteLogEntriesRequest>> = (0..args.writers)
        .map(|w| {
            batches_of(args, w)
                .map(|batch| v2::WriteLogEntriesRequest {
                    entries: batch
                        .map(|i| {
                            let e: LogEntry =
                                serde_json::from_value(entry(i, base, "bench-grpc")).unwrap();
                            emulator::convert::entry_to_proto(e).unwrap()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect()
        })
        .collect();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for requests in requests {
        let mut client = LoggingServiceV2Client::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            for request in requests {
                client.write_log_entries(request).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(Ingest::measured(args.entries, started, cpu_before))
}
