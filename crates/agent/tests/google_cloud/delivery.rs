//! Getting every entry there once: oversize lines split, the request limit, throttling and
//! resets, partial errors and bisection, idempotent resends, resuming a failed chunk.

use super::*;

#[tokio::test]
async fn a_300_kib_line_arrives_split_and_reassembles() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let sink = start_sink(config(&logging, dir.path())).await;
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 300 * 1024 {
        text.push_str(&format!("{i} \"quoted\" ログ\t"));
        i += 1;
    }
    let t = ts("2026-11-25T10:00:00Z");
    let mut events = lines(2, 100);
    events.insert(1, line("app.log", 42, 101, text.as_bytes(), t));
    send(&sink, events).await;
    let accepted = logging.accepted();
    let parts: Vec<&LogEntry> = accepted.iter().filter(|e| e.split.is_some()).collect();
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert_eq!(accepted.len(), parts.len() + 2);
    let uid = &parts[0].split.as_ref().unwrap().uid;
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        let split = part.split.as_ref().unwrap();
        assert_eq!(&split.uid, uid);
        assert_eq!(split.index as usize, i);
        assert_eq!(split.total_splits as usize, parts.len());
        assert_eq!(part.insert_id.as_deref().unwrap(), format!("{uid}-{i:08x}"));
        assert_eq!(part.timestamp, Some(t));
        assert!(serde_json::to_vec(part).unwrap().len() <= gcloud_logging::MAX_ENTRY_BYTES);
        joined.push_str(part.text_payload.as_deref().unwrap());
    }
    assert_eq!(joined, text);
    assert!(
        logging
            .requests()
            .iter()
            .all(|r| r.body.len() <= gcloud_logging::MAX_REQUEST_BYTES)
    );
}

#[tokio::test]
async fn twenty_thousand_1kib_lines_never_exceed_the_request_limit() {
    for (limit, chunk) in [
        (1_000_000, 2_000),
        (gcloud_logging::MAX_REQUEST_BYTES, 20_000),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let logging = FakeLogging::start().await;
        let mut cfg = config(&logging, dir.path());
        cfg.max_request_bytes = limit;
        let sink = start_sink(cfg).await;
        let all = lines(20_000, 1024);
        for events in all.chunks(chunk) {
            send(&sink, events.to_vec()).await;
        }
        let requests = logging.requests();
        assert!(requests.len() > 20_000 * 1024 / limit);
        for r in &requests {
            assert!(r.body.len() <= limit, "{} > {limit}", r.body.len());
        }
        let ids: BTreeSet<String> = logging
            .accepted()
            .into_iter()
            .map(|e| e.insert_id.unwrap())
            .collect();
        assert_eq!(ids.len(), 20_000);
    }
}

#[tokio::test]
async fn an_endpoint_that_throttles_fails_and_resets_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.script([
        Scripted::Status(429, Some(0)),
        Scripted::Status(503, None),
        Scripted::Reset,
        Scripted::Pass,
        Scripted::Status(500, None),
        Scripted::Reset,
        Scripted::Status(429, None),
        Scripted::Pass,
        Scripted::Status(502, None),
    ]);
    let mut cfg = config(&logging, dir.path());
    cfg.max_request_bytes = 20_000;
    let output = start_sink(cfg).await;
    let buffer = BufferConfig {
        flush_interval: Duration::from_millis(10),
        chunk_limit_size: 16 * 1024,
        retry_wait: Duration::from_millis(5),
        retry_max_interval: Duration::from_millis(50),
        ..BufferConfig::default()
    };
    let (handle, runner) = spawn_output(
        "google_cloud",
        output.clone(),
        buffer,
        None,
        CancellationToken::new(),
    );
    let all = lines(600, 200);
    let acked = Arc::new(AtomicUsize::new(0));
    for events in all.chunks(50) {
        let count = events.len();
        let acked = acked.clone();
        let batch = RoutedBatch {
            events: events.to_vec(),
            ack: Ack::new(move || {
                acked.fetch_add(count, Ordering::SeqCst);
            }),
            caught_up: false,
        };
        assert!(handle.send(batch).await.is_ok());
    }
    drop(handle);
    tokio::time::timeout(DEADLINE, runner)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), 600);
    let ids: BTreeSet<String> = logging
        .accepted()
        .into_iter()
        .map(|e| e.insert_id.unwrap())
        .collect();
    let want: BTreeSet<String> = all
        .iter()
        .map(|e| gcloud_logging::insert_id(42, e.origin.unwrap().offset, None))
        .collect();
    assert_eq!(ids, want);
    assert!(stat(&output.stats().requests_failed) >= 7);
}

