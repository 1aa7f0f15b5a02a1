//! Turns a chunk of events into `entries:write` request bodies that each fit Cloud Logging's
//! limits: entries are written straight into the request buffer (a `format none` line with the
//! hand-written encoder, a map through `lift_record` and serde), a request is closed before it
//! would pass `max_request_bytes`, and an entry over `max_entry_bytes` is split into parts linked by
//! `LogEntry.split` (or truncated with a marker) instead of taking its request down.
//!
//! Encoding is deterministic: the same events always give the same requests, the same insertIds
//! and the same timestamps, so a resent chunk is deduplicated by Cloud Logging.

use std::ops::Range;
use std::sync::Arc;

use gcloud_logging::encode::{
    END_REQUEST_BYTES, EntryEncoder, TextEntry, begin_request, encode_entry, end_request,
};
use gcloud_logging::ids::{ContentRecord, InsertId};
use gcloud_logging::lift::lift_detected_json;
use gcloud_logging::transcode::{self, JsonEntry, ScanError};
use gcloud_logging::{LogSplit, WriteLogEntriesRequest, lift_record, log_name};
use serde_json::{Map, Value};

use super::config::OversizeEntries;
use super::kubernetes::{self, K8sSettings, K8sShape};
use super::oversize::{split_entry, split_text, truncation_marker, with_split_index};
use crate::event::{Event, Record};

/// What every request of a sink shares, and the limits.
#[derive(Debug, Clone)]
pub struct EncodeSettings {
    pub project_id: String,
    /// `resource`, `labels` and `partialSuccess` of every request.
    pub header: WriteLogEntriesRequest,
    pub split_logs_by_tag: bool,
    pub detect_json: bool,
    pub max_request_bytes: usize,
    pub max_entry_bytes: usize,
    pub oversize: OversizeEntries,
    /// Records that name their container become `k8s_container` entries (see
    /// [`super::kubernetes`]); `None` when `resource_type` forces another type.
    pub k8s: Option<K8sSettings>,
}

/// One complete request body and where each entry sits in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub body: Vec<u8>,
    /// Length of the `{…,"entries":[` prefix.
    pub header_len: usize,
    pub entries: Vec<Range<usize>>,
    /// The request's `logName` (with `split_logs_by_tag`).
    pub log_name: Option<Arc<str>>,
}

impl Batch {
    /// The JSON of entry `i`.
    pub fn entry(&self, i: usize) -> &[u8] {
        &self.body[self.entries[i].clone()]
    }

    /// A request with the same header and only the entries at `keep` (in that order).
    pub fn subset(&self, keep: impl IntoIterator<Item = usize>) -> Batch {
        let mut body = Vec::with_capacity(self.body.len());
        body.extend_from_slice(&self.body[..self.header_len]);
        let mut entries = Vec::new();
        for i in keep {
            if !entries.is_empty() {
                body.push(b',');
            }
            let start = body.len();
            body.extend_from_slice(self.entry(i));
            entries.push(start..body.len());
        }
        end_request(&mut body);
        Batch {
            body,
            header_len: self.header_len,
            entries,
            log_name: self.log_name.clone(),
        }
    }
}

/// An entry that cannot be sent at all (too large and nothing in it can be split).
#[derive(Debug, Clone)]
pub struct Unsendable {
    pub entry_json: Vec<u8>,
    pub reason: String,
}

/// A chunk, encoded.
#[derive(Debug, Default)]
pub struct Encoded {
    pub batches: Vec<Batch>,
    pub unsendable: Vec<Unsendable>,
    /// Entries in `batches`, split parts counted one by one.
    pub entries: usize,
}

/// What one entry adds to its record's size for ordinary lines (`timestamp`, `insertId`, keys:
/// ~110 bytes; `logName` when the chunk has several tags): request buffers are sized from it,
/// so one is allocated once at about its final size instead of doubling its way there. A
/// request that outgrows it is reallocated, which for a mapped buffer moves no bytes.
const ENTRY_OVERHEAD_BYTES: usize = 128;

/// Encodes `events` into requests; see the module docs.
pub fn encode_chunk(settings: &EncodeSettings, events: &[Event]) -> Encoded {
    encode_chunk_into(settings, events, None)
}

