use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gcloud_logging::Timestamp;
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;

use super::record::{self, Frame};
use super::*;
use crate::ack::Ack;
use crate::event::{Event, JsonLine, Origin, Record};
use crate::sinks::buffer::{BufferConfig, RoutedBatch};
use crate::sinks::metered::{MeteredSink, OutputMetrics};
use crate::sinks::{SendFuture, Sink, SinkError};

fn event(id: u64, len: usize) -> Event {
    Event {
        tag: Arc::from("app.log"),
        time: Timestamp::new(
            1_700_000_000 + id as i64,
            (id * 7919 % 1_000_000_000) as u32,
        )
        .unwrap(),
        record: Record::Line(Bytes::from(vec![b'a' + (id % 26) as u8; len])),
        origin: Some(Origin {
            file: 0xfeed,
            offset: id,
        }),
    }
}

fn id(event: &Event) -> u64 {
    event.origin.unwrap().offset
}

fn config(dir: &Path, segment_size: u64, limit: u64) -> DiskBufferConfig {
    DiskBufferConfig {
        path: dir.to_path_buf(),
        total_limit_size: limit,
        segment_size,
        fsync: FsyncPolicy::BeforeAck,
    }
}

fn open(config: &DiskBufferConfig) -> (DiskLog, RecoveryReport) {
    DiskLog::open(config.clone()).unwrap()
}

fn append(log: &mut DiskLog, ids: impl IntoIterator<Item = u64>, len: usize) {
    let events: Vec<Event> = ids.into_iter().map(|i| event(i, len)).collect();
    log.append(&events).unwrap();
    log.sync().unwrap();
}

/// Reads everything unread without delivering it.
fn read_all(log: &mut DiskLog) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(chunk) = log.read_chunk(4096, 100).unwrap() {
        ids.extend(chunk.events.iter().map(id));
    }
    ids
}

/// Reads and delivers everything.
fn drain(log: &mut DiskLog) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(chunk) = log.read_chunk(4096, 100).unwrap() {
        ids.extend(chunk.events.iter().map(id));
        log.delivered(chunk.start).unwrap();
    }
    ids
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

#[test]
fn crc32_is_the_ieee_one() {
    assert_eq!(record::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(record::crc32(b""), 0);
}

#[test]
fn events_round_trip_with_their_time_origin_and_tag() {
    let mut map = serde_json::Map::new();
    map.insert("message".into(), "hello".into());
    map.insert("severity".into(), serde_json::json!({"n": [1, 2]}));
    let events = [
        event(42, 100),
        Event {
            tag: Arc::from(""),
            time: Timestamp::new(-5, 999_999_999).unwrap(),
            record: Record::Map(map.clone()),
            origin: None,
        },
        Event {
            tag: Arc::from("json"),
            time: Timestamp::new(7, 0).unwrap(),
            record: Record::Json(JsonLine {
                line: Bytes::from_static(br#"{"time":"x","a":[1,{"b":null}],"c":"\u00e9"}"#),
                without: Some(Arc::from("time")),
            }),
            origin: None,
        },
        Event {
            tag: Arc::from("bin"),
            time: Timestamp::new(0, 0).unwrap(),
            record: Record::Line(Bytes::from_static(b"\0\xff\xfe not utf-8")),
            origin: Some(Origin {
                file: u64::MAX,
                offset: 0,
            }),
        },
    ];
    let mut out = Vec::new();
    for e in &events {
        out.clear();
        record::encode(e, &mut out);
        let Frame::Valid(len) = record::check_frame(&out) else {
            panic!("a fresh record is valid")
        };
        assert_eq!(len + record::RECORD_HEADER, out.len());
        let back = record::decode(&out[record::RECORD_HEADER..]).unwrap();
        assert_eq!(
            record::held_size(&out[record::RECORD_HEADER..]),
            Some(back.record.approx_size()),
            "the gauges take off what they counted"
        );
        assert_eq!(back.tag, e.tag);
        assert_eq!(back.time, e.time);
        assert_eq!(back.origin, e.origin);
        match (&back.record, &e.record) {
            (Record::Line(a), Record::Line(b)) => assert_eq!(a, b),
            // A map comes back as its JSON line, which the sink copies without a map.
            (Record::Json(_), Record::Map(_) | Record::Json(_)) => {
                assert_eq!(back.record.to_map(), e.record.to_map())
            }
            _ => panic!("record kind changed"),
        }
    }
}

#[test]
fn a_flipped_bit_fails_the_checksum() {
    let mut out = Vec::new();
    record::encode(&event(1, 50), &mut out);
    for i in 0..out.len() {
        let mut bad = out.clone();
        bad[i] ^= 0x10;
        assert_ne!(
            record::check_frame(&bad),
            Frame::Valid(out.len() - 8),
            "byte {i}"
        );
    }
    assert_eq!(
        record::check_frame(&out[..out.len() - 1]),
        Frame::Incomplete
    );
}

#[test]
fn a_torn_tail_is_cut_off_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20, 1 << 24);
    let (mut log, _) = open(&cfg);
    append(&mut log, 0..10, 100);
    let (path, len, _) = log.newest_segment();
    drop(log); // the crash
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 3).unwrap();
    let (mut log, report) = open(&cfg);
    let torn = report.torn_tail.expect("reported");
    assert_eq!(torn.segment, path);
    assert_eq!(torn.discarded, 100 + 8 + 38 - 3); // the last record but 3 bytes
    assert_eq!(report.records, 9);
    assert_eq!(read_all(&mut log), (0..9).collect::<Vec<_>>());
}

