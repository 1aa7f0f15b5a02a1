//! Writes `entries:write` JSON straight into a reused byte buffer, for the hot path: a `format none`
//! line becomes an entry without a `String`, a `serde_json::Value` or a per-line allocation.
//!
//! The general case ([`encode_entry`]) goes through serde; the fast case ([`EntryEncoder`]) writes
//! the same JSON by hand, and the tests hold the two to the same parsed result. Bytes that are not
//! UTF-8 become U+FFFD here (and only here), because JSON text must be UTF-8.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::Value;

use crate::severity::Severity;
use crate::time::{Timestamp, TimestampFormatter};
use crate::wire::{LogEntry, LogSplit, WriteLogEntriesRequest};

/// What a `format none` line carries into its entry; everything else comes from the request.
#[derive(Debug, Clone, Copy)]
pub struct TextEntry<'a> {
    /// The line, without its newline; need not be UTF-8.
    pub text: &'a [u8],
    /// When the line was first read (kept for replays, so dedup works).
    pub timestamp: Timestamp,
    /// From [`crate::ids::InsertId`].
    pub insert_id: &'a str,
    /// Severity, if the configuration gives one.
    pub severity: Option<Severity>,
    /// The entry's labels as an already encoded JSON object (see [`encode_labels`]), shared by
    /// every entry of a source.
    pub labels_json: Option<&'a [u8]>,
    /// The entry's own `logName`, when it differs from the request's.
    pub log_name: Option<&'a str>,
    /// Which part this is of a line too long for one entry.
    pub split: Option<&'a LogSplit>,
}

/// Encodes text entries, keeping the formatted date-and-time of the last second between calls.
#[derive(Debug, Clone, Default)]
pub struct EntryEncoder {
    timestamps: TimestampFormatter,
    /// The last timestamp written and its text: the lines of one read share their timestamp.
    last_timestamp: Option<(Timestamp, Vec<u8>)>,
}

impl EntryEncoder {
    /// An encoder with empty caches.
    pub fn new() -> EntryEncoder {
        EntryEncoder::default()
    }

    /// Appends `entry` as one `LogEntry` JSON object to `out`.
    pub fn encode_text(&mut self, out: &mut Vec<u8>, entry: &TextEntry<'_>) {
        out.push(b'{');
        if let Some(log_name) = entry.log_name {
            out.extend_from_slice(b"\"logName\":");
            write_json_string(out, log_name.as_bytes());
            out.push(b',');
        }
        out.extend_from_slice(b"\"insertId\":");
        write_json_string(out, entry.insert_id.as_bytes());
        out.extend_from_slice(b",\"timestamp\":\"");
        match &mut self.last_timestamp {
            Some((ts, text)) if *ts == entry.timestamp => out.extend_from_slice(text),
            last => {
                let at = out.len();
                self.timestamps.write(entry.timestamp, out);
                *last = Some((entry.timestamp, out[at..].to_vec()));
            }
        }
        out.push(b'"');
        if let Some(severity) = entry.severity {
            out.extend_from_slice(b",\"severity\":\"");
            out.extend_from_slice(severity.as_str().as_bytes());
            out.push(b'"');
        }
        if let Some(labels) = entry.labels_json {
            out.extend_from_slice(b",\"labels\":");
            out.extend_from_slice(labels);
        }
        if let Some(split) = entry.split {
            out.extend_from_slice(b",\"split\":{\"uid\":");
            write_json_string(out, split.uid.as_bytes());
            // Writing to a Vec cannot fail.
            let _ = write!(
                out,
                ",\"index\":{},\"totalSplits\":{}}}",
                split.index, split.total_splits
            );
        }
        out.extend_from_slice(b",\"textPayload\":");
        write_json_string(out, entry.text);
        out.push(b'}');
    }
}

/// Appends a text entry to `out` (a one-off [`EntryEncoder`]; keep an encoder on the hot path).
pub fn encode_text_entry(
    out: &mut Vec<u8>,
    text: &[u8],
    ts: Timestamp,
    insert_id: &str,
    severity: Option<Severity>,
    labels: Option<&[u8]>,
) {
    let entry = TextEntry {
        text,
        timestamp: ts,
        insert_id,
        severity,
        labels_json: labels,
        log_name: None,
        split: None,
    };
    EntryEncoder::new().encode_text(out, &entry);
}

/// Appends any `LogEntry` to `out` through serde.
pub fn encode_entry(out: &mut Vec<u8>, entry: &LogEntry) -> serde_json::Result<()> {
    serde_json::to_writer(out, entry)
}

