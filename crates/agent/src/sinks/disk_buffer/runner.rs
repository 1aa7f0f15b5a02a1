//! The output runner for a disk buffer: the counterpart of the memory runner in
//! `sinks/buffer.rs`, with the same chunking (size, records, `flush_interval`, caught-up
//! sources), concurrency limit, merging into the sink's request size and retry-forever backoff,
//! but a batch is acknowledged to its source as soon as it is durably appended, and chunks are
//! read back from the log for delivery.
//!
//! The output's buffer gauges count what the output holds: the router adds what it routes and
//! the metered sink takes off what it delivers. The log also holds what the router never
//! counted in this process, a backlog recovered at start, so the runner adds that when the log
//! opens, and takes back what is left undelivered when it stops (the next start counts it
//! again). The gauges return to zero once everything is delivered.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{DiskBufferConfig, DiskLog, Held, Pos, RecoveryReport};
use crate::ack::Ack;
use crate::event::Event;
use crate::metrics::Gauge;
use crate::sinks::buffer::{
    BufferConfig, Finished, OutputHandle, RoutedBatch, finish_in_flight, sleep_until,
};
use crate::sinks::concurrency::Limiter;
use crate::sinks::metered::OutputMetrics;
use crate::sinks::{Batching, Delivery, Sink, SinkError};

/// Opens (locking and recovering) the buffer directory, logs what recovery found, counts it
/// in the output's buffer gauges (`metrics`, whose metered sink is `sink`), and starts the
/// output's runner. It stops once every handle is dropped and the log is delivered, or when
/// `abort` fires (then what is not delivered stays in the log for the next start). The
/// directory stays locked until the runner has stopped.
pub fn spawn_disk_output(
    name: &str,
    sink: Arc<dyn Sink>,
    metrics: &OutputMetrics,
    config: BufferConfig,
    disk: DiskBufferConfig,
    abort: CancellationToken,
) -> io::Result<(OutputHandle, tokio::task::JoinHandle<()>)> {
    let (log, report) = DiskLog::open(disk)?;
    log_recovery(name, &log, &report);
    let gauges = BufferGauges {
        bytes: metrics.buffer_bytes.clone(),
        entries: metrics.buffer_entries.clone(),
    };
    gauges.add(log.held());
    let (tx, rx) = mpsc::channel(16);
    let name: Arc<str> = name.into();
    let limiter = Limiter::new(
        sink.concurrency()
            .configured(config.flush_thread_count, config.adaptive_concurrency),
        Some(metrics.limiter_gauges()),
    );
    let runner = Runner {
        name: name.clone(),
        batching: sink.batching(),
        limiter,
        preparing: crate::sinks::buffer::preparing_permits(),
        sink,
        // A replay goes out at once, before anything new.
        flush_now: log.unread_bytes() > 0,
        log,
        gauges,
        config,
        abort,
        unread_since: None,
    };
    Ok((OutputHandle::new(name, tx), tokio::spawn(runner.run(rx))))
}

fn log_recovery(name: &str, log: &DiskLog, report: &RecoveryReport) {
    let dir = log.dir().display();
    if let Some(torn) = &report.torn_tail {
        warn!(output = name, segment = %torn.segment.display(), offset = torn.offset, discarded_bytes = torn.discarded,
            "disk buffer: the newest segment ended in a torn record (the agent stopped in the middle of a write); cut it off, every record before it is replayed");
    }
    for (path, why) in &report.set_aside {
        error!(output = name, file = %path.display(), "disk buffer: set aside a file that is not a readable segment: {why}");
    }
    if report.corrupt_regions > 0 {
        warn!(output = name, buffer = %dir, regions = report.corrupt_regions,
            "disk buffer: damaged records found; they are skipped and every record around them is replayed");
    }
    if report.cursor_lost {
        warn!(output = name, buffer = %dir,
            "disk buffer: the delivered-up-to cursor is damaged; replaying from the oldest segment (Cloud Logging drops the repeats by insertId)");
    }
    if report.records > 0 {
        info!(output = name, buffer = %dir, events = report.records, bytes = report.bytes, segments = report.segments,
            "disk buffer: replaying undelivered events before new ones");
    } else {
        info!(output = name, buffer = %dir, "disk buffer: opened");
    }
}

enum Origin {
    /// Read from the log (the start of each read merged into the chunk): delivery moves the
    /// log's cursor.
    Log(Vec<Pos>),
    /// The append failed (disk full, I/O error): held in memory, acknowledged on delivery,
    /// as the memory buffer would.
    Memory(Vec<Ack>),
}

impl Origin {
    /// How many log reads a chunk merges.
    fn reads(&self) -> usize {
        match self {
            Origin::Log(starts) => starts.len().max(1),
            Origin::Memory(_) => 1,
        }
    }
}