#[test]
fn a_corrupt_record_in_the_middle_is_skipped_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20, 1 << 24);
    let (mut log, _) = open(&cfg);
    append(&mut log, 0..10, 100);
    let (path, _, _) = log.newest_segment();
    drop(log);
    let mut bytes = std::fs::read(&path).unwrap();
    let record_len = 8 + 38 + 100;
    bytes[segment::HEADER_LEN as usize + 5 * record_len + 60] ^= 0xff; // inside record 5
    std::fs::write(&path, &bytes).unwrap();
    let (mut log, report) = open(&cfg);
    assert_eq!(report.corrupt_regions, 1);
    assert!(report.torn_tail.is_none());
    assert_eq!(report.records, 9);
    assert_eq!(read_all(&mut log), vec![0, 1, 2, 3, 4, 6, 7, 8, 9]);
    assert_eq!(log.skipped_corrupt, 1);
}

#[test]
fn an_unreadable_segment_is_set_aside_and_the_others_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20, 1 << 24);
    let (mut log, _) = open(&cfg);
    append(&mut log, 0..3, 10);
    drop(log);
    let (mut log, _) = open(&cfg);
    append(&mut log, 3..6, 10);
    drop(log);
    let files = segment_files(dir.path());
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[8] = 9; // a format version from the future, with a header checksum that matches
    let crc = record::crc32(&bytes[..12]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&files[0], &bytes).unwrap();
    let (mut log, report) = open(&cfg);
    assert_eq!(report.set_aside.len(), 1);
    assert!(
        report.set_aside[0].1.contains("version"),
        "{:?}",
        report.set_aside
    );
    assert_eq!(read_all(&mut log), vec![3, 4, 5]);
}

#[test]
fn segments_roll_over_and_are_deleted_once_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096, 1 << 24);
    let (mut log, _) = open(&cfg);
    append(&mut log, 0..100, 200);
    assert!(segment_files(dir.path()).len() >= 5);
    // Partly delivered: whole segments behind the cursor go, the rest stays.
    let chunk = log.read_chunk(usize::MAX, 30).unwrap().unwrap();
    assert_eq!(chunk.events.len(), 30);
    log.delivered(chunk.start).unwrap();
    let before = segment_files(dir.path()).len();
    assert_eq!(drain(&mut log), (30..100).collect::<Vec<_>>());
    assert!(segment_files(dir.path()).len() < before);
    assert!(log.size_on_disk() < 4096 + 512, "{}", log.size_on_disk());
    drop(log);
    let (mut log, report) = open(&cfg);
    assert_eq!(report.records, 0);
    assert!(
        read_all(&mut log).is_empty(),
        "delivered events are not replayed"
    );
    assert_eq!(segment_files(dir.path()).len(), 2);
}

