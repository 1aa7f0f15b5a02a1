//! Container runtime log formats, as kubelet leaves them under `/var/log/pods`:
//!
//! - `cri` (containerd, CRI-O): `TIMESTAMP STREAM TAG MESSAGE`, where `TAG` is `P` for a part of
//!   a line the runtime split (at 16 KiB by default) and `F` for the last part. The parts of one
//!   stream are joined into one record; the record's time is the runtime's timestamp of its
//!   first part. Record: `stream`, `logtag` (`F`), `message` (the keys of Fluent Bit's `cri`
//!   parser and of fluent-plugin-parser-cri).
//! - `docker` (the json-file driver): `{"log":"...\n","stream":"stdout","time":"..."}`, one object
//!   per part; a `log` that does not end in a newline was split (at 16 KiB) and continues in the
//!   next part of the same stream. Record: `log` (without its newline) and `stream`, the keys
//!   the json-file driver writes.
//!
//! A line that is neither is kept whole as a plain message and reported, as every parser does.
//! Parts are joined up to [`MAX_JOINED`] bytes: past it, what was joined goes out as a record
//! of its own (`logtag` `P` for `cri`), so one endless line cannot hold memory or the position.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gcloud_logging::Timestamp;
use serde_json::{Map, Value};

use super::{LineParser, Parsed, unparsed};
use crate::event::Record;

/// The most bytes of parts joined into one record.
pub const MAX_JOINED: usize = 1 << 20;