/// [`encode_chunk`], writing the first request into `spare` (a delivered request's buffer) when
/// it is large enough: its pages are already the process's, where a new buffer costs a page
/// fault per 4 KiB written.
pub fn encode_chunk_into(
    settings: &EncodeSettings,
    events: &[Event],
    spare: Option<Vec<u8>>,
) -> Encoded {
    let estimate: usize = events
        .iter()
        .map(|e| e.record.approx_size() + ENTRY_OVERHEAD_BYTES)
        .sum();
    // A chunk of one tag (a sidecar's usual chunk) names its log once, in the request, rather
    // than in every entry: ~50 bytes less per entry, which Cloud Logging reads the same way.
    let one_tag = events.split_first().is_some_and(|(first, rest)| {
        rest.iter()
            .all(|e| Arc::ptr_eq(&e.tag, &first.tag) || e.tag == first.tag)
    });
    let mut state = ChunkEncoder {
        settings,
        by_tag: settings.split_logs_by_tag || one_tag,
        request_capacity: estimate.min(settings.max_request_bytes),
        events: events.len(),
        spare,
        text: EntryEncoder::new(),
        out: Encoded::default(),
        builders: Vec::new(),
        last_log_name: None,
        scratch: Vec::new(),
        members: Vec::new(),
    };
    for (position, event) in events.iter().enumerate() {
        state.encode_event(position, event);
    }
    let mut out = state.out;
    for (_, builder) in state.builders {
        builder.finish(&mut out.batches);
    }
    out.entries = out.batches.iter().map(|b| b.entries.len()).sum();
    out
}

struct ChunkEncoder<'a> {
    settings: &'a EncodeSettings,
    /// One request per tag, naming its log in the request (`split_logs_by_tag`, or a chunk
    /// of one tag).
    by_tag: bool,
    /// What a new request buffer is allocated with.
    request_capacity: usize,
    /// Events in the chunk.
    events: usize,
    /// A buffer to reuse for the first request.
    spare: Option<Vec<u8>>,
    text: EntryEncoder,
    out: Encoded,
    /// One per tag when `by_tag`, else one.
    builders: Vec<(Arc<str>, BatchBuilder)>,
    last_log_name: Option<(Arc<str>, Arc<str>)>,
    scratch: Vec<u8>,
    /// Members of the JSON line being encoded.
    members: Vec<transcode::Member>,
}

