//! Entry points for `fuzz/` (cargo fuzz) and `tests/fuzz_smoke.rs` (stable CI): one function per
//! target, so both run exactly the same code. Not part of the API.
//!
//! The forward input's MessagePack decoder reads bytes from the network, and the disk buffer's
//! record decoder reads files a crash may have torn: both must answer an error, never panic, and
//! what they accept must encode and read back the same.

use crate::event::Record;
use crate::msgpack::{self, DecodeError, Value};
use crate::sinks::disk_buffer::record::{self, Frame, RECORD_HEADER};

/// `data` as bytes a forward client sent: one value decoded from its start, as the server's
/// stream reader does.
pub fn fuzz_msgpack(data: &[u8]) {
    let (value, used) = match msgpack::decode(data) {
        Ok(decoded) => decoded,
        Err(DecodeError::Incomplete) => return,
        Err(DecodeError::Invalid(why)) => {
            assert!(!why.is_empty());
            return;
        }
    };
    assert!(
        used >= 1 && used <= data.len(),
        "used {used} of {}",
        data.len()
    );
    // Bytes after the value do not change it; bytes cut from it make it incomplete, never
    // invalid (the stream reader would close a connection that only had to wait).
    // (Compared encoded: a NaN is not equal to itself.)
    let mut encoded = Vec::new();
    encode_value(&value, &mut encoded);
    let (alone, alone_used) = msgpack::decode(&data[..used]).expect("the value alone decodes");
    assert_eq!(alone_used, used);
    let mut alone_encoded = Vec::new();
    encode_value(&alone, &mut alone_encoded);
    assert_eq!(alone_encoded, encoded);
    for cut in [0, used / 2, used - 1] {
        assert_eq!(
            msgpack::decode(&data[..cut]),
            Err(DecodeError::Incomplete),
            "cut at {cut} of {used}"
        );
    }
    // What the input does with a record: it becomes JSON, and JSON serializes.
    let json = value.to_json();
    serde_json::to_vec(&json).expect("a decoded value serializes as JSON");
    // Encoded again it reads back to the same bytes (floats and integers may take another
    // width the first time, never after).
    let (again, again_used) = msgpack::decode(&encoded).expect("an encoded value decodes");
    assert_eq!(again_used, encoded.len());
    let mut encoded_again = Vec::new();
    encode_value(&again, &mut encoded_again);
    assert_eq!(encoded_again, encoded);
}

/// Any value, with the encoder's functions (the forward output's own shapes use the same).
fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil => msgpack::write_nil(out),
        Value::Bool(b) => msgpack::write_bool(out, *b),
        Value::Int(i) => msgpack::write_int(out, *i),
        Value::UInt(u) => msgpack::write_uint(out, *u),
        Value::Float(f) => msgpack::write_f64(out, *f),
        Value::Str(s) => msgpack::write_str(out, s),
        Value::Bin(b) => msgpack::write_bin(out, b),
        Value::Array(items) => {
            msgpack::write_array_len(out, items.len());
            for item in items {
                encode_value(item, out);
            }
        }
        Value::Map(entries) => {
            msgpack::write_map_len(out, entries.len());
            for (k, v) in entries {
                encode_value(k, out);
                encode_value(v, out);
            }
        }
        Value::Ext(kind, data) => {
            match data.len() {
                1 => out.push(0xd4),
                2 => out.push(0xd5),
                4 => out.push(0xd6),
                8 => out.push(0xd7),
                16 => out.push(0xd8),
                n if n <= 0xff => out.extend_from_slice(&[0xc7, n as u8]),
                n if n <= 0xffff => {
                    out.push(0xc8);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    out.push(0xc9);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            out.push(*kind as u8);
            out.extend_from_slice(data);
        }
    }
}

/// `data` as the bytes of a disk buffer segment (framed records, as recovery walks them) and,
/// since a mutated checksum rarely matches, also as one record's payload.
pub fn fuzz_disk_record(data: &[u8]) {
    check_payload(data);
    let mut rest = data;
    loop {
        match record::check_frame(rest) {
            Frame::Valid(len) => {
                let payload = &rest[RECORD_HEADER..RECORD_HEADER + len];
                let header: &[u8; RECORD_HEADER] = rest[..RECORD_HEADER].try_into().unwrap();
                assert_eq!(record::claimed_len(header), Some(len));
                assert!(record::checksum_matches(header, payload));
                check_payload(payload);
                rest = &rest[RECORD_HEADER + len..];
            }
            Frame::Incomplete => {
                if rest.len() >= RECORD_HEADER {
                    let header: &[u8; RECORD_HEADER] = rest[..RECORD_HEADER].try_into().unwrap();
                    let len = record::claimed_len(header).expect("incomplete, not corrupt");
                    assert!(rest.len() < RECORD_HEADER + len);
                }
                return;
            }
            Frame::Corrupt => return,
        }
    }
}