/// The two streams a container writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn parse(text: &[u8]) -> Option<Stream> {
        match text {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Parts of one stream's line being joined.
#[derive(Debug)]
struct Pending {
    /// File offset of the first part.
    offset: u64,
    /// The runtime's timestamp of the first part.
    time: Timestamp,
    text: Vec<u8>,
    since: Instant,
}

/// Joining per stream, shared by both formats.
#[derive(Debug)]
struct Joiner {
    pending: [Option<Pending>; 2],
    flush_after: Duration,
}

impl Joiner {
    fn new(flush_after: Duration) -> Joiner {
        Joiner {
            pending: [None, None],
            flush_after,
        }
    }

    /// Adds a part; returns the finished line (offset, time, text, complete) when `last` or
    /// when the joined text reached [`MAX_JOINED`].
    fn part(
        &mut self,
        stream: Stream,
        offset: u64,
        time: Timestamp,
        text: &[u8],
        last: bool,
    ) -> Option<(u64, Timestamp, Vec<u8>, bool)> {
        let slot = &mut self.pending[stream.index()];
        let pending = slot.get_or_insert_with(|| Pending {
            offset,
            time,
            text: Vec::new(),
            since: Instant::now(),
        });
        pending.text.extend_from_slice(text);
        if last || pending.text.len() >= MAX_JOINED {
            let done = slot.take().expect("just inserted");
            return Some((done.offset, done.time, done.text, last));
        }
        None
    }

    fn held_since(&self) -> Option<u64> {
        self.pending.iter().flatten().map(|p| p.offset).min()
    }

    fn flush_due(&self, now: Instant) -> bool {
        self.pending
            .iter()
            .flatten()
            .any(|p| now.duration_since(p.since) >= self.flush_after)
    }

    /// Takes every unfinished line, oldest first.
    fn take_all(&mut self) -> Vec<(Stream, Pending)> {
        let mut all: Vec<(Stream, Pending)> = [Stream::Stdout, Stream::Stderr]
            .into_iter()
            .filter_map(|s| self.pending[s.index()].take().map(|p| (s, p)))
            .collect();
        all.sort_by_key(|(_, p)| p.offset);
        all
    }
}

fn text_value(bytes: Vec<u8>) -> Value {
    Value::String(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// `<parse> @type cri`.
pub struct CriParser {
    joiner: Joiner,
}

impl CriParser {
    pub fn new(flush_after: Duration) -> CriParser {
        CriParser {
            joiner: Joiner::new(flush_after),
        }
    }

    fn record(stream: Stream, text: Vec<u8>, complete: bool) -> Record {
        let mut map = Map::new();
        map.insert("stream".into(), Value::from(stream.name()));
        map.insert(
            "logtag".into(),
            Value::from(if complete { "F" } else { "P" }),
        );
        map.insert("message".into(), text_value(text));
        Record::Map(map)
    }
}

/// Splits `TIMESTAMP STREAM TAG MESSAGE`; the message may be empty (`... F` with nothing after,
/// or one space after).
fn split_cri(line: &[u8]) -> Option<(Timestamp, Stream, bool, &[u8])> {
    let mut fields = line.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    let time = Timestamp::parse_rfc3339(time).ok()?;
    let stream = Stream::parse(fields.next()?)?;
    // The tag is `P` or `F`, possibly followed by other flags after a colon (`F:x`), which
    // kubelet's reader ignores too.
    let tag = fields.next()?;
    let last = match tag.split(|&b| b == b':').next()? {
        b"F" => true,
        b"P" => false,
        _ => return None,
    };
    Some((time, stream, last, fields.next().unwrap_or_default()))
}

impl LineParser for CriParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        let Some((time, stream, last, message)) = split_cri(&line) else {
            return out.push(unparsed(line, offset, now, "not a CRI log line"));
        };
        if let Some((offset, time, text, complete)) =
            self.joiner.part(stream, offset, time, message, last)
        {
            out.push(Parsed {
                time,
                record: Self::record(stream, text, complete),
                offset,
                mismatch: None,
            });
        }
    }

    fn held_since(&self) -> Option<u64> {
        self.joiner.held_since()
    }

    fn flush(&mut self, out: &mut Vec<Parsed>) {
        for (stream, p) in self.joiner.take_all() {
            out.push(Parsed {
                time: p.time,
                record: Self::record(stream, p.text, false),
                offset: p.offset,
                mismatch: None,
            });
        }
    }

    fn flush_due(&self, now: Instant) -> bool {
        self.joiner.flush_due(now)
    }
}

/// `<parse> @type docker`.
pub struct DockerParser {
    joiner: Joiner,
}

#[derive(serde::Deserialize)]
struct DockerLine {
    log: String,
    stream: String,
    time: String,
}

impl DockerParser {
    pub fn new(flush_after: Duration) -> DockerParser {
        DockerParser {
            joiner: Joiner::new(flush_after),
        }
    }

    fn record(stream: Stream, text: Vec<u8>) -> Record {
        let mut map = Map::new();
        map.insert("log".into(), text_value(text));
        map.insert("stream".into(), Value::from(stream.name()));
        Record::Map(map)
    }
}

impl LineParser for DockerParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        let parsed = serde_json::from_slice::<DockerLine>(&line)
            .ok()
            .and_then(|d| {
                let stream = Stream::parse(d.stream.as_bytes())?;
                let time = Timestamp::parse_rfc3339(&d.time).ok()?;
                Some((d.log, stream, time))
            });
        let Some((log, stream, time)) = parsed else {
            return out.push(unparsed(
                line,
                offset,
                now,
                "not a docker json-file log line",
            ));
        };
        let (text, last) = match log.strip_suffix('\n') {
            Some(text) => (text, true),
            None => (log.as_str(), false),
        };
        if let Some((offset, time, text, _)) =
            self.joiner
                .part(stream, offset, time, text.as_bytes(), last)
        {
            out.push(Parsed {
                time,
                record: Self::record(stream, text),
                offset,
                mismatch: None,
            });
        }
    }

    fn held_since(&self) -> Option<u64> {
        self.joiner.held_since()
    }

    fn flush(&mut self, out: &mut Vec<Parsed>) {
        for (stream, p) in self.joiner.take_all() {
            out.push(Parsed {
                time: p.time,
                record: Self::record(stream, p.text),
                offset: p.offset,
                mismatch: None,
            });
        }
    }

    fn flush_due(&self, now: Instant) -> bool {
        self.joiner.flush_due(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(parser: &mut dyn LineParser, lines: &[&str]) -> Vec<Parsed> {
        let mut out = Vec::new();
        let mut offset = 0;
        for line in lines {
            parser.feed(
                Bytes::copy_from_slice(line.as_bytes()),
                offset,
                Timestamp::new(1, 0).unwrap(),
                &mut out,
            );
            offset += line.len() as u64 + 1;
        }
        out
    }

    fn field(p: &Parsed, key: &str) -> Value {
        p.record.to_map()[key].clone()
    }

    #[test]
    fn cri_full_lines_keep_stream_tag_and_the_runtime_time() {
        let mut parser = CriParser::new(Duration::from_secs(5));
        let out = feed_all(
            &mut parser,
            &[
                "2026-12-02T10:00:00.123456789Z stdout F hello world",
                "2026-12-02T10:00:01Z stderr F oops: a  double  space",
                "2026-12-02T10:00:02Z stdout F",
            ],
        );
        assert_eq!(out.len(), 3);
        assert_eq!(field(&out[0], "message"), "hello world");
        assert_eq!(field(&out[0], "stream"), "stdout");
        assert_eq!(field(&out[0], "logtag"), "F");
        assert_eq!(out[0].time.to_rfc3339(), "2026-12-02T10:00:00.123456789Z");
        assert_eq!(field(&out[1], "message"), "oops: a  double  space");
        assert_eq!(field(&out[1], "stream"), "stderr");
        assert_eq!(field(&out[2], "message"), "");
        assert!(out.iter().all(|p| p.mismatch.is_none()));
        assert_eq!(parser.held_since(), None);
    }

    #[test]
    fn cri_partial_lines_join_per_stream_and_hold_the_position() {
        let mut parser = CriParser::new(Duration::from_secs(5));
        let lines = [
            "2026-12-02T10:00:00Z stdout P first ",
            "2026-12-02T10:00:00.5Z stderr F an error between the parts",
            "2026-12-02T10:00:01Z stdout P second ",
            "2026-12-02T10:00:02Z stdout F third",
        ];
        let mut out = feed_all(&mut parser, &lines[..3]);
        // The stderr line is out; the stdout line waits, and the position may not pass its
        // first part (offset 0).
        assert_eq!(out.len(), 1);
        assert_eq!(field(&out[0], "stream"), "stderr");
        assert_eq!(parser.held_since(), Some(0));
        let offset = lines[..3].iter().map(|l| l.len() as u64 + 1).sum();
        parser.feed(
            Bytes::from_static(lines[3].as_bytes()),
            offset,
            Timestamp::new(1, 0).unwrap(),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(field(&out[1], "message"), "first second third");
        assert_eq!(field(&out[1], "logtag"), "F");
        assert_eq!(out[1].offset, 0);
        assert_eq!(out[1].time.to_rfc3339(), "2026-12-02T10:00:00Z");
        assert_eq!(parser.held_since(), None);
    }

    #[test]
    fn cri_an_unfinished_line_is_flushed_as_partial() {
        let mut parser = CriParser::new(Duration::from_millis(0));
        let mut out = feed_all(&mut parser, &["2026-12-02T10:00:00Z stdout P cut off"]);
        assert!(out.is_empty());
        assert!(parser.flush_due(Instant::now()));
        parser.flush(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(field(&out[0], "message"), "cut off");
        assert_eq!(field(&out[0], "logtag"), "P");
        assert_eq!(parser.held_since(), None);
    }

    #[test]
    fn cri_an_endless_line_goes_out_in_bounded_records() {
        let mut parser = CriParser::new(Duration::from_secs(5));
        let part = format!("2026-12-02T10:00:00Z stdout P {}", "x".repeat(16 * 1024));
        let parts = MAX_JOINED / (16 * 1024) + 1;
        let lines: Vec<&str> = std::iter::repeat_n(part.as_str(), parts).collect();
        let out = feed_all(&mut parser, &lines);
        assert_eq!(out.len(), 1);
        let message = field(&out[0], "message");
        assert_eq!(message.as_str().unwrap().len(), MAX_JOINED);
        assert_eq!(field(&out[0], "logtag"), "P");
        // The part after the bound starts the next record, held from its own offset.
        let last_offset = (parts as u64 - 1) * (part.len() as u64 + 1);
        assert_eq!(parser.held_since(), Some(last_offset));
    }

    #[test]
    fn cri_invalid_lines_are_kept_whole_and_reported() {
        let mut parser = CriParser::new(Duration::from_secs(5));
        let bad = [
            "plain text",
            "2026-12-02T10:00:00Z stdin F wrong stream",
            "2026-12-02T10:00:00Z stdout X unknown tag",
            "yesterday stdout F bad time",
            "",
        ];
        let out = feed_all(&mut parser, &bad);
        assert_eq!(out.len(), bad.len());
        for (p, line) in out.iter().zip(bad) {
            assert_eq!(p.mismatch, Some("not a CRI log line"));
            assert!(matches!(&p.record, Record::Line(b) if b == line.as_bytes()));
        }
    }

    #[test]
    fn docker_lines_split_at_16k_are_joined() {
        let mut parser = DockerParser::new(Duration::from_secs(5));
        let first = "a".repeat(16 * 1024);
        let lines = [
            format!(r#"{{"log":"{first}","stream":"stdout","time":"2026-12-02T10:00:00.5Z"}}"#),
            r#"{"log":"warning\n","stream":"stderr","time":"2026-12-02T10:00:00.6Z"}"#.into(),
            r#"{"log":"tail\n","stream":"stdout","time":"2026-12-02T10:00:00.7Z"}"#.into(),
            r#"{"log":"{\"level\":\"info\"}\n","stream":"stdout","time":"2026-12-02T10:00:01Z"}"#
                .into(),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let out = feed_all(&mut parser, &refs);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(field(&out[0], "log"), "warning");
        assert_eq!(field(&out[0], "stream"), "stderr");
        assert_eq!(field(&out[1], "log"), format!("{first}tail").as_str());
        assert_eq!(out[1].offset, 0);
        assert_eq!(out[1].time.to_rfc3339(), "2026-12-02T10:00:00.500Z");
        assert_eq!(field(&out[2], "log"), r#"{"level":"info"}"#);
        assert_eq!(parser.held_since(), None);
    }

    #[test]
    fn docker_invalid_lines_are_kept_whole_and_reported() {
        let mut parser = DockerParser::new(Duration::from_secs(5));
        let bad = [
            "not json",
            r#"{"log":"x\n","stream":"stdout"}"#,
            r#"{"log":"x\n","stream":"elsewhere","time":"2026-12-02T10:00:00Z"}"#,
            r#"{"log":1,"stream":"stdout","time":"2026-12-02T10:00:00Z"}"#,
        ];
        let out = feed_all(&mut parser, &bad);
        assert_eq!(out.len(), bad.len());
        assert!(
            out.iter()
                .all(|p| p.mismatch == Some("not a docker json-file log line"))
        );
    }
}