impl ChunkEncoder<'_> {
    fn log_name_of(&mut self, tag: &Arc<str>) -> Arc<str> {
        if let Some((t, name)) = &self.last_log_name
            && t == tag
        {
            return name.clone();
        }
        let name: Arc<str> = log_name(&self.settings.project_id, tag).into();
        self.last_log_name = Some((tag.clone(), name.clone()));
        name
    }

    fn builder_index(&mut self, tag: &Arc<str>) -> usize {
        // Asked per event: find the builder without allocating a key.
        let found = if self.by_tag {
            self.builders.iter().position(|(t, _)| t == tag)
        } else {
            (!self.builders.is_empty()).then_some(0)
        };
        if let Some(i) = found {
            return i;
        }
        let key: Arc<str> = if self.by_tag {
            tag.clone()
        } else {
            Arc::from("")
        };
        if let Some(i) = self.builders.iter().position(|(t, _)| *t == key) {
            return i;
        }
        let mut header = self.settings.header.clone();
        header.entries.clear();
        let log_name = self.by_tag.then(|| self.log_name_of(tag));
        header.log_name = log_name.as_deref().map(str::to_owned);
        let mut prefix = Vec::new();
        // Serializing plain strings and maps cannot fail.
        let _ = begin_request(&mut prefix, &header);
        self.builders.push((
            key,
            BatchBuilder {
                prefix,
                log_name,
                limit: self.settings.max_request_bytes,
                capacity: self.request_capacity,
                entries: self.events,
                spare: self.spare.take(),
                current: None,
            },
        ));
        self.builders.len() - 1
    }

    fn encode_event(&mut self, position: usize, event: &Event) {
        let b = self.builder_index(&event.tag);
        let entry_log_name = (!self.by_tag).then(|| self.log_name_of(&event.tag));
        let base_id = base_insert_id(position, event);
        let entry_max = self
            .settings
            .max_entry_bytes
            .min(self.builders[b].1.entry_room());
        match &event.record {
            Record::Line(line) => {
                if self.settings.detect_json && starts_like_object(line) {
                    match transcode::scan_object(line, &mut self.members) {
                        Ok(()) => {
                            let json = (line.as_ref(), None);
                            return self.encode_json(
                                b,
                                json,
                                Detected::Json,
                                event,
                                entry_log_name,
                                base_id,
                                entry_max,
                            );
                        }
                        Err(ScanError::Unsupported) => {
                            if let Ok(map) = serde_json::from_slice(line) {
                                let map = (map, Detected::Json);
                                return self.encode_map(
                                    b,
                                    map,
                                    event,
                                    entry_log_name,
                                    base_id,
                                    entry_max,
                                );
                            }
                        }
                        Err(ScanError::NotAnObject) => {}
                    }
                }
                let entry = TextEntry {
                    text: line,
                    timestamp: event.time,
                    insert_id: base_id.as_str(),
                    severity: None,
                    labels_json: None,
                    log_name: entry_log_name.as_deref(),
                    split: None,
                };
                let builder = &mut self.builders[b].1;
                let (start, entry_start) = builder.begin();
                let body = builder.body();
                self.text.encode_text(body, &entry);
                if body.len() - entry_start <= entry_max {
                    builder.commit(start, entry_start, &mut self.out.batches);
                    return;
                }
                builder.rollback(start);
                self.encode_long_text(
                    b,
                    line,
                    event,
                    entry_log_name.as_deref(),
                    &base_id,
                    entry_max,
                );
            }
            // The parser validated the line, UTF-8 included.
            Record::Json(json) => {
                match transcode::scan_utf8_object(&json.line, &mut self.members) {
                    Ok(()) => {
                        let raw = (json.line.as_ref(), json.without.as_deref());
                        let record = Detected::Record;
                        self.encode_json(b, raw, record, event, entry_log_name, base_id, entry_max)
                    }
                    Err(_) => {
                        let map = (json.to_map(), Detected::Record);
                        self.encode_map(b, map, event, entry_log_name, base_id, entry_max)
                    }
                }
            }
            Record::Map(map) => {
                if let Some(k8s) = &self.settings.k8s
                    && let Some(shaped) = kubernetes::shape(k8s, map, self.settings.detect_json)
                {
                    let detected = if shaped.detected_json {
                        Detected::Json
                    } else {
                        Detected::Record
                    };
                    let map = (shaped.payload, detected);
                    let shape = Some(shaped.shape);
                    return self.encode_shaped(
                        b,
                        map,
                        shape,
                        event,
                        entry_log_name,
                        base_id,
                        entry_max,
                    );
                }
                let map = (map.clone(), Detected::Record);
                self.encode_map(b, map, event, entry_log_name, base_id, entry_max)
            }
        }
    }

    /// A JSON object line whose members `self.members` located: lifted and copied straight
    /// into the request ([`JsonEntry`]). `json` is the line and a key to leave out. An entry
    /// too large for one request goes the general way, which splits it.
    #[allow(clippy::too_many_arguments)]
    fn encode_json(
        &mut self,
        b: usize,
        json: (&[u8], Option<&str>),
        detected: Detected,
        event: &Event,
        log_name: Option<Arc<str>>,
        base_id: InsertId,
        entry_max: usize,
    ) {
        let (line, without_key) = json;
        let entry = JsonEntry {
            line,
            members: &self.members,
            without_key,
            project_id: &self.settings.project_id,
            timestamp: event.time,
            insert_id: base_id.as_str(),
            log_name: log_name.as_deref(),
            detected_json: detected == Detected::Json,
        };
        let builder = &mut self.builders[b].1;
        let (start, entry_start) = builder.begin();
        entry.encode(builder.body());
        if builder.body().len() - entry_start <= entry_max {
            builder.commit(start, entry_start, &mut self.out.batches);
            return;
        }
        builder.rollback(start);
        let mut map: Map<String, Value> = serde_json::from_slice(line).unwrap_or_default();
        if let Some(key) = without_key {
            map.remove(key);
        }
        self.encode_map(b, (map, detected), event, log_name, base_id, entry_max);
    }

    fn encode_long_text(
        &mut self,
        b: usize,
        text: &[u8],
        event: &Event,
        log_name: Option<&str>,
        base_id: &InsertId,
        entry_max: usize,
    ) {
        let widest_split = LogSplit {
            uid: base_id.as_str().to_owned(),
            index: i32::MAX,
            total_splits: i32::MAX,
        };
        let widest_id = InsertId::new(0, 0, Some(u32::MAX));
        let entry = TextEntry {
            text: b"",
            timestamp: event.time,
            insert_id: widest_id.as_str(),
            severity: None,
            labels_json: None,
            log_name,
            split: Some(&widest_split),
        };
        self.scratch.clear();
        self.text.encode_text(&mut self.scratch, &entry);
        let overhead = self.scratch.len() + 2;
        let budget = entry_max.saturating_sub(overhead);
        if budget < 16 {
            self.out.unsendable.push(Unsendable {
                entry_json: self.scratch.clone(),
                reason: format!("entry overhead alone exceeds {entry_max} bytes"),
            });
            return;
        }
        let builder = &mut self.builders[b].1;
        match self.settings.oversize {
            OversizeEntries::Split => {
                let parts = split_text(text, budget);
                let total = parts.len();
                for (i, range) in parts.into_iter().enumerate() {
                    let split = LogSplit {
                        uid: base_id.as_str().to_owned(),
                        index: i as i32,
                        total_splits: total as i32,
                    };
                    let id = with_split_index(base_id.as_str(), i);
                    let part = TextEntry {
                        text: &text[range],
                        insert_id: &id,
                        split: Some(&split),
                        ..entry
                    };
                    let (start, entry_start) = builder.begin();
                    self.text.encode_text(builder.body(), &part);
                    builder.commit(start, entry_start, &mut self.out.batches);
                }
            }
            OversizeEntries::Truncate => {
                let marker = truncation_marker(text.len(), text.len());
                let kept = split_text(text, budget.saturating_sub(marker.len()))
                    .first()
                    .map_or(0, |r| r.end);
                let mut cut = text[..kept].to_vec();
                cut.extend_from_slice(truncation_marker(kept, text.len()).as_bytes());
                let whole = TextEntry {
                    text: &cut,
                    insert_id: base_id.as_str(),
                    split: None,
                    ..entry
                };
                let (start, entry_start) = builder.begin();
                self.text.encode_text(builder.body(), &whole);
                builder.commit(start, entry_start, &mut self.out.batches);
            }
        }
    }

    fn encode_map(
        &mut self,
        b: usize,
        map: (Map<String, Value>, Detected),
        event: &Event,
        log_name: Option<Arc<str>>,
        base_id: InsertId,
        entry_max: usize,
    ) {
        self.encode_shaped(b, map, None, event, log_name, base_id, entry_max)
    }

    /// [`Self::encode_map`], with what a container record's Kubernetes fields give its entry.
    #[allow(clippy::too_many_arguments)]
    fn encode_shaped(
        &mut self,
        b: usize,
        map: (Map<String, Value>, Detected),
        shape: Option<K8sShape>,
        event: &Event,
        log_name: Option<Arc<str>>,
        base_id: InsertId,
        entry_max: usize,
    ) {
        let mut entry = match map {
            (map, Detected::Json) => lift_detected_json(map, &self.settings.project_id),
            (map, Detected::Record) => lift_record(map, &self.settings.project_id),
        };
        entry.timestamp.get_or_insert(event.time);
        entry
            .insert_id
            .get_or_insert_with(|| base_id.as_str().to_owned());
        entry.log_name = log_name.map(|n| n.to_string());
        if let Some(shape) = shape {
            shape.apply(&mut entry, &self.settings.project_id);
        }
        let builder = &mut self.builders[b].1;
        let (start, entry_start) = builder.begin();
        // Serializing a LogEntry (strings, maps, numbers) into a Vec cannot fail.
        let _ = encode_entry(builder.body(), &entry);
        let size = builder.body().len() - entry_start;
        if size <= entry_max {
            builder.commit(start, entry_start, &mut self.out.batches);
            return;
        }
        builder.rollback(start);
        match split_entry(entry, entry_max, self.settings.oversize) {
            Ok(parts) => {
                for part in parts {
                    let (start, entry_start) = builder.begin();
                    let _ = encode_entry(builder.body(), &part);
                    builder.commit(start, entry_start, &mut self.out.batches);
                }
            }
            Err(failed) => self.out.unsendable.push(Unsendable {
                entry_json: serde_json::to_vec(&failed.0).unwrap_or_default(),
                reason: failed.1,
            }),
        }
    }
}

