//! The memory runner with test sinks: order for an ordered sink, a panicking `prepare`, merging
//! into requests and the byte bound.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use gcloud_logging::Timestamp;

use super::*;
use crate::event::Record;
use crate::sinks::{Concurrency, Prepared, SendFuture};

fn event(seq: u64) -> Event {
    Event {
        tag: "t".into(),
        time: Timestamp {
            seconds: 1_764_064_800,
            nanos: 0,
        },
        record: Record::Line(Bytes::from(format!("{seq:08} {}", "x".repeat(100)))),
        origin: None,
    }
}

fn seq_of(event: &Event) -> u64 {
    match &event.record {
        Record::Line(line) => std::str::from_utf8(&line[..8]).unwrap().parse().unwrap(),
        _ => unreachable!(),
    }
}

/// Records what it is sent; can batch like Cloud Logging, panic in `prepare` a number of
/// times, and track the most bytes held in flight.
#[derive(Default)]
struct Recording {
    concurrency: Option<Concurrency>,
    batching: Option<Batching>,
    panics_left: AtomicUsize,
    sent: Mutex<Vec<Vec<u64>>>,
}

impl Sink for Recording {
    fn prepare(&self, events: &[Event]) -> Option<Prepared> {
        if self
            .panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("prepare fails (on purpose)");
        }
        let seqs: Vec<u64> = events.iter().map(seq_of).collect();
        Some(Prepared {
            bytes: seqs.len() * 8,
            payload: Box::new(seqs),
        })
    }

    fn send(&self, mut delivery: Delivery) -> SendFuture {
        let seqs = delivery
            .prepared_mut::<Vec<u64>>()
            .expect("prepared by the runner")
            .clone();
        self.sent.lock().unwrap().push(seqs);
        Box::pin(async move { (delivery, Ok(())) })
    }

    fn concurrency(&self) -> Concurrency {
        self.concurrency.unwrap_or(Concurrency::Fixed(1))
    }

    fn batching(&self) -> Option<Batching> {
        self.batching
    }
}

fn config() -> BufferConfig {
    BufferConfig {
        flush_interval: Duration::from_millis(10),
        chunk_limit_size: 4 * 1024,
        retry_wait: Duration::from_millis(5),
        retry_max_interval: Duration::from_millis(20),
        ..BufferConfig::default()
    }
}

/// Sends events `0..n` in batches of `per`, and waits until the output delivered all of them.
async fn run(sink: Arc<Recording>, config: BufferConfig, n: u64, per: u64) -> Arc<Recording> {
    let (handle, runner) =
        spawn_output("test", sink.clone(), config, None, CancellationToken::new());
    let acked = Arc::new(AtomicU64::new(0));
    for from in (0..n).step_by(per as usize) {
        let to = (from + per).min(n);
        let acked = acked.clone();
        let batch = RoutedBatch {
            events: (from..to).map(event).collect(),
            ack: Ack::new(move || {
                acked.fetch_add(to - from, Ordering::SeqCst);
            }),
            caught_up: false,
        };
        assert!(handle.send(batch).await.is_ok());
    }
    drop(handle);
    tokio::time::timeout(Duration::from_secs(60), runner)
        .await
        .expect("the runner finished")
        .unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), n, "every batch acknowledged");
    sink
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_sink_gets_its_chunks_in_order() {
    let sink = run(Arc::new(Recording::default()), config(), 20_000, 37).await;
    let all: Vec<u64> = sink.sent.lock().unwrap().concat();
    assert_eq!(all, (0..20_000).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_prepare_keeps_the_chunk_and_it_is_delivered_once() {
    let sink = Arc::new(Recording {
        panics_left: AtomicUsize::new(3),
        ..Recording::default()
    });
    let sink = run(sink, config(), 5_000, 100).await;
    let all: Vec<u64> = sink.sent.lock().unwrap().concat();
    assert_eq!(all, (0..5_000).collect::<Vec<_>>());
    assert_eq!(sink.panics_left.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_chunks_merge_into_sends_up_to_the_batch_size_and_no_further() {
    let max_bytes = 60 * 1024;
    let sink = Arc::new(Recording {
        concurrency: Some(Concurrency::Adaptive { initial: 1, max: 1 }),
        batching: Some(Batching {
            max_bytes,
            per_event_bytes: 50,
        }),
        ..Recording::default()
    });
    // A flush interval longer than the run: chunks wait for a full send while one is in flight.
    let config = BufferConfig {
        flush_interval: Duration::from_secs(30),
        ..config()
    };
    let sink = run(sink, config, 20_000, 50).await;
    let sent = sink.sent.lock().unwrap();
    let all: Vec<u64> = sent.concat();
    assert_eq!(all, (0..20_000).collect::<Vec<_>>());
    // Each event is 125 bytes as the router counts it, plus 50 per event in a send.
    let per_send_max = max_bytes / 175;
    assert!(
        sent.iter().all(|s| s.len() <= per_send_max),
        "a send past the batch size"
    );
    let merged = sent.iter().filter(|s| s.len() > 4 * 1024 / 125 + 1).count();
    assert!(
        merged > sent.len() / 2,
        "chunks were merged: {:?}",
        sent.iter().map(Vec::len).collect::<Vec<_>>()
    );
}
