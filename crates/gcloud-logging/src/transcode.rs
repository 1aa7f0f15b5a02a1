//! Structured JSON lines straight to `LogEntry` JSON, without building a `serde_json::Value` tree
//! of the whole record.
//!
//! [`scan_object`] validates a line as one JSON object, exactly as strictly as
//! `serde_json::from_slice::<Map<String, Value>>` does, and notes where each top-level member's
//! key and value are. [`JsonEntry::encode`] then lifts the members Google's agents lift (the
//! handful of keys [`crate::lift`] knows: `severity`, `httpRequest`, `time`, the
//! `logging.googleapis.com/…` keys) through [`lift_record`], and copies every other member's
//! bytes into `jsonPayload` as they are: they were validated, so they are already JSON.
//!
//! The result parses to the same entry as `lift_record` on the parsed map (the tests hold the
//! two to that), but a typical access-log line costs one validating pass and a few small
//! allocations instead of a map, a string per key and value, and a re-serialization.
//!
//! Lines this fast path does not take are left to the general path, never guessed at:
//! a key with escapes, a key that appears twice (serde keeps the last one), more than
//! [`MAX_MEMBERS`] members, or nesting deeper than [`MAX_DEPTH`].

use std::ops::Range;

use serde_json::{Map, Value};

use crate::lift::{
    HTTP_REQUEST_KEY, INSERT_ID_KEY, LABELS_KEY, MESSAGE_KEY, OPERATION_KEY, SEVERITY_KEY,
    SOURCE_LOCATION_KEY, SPAN_ID_KEY, TIME_KEY, TIMESTAMP_KEY, TIMESTAMP_NANOS_KEY,
    TIMESTAMP_SECONDS_KEY, TRACE_KEY, TRACE_SAMPLED_CAMEL_KEY, TRACE_SAMPLED_KEY, lift_record,
};
use crate::time::Timestamp;

/// Top-level members the fast path handles; a bigger object takes the general path.
pub const MAX_MEMBERS: usize = 64;
/// Nesting the fast path validates itself; deeper values take the general path (serde's own
/// limit is 128).
pub const MAX_DEPTH: usize = 64;
/// Keys of a nested object the fast path checks for duplicates; a bigger object takes the
/// general path.
pub const MAX_NESTED_KEYS: usize = 32;

/// The keys [`lift_record`] may lift.
const LIFTED_KEYS: [&str; 14] = [
    SEVERITY_KEY,
    HTTP_REQUEST_KEY,
    TIME_KEY,
    TIMESTAMP_KEY,
    TIMESTAMP_SECONDS_KEY,
    TIMESTAMP_NANOS_KEY,
    INSERT_ID_KEY,
    LABELS_KEY,
    OPERATION_KEY,
    SOURCE_LOCATION_KEY,
    SPAN_ID_KEY,
    TRACE_KEY,
    TRACE_SAMPLED_KEY,
    TRACE_SAMPLED_CAMEL_KEY,
];

/// Why [`scan_object`] did not locate the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// Not one JSON object (what `serde_json` rejects too).
    NotAnObject,
    /// Valid or not, the fast path does not take it; parse it with serde.
    Unsupported,
}

/// One top-level member: byte ranges into the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key with its quotes; it has no escapes.
    pub quoted_key: Range<usize>,
    /// The value, as written.
    pub value: Range<usize>,
}

impl Member {
    /// The key's text.
    pub fn key<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        &line[self.quoted_key.start + 1..self.quoted_key.end - 1]
    }
}

/// Validates `line` as a JSON object and fills `members` (cleared first) in order.
pub fn scan_object(line: &[u8], members: &mut Vec<Member>) -> Result<(), ScanError> {
    members.clear();
    if std::str::from_utf8(line).is_err() {
        return Err(ScanError::NotAnObject);
    }
    let mut s = Scanner { line, at: 0 };
    s.skip_ws();
    s.expect(b'{')?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.at += 1;
    } else {
        loop {
            s.skip_ws();
            let key_start = s.at;
            let escaped = s.string()?;
            if escaped {
                return Err(s.give_up());
            }
            let quoted_key = key_start..s.at;
            s.skip_ws();
            s.expect(b':')?;
            s.skip_ws();
            let value_start = s.at;
            s.value(1)?;
            members.push(Member {
                quoted_key,
                value: value_start..s.at,
            });
            s.skip_ws();
            match s.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(ScanError::NotAnObject),
            }
        }
    }
    s.skip_ws();
    if s.at != line.len() {
        return Err(ScanError::NotAnObject);
    }
    if members.len() > MAX_MEMBERS || has_duplicate_key(line, members) {
        return Err(ScanError::Unsupported);
    }
    Ok(())
}

