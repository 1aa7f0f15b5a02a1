//! Parsers (`format` / `<parse>`): turn one line — or, for `multiline`, `python`, `cri` and
//! `docker`, a group of lines — into an event time and record. A line a parser cannot read is never dropped: it is
//! kept as a plain `message` record and reported, so nothing is lost to a format mismatch.

mod config;
mod container;
mod multiline;
pub mod time;

use std::sync::Arc;

use bytes::Bytes;
use gcloud_logging::{Timestamp, transcode};
use regex::Regex;
use serde_json::{Map, Value};

use crate::event::{JsonLine, Record};

pub use config::{FieldType, ParserConfig, TimeConfig};
pub use container::{CriParser, DockerParser};
pub use multiline::MultilineParser;

/// A finished record, with the file offset of its first byte.
#[derive(Debug)]
pub struct Parsed {
    pub time: Timestamp,
    pub record: Record,
    pub offset: u64,
    /// Set when the line did not fit the format and was kept as plain text.
    pub mismatch: Option<&'static str>,
}

/// One parser instance per followed file (multiline parsers hold state).
pub trait LineParser: Send {
    /// Feeds one line without its newline. `now` is the read time, used when the record has
    /// no time of its own.
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>);

    /// Offset of the first line of a record still being assembled: the position must not move
    /// past it until the record is finished.
    fn held_since(&self) -> Option<u64> {
        None
    }

    /// Emits a record still being assembled (flush interval passed, file closed, draining).
    fn flush(&mut self, _out: &mut Vec<Parsed>) {}

    /// True when a record has been held longer than `multiline_flush_interval`.
    fn flush_due(&self, _now: std::time::Instant) -> bool {
        false
    }
}

/// `format none`: the line is the `message`.
pub struct NoneParser {
    pub message_key: Option<String>,
}

impl LineParser for NoneParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        let record = match &self.message_key {
            None => Record::Line(line),
            Some(key) => {
                let mut map = Map::new();
                map.insert(key.clone(), lossy(&line));
                Record::Map(map)
            }
        };
        out.push(Parsed {
            time: now,
            record,
            offset,
            mismatch: None,
        });
    }
}

/// `format json`. A line is validated and kept as its bytes ([`Record::Json`]); only its
/// `time_key` is parsed here. Lines the fast scanner leaves to serde (a key written with escapes,
/// a repeated key, very deep nesting) become a map the usual way.
pub struct JsonParser {
    time: TimeConfig,
    /// `time.key`, shared by every record that leaves it out.
    time_key: Option<Arc<str>>,
    members: Vec<transcode::Member>,
}

impl JsonParser {
    pub fn new(time: TimeConfig) -> JsonParser {
        JsonParser {
            time_key: time.key.as_deref().map(Arc::from),
            time,
            members: Vec::new(),
        }
    }
}

impl JsonParser {
    /// [`TimeConfig::keeps_key`] for the line `self.members` located, looking only at the
    /// (rarely present) members that can carry a time of the record's own.
    fn own_time_outranks_key(&self, line: &[u8]) -> bool {
        let mut own = Map::new();
        for key in [
            gcloud_logging::lift::TIMESTAMP_KEY,
            gcloud_logging::lift::TIMESTAMP_SECONDS_KEY,
            gcloud_logging::lift::TIMESTAMP_NANOS_KEY,
        ] {
            if let Some(value) = transcode::member_value(line, &self.members, key) {
                own.insert(key.to_owned(), value);
            }
        }
        !own.is_empty() && TimeConfig::keeps_key(&own)
    }
}

