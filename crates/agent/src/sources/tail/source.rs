//! The tail source's thread: poll the files, parse lines into events, hand them to the router,
//! and move the pos_file over acknowledged lines only.
//!
//! Reading is blocking file I/O, so it runs on a thread of its own rather than on the async
//! runtime; the router's blocking sends give backpressure for free.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gcloud_logging::Timestamp;
use tail::{Chunk, FileId, Notice, Tailer};
use tracing::{debug, info, warn};

use super::config::TailSourceConfig;
use super::metrics::TailMetrics;
use super::read_times::ReadTimes;
use crate::ack::Ack;
use crate::event::{Event, Origin, Record};
use crate::parsers::{LineParser, Parsed};
use crate::router::Router;
use crate::sources::SourceBatch;

/// How the runtime steers a source.
#[derive(Clone, Default)]
pub struct SourceControl {
    /// Keep reading until the writer is done, read every file to its end, hand out held
    /// lines, then stop reading.
    pub drain: Arc<AtomicBool>,
    /// Stop at once (the drain deadline passed): persist what is acknowledged.
    pub stop: Arc<AtomicBool>,
    /// A config reload: read every file to its end, wait for the acknowledgements, persist
    /// the positions and stop, without waiting for the writer and keeping held lines held
    /// (unacknowledged), so the next pipeline continues exactly where this one stopped.
    pub reload: Arc<AtomicBool>,
    pub policy: Arc<DrainPolicy>,
    /// The agent's metrics, which the source counts into.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// When a draining source decides the application has stopped writing.
#[derive(Debug, Clone)]
pub struct DrainPolicy {
    /// The files have been quiet this long.
    pub quiet: Duration,
    /// This file exists (the application writes it on exit; web-api's `--exit-marker`). When
    /// set, quiet files alone do not end the wait.
    pub writer_exit_marker: Option<std::path::PathBuf>,
    /// Stop waiting for the writer after this long, leaving the rest of the drain timeout
    /// for delivery.
    pub writer_wait_limit: Duration,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        Self {
            quiet: Duration::from_secs(1),
            writer_exit_marker: None,
            writer_wait_limit: Duration::from_secs(15),
        }
    }
}

impl DrainPolicy {
    fn writer_done(&self, draining_since: Instant, last_read: Instant) -> bool {
        let now = Instant::now();
        if now.duration_since(draining_since) >= self.writer_wait_limit {
            return true;
        }
        match &self.writer_exit_marker {
            Some(marker) => marker.exists(),
            None => now.duration_since(last_read.max(draining_since)) >= self.quiet,
        }
    }
}

/// A file's parser, how far it has been fed, and the path the file was found at.
struct FileParser {
    parser: Box<dyn LineParser>,
    last_end: u64,
    path: Arc<Path>,
}

struct Delivered {
    file: FileId,
    seq: u64,
    commit: u64,
}

/// Starts the source thread. It returns when it has drained (or been stopped) and every
/// acknowledgement it could get has been written to the pos_file.
pub fn spawn_tail_source(
    name: String,
    config: TailSourceConfig,
    router: Arc<Router>,
    label: Option<String>,
    control: SourceControl,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let tailer = Tailer::new(config.tail.clone(), Instant::now())?;
    let config_pos_file = config.tail.pos_file.clone();
    std::thread::Builder::new()
        .name(format!("tail:{name}"))
        .spawn(move || {
            let (ack_tx, ack_rx) = mpsc::channel();
            let mut source = TailSource {
                config,
                tailer,
                router,
                label,
                parsers: HashMap::new(),
                ack_tx,
                ack_rx,
                tags: HashMap::new(),
                last_persist: Instant::now(),
                mismatches: 0,
                metrics: TailMetrics::new(&name, control.metrics.clone()),
                read_times: config_pos_file.as_deref().map(ReadTimes::open),
            };
            source.run(&control);
        })
}

struct TailSource {
    config: TailSourceConfig,
    tailer: Tailer,
    router: Arc<Router>,
    label: Option<String>,
    parsers: HashMap<FileId, FileParser>,
    ack_tx: mpsc::Sender<Delivered>,
    ack_rx: mpsc::Receiver<Delivered>,
    tags: HashMap<Arc<Path>, Arc<str>>,
    last_persist: Instant,
    mismatches: u64,
    metrics: TailMetrics,
    read_times: Option<ReadTimes>,
}

