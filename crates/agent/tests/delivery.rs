//! Delivery at Cloud Logging's latency: the `google_cloud` output behind its memory buffer,
//! against a fake `entries:write` that answers after a delay, as the real API does. The output
//! must keep several requests in flight, fill requests up to the size limit without passing
//! it, and lower its concurrency limit when throttled, then raise it again, losing nothing.

#[path = "google_cloud/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agent::ack::Ack;
use agent::event::{Event, Origin, Record};
use agent::metrics;
use agent::sinks::concurrency::LimiterGauges;
use agent::sinks::google_cloud::{self, GoogleCloudConfig};
use agent::sinks::{BufferConfig, OutputHandle, RoutedBatch, spawn_output};
use bytes::Bytes;
use fake::FakeLogging;
use gcloud_logging::Timestamp;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Conditions are awaited up to this long: generous, for a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(120);

fn event(seq: u64, size: usize) -> Event {
    let mut text = format!("line {seq:010} ");
    while text.len() < size {
        text.push('x');
    }
    Event {
        tag: "app.log".into(),
        time: Timestamp {
            seconds: 1_764_064_800 + (seq / 1000) as i64,
            nanos: (seq % 1000) as u32 * 1_000_000,
        },
        record: Record::Line(Bytes::from(text)),
        origin: Some(Origin {
            file: 7,
            offset: seq * size as u64,
        }),
    }
}

fn config(logging: &FakeLogging, dir: &std::path::Path) -> GoogleCloudConfig {
    GoogleCloudConfig {
        project_id: Some("test-project".into()),
        endpoint: logging.endpoint(),
        endpoint_explicit: true,
        use_metadata_service: false,
        dead_letter_path: dir.join("dead-letter.jsonl"),
        ..GoogleCloudConfig::default()
    }
}

/// The limiter's series in metrics of the test's own.
fn gauges(plugin_id: &str) -> LimiterGauges {
    let labels = [plugin_id, "google_cloud"];
    let metrics = metrics::Metrics::default();
    LimiterGauges {
        limit: metrics.output_concurrency_limit.with(&labels),
        in_flight: metrics.output_in_flight.with(&labels),
        rtt: metrics.output_rtt.with(&labels),
    }
}

fn buffer() -> BufferConfig {
    BufferConfig {
        flush_interval: Duration::from_millis(50),
        chunk_limit_size: 64 * 1024,
        retry_wait: Duration::from_millis(20),
        retry_max_interval: Duration::from_millis(200),
        ..BufferConfig::default()
    }
}

/// Sends lines `from..to` in batches of `per_batch`, each acknowledged into `acked`.
async fn feed(
    handle: &OutputHandle,
    from: u64,
    to: u64,
    per_batch: u64,
    size: usize,
    acked: &Arc<std::sync::atomic::AtomicU64>,
) {
    let mut seq = from;
    while seq < to {
        let end = (seq + per_batch).min(to);
        let count = end - seq;
        let acked = acked.clone();
        let batch = RoutedBatch {
            events: (seq..end).map(|s| event(s, size)).collect(),
            ack: Ack::new(move || {
                acked.fetch_add(count, Ordering::SeqCst);
            }),
            caught_up: false,
        };
        assert!(handle.send(batch).await.is_ok(), "the output stopped early");
        seq = end;
    }
}

