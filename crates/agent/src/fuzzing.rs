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
