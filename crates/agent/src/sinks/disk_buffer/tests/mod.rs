//! Tests of the disk buffer: shared helpers here; the record format, the log and its lock in
//! `log`, the async runner and its gauges in `runner`, the crash model in `model`, and the
//! configuration in `config`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gcloud_logging::Timestamp;
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;

use super::record::{self, Frame};
use super::*;
use crate::ack::Ack;
use crate::event::{Event, JsonLine, Origin, Record};
use crate::sinks::buffer::{BufferConfig, RoutedBatch};
use crate::sinks::metered::{MeteredSink, OutputMetrics};
use crate::sinks::{Delivery, SendFuture, Sink, SinkError};

fn event(id: u64, len: usize) -> Event {
    Event {
        tag: Arc::from("app.log"),
        time: Timestamp::new(
            1_700_000_000 + id as i64,
            (id * 7919 % 1_000_000_000) as u32,
        )
        .unwrap(),
        record: Record::Line(Bytes::from(vec![b'a' + (id % 26) as u8; len])),
        origin: Some(Origin {
            file: 0xfeed,
            offset: id,
        }),
    }
}

fn id(event: &Event) -> u64 {
    event.origin.unwrap().offset
}

fn config(dir: &Path, segment_size: u64, limit: u64) -> DiskBufferConfig {
    DiskBufferConfig {
        path: dir.to_path_buf(),
        total_limit_size: limit,
        segment_size,
        fsync: FsyncPolicy::BeforeAck,
    }
}

fn open(config: &DiskBufferConfig) -> (DiskLog, RecoveryReport) {
    DiskLog::open(config.clone()).unwrap()
}

fn append(log: &mut DiskLog, ids: impl IntoIterator<Item = u64>, len: usize) {
    let events: Vec<Event> = ids.into_iter().map(|i| event(i, len)).collect();
    log.append(&events).unwrap();
    log.sync().unwrap();
}

/// Reads everything unread without delivering it.
fn read_all(log: &mut DiskLog) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(chunk) = log.read_chunk(4096, 100).unwrap() {
        ids.extend(chunk.events.iter().map(id));
    }
    ids
}

/// Reads and delivers everything.
fn drain(log: &mut DiskLog) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(chunk) = log.read_chunk(4096, 100).unwrap() {
        ids.extend(chunk.events.iter().map(id));
        log.delivered(chunk.start).unwrap();
    }
    ids
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

mod config;
mod log;
mod model;
mod runner;