const PERSIST_EVERY: Duration = Duration::from_millis(200);

impl TailSource {
    fn run(&mut self, control: &SourceControl) {
        let mut last_read = Instant::now();
        let mut draining_since: Option<Instant> = None;
        loop {
            if control.stop.load(Ordering::Acquire) {
                break;
            }
            let draining = control.drain.load(Ordering::Acquire);
            if draining && draining_since.is_none() {
                draining_since = Some(Instant::now());
                info!("draining: following the files until the writer is done");
            }
            self.take_acks(None);
            let chunks = self.tailer.poll(Instant::now());
            self.log_notices();
            let read_something = !chunks.is_empty();
            if read_something {
                last_read = Instant::now();
            }
            let caught_up = self.tailer.caught_up();
            let count = chunks.len();
            for (i, chunk) in chunks.into_iter().enumerate() {
                self.emit_chunk(chunk, caught_up && i + 1 == count);
            }
            self.flush_due_records(draining);
            self.persist(false);
            if let Some(since) = draining_since
                && caught_up
                && !read_something
                && control.policy.writer_done(since, last_read)
            {
                self.finish_drain();
                break;
            }
            if !read_something {
                // Sleep until the next poll, waking early for acknowledgements.
                self.take_acks(Some(self.config.poll_interval));
            }
            self.refresh_positions();
            if control.reload.load(Ordering::Acquire) && caught_up && !read_something {
                info!("reloading: every file is read to its end");
                break;
            }
        }
        self.wait_for_acks(control);
        self.log_exposure();
    }

    /// At most once a second: the position gauges, and forgetting what belongs to files the
    /// tailer no longer knows (their metric series, tags and parsers), so following a glob
    /// over rotating names keeps memory and the metrics page flat.
    fn refresh_positions(&mut self) {
        let Some(entries) = self.metrics.positions_due(&self.tailer) else {
            return;
        };
        for path in self.metrics.update_positions(&entries) {
            self.tags.remove(Path::new(&path));
        }
        let inodes: HashSet<u64> = entries.iter().map(|e| e.inode).collect();
        // A parser still holding a partial record keeps it until it is flushed.
        self.parsers
            .retain(|id, s| inodes.contains(&id.inode) || s.parser.held_since().is_some());
    }

    /// The exposure window (read → acknowledged by the output) this source saw: how long a
    /// line was at risk of dying with the node.
    fn log_exposure(&self) {
        let h = &self.metrics.exposure;
        let bound = |q| match h.quantile_bound(q) {
            Some(b) => format!("≤ {b} s"),
            None => "over the largest bucket".to_string(),
        };
        if let Some(mean) = h.mean() {
            info!(
                "exposure window over {} chunks: mean {mean:.3} s, p50 {}, p99 {}",
                h.count(),
                bound(0.5),
                bound(0.99)
            );
        }
    }

    /// Hands out held last lines and multiline records: the writer is done.
    fn finish_drain(&mut self) {
        for chunk in self.tailer.flush_partial_lines() {
            self.emit_chunk(chunk, true);
        }
        let files: Vec<FileId> = self.parsers.keys().copied().collect();
        for file in files {
            self.flush_parser(file);
        }
        self.log_notices();
    }

    fn wait_for_acks(&mut self, control: &SourceControl) {
        while !self.tailer.all_acked() && !control.stop.load(Ordering::Acquire) {
            self.take_acks(Some(Duration::from_millis(50)));
            self.persist(false);
        }
        self.take_acks(None);
        self.persist(true);
    }

    fn take_acks(&mut self, wait: Option<Duration>) {
        if let Some(wait) = wait
            && let Ok(d) = self.ack_rx.recv_timeout(wait)
        {
            self.tailer.ack(d.file, d.seq, d.commit);
        }
        while let Ok(d) = self.ack_rx.try_recv() {
            self.tailer.ack(d.file, d.seq, d.commit);
        }
    }

