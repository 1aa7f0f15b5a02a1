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

use crate::duration::Duration;
use crate::lift::{
    HTTP_REQUEST_KEY, INSERT_ID_KEY, LIFTED_KEYS, MESSAGE_KEY, SEVERITY_KEY, SPAN_ID_KEY,
    TRACE_KEY, lift_detected_json, lift_record, qualify_trace,
};
use crate::severity::Severity;
use crate::time::Timestamp;
use crate::wire::{HttpRequest, LogEntry};

/// Top-level members the fast path handles; a bigger object takes the general path.
pub const MAX_MEMBERS: usize = 64;
/// Nesting the fast path validates itself; deeper values take the general path (serde's own
/// limit is 128).
pub const MAX_DEPTH: usize = 64;
/// Keys of a nested object the fast path checks for duplicates; a bigger object takes the
/// general path.
pub const MAX_NESTED_KEYS: usize = 32;

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
    if std::str::from_utf8(line).is_err() {
        members.clear();
        return Err(ScanError::NotAnObject);
    }
    scan_utf8_object(line, members)
}

/// [`scan_object`] for a line already known to be UTF-8 (one `scan_object` accepted before,
/// such as a `format json` record reaching the sink): the same checks, minus that one.
pub fn scan_utf8_object(line: &[u8], members: &mut Vec<Member>) -> Result<(), ScanError> {
    members.clear();
    let mut s = Scanner { line, at: 0 };
    s.skip_ws();
    s.object(0, |quoted_key, value| {
        members.push(Member { quoted_key, value });
        Ok(())
    })?;
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

    fn give_up(&self) -> ScanError {
        give_up(self.line)
    }

    /// An object from its `{` to past its `}` (`depth` containers are open around it): calls
    /// `member` with each member's quoted key and value, in order. A key written with escapes
    /// gives up (see [`give_up`]).
    fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(Range<usize>, Range<usize>) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        let depth = self.deeper(depth)?;
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key_start = self.at;
            if self.string()? {
                return Err(self.give_up());
            }
            let quoted_key = key_start..self.at;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value_start = self.at;
            self.value(depth)?;
            member(quoted_key, value_start..self.at)?;
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(()),
                _ => return Err(ScanError::NotAnObject),
            }
        }
    }

    /// A string starting at the quote; returns whether it had escapes.
    fn string(&mut self) -> Result<bool, ScanError> {
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            // The line is valid UTF-8, so only ASCII needs looking at.
            self.at += plain_prefix(&self.line[self.at..]).ok_or(ScanError::NotAnObject)?;
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
                // Keys seen, to leave duplicates (serde keeps the last) to the general path.
                let line = self.line;
                let mut keys = [(0usize, 0usize); MAX_NESTED_KEYS];
                let mut count = 0;
                self.object(depth, |key, _| {
                    let text = &line[key.clone()];
                    if count == MAX_NESTED_KEYS
                        || keys[..count].iter().any(|&(a, b)| &line[a..b] == text)
                    {
                        return Err(give_up(line));
                    }
                    keys[count] = (key.start, key.end);
                    count += 1;
                    Ok(())
                })
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

/// The fast path does not take `line`: serde decides whether it is valid at all, so a broken
/// line is still reported as broken rather than as unsupported.
fn give_up(line: &[u8]) -> ScanError {
    match serde_json::from_slice::<Map<String, Value>>(line) {
        Ok(_) => ScanError::Unsupported,
        Err(_) => ScanError::NotAnObject,
    }
}

/// Where the first `"`, `\\` or control character of `bytes` is: eight bytes at a time.
pub(crate) fn plain_prefix(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // A byte is zero in `v` exactly when it marks a high bit here (no borrow crosses a
        // zero byte from below, since the lower bytes are then nonzero or also flagged).
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let quote = zero(x ^ (ONES * u64::from(b'"')));
        let backslash = zero(x ^ (ONES * u64::from(b'\\')));
        // Bytes below 0x20 (bytes of 0x80 and up never set the high bit of `x - 0x20…`
        // without also having it in `x`).
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        if quote | backslash | control != 0
            && let Some(i) = chunk.iter().position(|&b| special(b))
        {
            return Some(at + i);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| special(b))
        .map(|i| at + i)
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
    /// The line is a text line `detect_json` found to be JSON: always `jsonPayload`, as in
    /// [`lift_detected_json`] (otherwise a lone string `message` becomes `textPayload`).
    pub detected_json: bool,
}

impl JsonEntry<'_> {
    /// Appends the entry as one `LogEntry` JSON object.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = self.line;
        let without = self.without_key.map(str::as_bytes);
        // What happens to each member: copied into jsonPayload, lifted here, or handed to
        // lift_record (which may leave it in the payload).
        let mut fate = [Fate::Copied; MAX_MEMBERS];
        let mut direct = LogEntry::default();
        let mut lifted = Map::new();
        let mut message = None;
        let mut others = 0usize;
        for (i, m) in self.members.iter().enumerate() {
            let key = m.key(line);
            let raw = &line[m.value.clone()];
            if Some(key) == without {
                fate[i] = Fate::Dropped;
            } else if let Some(k) = LIFTED_KEYS.iter().position(|k| k.as_bytes() == key) {
                if !lift_directly(LIFTED_KEYS[k], raw, self.project_id, &mut direct) {
                    lifted.insert(LIFTED_KEYS[k].to_owned(), parse(raw));
                }
                fate[i] = Fate::Dropped;
            } else if key == MESSAGE_KEY.as_bytes() {
                message = Some(i);
            } else {
                others += 1;
            }
        }
        // A lone string `message` may become `textPayload`: let lift_record decide.
        if let Some(i) = message
            && others == 0
            && !self.detected_json
        {
            lifted.insert(
                MESSAGE_KEY.to_owned(),
                parse(&line[self.members[i].value.clone()]),
            );
            fate[i] = Fate::Dropped;
        }
        let mut entry = match lifted.len() {
            // What lift_record gives for an empty record, and for a lone `message` (the usual
            // access line once its other keys are lifted): no map to build.
            0 => LogEntry {
                json_payload: Some(Map::new()),
                ..LogEntry::default()
            },
            1 => match lifted.remove(MESSAGE_KEY) {
                Some(Value::String(text)) => LogEntry {
                    text_payload: Some(text),
                    ..LogEntry::default()
                },
                Some(other) => LogEntry {
                    json_payload: Some(Map::from_iter([(MESSAGE_KEY.to_owned(), other)])),
                    ..LogEntry::default()
                },
                None => self.lift(lifted),
            },
            _ => self.lift(lifted),
        };
        entry.severity = entry.severity.or(direct.severity);
        entry.trace = entry.trace.or(direct.trace);
        entry.span_id = entry.span_id.or(direct.span_id);
        entry.insert_id = entry.insert_id.or(direct.insert_id);
        entry.http_request = entry.http_request.or(direct.http_request);
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
        for (m, fate) in self.members.iter().zip(fate) {
            if fate == Fate::Copied {
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

impl JsonEntry<'_> {
    /// The general path, for the members this one hands over.
    fn lift(&self, record: Map<String, Value>) -> LogEntry {
        if self.detected_json {
            lift_detected_json(record, self.project_id)
        } else {
            lift_record(record, self.project_id)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Copied as written into `jsonPayload`.
    Copied,
    /// Not copied: left out, lifted, or handed to `lift_record`.
    Dropped,
}

/// Lifts the common shapes of a few keys without a `Value`, exactly as [`lift_record`] would;
/// returns false to leave the key to `lift_record` (which also decides the rest: a time, the
/// labels, a mistyped value).
fn lift_directly(key: &str, raw: &[u8], project_id: &str, entry: &mut LogEntry) -> bool {
    match key {
        SEVERITY_KEY => match severity(raw) {
            Some(severity) => {
                entry.severity = Some(severity);
                true
            }
            None => false,
        },
        TRACE_KEY => match plain_str(raw).filter(|s| !s.is_empty()) {
            Some(trace) => {
                entry.trace = Some(qualify_trace(trace.to_owned(), project_id));
                true
            }
            None => false,
        },
        SPAN_ID_KEY | INSERT_ID_KEY => match plain_str(raw).filter(|s| !s.is_empty()) {
            Some(id) => {
                let slot = if key == SPAN_ID_KEY {
                    &mut entry.span_id
                } else {
                    &mut entry.insert_id
                };
                *slot = Some(id.to_owned());
                true
            }
            None => false,
        },
        HTTP_REQUEST_KEY => match http_request(raw) {
            Some(request) => {
                entry.http_request = Some(request);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// A severity written as a string without escapes or as a number, read as
/// [`Severity::from_json_lenient`] reads it; anything else is left to `lift_record`.
fn severity(raw: &[u8]) -> Option<Severity> {
    match raw.first()? {
        b'"' => plain_str(raw).map(Severity::from_agent_text),
        b'-' | b'0'..=b'9' => {
            // As serde reads them: a fraction, an exponent or `-0` is a float, and so is an
            // integer beyond 64 bits.
            if raw[0] == b'-' || raw.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                return Some(Severity::Default);
            }
            let text = std::str::from_utf8(raw).ok()?;
            Some(match text.parse::<u64>() {
                Ok(n) => i64::try_from(n).map_or(Severity::Emergency, Severity::from_number),
                Err(_) => Severity::Default,
            })
        }
        _ => None,
    }
}

/// The text of a JSON string literal with no escapes.
fn plain_str(raw: &[u8]) -> Option<&str> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if inner.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(inner).ok()
}

/// An `httpRequest` object every member of which lifts (the usual access-log line); `None`
/// leaves it to `lift_record`, which keeps the members that do not lift in the payload.
fn http_request(raw: &[u8]) -> Option<HttpRequest> {
    let mut members = Vec::new();
    Scanner { line: raw, at: 0 }
        .object(0, |key, value| {
            members.push((key.start + 1..key.end - 1, value));
            Ok(())
        })
        .ok()?;
    if members.is_empty() {
        return None; // an empty object does not lift
    }
    let mut r = HttpRequest::default();
    for (key, value) in members {
        let v = &raw[value];
        let ok = match &raw[key] {
            b"requestMethod" => put(&mut r.request_method, plain_string(v)),
            b"requestUrl" => put(&mut r.request_url, plain_string(v)),
            b"requestSize" => put(&mut r.request_size, integer(v)),
            b"status" => put(
                &mut r.status,
                integer(v).and_then(|n| i32::try_from(n).ok()),
            ),
            b"responseSize" => put(&mut r.response_size, integer(v)),
            b"userAgent" => put(&mut r.user_agent, plain_string(v)),
            b"remoteIp" => put(&mut r.remote_ip, plain_string(v)),
            b"serverIp" => put(&mut r.server_ip, plain_string(v)),
            b"referer" => put(&mut r.referer, plain_string(v)),
            b"latency" => put(
                &mut r.latency,
                plain_str(v).and_then(|s| Duration::parse(s.trim()).ok()),
            ),
            b"cacheLookup" => put(&mut r.cache_lookup, boolean(v)),
            b"cacheHit" => put(&mut r.cache_hit, boolean(v)),
            b"cacheValidatedWithOriginServer" => {
                put(&mut r.cache_validated_with_origin_server, boolean(v))
            }
            b"cacheFillBytes" => put(&mut r.cache_fill_bytes, integer(v)),
            b"protocol" => put(&mut r.protocol, plain_string(v)),
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    Some(r)
}

/// Stores `value` if there is one; says whether there was.
fn put<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let some = value.is_some();
    *slot = value;
    some
}

fn plain_string(raw: &[u8]) -> Option<String> {
    plain_str(raw).map(str::to_owned)
}

/// As [`crate::lift`] reads a boolean: `true`/`false`, or the same as a string.
fn boolean(raw: &[u8]) -> Option<bool> {
    match raw {
        b"true" | b"\"true\"" => Some(true),
        b"false" | b"\"false\"" => Some(false),
        _ => None,
    }
}

/// proto3 JSON's int64: a JSON integer that fits, or a decimal string.
fn integer(raw: &[u8]) -> Option<i64> {
    if raw.first() == Some(&b'"') {
        return plain_str(raw)?.trim().parse().ok();
    }
    // A float (even 200.0) is not an integer here, as in lift_record; serde reads -0 as a
    // float too.
    if raw == b"-0" || raw.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
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
