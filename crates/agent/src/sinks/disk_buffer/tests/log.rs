//! The record format, the segment log (recovery, rollover, the cursor, the limit) and the
//! directory lock.

use super::*;

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

#[test]
fn a_tag_past_64_kib_is_cut_at_a_character_boundary() {
    // 'é' takes bytes 65,534 and 65,535: a cut at 65,535 bytes would split it.
    let tag = format!("{}é{}", "a".repeat(u16::MAX as usize - 1), "b".repeat(10));
    let mut e = event(1, 0);
    e.tag = Arc::from(tag.as_str());
    let mut out = Vec::new();
    record::encode(&e, &mut out);
    let back = record::decode(&out[record::RECORD_HEADER..]).expect("the record decodes");
    assert_eq!(&*back.tag, "a".repeat(u16::MAX as usize - 1));
}