/// Encodes labels once, for [`TextEntry::labels_json`].
pub fn encode_labels(labels: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + labels.len() * 24);
    out.push(b'{');
    for (i, (key, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(&mut out, key.as_bytes());
        out.push(b':');
        write_json_string(&mut out, value.as_bytes());
    }
    out.push(b'}');
    out
}

/// Starts a request body: writes `{` and `header`'s fields (its `entries` are ignored), then
/// `"entries":[`. Append entries separated by `,`, then call [`end_request`].
pub fn begin_request(out: &mut Vec<u8>, header: &WriteLogEntriesRequest) -> serde_json::Result<()> {
    let fields = WriteLogEntriesRequest {
        entries: Vec::new(),
        labels: header.labels.clone(),
        log_name: header.log_name.clone(),
        resource: header.resource.clone(),
        partial_success: header.partial_success,
        dry_run: header.dry_run,
    };
    out.push(b'{');
    if let Value::Object(map) = serde_json::to_value(&fields)? {
        for (key, value) in map.iter().filter(|(k, _)| k.as_str() != "entries") {
            write_json_string(out, key.as_bytes());
            out.push(b':');
            serde_json::to_writer(&mut *out, value)?;
            out.push(b',');
        }
    }
    out.extend_from_slice(b"\"entries\":[");
    Ok(())
}

/// Bytes [`end_request`] adds, for size accounting while a request fills.
pub const END_REQUEST_BYTES: usize = 2;

/// Closes a body started by [`begin_request`].
pub fn end_request(out: &mut Vec<u8>) {
    out.extend_from_slice(b"]}");
}

