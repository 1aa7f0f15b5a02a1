//! The async runner: acknowledgement on buffering, replay after a restart, backpressure, and
//! the buffer gauges.

use super::*;
use crate::telemetry::Telemetry;

#[derive(Default)]
struct TestSink {
    up: AtomicBool,
    delivered: Mutex<Vec<u64>>,
}

impl Sink for TestSink {
    fn send(&self, delivery: Delivery) -> SendFuture {
        let result = if self.up.load(Ordering::SeqCst) {
            self.delivered
                .lock()
                .unwrap()
                .extend(delivery.events.iter().map(id));
            Ok(())
        } else {
            Err(SinkError::other("endpoint down"))
        };
        Box::pin(async move { (delivery, result) })
    }
}

fn fast_buffer() -> BufferConfig {
    BufferConfig {
        flush_interval: Duration::from_millis(10),
        chunk_limit_size: 8 * 1024,
        retry_wait: Duration::from_millis(5),
        retry_max_interval: Duration::from_millis(20),
        ..BufferConfig::default()
    }
}

fn batch(ids: std::ops::Range<u64>, acked: &Arc<AtomicUsize>) -> RoutedBatch {
    let counter = acked.clone();
    RoutedBatch {
        events: ids.map(|i| event(i, 200)).collect(),
        ack: Ack::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
        caught_up: true,
    }
}

/// A metered sink (as the runtime builds it) whose destination records, at every send, the
/// output's buffer gauges as they stand: entries, bytes.
struct GaugedSink {
    metrics: Arc<OutputMetrics>,
    destination: Arc<TestSink>,
    seen: Arc<Mutex<Vec<(i64, i64)>>>,
}

struct Watching {
    inner: Arc<TestSink>,
    metrics: Arc<OutputMetrics>,
    seen: Arc<Mutex<Vec<(i64, i64)>>>,
}

impl Sink for Watching {
    fn send(&self, delivery: Delivery) -> SendFuture {
        self.seen.lock().unwrap().push(gauges(&self.metrics));
        self.inner.send(delivery)
    }
}

fn gauges(metrics: &OutputMetrics) -> (i64, i64) {
    (metrics.buffer_entries.get(), metrics.buffer_bytes.get())
}

/// The sink's gauges, in metrics of the test's own.
fn gauged_sink(plugin_id: &str, up: bool) -> GaugedSink {
    let metrics = OutputMetrics::new(&Telemetry::default(), plugin_id, "test");
    let destination = Arc::new(TestSink::default());
    destination.up.store(up, Ordering::SeqCst);
    GaugedSink {
        metrics,
        destination,
        seen: Arc::default(),
    }
}

impl GaugedSink {
    fn sink(&self) -> Arc<dyn Sink> {
        let watching = Watching {
            inner: self.destination.clone(),
            metrics: self.metrics.clone(),
            seen: self.seen.clone(),
        };
        MeteredSink::wrap(Arc::new(watching), self.metrics.clone())
    }

    fn assert_never_negative(&self) {
        let seen = self.seen.lock().unwrap();
        assert!(!seen.is_empty(), "nothing was sent");
        assert!(
            seen.iter()
                .all(|&(entries, bytes)| entries >= 0 && bytes >= 0),
            "the gauges went negative: {seen:?}"
        );
    }
}

async fn until(what: impl Fn() -> bool) {
    for _ in 0..500 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out");
}

#[tokio::test]
async fn batches_are_acknowledged_when_buffered_and_replayed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskBufferConfig::new(dir.path().to_path_buf());
    let down = Arc::new(TestSink::default());
    let abort = CancellationToken::new();
    let (handle, join) = spawn_disk_output(
        "out",
        down.clone(),
        &OutputMetrics::new(&Telemetry::default(), "disk-replay-test", "test"),
        fast_buffer(),
        disk.clone(),
        abort.clone(),
    )
    .unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    for i in 0..10 {
        handle
            .send(batch(i * 10..i * 10 + 10, &acked))
            .await
            .ok()
            .unwrap();
    }
    // Acknowledged while the endpoint is down: the disk holds them.
    until(|| acked.load(Ordering::SeqCst) == 10).await;
    abort.cancel();
    join.await.unwrap();
    drop(handle);

    let up = Arc::new(TestSink::default());
    up.up.store(true, Ordering::SeqCst);
    let (handle, join) = spawn_disk_output(
        "out",
        up.clone(),
        &OutputMetrics::new(&Telemetry::default(), "disk-replay-test", "test"),
        fast_buffer(),
        disk,
        CancellationToken::new(),
    )
    .unwrap();
    handle.send(batch(100..110, &acked)).await.ok().unwrap();
    drop(handle);
    join.await.unwrap();
    assert_eq!(*up.delivered.lock().unwrap(), (0..110).collect::<Vec<_>>());
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[tokio::test]
async fn a_full_buffer_holds_the_sources_back_until_deliveries_free_space() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskBufferConfig::with_limit(dir.path().to_path_buf(), 64 * 1024);
    let sink = Arc::new(TestSink::default());
    let (handle, join) = spawn_disk_output(
        "out",
        sink.clone(),
        &OutputMetrics::new(&Telemetry::default(), "disk-full-test", "test"),
        fast_buffer(),
        disk,
        CancellationToken::new(),
    )
    .unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut sent = 0u64;
    loop {
        let send = handle.send(batch(sent * 10..sent * 10 + 10, &acked));
        match tokio::time::timeout(Duration::from_millis(300), send).await {
            Ok(result) => {
                result.ok().unwrap();
                sent += 1;
                assert!(sent < 200, "never held back");
            }
            Err(_) => break, // blocked: the backpressure reached the sender
        }
    }
    let on_disk: u64 = segment_files(dir.path())
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert!(on_disk < 64 * 1024 + 10 * 300, "{on_disk}");
    let acked_now = acked.load(Ordering::SeqCst);
    assert!(
        acked_now < sent as usize,
        "the channel holds a few unbuffered batches"
    );
    sink.up.store(true, Ordering::SeqCst);
    let mut ids = sent * 10..sent * 10 + 10;
    for _ in 0..5 {
        handle.send(batch(ids.clone(), &acked)).await.ok().unwrap();
        ids = ids.end..ids.end + 10;
        sent += 1;
    }
    drop(handle);
    join.await.unwrap();
    // The send that timed out was dropped unsent; every other event arrives once, in order.
    let delivered = sink.delivered.lock().unwrap().clone();
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "no duplicates");
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(delivered.len(), sent as usize * 10);
    assert_eq!(acked.load(Ordering::SeqCst), sent as usize);
}