impl LineParser for JsonParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        match transcode::scan_object(&line, &mut self.members) {
            Ok(()) => {
                let time = self.time_key.as_ref().and_then(|key| {
                    let value = transcode::member_value(&line, &self.members, key)?;
                    self.time.read(&value)
                });
                let without = match time {
                    Some(_) if !self.time.keep && !self.own_time_outranks_key(&line) => {
                        self.time_key.clone()
                    }
                    _ => None,
                };
                out.push(Parsed {
                    time: time.unwrap_or(now),
                    record: Record::Json(JsonLine { line, without }),
                    offset,
                    mismatch: None,
                });
            }
            Err(transcode::ScanError::Unsupported) => {
                out.push(match serde_json::from_slice::<Map<String, Value>>(&line) {
                    Ok(mut map) => Parsed {
                        time: self.time.take(&mut map).unwrap_or(now),
                        record: Record::Map(map),
                        offset,
                        mismatch: None,
                    },
                    Err(_) => unparsed(line, offset, now, "not a JSON object"),
                })
            }
            Err(transcode::ScanError::NotAnObject) => {
                out.push(unparsed(line, offset, now, "not a JSON object"))
            }
        }
    }
}

/// `format /regexp/`, `<parse> @type regexp`, and the `apache2`/`nginx`/`syslog` presets.
pub struct RegexpParser {
    pub regex: Regex,
    pub time: TimeConfig,
    pub types: Vec<(String, FieldType)>,
}

impl RegexpParser {
    fn parse_text(&self, text: &str) -> Option<Map<String, Value>> {
        let captures = self.regex.captures(text)?;
        let mut map = Map::new();
        for name in self.regex.capture_names().flatten() {
            if let Some(m) = captures.name(name) {
                map.insert(name.to_string(), Value::String(m.as_str().to_string()));
            }
        }
        apply_types(&mut map, &self.types);
        Some(map)
    }
}

impl LineParser for RegexpParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        let text = String::from_utf8_lossy(&line);
        out.push(match self.parse_text(&text) {
            Some(mut map) => Parsed {
                time: self.time.take(&mut map).unwrap_or(now),
                record: Record::Map(map),
                offset,
                mismatch: None,
            },
            None => unparsed(line, offset, now, "pattern not matched"),
        });
    }
}

/// `format ltsv`: `key:value<TAB>key:value`.
pub struct LtsvParser {
    pub time: TimeConfig,
}

impl LineParser for LtsvParser {
    fn feed(&mut self, line: Bytes, offset: u64, now: Timestamp, out: &mut Vec<Parsed>) {
        let text = String::from_utf8_lossy(&line);
        let mut map = Map::new();
        for field in text.split('\t') {
            if let Some((k, v)) = field.split_once(':') {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
        if map.is_empty() {
            return out.push(unparsed(line, offset, now, "not LTSV"));
        }
        out.push(Parsed {
            time: self.time.take(&mut map).unwrap_or(now),
            record: Record::Map(map),
            offset,
            mismatch: None,
        });
    }
}

fn unparsed(line: Bytes, offset: u64, now: Timestamp, why: &'static str) -> Parsed {
    Parsed {
        time: now,
        record: Record::Line(line),
        offset,
        mismatch: Some(why),
    }
}

pub(crate) fn lossy(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

/// Applies `types key:integer,key2:float,...`.
pub(crate) fn apply_types(map: &mut Map<String, Value>, types: &[(String, FieldType)]) {
    for (key, kind) in types {
        let Some(Value::String(text)) = map.get(key) else {
            continue;
        };
        let converted = match kind {
            FieldType::String => continue,
            FieldType::Integer => text.trim().parse::<i64>().ok().map(Value::from),
            FieldType::Float => text.trim().parse::<f64>().ok().map(Value::from),
            FieldType::Bool => Some(Value::Bool(text == "true" || text == "yes" || text == "1")),
            FieldType::Array(sep) => Some(Value::Array(
                text.split(sep.as_str())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )),
            FieldType::Time(format) => {
                let ts = match format {
                    Some(f) => time::strptime(text, f),
                    None => time::parse_any(text),
                };
                ts.map(|t| Value::String(t.to_rfc3339()))
            }
        };
        if let Some(value) = converted {
            map.insert(key.clone(), value);
        }
    }
}

#[cfg(test)]
mod tests;