#[test]
fn out_of_order_deliveries_move_the_cursor_only_over_a_delivered_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096, 1 << 24);
    let (mut log, _) = open(&cfg);
    append(&mut log, 0..30, 100);
    let first = log.read_chunk(usize::MAX, 10).unwrap().unwrap();
    let second = log.read_chunk(usize::MAX, 10).unwrap().unwrap();
    log.delivered(second.start).unwrap();
    drop(log);
    let (mut log, _) = open(&cfg);
    assert_eq!(read_all(&mut log), (0..30).collect::<Vec<_>>());
    drop(log);
    let (mut log, _) = open(&cfg);
    let again = log.read_chunk(usize::MAX, 10).unwrap().unwrap();
    let next = log.read_chunk(usize::MAX, 10).unwrap().unwrap();
    log.delivered(again.start).unwrap();
    log.delivered(next.start).unwrap();
    drop((first, second));
    drop(log);
    let (mut log, _) = open(&cfg);
    assert_eq!(read_all(&mut log), (20..30).collect::<Vec<_>>());
}

#[test]
fn the_total_limit_is_reached_and_freed_by_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096, 16 * 1024);
    let (mut log, _) = open(&cfg);
    let mut next = 0;
    while !log.is_full() {
        append(&mut log, next..next + 5, 300);
        next += 5;
    }
    assert!(log.size_on_disk() < 16 * 1024 + 5 * 400);
    assert_eq!(drain(&mut log).len(), next as usize);
    assert!(!log.is_full());
    // Even a batch larger than the whole limit drains back to empty.
    append(&mut log, 1000..1100, 300);
    assert!(log.is_full());
    assert_eq!(drain(&mut log).len(), 100);
    assert!(!log.is_full(), "{}", log.size_on_disk());
}

#[test]
fn a_buffer_directory_is_opened_by_one_buffer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096, 1 << 24);
    let (mut first, _) = open(&cfg);
    append(&mut first, 0..5, 100);
    let files = segment_files(dir.path());

    let Err(error) = DiskLog::open(cfg.clone()) else {
        panic!("a second buffer opened the same directory")
    };
    assert_eq!(error.kind(), std::io::ErrorKind::ResourceBusy);
    let in_use = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<BufferInUse>());
    assert_eq!(in_use.map(|e| e.dir.as_path()), Some(dir.path()));
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("another output or process"), "{message}");
    // Refused before recovery: the first buffer's files are as they were.
    assert_eq!(segment_files(dir.path()), files);
    assert_eq!(drain(&mut first), (0..5).collect::<Vec<_>>());

    drop(first);
    let (mut second, report) = open(&cfg);
    assert_eq!(report.records, 0);
    append(&mut second, 5..6, 100);
    assert_eq!(drain(&mut second), vec![5]);
}