/// Every line was written, and every line written more than once (a retry) carries the same
/// insertId and timestamp each time, so Cloud Logging shows it once.
fn assert_all_once(logging: &FakeLogging, lines: u64) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for entry in logging.accepted() {
        let id = entry.insert_id.clone().expect("an insertId");
        let time = entry.timestamp.map(|t| t.to_rfc3339()).unwrap_or_default();
        if let Some(before) = seen.insert(id.clone(), time.clone()) {
            assert_eq!(before, time, "entry {id} was resent with another timestamp");
        }
    }
    assert_eq!(seen.len() as u64, lines, "distinct entries written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_gets_more_than_two_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.pacing.latency_ms.store(200, Ordering::SeqCst);
    let mut cfg = config(&logging, dir.path());
    cfg.max_request_bytes = 200_000;
    let sink = google_cloud::build_sink(cfg).await.unwrap();
    let (handle, runner) = spawn_output(
        "delivery-in-flight",
        sink,
        buffer(),
        Some(gauges("delivery-in-flight")),
        CancellationToken::new(),
    );
    let acked = Arc::default();
    let lines = 30_000;
    tokio::time::timeout(DEADLINE, feed(&handle, 0, lines, 500, 200, &acked))
        .await
        .expect("fed in time");
    drop(handle);
    tokio::time::timeout(DEADLINE, runner)
        .await
        .expect("delivered in time")
        .unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), lines);
    let most = logging.pacing.most_in_flight();
    assert!(most > 2, "at most {most} requests were in flight");
    assert_all_once(&logging, lines);
    for r in logging.requests() {
        assert!(
            r.body.len() <= 200_000,
            "a request of {} bytes",
            r.body.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_fills_requests_up_to_ten_megabytes_and_never_past() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.pacing.latency_ms.store(200, Ordering::SeqCst);
    let sink = google_cloud::build_sink(config(&logging, dir.path()))
        .await
        .unwrap();
    let (handle, runner) = spawn_output(
        "delivery-size",
        sink,
        BufferConfig {
            flush_interval: Duration::from_secs(1),
            ..buffer()
        },
        None,
        CancellationToken::new(),
    );
    // About 40 MB of requests, made before they are fed, so the output finds a backlog.
    let lines = 100_000;
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let batches: Vec<RoutedBatch> = (0..lines)
        .step_by(1000)
        .map(|from| {
            let acked = acked.clone();
            RoutedBatch {
                events: (from..from + 1000).map(|s| event(s, 250)).collect(),
                ack: Ack::new(move || {
                    acked.fetch_add(1000, Ordering::SeqCst);
                }),
                caught_up: false,
            }
        })
        .collect();
    for batch in batches {
        assert!(handle.send(batch).await.is_ok());
    }
    drop(handle);
    tokio::time::timeout(DEADLINE, runner)
        .await
        .expect("delivered in time")
        .unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), lines);
    assert_all_once(&logging, lines);
    let sizes: Vec<usize> = logging.requests().iter().map(|r| r.body.len()).collect();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    assert!(
        sizes.iter().all(|&s| s <= 10_000_000),
        "a request passed 10 MB: {sizes:?}"
    );
    assert!(
        largest > 7_000_000,
        "a backlog should fill requests close to the limit: {sizes:?}"
    );
}

/// Polls `f` every 5 ms until it holds, or fails the test after [`DEADLINE`].
async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_lowers_the_concurrency_limit_and_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.pacing.latency_ms.store(100, Ordering::SeqCst);
    let mut cfg = config(&logging, dir.path());
    cfg.max_request_bytes = 100_000;
    let sink = google_cloud::build_sink(cfg).await.unwrap();
    let gauges = gauges("delivery-throttled");
    let limit = gauges.limit.clone();
    let (handle, runner) = spawn_output(
        "delivery-throttled",
        sink,
        buffer(),
        Some(gauges),
        CancellationToken::new(),
    );
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let lines = 200_000;
    let feeding = {
        let acked = acked.clone();
        tokio::spawn(async move {
            feed(&handle, 0, lines, 200, 200, &acked).await;
        })
    };
    // A backlog against a flat 100 ms: the limit grows past its start of 2.
    wait_until("the limit grows to 4", || limit.get() >= 4).await;
    let before = limit.get();
    // Half the requests answered 429: the limit falls.
    logging.throttle(true);
    let mut lowest = before;
    wait_until("the limit halves under 429s", || {
        lowest = lowest.min(limit.get());
        lowest <= before / 2
    })
    .await;
    wait_until("a few more 429s", || logging.throttled() >= 20).await;
    lowest = lowest.min(limit.get());
    logging.throttle(false);
    // The storm is over: the limit rises again.
    wait_until("the limit recovers", || limit.get() > lowest).await;
    tokio::time::timeout(DEADLINE, feeding)
        .await
        .expect("fed in time")
        .unwrap();
    tokio::time::timeout(DEADLINE, runner)
        .await
        .expect("delivered in time")
        .unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), lines);
    assert!(logging.throttled() >= 20);
    assert_all_once(&logging, lines);
}