    fn persist(&mut self, now: bool) {
        if !now && self.last_persist.elapsed() < PERSIST_EVERY {
            return;
        }
        self.last_persist = Instant::now();
        if let Err(error) = self.tailer.persist() {
            warn!(pos_file = ?self.config.tail.pos_file, %error, "could not write the pos_file; will retry");
            return;
        }
        if let Some(times) = &mut self.read_times {
            let committed: HashMap<u64, u64> = self
                .tailer
                .pos_entries()
                .into_iter()
                .map(|e| (e.inode, e.offset))
                .collect();
            if let Err(error) = times.compact(&committed) {
                warn!(%error, "could not compact the read-time journal");
            }
        }
    }

    fn ack_for(&self, file: FileId, seq: u64, commit: u64) -> Ack {
        let tx = self.ack_tx.clone();
        let (exposure, read_at) = (self.metrics.exposure.clone(), Instant::now());
        Ack::new(move || {
            exposure.observe_duration(read_at.elapsed());
            let _ = tx.send(Delivered { file, seq, commit });
        })
    }

    fn tag(&mut self, path: &Arc<Path>) -> Arc<str> {
        if let Some(tag) = self.tags.get(path) {
            return tag.clone();
        }
        let tag: Arc<str> = self.config.tag_for(path).into();
        self.tags.insert(path.clone(), tag.clone());
        tag
    }

    fn emit_chunk(&mut self, chunk: Chunk, caught_up: bool) {
        let now = Timestamp::now();
        let tag = self.tag(&chunk.path);
        let config = &self.config;
        let state = self
            .parsers
            .entry(chunk.file)
            .or_insert_with(|| FileParser {
                parser: config.parser.build(),
                last_end: 0,
                path: chunk.path.clone(),
            });
        let mut parsed = Vec::with_capacity(chunk.data.len() / 64 + 1);
        let parser = &mut state.parser;
        let mut lines = 0;
        for_each_line(&chunk.data, chunk.start, |line, offset| {
            lines += 1;
            parser.feed(line, offset, now, &mut parsed);
        });
        self.metrics
            .read(&chunk.path, lines, chunk.data.len() as u64);
        state.last_end = chunk.end();
        let commit = parser.held_since().unwrap_or(chunk.end()).min(chunk.end());
        self.stamp_read_times(&mut parsed, now, &chunk);
        let ack = self.ack_for(chunk.file, chunk.seq, commit);
        let events = self.make_events(parsed, &tag, chunk.file, &chunk.path);
        self.router.dispatch(
            self.label.as_deref(),
            SourceBatch {
                events,
                ack,
                caught_up,
            },
        );
    }

    /// Lines read before a crash keep the time they were first read (see `read_times`); new
    /// lines' read time is journaled.
    fn stamp_read_times(&mut self, parsed: &mut [Parsed], now: Timestamp, chunk: &Chunk) {
        let Some(times) = &mut self.read_times else {
            return;
        };
        let inode = chunk.file.inode;
        let mut first_new = chunk.start;
        if !times.nothing_earlier() {
            // Only what this run reads for the first time is journaled again.
            first_new = chunk.end();
            for p in parsed.iter_mut() {
                match times.earlier(inode, p.offset) {
                    Some(earlier) if p.time == now => p.time = earlier,
                    Some(_) => {}
                    None => first_new = first_new.min(p.offset),
                }
            }
        }
        if first_new < chunk.end()
            && let Err(error) = times.record(inode, first_new, chunk.end(), now)
        {
            warn!(%error, "could not write the read-time journal: a crash now may show re-read lines twice");
        }
    }

    fn flush_due_records(&mut self, draining: bool) {
        let now = Instant::now();
        let due: Vec<FileId> = self
            .parsers
            .iter()
            .filter(|(_, s)| {
                s.parser.held_since().is_some() && (draining || s.parser.flush_due(now))
            })
            .map(|(id, _)| *id)
            .collect();
        for file in due {
            self.flush_parser(file);
        }
    }