#[tokio::test]
async fn two_outputs_given_one_buffer_path_fail_to_start_and_release_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let output = |pattern: &str, path: &Path| {
        format!(
            "<match {pattern}>\n  @type null\n  <buffer>\n    @type file\n    path {}\n  </buffer>\n</match>\n",
            path.display()
        )
    };
    // Spelled differently, so the load-time check (which compares the text) lets it through
    // and the directory lock has to catch it.
    let text = format!(
        "<source>\n  @type forward\n  port 0\n</source>\n{}{}",
        output("a.**", dir.path()),
        output("b.**", &dir.path().join("sub").join(".."))
    );
    let Ok((pipeline, _)) = crate::config::load_str(&text, Path::new("test.conf")) else {
        panic!("the config is valid")
    };
    let run = crate::runtime::run(
        pipeline,
        crate::runtime::RunOptions::default(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    let Err(error) = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
    else {
        panic!("two outputs shared a buffer directory")
    };
    let message = error.to_string();
    assert!(message.contains("another output or process"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    // The output that did start was stopped with the pipeline: the directory is free again.
    let (_log, _) = open(&config(dir.path(), 4096, 1 << 24));
}

// ---- the runner ---------------------------------------------------------------------------

#[derive(Default)]
struct TestSink {
    up: AtomicBool,
    delivered: Mutex<Vec<u64>>,
}

impl Sink for TestSink {
    fn send(&self, chunk: Arc<Vec<Event>>) -> SendFuture {
        let result = if self.up.load(Ordering::SeqCst) {
            self.delivered.lock().unwrap().extend(chunk.iter().map(id));
            Ok(())
        } else {
            Err(SinkError::new("endpoint down"))
        };
        Box::pin(async move { result })
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
    fn send(&self, chunk: Arc<Vec<Event>>) -> SendFuture {
        self.seen.lock().unwrap().push(gauges(&self.metrics));
        self.inner.send(chunk)
    }
}

fn gauges(metrics: &OutputMetrics) -> (i64, i64) {
    (metrics.buffer_entries.get(), metrics.buffer_bytes.get())
}

/// `plugin_id` must be unique to the test: the gauges are process-wide.
fn gauged_sink(plugin_id: &str, up: bool) -> GaugedSink {
    let metrics = OutputMetrics::new(plugin_id, "test");
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
        &OutputMetrics::new("disk-replay-test", "test"),
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
        &OutputMetrics::new("disk-replay-test", "test"),
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
        &OutputMetrics::new("disk-full-test", "test"),
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

// ---- the model test -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<usize>),
    Sync,
    Read(usize),
    Deliver(usize),
    /// Kill the agent; the newest segment loses a random part of what was not fsynced.
    Crash(f64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(0usize..600, 1..6).prop_map(Op::Append),
        2 => Just(Op::Sync),
        3 => (1usize..8).prop_map(Op::Read),
        3 => any::<usize>().prop_map(Op::Deliver),
        1 => (0.0f64..=1.0).prop_map(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_unacknowledged_event_is_replayed_once_in_order(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 2048, 1 << 30);
        let (mut log, _) = open(&cfg);
        // The model: the log's events in order, how many are fsynced, how many were read,
        // which are delivered, and the chunks in flight.
        let mut events: Vec<u64> = Vec::new();
        let mut synced = 0usize;
        let mut read = 0usize;
        let mut delivered: HashSet<u64> = HashSet::new();
        let mut in_flight: Vec<(Pos, Vec<u64>)> = Vec::new();
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Append(lens) => {
                    let batch: Vec<Event> = lens.iter().map(|&len| { next_id += 1; event(next_id, len) }).collect();
                    log.append(&batch).unwrap();
                    events.extend(batch.iter().map(id));
                }
                Op::Sync => {
                    log.sync().unwrap();
                    synced = events.len();
                }
                Op::Read(max) => {
                    if let Some(chunk) = log.read_chunk(usize::MAX, max).unwrap() {
                        let ids: Vec<u64> = chunk.events.iter().map(id).collect();
                        prop_assert_eq!(&ids[..], &events[read..read + ids.len()]);
                        read += ids.len();
                        in_flight.push((chunk.start, ids));
                    } else {
                        prop_assert_eq!(read, events.len());
                    }
                }
                Op::Deliver(i) => {
                    if !in_flight.is_empty() {
                        let (start, ids) = in_flight.remove(i % in_flight.len());
                        log.delivered(start).unwrap();
                        delivered.extend(ids);
                    }
                }
                Op::Crash(cut) => {
                    let (path, len, synced_len) = log.newest_segment();
                    drop(log);
                    let keep = synced_len + ((len - synced_len) as f64 * cut) as u64;
                    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    file.set_len(keep).unwrap();
                    drop(file);
                    let (mut recovered, _) = open(&cfg);
                    let replayed = read_all(&mut recovered);
                    // Replay starts after the delivered prefix; what follows comes back once,
                    // in order, all of it up to what a crash may tear (never anything fsynced).
                    let done = events.iter().take_while(|e| delivered.contains(e)).count();
                    prop_assert!(replayed.len() <= events.len() - done);
                    prop_assert_eq!(&replayed[..], &events[done..done + replayed.len()]);
                    prop_assert!(done + replayed.len() >= synced, "lost fsynced events: {} + {} < {}", done, replayed.len(), synced);
                    drop(recovered);
                    // Reading without delivering changes nothing: a clean restart replays the same.
                    let (again, report) = open(&cfg);
                    prop_assert!(report.torn_tail.is_none());
                    prop_assert_eq!(report.records as usize, replayed.len());
                    log = again;
                    events = replayed;
                    synced = events.len();
                    read = 0;
                    delivered.clear();
                    in_flight.clear();
                }
            }
        }
        // Finally everything not delivered is still there, once, in order.
        while let Some((start, _)) = in_flight.pop() {
            log.delivered(start).unwrap();
        }
        let rest = drain(&mut log);
        prop_assert_eq!(&rest[..], &events[read..]);
    }
}

// ---- configuration --------------------------------------------------------------------------

fn output_buffer(text: &str) -> Result<BufferConfig, String> {
    let text = format!("<source>\n  @type forward\n</source>\n{text}");
    match crate::config::load_str(&text, Path::new("test.conf")) {
        Ok((mut pipeline, _)) => Ok(pipeline.outputs.remove(0).buffer),
        Err(diagnostics) => Err(fluent_config::render_all(&diagnostics)),
    }
}

#[test]
fn buffer_type_file_selects_the_disk_buffer() {
    let v1 = "<match **>\n  @type null\n  <buffer>\n    @type file\n    path /tmp/lf\n    total_limit_size 8m\n    fsync never\n  </buffer>\n</match>\n";
    let disk = output_buffer(v1).unwrap().disk.unwrap();
    assert_eq!(disk.path, Path::new("/tmp/lf"));
    assert_eq!(disk.total_limit_size, 8 * 1024 * 1024);
    assert_eq!(disk.segment_size, 1024 * 1024);
    assert_eq!(disk.fsync, FsyncPolicy::Never);

    let v012 = "<match **>\n  type null\n  buffer_type file\n  buffer_path /var/log/td.*.buffer\n</match>\n";
    let disk = output_buffer(v012).unwrap().disk.unwrap();
    assert_eq!(disk.path, Path::new("/var/log/td.buffer"));
    assert_eq!(disk.total_limit_size, DEFAULT_TOTAL_LIMIT_SIZE);
    assert_eq!(disk.fsync, FsyncPolicy::BeforeAck);

    let memory = "<match **>\n  @type null\n  <buffer>\n    @type memory\n  </buffer>\n</match>\n";
    assert!(output_buffer(memory).unwrap().disk.is_none());
    assert!(
        output_buffer("<match **>\n  @type null\n</match>\n")
            .unwrap()
            .disk
            .is_none()
    );

    let no_path = "<match **>\n  @type null\n  <buffer>\n    @type file\n  </buffer>\n</match>\n";
    let error = output_buffer(no_path).unwrap_err();
    assert!(error.contains("needs `path`"), "{error}");
    let bad_fsync = "<match **>\n  @type null\n  <buffer>\n    @type file\n    path /tmp/lf\n    fsync sometimes\n  </buffer>\n</match>\n";
    let error = output_buffer(bad_fsync).unwrap_err();
    assert!(error.contains("before_ack"), "{error}");
}
