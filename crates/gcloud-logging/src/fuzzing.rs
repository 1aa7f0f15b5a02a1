//! Entry points for `fuzz/` (cargo fuzz) and `tests/fuzz_smoke.rs` (stable CI): one function per
//! target, so both run exactly the same code. Not part of the API.
//!
//! Any record lifts to an entry that serializes and reads back; any bytes encode as a text entry
//! that serde_json reads back to the same text (invalid UTF-8 as U+FFFD), id, time and severity.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::encode::{encode_entry, encode_labels, encode_text_entry};
use crate::lift::lift_detected_json;
use crate::transcode::{JsonEntry, ScanError, scan_object};
use crate::{LogEntry, Severity, Timestamp, lift_record};

/// `data` read four ways: as a JSON record lifted into a `LogEntry`, as the same line through
/// the transcoder (which must agree with serde on validity and with `lift_record` on the entry),
/// as the text of a `format none` line for the fast encoder, and as an RFC 3339 timestamp.
pub fn fuzz_lift(data: &[u8]) {
    if let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(data) {
        lift_round_trip(record);
    }
    transcode_agrees(data);
    encode_text_round_trip(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(ts) = Timestamp::parse_rfc3339(text)
        && ts.is_valid()
    {
        assert_eq!(
            Timestamp::parse_rfc3339(&ts.to_rfc3339()),
            Ok(ts),
            "{text:?}"
        );
    }
}

fn lift_round_trip(record: serde_json::Map<String, Value>) {
    let entry = if record.len() % 2 == 0 {
        lift_record(record, "demo")
    } else {
        lift_detected_json(record, "demo")
    };
    let mut out = Vec::new();
    encode_entry(&mut out, &entry).expect("a lifted entry serializes");
    let back: LogEntry = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out));
    });
    // Floats in the payload may read back one ULP off (serde_json without `float_roundtrip`),
    // so the payload is compared only for presence.
    assert_eq!(back.json_payload.is_some(), entry.json_payload.is_some());
    let without_payload = |e: LogEntry| LogEntry {
        json_payload: None,
        ..e
    };
    assert_eq!(without_payload(back), without_payload(entry));
}

fn transcode_agrees(data: &[u8]) {
    let serde_map = serde_json::from_slice::<serde_json::Map<String, Value>>(data);
    let mut members = Vec::new();
    match scan_object(data, &mut members) {
        Ok(()) => {
            let Ok(map) = serde_map else {
                panic!("transcoder accepted what serde rejects: {data:?}")
            };
            for detected_json in [false, true] {
                let ts = Timestamp::new(1_800_000_000, 0).expect("valid");
                let mut fast = Vec::new();
                JsonEntry {
                    line: data,
                    members: &members,
                    without_key: None,
                    project_id: "demo",
                    timestamp: ts,
                    insert_id: "id",
                    log_name: None,
                    detected_json,
                }
                .encode(&mut fast);
                let fast: Value = serde_json::from_slice(&fast).unwrap_or_else(|e| {
                    panic!(
                        "transcoder wrote invalid JSON ({e}): {}",
                        String::from_utf8_lossy(&fast)
                    )
                });
                let mut entry = if detected_json {
                    lift_detected_json(map.clone(), "demo")
                } else {
                    lift_record(map.clone(), "demo")
                };
                entry.timestamp.get_or_insert(ts);
                entry.insert_id.get_or_insert_with(|| "id".to_owned());
                let general = serde_json::to_value(&entry).expect("an entry serializes");
                assert!(
                    same_json(&fast, &general),
                    "transcoder (detect_json {detected_json}): {fast}\nlift_record: {general}"
                );
            }
        }
        Err(ScanError::NotAnObject) => {
            assert!(
                serde_map.is_err(),
                "transcoder rejected a valid object: {data:?}"
            )
        }
        Err(ScanError::Unsupported) => {
            assert!(serde_map.is_ok(), "unsupported yet invalid: {data:?}")
        }
    }
}

/// Equal, except that floats may differ in the last digits (serde_json's default float parser
/// is not exact, and one side was printed and parsed once more).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-15,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn encode_text_round_trip(data: &[u8]) {
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = data.get(at + i).copied().unwrap_or(0);
        }
        u64::from_le_bytes(bytes)
    };
    // Any time Cloud Logging can represent (years 1 to 9999).
    let seconds = (word(0) % 315_537_897_600) as i64 - 62_135_596_800;
    let ts = Timestamp::new(seconds, (word(8) % 1_000_000_000) as u32).expect("nanos in range");
    let severity = data
        .first()
        .and_then(|&b| Severity::ALL.get(usize::from(b) % 10).copied());
    let split = data.len() / 2;
    let insert_id = String::from_utf8_lossy(&data[..split.min(40)]);
    let labels = (data.len() % 3 == 0).then(|| {
        let mut labels = BTreeMap::new();
        labels.insert(
            insert_id.to_string(),
            String::from_utf8_lossy(&data[split..]).into(),
        );
        labels.insert("k8s-pod/app".to_owned(), "api".to_owned());
        encode_labels(&labels)
    });
    let mut out = b"[".to_vec();
    encode_text_entry(&mut out, data, ts, &insert_id, severity, labels.as_deref());
    out.push(b']');
    let parsed: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out));
    });
    let entry = &parsed[0];
    assert_eq!(entry["textPayload"], *String::from_utf8_lossy(data));
    assert_eq!(entry["insertId"], *insert_id);
    assert_eq!(entry["timestamp"], ts.to_rfc3339());
    assert_eq!(
        entry.get("severity").and_then(Value::as_str),
        severity.map(Severity::as_str)
    );
    let back: LogEntry = serde_json::from_value(entry.clone()).expect("reads as a LogEntry");
    assert_eq!(back.timestamp, Some(ts));
    assert_eq!(back.labels.is_some(), labels.is_some());
}