/// A payload decodes to an event or an error; an event counts what [`record::held_size`] says,
/// and encodes to a record that checks and decodes to an event that encodes the same.
fn check_payload(payload: &[u8]) {
    let Ok(event) = record::decode(payload) else {
        return;
    };
    assert_eq!(record::held_size(payload), Some(event.record.approx_size()));
    let mut framed = Vec::new();
    record::encode(&event, &mut framed);
    assert_eq!(
        record::check_frame(&framed),
        Frame::Valid(framed.len() - RECORD_HEADER)
    );
    let again = record::decode(&framed[RECORD_HEADER..]).expect("an encoded event decodes");
    assert_eq!(again.tag, event.tag);
    assert_eq!(again.time, event.time);
    assert_eq!(again.origin, event.origin);
    match (&event.record, &again.record) {
        // A map (a record the scanner does not take) comes back equal, floats to their last
        // digit (the workspace parses floats exactly: the `a_map_float_keeps_its_last_digit`
        // seed).
        (Record::Map(first), Record::Map(second)) => {
            assert_eq!(first, second);
        }
        // Written by serde (a repeated key dropped), the scanner may take it: a JSON line now.
        (Record::Map(_), record) => {
            assert!(
                matches!(record, Record::Json(_)),
                "a map came back as {record:?}"
            );
        }
        // A line and a JSON line are kept as bytes.
        _ => {
            let mut framed_again = Vec::new();
            record::encode(&again, &mut framed_again);
            assert_eq!(framed_again, framed);
        }
    }
}

/// `data` as a buffer directory a crash left behind: the disk buffer's recovery
/// ([`DiskLog::open`](crate::sinks::disk_buffer::DiskLog::open)) over real files.
///
/// Layout: byte 0 says whether the fuzzed segment gets a valid header (bit 0; a fuzzer rarely
/// guesses the magic) and whether a cursor points into it (bit 1, at the offset in bytes 1–2).
/// The rest is segment 0. Segment 1 is an intact segment of two records written by the buffer
/// itself, so the oracle can say: whatever segment 0 holds, recovery keeps every record of
/// segment 1; every event read is delivered once and the gauges return to zero; and a record
/// appended after recovery comes back alone after a reopen (nothing replayed twice).
pub fn fuzz_disk_segment(data: &[u8]) {
    use crate::sinks::disk_buffer::{
        DiskBufferConfig, DiskLog, FsyncPolicy, Held, Pos, recovery, segment,
    };

    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (cursor_at, body) = match rest {
        [a, b, body @ ..] if flags & 2 != 0 => (Some(u16::from_le_bytes([*a, *b]) as u64), body),
        _ => (None, rest),
    };
    let dir = FuzzDir::new();
    // fsync makes no difference to what a file holds for a process that does not crash.
    let config = DiskBufferConfig {
        fsync: FsyncPolicy::Never,
        ..DiskBufferConfig::new(dir.path.clone())
    };
    let intact = [intact_event(1), intact_event(2)];
    {
        // Segment 1 first, written by the log itself; segment 0 is then put before it.
        let (mut log, _) = DiskLog::open(config.clone()).unwrap();
        log.append(&intact).unwrap();
        log.sync().unwrap();
    }
    let first = std::fs::read_dir(&dir.path)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().and_then(segment::parse_name))
        .min()
        .expect("the log wrote a segment");
    let mut fuzzed = Vec::new();
    if flags & 1 != 0 {
        fuzzed.extend_from_slice(&segment::header());
    }
    fuzzed.extend_from_slice(body);
    // The fuzzed segment is the oldest: its id comes before the intact one's.
    let fuzzed_id = first.checked_sub(1).unwrap_or_else(|| {
        std::fs::rename(
            dir.path.join(segment::file_name(first)),
            dir.path.join(segment::file_name(first + 1)),
        )
        .unwrap();
        first
    });
    std::fs::write(dir.path.join(segment::file_name(fuzzed_id)), &fuzzed).unwrap();
    if let Some(offset) = cursor_at {
        recovery::write_cursor(
            &dir.path,
            Pos {
                segment: fuzzed_id,
                offset,
            },
        )
        .unwrap();
    }

    let (mut log, report) =
        DiskLog::open(config.clone()).expect("recovery sets damage aside instead of failing");
    assert!(
        report.records >= 2,
        "the intact segment's records: {report:?}"
    );
    assert_eq!(
        log.held(),
        report.held,
        "the gauges start at what recovery counted"
    );
    let mut read = Vec::new();
    while let Some(chunk) = log.read_chunk(64 * 1024, 100).unwrap() {
        read.extend(chunk.events);
        log.delivered(chunk.start).unwrap();
    }
    assert!(read.len() as u64 <= report.records);
    let tail: Vec<u64> = read
        .iter()
        .rev()
        .take(2)
        .rev()
        .filter_map(|e| e.origin.map(|o| o.offset))
        .collect();
    assert_eq!(tail, [1, 2], "the intact segment comes last and whole");
    assert_eq!(
        log.held(),
        Held::default(),
        "every event read was delivered"
    );
    log.append(&[intact_event(3)]).unwrap();
    log.sync().unwrap();
    drop(log);
    let (mut log, _) = DiskLog::open(config.clone()).unwrap();
    let mut again = Vec::new();
    while let Some(chunk) = log.read_chunk(64 * 1024, 100).unwrap() {
        again.extend(
            chunk
                .events
                .iter()
                .filter_map(|e| e.origin.map(|o| o.offset)),
        );
        log.delivered(chunk.start).unwrap();
    }
    assert_eq!(again, [3], "only what came after the deliveries");
}

fn intact_event(offset: u64) -> crate::event::Event {
    crate::event::Event {
        tag: std::sync::Arc::from("intact"),
        time: gcloud_logging::Timestamp::new(1_700_000_000, 0).unwrap(),
        record: Record::Line(bytes::Bytes::from_static(b"an intact record")),
        origin: Some(crate::event::Origin {
            file: 0x5eed,
            offset,
        }),
    }
}

/// A fresh directory under the system's temp dir, removed when dropped.
struct FuzzDir {
    path: std::path::PathBuf,
}

impl FuzzDir {
    fn new() -> FuzzDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "logferry-fuzz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        FuzzDir { path }
    }
}

impl Drop for FuzzDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