/// Where a JSON object came from: a structured record, or a text line `detect_json` found to be
/// JSON (whose payload is always `jsonPayload`, see [`lift_detected_json`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    Record,
    Json,
}

/// Fills requests for one header, starting a new one before the limit would be passed.
struct BatchBuilder {
    prefix: Vec<u8>,
    log_name: Option<Arc<str>>,
    limit: usize,
    /// What a new request's buffer starts with.
    capacity: usize,
    /// Room for this many entries in a new request (the chunk's events).
    entries: usize,
    /// A buffer to reuse for the next request.
    spare: Option<Vec<u8>>,
    current: Option<Batch>,
}

impl BatchBuilder {
    /// The most one entry may take in an otherwise empty request.
    fn entry_room(&self) -> usize {
        self.limit
            .saturating_sub(self.prefix.len() + END_REQUEST_BYTES)
    }

    fn batch(&mut self) -> &mut Batch {
        self.current.get_or_insert_with(|| {
            let need = self.capacity + self.prefix.len() + END_REQUEST_BYTES;
            // A spare keeps resident the pages its last request wrote: reuse it only for a
            // request expected to write as much.
            let mut body = match self.spare.take() {
                Some(mut spare) if spare.capacity() >= need && spare.len() <= need => {
                    spare.clear();
                    spare
                }
                _ => Vec::with_capacity(need),
            };
            body.extend_from_slice(&self.prefix);
            Batch {
                body,
                header_len: self.prefix.len(),
                entries: Vec::with_capacity(self.entries),
                log_name: self.log_name.clone(),
            }
        })
    }