fn has_duplicate_key(line: &[u8], members: &[Member]) -> bool {
    members
        .iter()
        .enumerate()
        .any(|(i, a)| members[i + 1..].iter().any(|b| a.key(line) == b.key(line)))
}

struct Scanner<'a> {
    line: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, byte: u8) -> Result<(), ScanError> {
        if self.next() == Some(byte) {
            Ok(())
        } else {
            Err(ScanError::NotAnObject)
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The fast path does not take this line: serde decides whether it is valid at all, so a
    /// broken line is still reported as broken rather than as unsupported.
    fn give_up(&self) -> ScanError {
        match serde_json::from_slice::<Map<String, Value>>(self.line) {
            Ok(_) => ScanError::Unsupported,
            Err(_) => ScanError::NotAnObject,
        }
    }

    /// A string starting at the quote; returns whether it had escapes.
    fn string(&mut self) -> Result<bool, ScanError> {
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            // The line is valid UTF-8, so only ASCII needs looking at.
            let rest = &self.line[self.at..];
            let plain = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .ok_or(ScanError::NotAnObject)?;
            self.at += plain;
            match self.next() {
                Some(b'"') => return Ok(escaped),
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                _ => return Err(ScanError::NotAnObject),
            }
        }
    }

    /// After a backslash.
    fn escape(&mut self) -> Result<(), ScanError> {
        match self.next() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(()),
            Some(b'u') => {
                let unit = self.hex4()?;
                match unit {
                    0xDC00..=0xDFFF => Err(ScanError::NotAnObject),
                    0xD800..=0xDBFF => {
                        // A leading surrogate must be followed by an escaped trailing one.
                        if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                            return Err(ScanError::NotAnObject);
                        }
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(ScanError::NotAnObject),
                        }
                    }
                    _ => Ok(()),
                }
            }
            _ => Err(ScanError::NotAnObject),
        }
    }

    fn hex4(&mut self) -> Result<u16, ScanError> {
        let digits = self
            .line
            .get(self.at..self.at + 4)
            .ok_or(ScanError::NotAnObject)?;
        let mut unit = 0u16;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(ScanError::NotAnObject)?;
            unit = unit << 4 | v as u16;
        }
        self.at += 4;
        Ok(unit)
    }

    fn value(&mut self, depth: usize) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => {
                let depth = self.deeper(depth)?;
                self.at += 1;
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(());
                }
                // Keys seen, to leave duplicates (serde keeps the last) to the general path.
                let mut keys = [(0usize, 0usize); MAX_NESTED_KEYS];
                let mut count = 0;
                loop {
                    self.skip_ws();
                    let start = self.at;
                    if self.string()? || count == MAX_NESTED_KEYS {
                        return Err(self.give_up());
                    }
                    let key = &self.line[start..self.at];
                    if keys[..count].iter().any(|&(a, b)| &self.line[a..b] == key) {
                        return Err(self.give_up());
                    }
                    keys[count] = (start, self.at);
                    count += 1;
                    self.skip_ws();
                    self.expect(b':')?;
                    self.skip_ws();
                    self.value(depth)?;
                    self.skip_ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b'}') => return Ok(()),
                        _ => return Err(ScanError::NotAnObject),
                    }
                }
            }
            Some(b'[') => {
                let depth = self.deeper(depth)?;
                self.at += 1;
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    self.value(depth)?;
                    self.skip_ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b']') => return Ok(()),
                        _ => return Err(ScanError::NotAnObject),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(ScanError::NotAnObject),
        }
    }

    fn deeper(&self, depth: usize) -> Result<usize, ScanError> {
        if depth >= MAX_DEPTH {
            Err(self.give_up())
        } else {
            Ok(depth + 1)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ScanError> {
        if self.line[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(ScanError::NotAnObject)
        }
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`; a float (or a very long integer) must
    /// also be finite, as serde requires.
    fn number(&mut self) -> Result<(), ScanError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(ScanError::NotAnObject),
        }
        let int_digits = self.at - start;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.first_digit()?;
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.first_digit()?;
            float = true;
        }
        if (float || int_digits > 19)
            && serde_json::from_slice::<Value>(&self.line[start..self.at]).is_err()
        {
            return Err(ScanError::NotAnObject);
        }
        Ok(())
    }

    fn first_digit(&mut self) -> Result<(), ScanError> {
        match self.next() {
            Some(b'0'..=b'9') => {
                self.digits();
                Ok(())
            }
            _ => Err(ScanError::NotAnObject),
        }
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }
}

/// What one structured line's entry needs besides the line.
#[derive(Debug, Clone, Copy)]
pub struct JsonEntry<'a> {
    /// A line [`scan_object`] accepted, and its members.
    pub line: &'a [u8],
    pub members: &'a [Member],
    /// A top-level key the parser already consumed (fluentd's `time_key`), left out.
    pub without_key: Option<&'a str>,
    /// Qualifies bare trace ids, as in [`lift_record`].
    pub project_id: &'a str,
    /// Used when the record has no time of its own.
    pub timestamp: Timestamp,
    /// Used when the record has no `logging.googleapis.com/insertId`.
    pub insert_id: &'a str,
    /// The entry's own `logName`, when it differs from the request's.
    pub log_name: Option<&'a str>,
}

impl JsonEntry<'_> {
    /// Appends the entry as one `LogEntry` JSON object.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = self.line;
        let without = self.without_key.map(str::as_bytes);
        let mut lifted = Map::new();
        let mut message = None;
        let mut others = 0usize;
        for (i, m) in self.members.iter().enumerate() {
            let key = m.key(line);
            if Some(key) == without {
                continue;
            }
            if LIFTED_KEYS.iter().any(|k| k.as_bytes() == key) {
                lifted.insert(utf8(key).to_owned(), parse(&line[m.value.clone()]));
            } else if key == MESSAGE_KEY.as_bytes() {
                message = Some(i);
            } else {
                others += 1;
            }
        }
        // A lone string `message` may become `textPayload`: let lift_record decide.
        let message_lifted = match message {
            Some(i) if others == 0 => {
                let value = parse(&line[self.members[i].value.clone()]);
                lifted.insert(MESSAGE_KEY.to_owned(), value);
                true
            }
            _ => false,
        };
        let mut entry = lift_record(lifted, self.project_id);
        entry.timestamp.get_or_insert(self.timestamp);
        entry
            .insert_id
            .get_or_insert_with(|| self.insert_id.to_owned());
        entry.log_name = self.log_name.map(str::to_owned);
        let leftovers = entry.json_payload.take();
        // A LogEntry of strings, numbers and maps always serializes.
        let _ = serde_json::to_writer(&mut *out, &entry);
        if entry.text_payload.is_some() {
            return;
        }
        out.pop(); // the entry's closing brace
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        out.extend_from_slice(b"\"jsonPayload\":{");
        let mut first = true;
        for (key, value) in leftovers.iter().flatten() {
            if !first {
                out.push(b',');
            }
            first = false;
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, value);
        }
        for m in self.members {
            let key = m.key(line);
            let copied = Some(key) != without
                && !LIFTED_KEYS.iter().any(|k| k.as_bytes() == key)
                && !(message_lifted && key == MESSAGE_KEY.as_bytes());
            if copied {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(&line[m.quoted_key.clone()]);
                out.push(b':');
                out.extend_from_slice(&line[m.value.clone()]);
            }
        }
        out.extend_from_slice(b"}}");
    }
}

/// The text of a key [`scan_object`] accepted (the line was valid UTF-8).
fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// A value [`scan_object`] validated.
fn parse(raw: &[u8]) -> Value {
    serde_json::from_slice(raw).unwrap_or(Value::Null)
}

/// The value of top-level member `key`, parsed, for a parser that reads one field (the time).
pub fn member_value(line: &[u8], members: &[Member], key: &str) -> Option<Value> {
    members
        .iter()
        .find(|m| m.key(line) == key.as_bytes())
        .map(|m| parse(&line[m.value.clone()]))
}

#[cfg(test)]
mod tests;