struct Chunk {
    delivery: Delivery,
    origin: Origin,
    attempt: u32,
}

/// The output's `OUTPUT_BUFFER_BYTES` and `OUTPUT_BUFFER_ENTRIES` series.
struct BufferGauges {
    bytes: Arc<Gauge>,
    entries: Arc<Gauge>,
}

impl BufferGauges {
    fn add(&self, held: Held) {
        self.entries.add(held.events as i64);
        self.bytes.add(held.bytes as i64);
    }

    fn take_off(&self, held: Held) {
        self.entries.add(-(held.events as i64));
        self.bytes.add(-(held.bytes as i64));
    }
}

/// The events of a batch as the router counted them in the gauges.
fn routed(events: &[Event]) -> Held {
    let mut held = Held::default();
    for event in events {
        held.count(Some(event.record.approx_size()));
    }
    held
}

struct Runner {
    name: Arc<str>,
    sink: Arc<dyn Sink>,
    batching: Option<Batching>,
    limiter: Limiter,
    preparing: Arc<tokio::sync::Semaphore>,
    log: DiskLog,
    gauges: BufferGauges,
    config: BufferConfig,
    abort: CancellationToken,
    /// Read what is unread without waiting for size or time (a source caught up, a replay).
    flush_now: bool,
    /// When the oldest unread record was appended.
    unread_since: Option<Instant>,
}

/// A send that ended: the chunk, when it was sent, and the result.
type Flight = (Chunk, Instant, Result<(), SinkError>);

impl Finished for Flight {
    fn succeeded(&self) -> bool {
        self.2.is_ok()
    }
}