    fn body(&mut self) -> &mut Vec<u8> {
        &mut self.batch().body
    }

    /// Starts an entry: returns where it (with its separator) and its JSON start.
    fn begin(&mut self) -> (usize, usize) {
        let batch = self.batch();
        let start = batch.body.len();
        if !batch.entries.is_empty() {
            batch.body.push(b',');
        }
        (start, batch.body.len())
    }

    fn rollback(&mut self, start: usize) {
        self.body().truncate(start);
    }

    /// Keeps the entry written since `begin`, moving it to a new request if this one would
    /// exceed the limit.
    fn commit(&mut self, start: usize, entry_start: usize, done: &mut Vec<Batch>) {
        let limit = self.limit;
        let batch = self.batch();
        if batch.body.len() + END_REQUEST_BYTES > limit && !batch.entries.is_empty() {
            let entry = batch.body[entry_start..].to_vec();
            batch.body.truncate(start);
            if let Some(mut full) = self.current.take() {
                end_request(&mut full.body);
                done.push(full);
            }
            let batch = self.batch();
            let at = batch.body.len();
            batch.body.extend_from_slice(&entry);
            batch.entries.push(at..batch.body.len());
        } else {
            let end = batch.body.len();
            batch.entries.push(entry_start..end);
        }
    }

    fn finish(mut self, done: &mut Vec<Batch>) {
        if let Some(mut batch) = self.current.take()
            && !batch.entries.is_empty()
        {
            end_request(&mut batch.body);
            done.push(batch);
        }
    }
}

/// The insertId of an event: from its file and offset, else from its contents and its position
/// in the chunk ([`InsertId::from_content`], a fixed and versioned function: stable for every
/// resend of the chunk, whatever logferry build sends it).
fn base_insert_id(position: usize, event: &Event) -> InsertId {
    if let Some(origin) = event.origin {
        return InsertId::new(origin.file, origin.offset, None);
    }
    let position = position as u64;
    let content = |record| InsertId::from_content(&event.tag, event.time, record, position);
    match &event.record {
        Record::Line(line) => content(ContentRecord::Bytes(line)),
        Record::Json(json) if json.without.is_none() => content(ContentRecord::Bytes(&json.line)),
        // A map, or a JSON line less the key its parser consumed, as its compact JSON. (Behind a
        // disk buffer the sink only ever sees the records read back from it, all in one form.)
        Record::Json(json) => content(ContentRecord::Json(
            &serde_json::to_vec(&json.to_map()).unwrap_or_default(),
        )),
        Record::Map(map) => content(ContentRecord::Json(
            &serde_json::to_vec(map).unwrap_or_default(),
        )),
    }
}

/// Whether a line may be a JSON object (for `detect_json`), before validating it.
fn starts_like_object(line: &[u8]) -> bool {
    line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}
