//! Records that span lines: fluentd's `multiline` parser (`format_firstline` starts a record,
//! `format1..N` parse the joined text) and logferry's `python` preset, which keeps a Python
//! traceback — and the `logger.exception` line before it — in one event.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gcloud_logging::Timestamp;
use regex::Regex;
use serde_json::{Map, Value};

use super::config::{FieldType, TimeConfig};
use super::{LineParser, Parsed, apply_types, lossy};
use crate::event::Record;

pub enum Grouping {
    FirstLine(Regex),
    Python,
}

/// Python's default `logging` shape, `%(asctime)s %(levelname)s %(name)s: %(message)s`,
/// and the basicConfig one, `%(levelname)s:%(name)s:%(message)s`.
static PYTHON_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)^(?:(?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d+)?)\s+(?:\[?(?P<severity>[A-Z]+)\]?)\s+(?:(?P<logger>[\w.\-]+):\s)?|(?P<severity2>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<logger2>[\w.\-]*):)(?P<message>.*)$",
    )
    .expect("static regex")
});

pub struct MultilineParser {
    grouping: Grouping,
    body: Option<Regex>,
    time: TimeConfig,
    types: Vec<(String, FieldType)>,
    flush_after: Duration,
    pending: Option<Pending>,
    python: PythonState,
}

struct Pending {
    text: Vec<u8>,
    offset: u64,
    read_time: Timestamp,
    since: Instant,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum PythonState {
    #[default]
    Normal,
    /// Inside `Traceback (most recent call last):` frames.
    Frames,
    /// After the exception line: chained exceptions may follow.
    AfterException,
}

impl MultilineParser {
    pub fn new(
        grouping: Grouping,
        body: Option<Regex>,
        time: TimeConfig,
        types: Vec<(String, FieldType)>,
        flush_after: Duration,
    ) -> Self {
        Self {
            grouping,
            body,
            time,
            types,
            flush_after,
            pending: None,
            python: PythonState::Normal,
        }
    }

    pub fn python(flush_after: Duration) -> Self {
        Self::new(
            Grouping::Python,
            None,
            TimeConfig {
                key: Some("time".into()),
                format: None,
                keep: false,
            },
            Vec::new(),
            flush_after,
        )
    }

    fn starts_record(&mut self, line: &str) -> bool {
        match &self.grouping {
            Grouping::FirstLine(regex) => regex.is_match(line),
            Grouping::Python => {
                let (starts, next) = python_step(self.python, line);
                self.python = next;
                starts
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let text = String::from_utf8_lossy(&pending.text);
        let parsed = match (&self.grouping, &self.body) {
            (Grouping::Python, _) => Some(python_record(&text)),
            (Grouping::FirstLine(_), Some(body)) => body.captures(&text).map(|c| {
                let mut map = Map::new();
                for name in body.capture_names().flatten() {
                    if let Some(m) = c.name(name) {
                        map.insert(name.to_string(), Value::String(m.as_str().to_string()));
                    }
                }
                map
            }),
            (Grouping::FirstLine(_), None) => {
                let mut map = Map::new();
                map.insert("message".into(), Value::String(text.clone().into_owned()));
                Some(map)
            }
        };
        out.push(match parsed {
            Some(mut map) => {
                apply_types(&mut map, &self.types);
                Parsed {
                    time: self.time.take(&mut map).unwrap_or(pending.read_time),
                    record: Record::Map(map),
                    offset: pending.offset,
                    mismatch: None,
                }
            }
            None => {
                let mut map = Map::new();
                map.insert("message".into(), lossy(&pending.text));
                Parsed {
                    time: pending.read_time,
                    record: Record::Map(map),
                    offset: pending.offset,
                    mismatch: Some("pattern not matched"),
                }
            }
        });
    }
}

impl LineParser for MultilineParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        let text = String::from_utf8_lossy(&line);
        let starts = self.starts_record(&text);
        match &mut self.pending {
            Some(pending) if !starts => {
                pending.text.push(b'\n');
                pending.text.extend_from_slice(&line);
            }
            _ => {
                self.finish(out);
                self.pending = Some(Pending {
                    text: line.to_vec(),
                    offset,
                    read_time: now,
                    since: Instant::now(),
                });
            }
        }
    }

    fn held_since(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.offset)
    }

    fn flush(&mut self, out: &mut Vec<Parsed>) {
        self.finish(out);
        self.python = PythonState::Normal;
    }

    fn flush_due(&self, now: Instant) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|p| now.saturating_duration_since(p.since) >= self.flush_after)
    }
}

/// Decides whether `line` starts a new record, given where we are in a traceback.
fn python_step(state: PythonState, line: &str) -> (bool, PythonState) {
    let indented = line.starts_with(' ') || line.starts_with('\t');
    if line.starts_with("Traceback (most recent call last):") {
        return (false, PythonState::Frames);
    }
    match state {
        PythonState::Frames if indented => (false, PythonState::Frames),
        // The first unindented line after the frames names the exception.
        PythonState::Frames => (false, PythonState::AfterException),
        PythonState::AfterException
            if line.is_empty()
                || line.starts_with("During handling of the above exception")
                || line.starts_with("The above exception was the direct cause")
                || indented =>
        {
            (false, PythonState::AfterException)
        }
        // A multi-line exception message continues until the next log line.
        PythonState::AfterException if !PYTHON_LINE.is_match(line) => {
            (false, PythonState::AfterException)
        }
        _ if indented && !line.trim().is_empty() && state == PythonState::Normal => {
            (false, PythonState::Normal)
        }
        _ => (true, PythonState::Normal),
    }
}

/// `{"time", "severity", "logger", "message"}` from a Python log record's text.
fn python_record(text: &str) -> Map<String, Value> {
    let mut map = Map::new();
    match PYTHON_LINE.captures(text) {
        Some(c) => {
            if let Some(t) = c.name("time") {
                map.insert("time".into(), Value::String(t.as_str().replace(',', ".")));
            }
            if let Some(s) = c.name("severity").or(c.name("severity2")) {
                map.insert("severity".into(), Value::String(s.as_str().to_string()));
            }
            if let Some(l) = c.name("logger").or(c.name("logger2")) {
                map.insert("logger".into(), Value::String(l.as_str().to_string()));
            }
            let message = c.name("message").map(|m| m.as_str()).unwrap_or(text);
            map.insert("message".into(), Value::String(message.to_string()));
        }
        None => {
            map.insert("message".into(), Value::String(text.to_string()));
        }
    }
    map
}