#[tokio::test]
async fn buffer_gauges_went_negative_after_replaying_a_recovered_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskBufferConfig::new(dir.path().to_path_buf());
    // What an earlier run left undelivered.
    let (mut log, _) = open(&disk);
    append(&mut log, 0..100, 200);
    drop(log);

    let gauged = gauged_sink("disk-gauges-recovered", true);
    let (handle, join) = spawn_disk_output(
        "out",
        gauged.sink(),
        &gauged.metrics,
        fast_buffer(),
        disk,
        CancellationToken::new(),
    )
    .unwrap();
    // Counted as soon as the buffer is open, before anything is delivered.
    let recovered_bytes = 100 * event(0, 200).record.approx_size() as i64;
    assert_eq!(gauges(&gauged.metrics), (100, recovered_bytes));
    drop(handle);
    join.await.unwrap();

    assert_eq!(
        *gauged.destination.delivered.lock().unwrap(),
        (0..100).collect::<Vec<_>>()
    );
    assert!(gauged.seen.lock().unwrap().len() > 1, "several chunks");
    gauged.assert_never_negative();
    assert_eq!(gauges(&gauged.metrics), (0, 0));
}

#[tokio::test]
async fn buffer_gauges_end_at_zero_when_a_stopped_buffer_is_reopened_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskBufferConfig::new(dir.path().to_path_buf());
    // Maps come back from the log as JSON lines, whose size the gauges count differently.
    let map_event = |i: u64| {
        let mut map = serde_json::Map::new();
        map.insert("message".into(), format!("request {i}").into());
        map.insert(
            "latency".into(),
            serde_json::json!({"ms": i, "slow": i > 30}),
        );
        Event {
            record: Record::Map(map),
            ..event(i, 0)
        }
    };
    let down = gauged_sink("disk-gauges-reopened", false);
    let abort = CancellationToken::new();
    let (handle, join) = spawn_disk_output(
        "out",
        down.sink(),
        &down.metrics,
        fast_buffer(),
        disk.clone(),
        abort.clone(),
    )
    .unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    for i in 0..5 {
        let mut routed = batch(i * 10..i * 10 + 5, &acked);
        routed
            .events
            .extend((i * 10 + 5..i * 10 + 10).map(map_event));
        // What the router does before handing a batch to the output.
        down.metrics.routed(&routed.events);
        handle.send(routed).await.ok().unwrap();
    }
    until(|| acked.load(Ordering::SeqCst) == 5).await;
    until(|| !down.seen.lock().unwrap().is_empty()).await;
    abort.cancel();
    join.await.unwrap();
    drop(handle);
    // The buffer holds all 50, and the stopped output no longer counts them.
    assert_eq!(gauges(&down.metrics), (0, 0));

    // A reload: the same output, in the same process, delivers them.
    let up = gauged_sink("disk-gauges-reopened", true);
    let (handle, join) = spawn_disk_output(
        "out",
        up.sink(),
        &up.metrics,
        fast_buffer(),
        disk,
        CancellationToken::new(),
    )
    .unwrap();
    assert_eq!(gauges(&up.metrics).0, 50);
    drop(handle);
    join.await.unwrap();
    assert_eq!(
        *up.destination.delivered.lock().unwrap(),
        (0..50).collect::<Vec<_>>()
    );
    up.assert_never_negative();
    down.assert_never_negative();
    assert_eq!(gauges(&up.metrics), (0, 0));
}