#[tokio::test]
async fn a_partial_error_for_2_of_100_delivers_98_and_dead_letters_2() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::PartialErrors, |e| {
        e.text_payload
            .as_deref()
            .is_some_and(|t| t.starts_with("line 000013") || t.starts_with("line 000077"))
    });
    let sink = start_sink(config(&logging, dir.path())).await;
    send(&sink, lines(100, 50)).await;
    assert_eq!(logging.accepted().len(), 98);
    assert_eq!(logging.requests().len(), 1);
    let dead = dead_letters(dir.path());
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["status"]["code"], 3);
    assert_eq!(dead[0]["status"]["message"], "entry 13 is invalid");
    assert_eq!(dead[0]["logName"], "projects/test-project/logs/app.log");
    assert!(
        dead[0]["entry"]["textPayload"]
            .as_str()
            .unwrap()
            .starts_with("line 000013")
    );
    assert!(
        dead[1]["entry"]["textPayload"]
            .as_str()
            .unwrap()
            .starts_with("line 000077")
    );
    assert!(dead[0]["time"].as_str().is_some());
    assert_eq!(stat(&sink.stats().entries_delivered), 98);
    assert_eq!(stat(&sink.stats().entries_dead_lettered), 2);

    // Without partialSuccess nothing is written: the 98 are sent again on their own.
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::PartialErrors, |e| {
        e.text_payload
            .as_deref()
            .is_some_and(|t| t.starts_with("line 000050"))
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&logging, dir.path());
    cfg.partial_success = false;
    let sink = google_cloud::build_sink(cfg).await.unwrap();
    send(&sink, lines(100, 50)).await;
    assert_eq!(logging.accepted().len(), 99);
    assert_eq!(dead_letters(dir.path()).len(), 1);
}

#[tokio::test]
async fn a_whole_request_400_is_bisected_to_the_bad_entries() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::WholeRequest, |e| {
        e.text_payload.as_deref().is_some_and(|t| t.contains("BAD"))
    });
    let sink = start_sink(config(&logging, dir.path())).await;
    let mut events = lines(64, 40);
    for i in [3, 40, 41] {
        events[i].record = Record::Line(Bytes::from(format!("BAD entry {i}")));
    }
    send(&sink, events).await;
    assert_eq!(logging.accepted().len(), 61);
    let dead = dead_letters(dir.path());
    let texts: Vec<&str> = dead
        .iter()
        .map(|d| d["entry"]["textPayload"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["BAD entry 3", "BAD entry 40", "BAD entry 41"]);
    assert_eq!(dead[0]["status"]["message"], "some entry is invalid");
    assert!(stat(&sink.stats().bisections) >= 3);
}

#[tokio::test]
async fn resent_events_get_identical_insert_ids_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let sink = start_sink(config(&logging, dir.path())).await;
    let map_event = |i: u64| Event {
        tag: "api".into(),
        time: ts("2026-11-25T10:00:00.5Z"),
        record: Record::Map(
            json!({"n": i, "msg": "no origin"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        origin: None,
    };
    // As after a restart: the same lines read again from the same file and offsets.
    let first: Vec<Event> = lines(30, 64)
        .into_iter()
        .chain((0..3).map(map_event))
        .collect();
    let again: Vec<Event> = lines(30, 64)
        .into_iter()
        .chain((0..3).map(map_event))
        .collect();
    send(&sink, first).await;
    send(&sink, again).await;
    let requests = logging.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    let accepted = logging.accepted();
    let ids: BTreeSet<&str> = accepted
        .iter()
        .map(|e| e.insert_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids.len(), 33, "ids are distinct within a send");
}

#[tokio::test]
async fn a_failed_chunk_is_resumed_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.script([Scripted::Pass, Scripted::Status(503, None)]);
    let mut cfg = config(&logging, dir.path());
    cfg.max_request_bytes = 10_000;
    let sink = start_sink(cfg).await;
    let (chunk, result) = sink.send(Delivery::new(lines(100, 200))).await;
    assert!(result.is_err());
    sink.send(chunk).await.1.unwrap();
    let accepted = logging.accepted();
    let ids: BTreeSet<String> = accepted
        .iter()
        .map(|e| e.insert_id.clone().unwrap())
        .collect();
    assert_eq!(accepted.len(), 100, "no request was sent twice");
    assert_eq!(ids.len(), 100);
}

#[tokio::test]
async fn a_request_whose_every_entry_is_refused_is_retried_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::WholeRequest, |_| true);
    let sink = start_sink(config(&logging, dir.path())).await;
    let error = sink.send(Delivery::new(lines(8, 40))).await.1.unwrap_err();
    assert!(error.to_string().contains("refused every entry"), "{error}");
    assert!(dead_letters(dir.path()).is_empty());
    assert_eq!(stat(&sink.stats().entries_dead_lettered), 0);
}