    fn flush_parser(&mut self, file: FileId) {
        let Some(state) = self.parsers.get_mut(&file) else {
            return;
        };
        let mut parsed = Vec::new();
        state.parser.flush(&mut parsed);
        let (last_end, path) = (state.last_end, state.path.clone());
        if parsed.is_empty() {
            return;
        }
        let ack = match self.tailer.reserve(file) {
            Some(seq) => self.ack_for(file, seq, last_end),
            None => Ack::none(),
        };
        let tag = self.tag(&path);
        let events = self.make_events(parsed, &tag, file, &path);
        self.router.dispatch(
            self.label.as_deref(),
            SourceBatch {
                events,
                ack,
                caught_up: true,
            },
        );
    }

    fn make_events(
        &mut self,
        parsed: Vec<Parsed>,
        tag: &Arc<str>,
        file: FileId,
        path: &Path,
    ) -> Vec<Event> {
        self.metrics.emitted(parsed.len());
        let mut events = Vec::with_capacity(parsed.len());
        for p in parsed {
            if let Some(why) = p.mismatch {
                self.mismatches += 1;
                if self.mismatches.is_power_of_two() {
                    warn!(
                        path = %path.display(), offset = p.offset, reason = why, total = self.mismatches,
                        "a line did not fit the format; it is kept as plain text"
                    );
                }
            }
            let mut record = p.record;
            if let Some(key) = &self.config.path_key {
                record.make_map().insert(
                    key.clone(),
                    serde_json::Value::String(path.display().to_string()),
                );
            }
            events.push(Event {
                tag: tag.clone(),
                time: p.time,
                record,
                origin: Some(Origin {
                    file: file.inode,
                    offset: p.offset,
                }),
            });
        }
        events
    }

    fn log_notices(&mut self) {
        for notice in self.tailer.take_notices() {
            match notice {
                Notice::Following { path, offset } => {
                    info!("following tail of {}", path.display());
                    debug!(path = %path.display(), offset, "starting offset");
                }
                Notice::Resumed { path, offset } => {
                    info!(
                        "following tail of {} (resumed at offset {offset} from the pos_file)",
                        path.display()
                    )
                }
                Notice::ResumedRotated {
                    path,
                    found_at,
                    offset,
                } => info!(
                    "finishing {} (rotated from {}) from offset {offset}",
                    found_at.display(),
                    path.display()
                ),
                Notice::Rotated { path } => info!(
                    "detected rotation of {}; waiting {:?}",
                    path.display(),
                    self.config.tail.rotate_wait
                ),
                Notice::Truncated { path } => warn!(
                    "{} was truncated; reading it again from the start (lines written between the last read and the truncation are lost: prefer rename rotation)",
                    path.display()
                ),
                Notice::Closed { path } => {
                    debug!(path = %path.display(), "closed a rotated file after reading it to the end")
                }
                Notice::LongLine {
                    path,
                    offset,
                    truncated,
                } => warn!(
                    path = %path.display(), offset,
                    "a line is longer than max_line_size ({} bytes); it was {}",
                    self.config.tail.max_line_size,
                    if truncated { "truncated" } else { "split into several events" }
                ),
                Notice::Unreadable { path, error } => {
                    self.metrics.error(crate::metrics::class::TAIL_UNREADABLE);
                    warn!(path = %path.display(), %error, "cannot read this path; other files are unaffected")
                }
                Notice::PosFileDamaged { line, text } => warn!(
                    pos_file = ?self.config.tail.pos_file, line, text = %text,
                    "a pos_file line is damaged; that file will be read according to read_from_head"
                ),
            }
        }
    }
}

/// Calls `f` for each line of a chunk (without `\n` or a trailing `\r`), with its file offset.
/// A last segment without a newline is a line too (a piece of an over-long line, or the last
/// line of a finished file).
pub fn for_each_line(data: &Bytes, start: u64, mut f: impl FnMut(Bytes, u64)) {
    let mut line_start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        let end = if nl > line_start && data[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        f(data.slice(line_start..end), start + line_start as u64);
        line_start = nl + 1;
    }
    if line_start < data.len() {
        f(data.slice(line_start..), start + line_start as u64);
    }
}

impl Record {
    /// The raw line, when the record is one.
    pub fn as_line(&self) -> Option<&Bytes> {
        match self {
            Record::Line(line) => Some(line),
            Record::Json(_) | Record::Map(_) => None,
        }
    }
}
