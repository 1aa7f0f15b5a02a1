//! Entries over Cloud Logging's size limit: cut into parts linked by `LogEntry.split` at their
//! text payload or largest string field, or truncated with a marker.

use std::ops::Range;

use gcloud_logging::{LogEntry, LogSplit};
use serde_json::Value;

use super::config::OversizeEntries;

/// The insertId of part `index` of a split entry whose own insertId is `base`.
pub(super) fn with_split_index(base: &str, index: usize) -> String {
    format!("{base}-{index:08x}")
}

pub(super) fn truncation_marker(kept: usize, total: usize) -> String {
    format!("…[truncated by logferry: {kept} of {total} bytes kept]")
}

/// Cuts `text` into ranges whose JSON-escaped form takes at most `budget` bytes each, on UTF-8
/// character boundaries (an invalid sequence, sent as U+FFFD, is never cut either).
pub fn split_text(text: &[u8], budget: usize) -> Vec<Range<usize>> {
    let budget = budget.max(6);
    let mut parts = Vec::new();
    let (mut start, mut pos, mut used) = (0usize, 0usize, 0usize);
    let mut take = |len: usize, cost: usize, pos: &mut usize| {
        if used + cost > budget && *pos > start {
            parts.push(start..*pos);
            start = *pos;
            used = 0;
        }
        used += cost;
        *pos += len;
    };
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            let cost = match c {
                '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
                c if (c as u32) < 0x20 => 6,
                c => c.len_utf8(),
            };
            take(c.len_utf8(), cost, &mut pos);
        }
        if !chunk.invalid().is_empty() {
            take(chunk.invalid().len(), 3, &mut pos);
        }
    }
    if pos > start || parts.is_empty() {
        parts.push(start..pos);
    }
    parts
}

/// A step in a JSON path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn largest_string(value: &Value, path: &mut Vec<Step>, best: &mut Option<(usize, Vec<Step>)>) {
    match value {
        Value::String(s) if best.as_ref().is_none_or(|(len, _)| s.len() > *len) => {
            *best = Some((s.len(), path.clone()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                largest_string(item, path, best);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                largest_string(v, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

fn string_at<'a>(entry: &'a mut LogEntry, path: &Option<Vec<Step>>) -> Option<&'a mut String> {
    let Some(path) = path else {
        return entry.text_payload.as_mut();
    };
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut at = entry.json_payload.as_mut()?.get_mut(k)?;
    for step in rest {
        at = match step {
            Step::Key(k) => at.as_object_mut()?.get_mut(k)?,
            Step::Index(i) => at.as_array_mut()?.get_mut(*i)?,
        };
    }
    at.as_str()?;
    match at {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Splits (or truncates) an entry over `entry_max` at its text payload or its largest string
/// field; gives the entry back with a reason when that cannot make it fit.
pub(super) fn split_entry(
    mut entry: LogEntry,
    entry_max: usize,
    mode: OversizeEntries,
) -> Result<Vec<LogEntry>, Box<(LogEntry, String)>> {
    let path = if entry.text_payload.is_some() {
        None
    } else {
        let mut best = None;
        if let Some(payload) = &entry.json_payload {
            for (k, v) in payload {
                let mut path = vec![Step::Key(k.clone())];
                largest_string(v, &mut path, &mut best);
            }
        }
        match best {
            Some((_, path)) => Some(path),
            None => {
                return Err(Box::new((
                    entry,
                    format!("entry exceeds {entry_max} bytes and has no string field to split"),
                )));
            }
        }
    };
    let Some(target) = string_at(&mut entry, &path) else {
        return Err(Box::new((entry, "entry has no field to split".into())));
    };
    let text = std::mem::take(target);
    let base_id = entry.insert_id.clone().unwrap_or_default();
    let mut probe = entry.clone();
    probe.insert_id = Some(format!("{base_id}-ffffffff"));
    probe.split = Some(LogSplit {
        uid: base_id.clone(),
        index: i32::MAX,
        total_splits: i32::MAX,
    });
    let overhead = serde_json::to_vec(&probe)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
        + 2;
    let budget = entry_max.saturating_sub(overhead);
    if budget < 1024 {
        if let Some(target) = string_at(&mut entry, &path) {
            *target = text;
        }
        return Err(Box::new((
            entry,
            format!("entry exceeds {entry_max} bytes even without its largest string field"),
        )));
    }
    let mut parts = Vec::new();
    match mode {
        OversizeEntries::Split => {
            let ranges = split_text(text.as_bytes(), budget);
            let total = ranges.len();
            for (i, range) in ranges.into_iter().enumerate() {
                let mut part = entry.clone();
                if let Some(target) = string_at(&mut part, &path) {
                    *target = text[range].to_owned();
                }
                part.insert_id = Some(with_split_index(&base_id, i));
                part.split = Some(LogSplit {
                    uid: base_id.clone(),
                    index: i as i32,
                    total_splits: total as i32,
                });
                parts.push(part);
            }
        }
        OversizeEntries::Truncate => {
            let marker_room = truncation_marker(text.len(), text.len()).len();
            let kept = split_text(text.as_bytes(), budget.saturating_sub(marker_room))
                .first()
                .map_or(0, |r| r.end);
            if let Some(target) = string_at(&mut entry, &path) {
                *target = format!("{}{}", &text[..kept], truncation_marker(kept, text.len()));
            }
            parts.push(entry);
        }
    }
    Ok(parts)
}
