//! What flows through the pipeline: a tag, a time with nanoseconds, a record, and where the
//! record came from (so a sink can derive an idempotent `insertId`).

use std::sync::Arc;

use bytes::Bytes;
use gcloud_logging::Timestamp;
use serde_json::{Map, Value};

/// One log event.
#[derive(Debug, Clone)]
pub struct Event {
    pub tag: Arc<str>,
    /// For a `format none` line: when it was first read. It travels with the event, so every
    /// retry resends the same timestamp.
    pub time: Timestamp,
    pub record: Record,
    pub origin: Option<Origin>,
}

/// Where an event's bytes started: file identity and byte offset (plus the piece number when
/// one line was split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: u64,
    pub offset: u64,
}

/// A record: the raw line of `format none` (fluentd's `{"message": line}`, kept as bytes so the
/// hot path neither copies nor validates it), a JSON object line kept as its bytes, or a map.
#[derive(Debug, Clone)]
pub enum Record {
    Line(Bytes),
    Json(JsonLine),
    Map(Map<String, Value>),
}

/// A line `format json` accepted (validated, see [`gcloud_logging::transcode`]), kept as its
/// bytes: the google_cloud sink copies its members into the entry without building a map, and
/// anything that needs the map (a filter, the forward output) parses it then.
#[derive(Debug, Clone)]
pub struct JsonLine {
    pub line: Bytes,
    /// A top-level key the parser consumed (its `time_key`): not part of the record.
    pub without: Option<Arc<str>>,
}

impl JsonLine {
    /// One top-level field, parsed alone (a `grep` filter on a JSON line needs no map).
    pub fn get(&self, key: &str) -> Option<Value> {
        if self.without.as_deref() == Some(key) {
            return None;
        }
        let mut members = Vec::new();
        match gcloud_logging::transcode::scan_utf8_object(&self.line, &mut members) {
            Ok(()) => gcloud_logging::transcode::member_value(&self.line, &members, key),
            // Keys the scanner leaves to serde (escaped, repeated): the map decides.
            Err(_) => self.to_map().remove(key),
        }
    }

    /// The record as a map.
    pub fn to_map(&self) -> Map<String, Value> {
        // Only validated lines become a JsonLine.
        let mut map: Map<String, Value> = serde_json::from_slice(&self.line).unwrap_or_default();
        if let Some(key) = &self.without {
            map.remove(&**key);
        }
        map
    }
}

impl Record {
    /// The record as fluentd would show it.
    pub fn to_map(&self) -> Map<String, Value> {
        match self {
            Record::Line(line) => {
                let mut map = Map::new();
                map.insert(
                    "message".into(),
                    Value::String(String::from_utf8_lossy(line).into_owned()),
                );
                map
            }
            Record::Json(json) => json.to_map(),
            Record::Map(map) => map.clone(),
        }
    }

    /// Turns a line record into a map so a filter can change it.
    pub fn make_map(&mut self) -> &mut Map<String, Value> {
        if !matches!(self, Record::Map(_)) {
            *self = Record::Map(self.to_map());
        }
        match self {
            Record::Map(map) => map,
            Record::Line(_) | Record::Json(_) => unreachable!("converted above"),
        }
    }

    /// Approximate size in bytes, for batching.
    pub fn approx_size(&self) -> usize {
        match self {
            Record::Line(line) => line.len() + 16,
            Record::Json(json) => json.line.len() + 16,
            Record::Map(map) => {
                map.iter()
                    .map(|(k, v)| k.len() + value_size(v) + 4)
                    .sum::<usize>()
                    + 2
            }
        }
    }

    /// What the event holding this record costs in memory, for the buffers' byte bounds. A
    /// line (raw or JSON) is its bytes, as [`Record::approx_size`] counts them; a map costs
    /// several times its encoded size (tree nodes, a heap block per string), so it is counted
    /// as the allocator sees it. Measured against a counting allocator in `tests/memory.rs`.
    pub fn memory_size(&self) -> usize {
        match self {
            Record::Line(_) | Record::Json(_) => self.approx_size(),
            Record::Map(map) => std::mem::size_of::<Event>() + map_memory(map),
        }
    }

    /// Looks a field up the way fluentd's `record["key"]` does.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Record::Line(line) if key == "message" => {
                Some(Value::String(String::from_utf8_lossy(line).into_owned()))
            }
            Record::Line(_) => None,
            Record::Json(json) => json.get(key),
            Record::Map(map) => map.get(key).cloned(),
        }
    }
}

/// Slots of a B-tree node (std's `B = 6`: at most 11 keys).
const BTREE_NODE_SLOTS: usize = 11;

/// A heap block of `n` bytes as glibc's malloc hands it out: 8 bytes of header, 16-byte
/// steps, 32 bytes at least.
fn heap_block(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// The heap behind a map: its B-tree nodes (a leaf holds up to 11 key/value slots; a bigger
/// map's nodes are about two-thirds full, with internal nodes on top) and each key's and
/// value's own blocks.
fn map_memory(map: &Map<String, Value>) -> usize {
    let slot = std::mem::size_of::<String>() + std::mem::size_of::<Value>();
    let node = heap_block(BTREE_NODE_SLOTS * slot + 16);
    let nodes = match map.len() {
        0 => 0,
        n if n <= BTREE_NODE_SLOTS => 1,
        n => n.div_ceil(BTREE_NODE_SLOTS * 2 / 3) * 9 / 8,
    };
    nodes * node
        + map
            .iter()
            .map(|(k, v)| heap_block(k.len()) + value_memory(v))
            .sum::<usize>()
}

fn value_memory(value: &Value) -> usize {
    match value {
        Value::String(s) => heap_block(s.len()),
        Value::Array(items) => {
            heap_block(items.len() * std::mem::size_of::<Value>())
                + items.iter().map(value_memory).sum::<usize>()
        }
        Value::Object(map) => map_memory(map),
        _ => 0,
    }
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(value_size).sum::<usize>() + items.len() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + value_size(v) + 4)
                .sum::<usize>()
                + 2
        }
        _ => 8,
    }
}

/// A value rendered as the text a filter or regexp sees.
pub fn value_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => s.as_str().into(),
        other => other.to_string().into(),
    }
}