/// Appends `bytes` as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD.
pub fn write_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if is_plain(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // Log lines are nearly always ASCII: escape and validate in one pass, and only look for
    // UTF-8 sequences (and invalid bytes) from the first byte above 0x7f on.
    let ascii = write_escaped_ascii(out, bytes);
    if ascii < bytes.len() {
        for chunk in bytes[ascii..].utf8_chunks() {
            write_escaped(out, chunk.valid().as_bytes());
            if !chunk.invalid().is_empty() {
                out.extend_from_slice("\u{FFFD}".as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// For each byte: 0 when it is copied as is, else the letter after the backslash (`u` for
/// `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes in `word` needs escaping (`"`, `\` or below 0x20). Exact, by
/// the usual "has zero byte" / "has byte less than" bit tricks.
fn needs_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

/// Escapes valid UTF-8: skips clean runs eight bytes at a time and copies them in bulk.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]);
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let escape = ESCAPE[usize::from(bytes[i])];
            if escape != 0 {
                out.extend_from_slice(&bytes[start..i]);
                push_escape(out, bytes[i], escape);
                start = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// True when `bytes` is ASCII with nothing to escape, the usual log line: checked 64 bytes at
/// a time with a branch-free fold the compiler turns into SIMD compares.
fn is_plain(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|chunk| {
        !chunk.iter().fold(false, |bad, &b| {
            bad | (b.wrapping_sub(0x20) > 0x5f) | (b == b'"') | (b == b'\\')
        })
    })
}

/// Like [`write_escaped`] for the ASCII prefix of `bytes`: stops before the first byte above
/// 0x7f and returns its index (`bytes.len()` when all of it is ASCII).
fn write_escaped_ascii(out: &mut Vec<u8>, bytes: &[u8]) -> usize {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]);
            if word & HIGHS == 0 && !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes[i];
            if b > 0x7f {
                out.extend_from_slice(&bytes[start..i]);
                return i;
            }
            let escape = ESCAPE[usize::from(b)];
            if escape != 0 {
                out.extend_from_slice(&bytes[start..i]);
                push_escape(out, b, escape);
                start = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    bytes.len()
}

/// Writes the escape sequence of byte `b` (`escape` is its [`ESCAPE`] entry).
fn push_escape(out: &mut Vec<u8>, b: u8, escape: u8) {
    if escape == b'u' {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InsertId;
    use crate::wire::MonitoredResource;

    fn json_string(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        let samples: Vec<String> = vec![
            String::new(),
            "plain ascii text that is longer than eight bytes".into(),
            "quote\" backslash\\ newline\n tab\t cr\r bs\u{8} ff\u{c}".into(),
            "\u{0}\u{1}\u{1f} NUL and controls".into(),
            "emoji 😀 and ログ and é".into(),
            "\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\\".into(),
            "\u{7f} DEL stays, \u{2028} too".into(),
        ];
        for s in &samples {
            assert_eq!(
                json_string(s.as_bytes()),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
        // Every byte value at every alignment.
        for b in 0u8..0x80 {
            for pad in 0..9 {
                let s = format!("{}{}{}", "x".repeat(pad), char::from(b), "y".repeat(9));
                assert_eq!(
                    json_string(s.as_bytes()),
                    serde_json::to_string(&s).unwrap(),
                    "{b:#x} at {pad}"
                );
            }
        }
    }

    #[test]
    fn any_bytes_escape_like_lossy_utf8_through_serde() {
        let alphabet: &[&[u8]] = &[
            b"a",
            b"\"",
            b"\\",
            b"\n",
            b"\x01",
            b"\x7f",
            "é".as_bytes(),
            "😀".as_bytes(),
            b"\xff",
            b"\xe3\x83",
            b"abcdefgh",
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut r = x;
            for _ in 0..(r % 24) {
                r = r.rotate_left(5) ^ 0x9e37_79b9;
                bytes.extend_from_slice(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            let expected = serde_json::to_string(&String::from_utf8_lossy(&bytes)).unwrap();
            assert_eq!(json_string(&bytes), expected, "{bytes:?}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let cases: [&[u8]; 5] = [
            b"\xff",
            b"ok\xc3(\xff\xfe",
            b"\xe3\x83",
            b"abcdefgh\x80ijklmnop",
            b"\xf0\x9f\x98\x80\xf0\x9f",
        ];
        for bytes in cases {
            let got: String = serde_json::from_str(&json_string(bytes)).unwrap();
            assert_eq!(got, String::from_utf8_lossy(bytes), "{bytes:?}");
        }
    }

    #[test]
    fn needs_escape_is_exact() {
        for b in 0u8..=255 {
            for pos in 0..8 {
                let mut word = [b'a'; 8];
                word[pos] = b;
                let want = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    want,
                    "{b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn labels_encode_as_an_object() {
        let labels = BTreeMap::from([
            ("a\"b".to_owned(), "c\n".to_owned()),
            ("z".to_owned(), String::new()),
        ]);
        let back: BTreeMap<String, String> =
            serde_json::from_slice(&encode_labels(&labels)).unwrap();
        assert_eq!(back, labels);
        assert_eq!(encode_labels(&BTreeMap::new()), b"{}");
    }

    #[test]
    fn split_and_log_name_encode_like_serde() {
        let split = LogSplit {
            uid: "u-1".into(),
            index: 1,
            total_splits: 3,
        };
        let id = InsertId::new(1, 2, Some(1));
        let entry = TextEntry {
            text: b"part",
            timestamp: Timestamp {
                seconds: 1_795_000_000,
                nanos: 5,
            },
            insert_id: id.as_str(),
            severity: None,
            labels_json: None,
            log_name: Some("projects/p/logs/app.log"),
            split: Some(&split),
        };
        let mut out = Vec::new();
        EntryEncoder::new().encode_text(&mut out, &entry);
        let got: LogEntry = serde_json::from_slice(&out).unwrap();
        let want = LogEntry {
            log_name: Some("projects/p/logs/app.log".into()),
            insert_id: Some(entry.insert_id.into()),
            timestamp: Some(entry.timestamp),
            split: Some(split),
            text_payload: Some("part".into()),
            ..LogEntry::default()
        };
        assert_eq!(got, want);
    }

    #[test]
    fn request_frame_parses_as_the_request() {
        let header = WriteLogEntriesRequest {
            log_name: Some("projects/p/logs/app.log".into()),
            resource: Some(MonitoredResource::new(
                "k8s_container",
                [("pod_name", "api-0")],
            )),
            labels: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
            partial_success: true,
            ..WriteLogEntriesRequest::default()
        };
        let entries = [
            LogEntry {
                text_payload: Some("one".into()),
                ..LogEntry::default()
            },
            LogEntry {
                severity: Some(Severity::Error),
                text_payload: Some("two".into()),
                ..LogEntry::default()
            },
        ];
        let mut body = Vec::new();
        begin_request(&mut body, &header).unwrap();
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            encode_entry(&mut body, e).unwrap();
        }
        end_request(&mut body);
        let parsed: WriteLogEntriesRequest = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            WriteLogEntriesRequest {
                entries: entries.to_vec(),
                ..header.clone()
            }
        );

        let mut empty = Vec::new();
        begin_request(&mut empty, &WriteLogEntriesRequest::default()).unwrap();
        end_request(&mut empty);
        assert_eq!(empty, br#"{"entries":[]}"#);
    }
}
