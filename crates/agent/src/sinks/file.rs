//! `@type file`: appends events as JSON lines (or fluentd's `time\ttag\tjson` with
//! `format out_file`) to a path that may hold time slices (`%Y%m%d`, a `*` standing for the
//! day) and `${tag}`. A chunk is acknowledged once it is written and synced to disk.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use super::stdout::civil;
use super::{Delivery, SendFuture, Sink, SinkError};
use crate::event::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// One JSON object per line: the record.
    Json,
    /// fluentd's default: `time<TAB>tag<TAB>json`.
    OutFile,
}

#[derive(Debug, Clone)]
pub struct FileSinkConfig {
    pub path: String,
    pub format: FileFormat,
    pub sync: bool,
}

pub struct FileSink {
    config: FileSinkConfig,
}

impl FileSink {
    pub fn new(config: FileSinkConfig) -> Self {
        Self { config }
    }
}

impl Sink for FileSink {
    fn send(&self, delivery: Delivery) -> SendFuture {
        let config = self.config.clone();
        let (entries, routed_bytes) = (delivery.entries, delivery.routed_bytes);
        Box::pin(async move {
            let written = tokio::task::spawn_blocking(move || {
                let result = write_chunk(&config, &delivery.events);
                (delivery, result)
            })
            .await;
            match written {
                Ok(sent) => sent,
                // Only a runtime shutting down gets here; nothing is acknowledged.
                Err(e) => (
                    Delivery::lost(entries, routed_bytes),
                    Err(SinkError::other(format!("file writer task failed: {e}"))),
                ),
            }
        })
    }
}

fn write_chunk(config: &FileSinkConfig, chunk: &[Event]) -> Result<(), SinkError> {
    let mut by_path: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for event in chunk {
        let path = expand_path(&config.path, event);
        let out = by_path.entry(path).or_default();
        if config.format == FileFormat::OutFile {
            let (date, time) = civil(event.time.seconds);
            let _ = write!(out, "{date}T{time}+00:00\t{}\t", event.tag);
        }
        serde_json::to_writer(&mut *out, &event.record.to_map())
            .map_err(|e| SinkError::io("encoding a record", e.into()))?;
        out.push(b'\n');
    }
    for (path, bytes) in by_path {
        let fail = |e: std::io::Error| SinkError::io(format!("writing {}", path.display()), e);
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(fail)?;
        file.write_all(&bytes).map_err(fail)?;
        if config.sync {
            file.sync_data().map_err(fail)?;
        }
    }
    Ok(())
}

/// Fills `${tag}`, strftime-style `%Y %m %d %H %M %S` and fluentd's `*` (the day's slice).
pub fn expand_path(pattern: &str, event: &Event) -> PathBuf {
    let (date, time) = civil(event.time.seconds);
    let (y, mo, d) = (&date[0..4], &date[5..7], &date[8..10]);
    let (h, mi, s) = (&time[0..2], &time[3..5], &time[6..8]);
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('Y') => out.push_str(y),
                Some('m') => out.push_str(mo),
                Some('d') => out.push_str(d),
                Some('H') => out.push_str(h),
                Some('M') => out.push_str(mi),
                Some('S') => out.push_str(s),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            },
            '*' => {
                out.push_str(y);
                out.push_str(mo);
                out.push_str(d);
            }
            '$' if chars.peek() == Some(&'{') => {
                let rest: String = chars.clone().collect();
                if rest.starts_with("{tag}") {
                    out.push_str(&event.tag);
                    for _ in 0..5 {
                        chars.next();
                    }
                } else {
                    out.push('$');
                }
            }
            other => out.push(other),
        }
    }
    PathBuf::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Record;

    #[test]
    fn expands_slices_and_tag() {
        let event = Event {
            tag: "app.log".into(),
            time: gcloud_logging::Timestamp {
                seconds: 1_764_064_800, // 2025-11-25T10:00:00Z
                nanos: 0,
            },
            record: Record::Line("x".into()),
            origin: None,
        };
        assert_eq!(
            expand_path("/log/app.*.log", &event),
            PathBuf::from("/log/app.20251125.log")
        );
        assert_eq!(
            expand_path("/log/${tag}/%Y-%m-%d_%H.log", &event),
            PathBuf::from("/log/app.log/2025-11-25_10.log")
        );
    }
}