impl Runner {
    async fn run(mut self, mut rx: mpsc::Receiver<RoutedBatch>) {
        let mut resend: VecDeque<Chunk> = VecDeque::new();
        let mut in_flight: JoinSet<Flight> = JoinSet::new();
        let mut retry_at: Option<Instant> = None;
        let mut input_open = true;

        loop {
            // One moment for every decision of this turn and for the timer below, so a
            // deadline passing while the turn runs arms the timer instead of being judged
            // "not yet" here and "already past" there (a chunk left with no wake-up).
            let now = Instant::now();
            while self.limiter.has_room() && retry_at.is_none_or(|t| now >= t) {
                let chunk = match resend.pop_front() {
                    Some(chunk) => chunk,
                    None => match self.next_chunk(input_open, now) {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => break,
                        Err(e) => {
                            error!(output = %self.name, buffer = %self.log.dir().display(), error = %e, "disk buffer: cannot read; will retry");
                            retry_at = Some(Instant::now() + self.config.backoff(0));
                            break;
                        }
                    },
                };
                retry_at = None;
                self.limiter.launched();
                let sink = self.sink.clone();
                let preparing = self.preparing.clone();
                in_flight.spawn(async move {
                    let Chunk {
                        delivery,
                        origin,
                        attempt,
                    } = chunk;
                    let (delivery, sent_at, result) =
                        crate::sinks::buffer::attempt(sink, delivery, &preparing).await;
                    (
                        Chunk {
                            delivery,
                            origin,
                            attempt,
                        },
                        sent_at,
                        result,
                    )
                });
            }
            let unread = self.log.unread_bytes();
            if !input_open && unread == 0 && resend.is_empty() && in_flight.is_empty() {
                break;
            }
            let accepting = input_open
                && !self.log.is_full()
                && resend.len() < self.config.queued_chunks_limit_size;
            let flush_at = self
                .unread_since
                .filter(|_| unread > 0)
                .map(|t| t + self.config.flush_interval);
            // A moment already past (at `now`) is left out: what it allows was done above
            // unless the limit held it back, and a finished send wakes this loop itself
            // (keeping it in would spin until then).
            let timer = [flush_at, retry_at]
                .into_iter()
                .flatten()
                .filter(|t| *t > now)
                .min();
            tokio::select! {
                biased;
                _ = self.abort.cancelled() => break,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let Ok((mut chunk, sent_at, result)) = done else { continue };
                    self.limiter.finished(sent_at, result.as_ref().err().map(|e| e.kind()));
                    match result {
                        Ok(()) => {
                            if chunk.attempt > 0 {
                                info!(output = %self.name, attempts = chunk.attempt + 1, "retry succeeded");
                            }
                            self.delivered(chunk);
                        }
                        Err(error) => {
                            let wait = error.retry_after.unwrap_or_else(|| self.config.backoff(chunk.attempt));
                            chunk.attempt += 1;
                            warn!(output = %self.name, attempt = chunk.attempt, retry_in = ?wait, error = %error, "failed to flush the buffer; will retry");
                            retry_at = Some(Instant::now() + wait);
                            // Retry before anything newer so an ordered sink stays in order.
                            resend.push_front(chunk);
                        }
                    }
                }
                batch = rx.recv(), if accepting => match batch {
                    Some(batch) => {
                        if let Some(chunk) = self.append(batch) {
                            resend.push_back(chunk);
                        }
                    }
                    None => input_open = false,
                },
                _ = sleep_until(timer) => {}
            }
        }
        if self.abort.is_cancelled() {
            // Everything not delivered by then stays in the log.
            finish_in_flight(&mut in_flight, |(chunk, ..)| self.delivered(chunk)).await;
            // Stop the stragglers, keeping those that finished meanwhile: a send that ends
            // after this point would take its chunk off the gauges a second time.
            in_flight.abort_all();
            while let Some(done) = in_flight.join_next().await {
                if let Ok((chunk, _, Ok(()))) = done {
                    self.delivered(chunk);
                }
            }
        } else if let Err(error) = self.sink.close().await {
            warn!(output = %self.name, error = %error, "closing the output failed");
        }
        // What stays on disk is counted again by the next start (in this process, after a
        // reload), not by this runner any more.
        self.gauges.take_off(self.log.held());
    }

    /// Appends a source batch and acknowledges it once durable; if the log cannot take it,
    /// returns it as a memory chunk acknowledged on delivery.
    fn append(&mut self, batch: RoutedBatch) -> Option<Chunk> {
        if batch.caught_up {
            self.flush_now = true;
        }
        if batch.events.is_empty() {
            batch.ack.done();
            return None;
        }
        let before = self.log.held();
        let appended = self
            .log
            .append(&batch.events)
            .and_then(|()| self.log.sync());
        // The log counts what it now holds; the router counted the batch its own way (a map
        // comes back from the log as JSON, whose size differs), and a failed append leaves
        // the batch to be counted as a memory chunk.
        self.gauges.add(self.log.held().since(before));
        match appended {
            Ok(()) => {
                self.gauges.take_off(routed(&batch.events));
                batch.ack.done();
                self.unread_since.get_or_insert_with(Instant::now);
                None
            }
            Err(e) => {
                error!(output = %self.name, buffer = %self.log.dir().display(), error = %e, events = batch.events.len(),
                    "disk buffer: cannot append; these events are held in memory and their lines acknowledged only after delivery");
                Some(Chunk {
                    delivery: Delivery::new(batch.events),
                    origin: Origin::Memory(vec![batch.ack]),
                    attempt: 0,
                })
            }
        }
    }

    /// The next chunk to read from the log, when one is due.
    fn next_chunk(&mut self, input_open: bool, now: Instant) -> io::Result<Option<Chunk>> {
        let unread = self.log.unread_bytes();
        if unread == 0 {
            self.flush_now = false;
            self.unread_since = None;
            return Ok(None);
        }
        let due = self.flush_now
            || !input_open
            || unread >= self.config.chunk_limit_size as u64
            || self
                .unread_since
                .is_some_and(|t| now >= t + self.config.flush_interval);
        if !due {
            return Ok(None);
        }
        let mut chunk: Option<Chunk> = None;
        // Reads chunk after chunk while the merged send stays within the sink's request size.
        loop {
            let Some(read) = self.log.read_chunk(
                self.config.chunk_limit_size,
                self.config.chunk_limit_records,
            )?
            else {
                break;
            };
            let next = Delivery::new(read.events);
            match &mut chunk {
                None => {
                    chunk = Some(Chunk {
                        delivery: next,
                        origin: Origin::Log(vec![read.start]),
                        attempt: 0,
                    })
                }
                Some(chunk) => {
                    chunk.delivery.absorb(next);
                    if let Origin::Log(starts) = &mut chunk.origin {
                        starts.push(read.start);
                    }
                }
            }
            let size = chunk.as_ref().map_or(0, |c| {
                let d = &c.delivery;
                d.routed_bytes + d.entries * self.batching.map_or(0, |b| b.per_event_bytes)
            });
            let room = self.batching.map_or(0, |b| b.max_bytes);
            // Another read would take about as much as this one did, on average.
            let per_read = size / chunk.as_ref().map_or(1, |c| c.origin.reads());
            if size + per_read > room || self.log.unread_bytes() == 0 {
                break;
            }
        }
        if self.log.unread_bytes() == 0 {
            self.flush_now = false;
            self.unread_since = None;
        }
        Ok(chunk)
    }

    fn delivered(&mut self, chunk: Chunk) {
        match chunk.origin {
            Origin::Log(starts) => {
                for start in starts {
                    if let Err(e) = self.log.delivered(start) {
                        error!(output = %self.name, buffer = %self.log.dir().display(), error = %e,
                            "disk buffer: cannot record a delivery; after a restart these events are sent again (and deduplicated)");
                    }
                }
            }
            Origin::Memory(acks) => acks.into_iter().for_each(Ack::done),
        }
    }
}
