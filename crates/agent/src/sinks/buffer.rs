//! The memory buffer in front of each output: events from the router collect into a chunk that
//! is flushed when it reaches `chunk_limit_size`/`chunk_limit_records`, when `flush_interval`
//! has passed since its first event, or as soon as the sources report they have caught up (a
//! line should wait for the network, not for a timer). Chunks are retried until delivered;
//! while `queued_chunks_limit_size` chunks are waiting the runner stops taking events, and the
//! pressure travels back to the sources.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Sink, SinkError};
use crate::ack::Ack;
use crate::event::Event;

/// How long an aborted output waits for requests already in flight.
pub(crate) const ABORT_GRACE: Duration = Duration::from_secs(2);

/// fluentd `<buffer>` parameters that logferry acts on.
#[derive(Debug, Clone)]
pub struct BufferConfig {
    pub flush_interval: Duration,
    pub chunk_limit_size: usize,
    pub chunk_limit_records: usize,
    pub queued_chunks_limit_size: usize,
    pub retry_wait: Duration,
    pub retry_max_interval: Duration,
    pub flush_thread_count: usize,
    /// `<buffer> @type file`: deliver from a disk buffer in this directory instead (see
    /// `sinks::disk_buffer`).
    pub disk: Option<super::disk_buffer::DiskBufferConfig>,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(1),
            // 1 MiB of lines is ~1.5 MiB of events in memory and ~1.6 MB of request body; with
            // 4 queued and 2 in flight, 4 MiB chunks made a backlog peak at 130 MiB RSS.
            chunk_limit_size: 1024 * 1024,
            chunk_limit_records: usize::MAX,
            queued_chunks_limit_size: 4,
            retry_wait: Duration::from_secs(1),
            retry_max_interval: Duration::from_secs(30),
            flush_thread_count: 0,
            disk: None,
        }
    }
}

/// Events for one output plus their share of the source acknowledgement.
pub struct RoutedBatch {
    pub events: Vec<Event>,
    pub ack: Ack,
    /// The source had read everything there was when it sent this batch.
    pub caught_up: bool,
}

/// The router's end of an output.
#[derive(Clone)]
pub struct OutputHandle {
    pub name: Arc<str>,
    tx: mpsc::Sender<RoutedBatch>,
}

impl OutputHandle {
    pub(super) fn new(name: Arc<str>, tx: mpsc::Sender<RoutedBatch>) -> Self {
        Self { name, tx }
    }

    /// Waits while the output is full: this is how backpressure reaches the sources.
    pub async fn send(&self, batch: RoutedBatch) -> Result<(), RoutedBatch> {
        self.tx.send(batch).await.map_err(|e| e.0)
    }

    pub(crate) fn sender(&self) -> &mpsc::Sender<RoutedBatch> {
        &self.tx
    }
}

struct Chunk {
    events: Arc<Vec<Event>>,
    acks: Vec<Ack>,
    attempt: u32,
}

/// Starts an output's runner. It stops once every handle is dropped and every chunk is
/// delivered, or when `abort` fires (then undelivered chunks stay unacknowledged and the
/// sources will read their lines again on the next start).
pub fn spawn_output(
    name: &str,
    sink: Arc<dyn Sink>,
    config: BufferConfig,
    abort: CancellationToken,
) -> (OutputHandle, tokio::task::JoinHandle<()>) {
    // Each batch is one read (up to 256 KiB of lines): a short queue keeps memory bounded;
    // the open chunk absorbs bursts.
    let (tx, rx) = mpsc::channel(8);
    let name: Arc<str> = name.into();
    let runner = Runner {
        name: name.clone(),
        sink,
        config,
        abort,
    };
    (OutputHandle { name, tx }, tokio::spawn(runner.run(rx)))
}

struct Runner {
    name: Arc<str>,
    sink: Arc<dyn Sink>,
    config: BufferConfig,
    abort: CancellationToken,
}

type Flight = (Chunk, Result<(), SinkError>);

impl Runner {
    async fn run(self, mut rx: mpsc::Receiver<RoutedBatch>) {
        let concurrency = match self.config.flush_thread_count {
            0 => self.sink.concurrency(),
            n => n,
        }
        .max(1);
        let mut open = Vec::new();
        let mut open_acks = Vec::new();
        let mut open_bytes = 0usize;
        let mut open_since: Option<Instant> = None;
        let mut queued: std::collections::VecDeque<Chunk> = Default::default();
        let mut in_flight: JoinSet<Flight> = JoinSet::new();
        let mut retry_at: Option<Instant> = None;
        let mut input_open = true;

        loop {
            // Seal the open chunk when it is full, old enough, or the input ended.
            let now = Instant::now();
            let due = open_since.is_some_and(|t| now >= t + self.config.flush_interval);
            if !open.is_empty() && (due || !input_open) {
                queued.push_back(seal(&mut open, &mut open_acks, &mut open_bytes));
                open_since = None;
            }
            // Launch what may be launched.
            while in_flight.len() < concurrency && retry_at.is_none_or(|t| Instant::now() >= t) {
                let Some(chunk) = queued.pop_front() else {
                    break;
                };
                retry_at = None;
                let future = self.sink.send(chunk.events.clone());
                in_flight.spawn(async move {
                    let result = future.await;
                    (chunk, result)
                });
            }
            if !input_open && open.is_empty() && queued.is_empty() && in_flight.is_empty() {
                break;
            }
            let accepting = input_open && queued.len() < self.config.queued_chunks_limit_size;
            let timer = match (open_since, retry_at) {
                (Some(t), Some(r)) => Some((t + self.config.flush_interval).min(r)),
                (Some(t), None) => Some(t + self.config.flush_interval),
                (None, r) => r,
            };
            tokio::select! {
                biased;
                _ = self.abort.cancelled() => break,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let Ok((mut chunk, result)) = done else { continue };
                    match result {
                        Ok(()) => {
                            if chunk.attempt > 0 {
                                info!(output = %self.name, attempts = chunk.attempt + 1, "retry succeeded");
                            }
                            for ack in chunk.acks.drain(..) {
                                ack.done();
                            }
                        }
                        Err(error) => {
                            let wait = error.retry_after.unwrap_or_else(|| self.config.backoff(chunk.attempt));
                            chunk.attempt += 1;
                            warn!(output = %self.name, attempt = chunk.attempt, retry_in = ?wait, error = %error.message, "failed to flush the buffer; will retry");
                            retry_at = Some(Instant::now() + wait);
                            // Retry before anything newer so an ordered sink stays in order.
                            queued.push_front(chunk);
                        }
                    }
                }
                batch = rx.recv(), if accepting => {
                    match batch {
                        Some(batch) => {
                            let caught_up = batch.caught_up;
                            if batch.events.is_empty() {
                                // Nothing of this batch is for us: our share is done now.
                                batch.ack.done();
                            } else {
                                // A batch that fits in a chunk is not split across two: a
                                // forced stop that delivers one part but not the other would
                                // leave the delivered part unacknowledged, and sent again.
                                let batch_bytes: usize = batch.events.iter().map(|e| e.record.approx_size()).sum();
                                if !open.is_empty()
                                    && (open_bytes + batch_bytes > self.config.chunk_limit_size
                                        || open.len() + batch.events.len() > self.config.chunk_limit_records)
                                {
                                    queued.push_back(seal(&mut open, &mut open_acks, &mut open_bytes));
                                }
                                if open_since.is_none() || open.is_empty() {
                                    open_since = Some(Instant::now());
                                }
                                for event in batch.events {
                                    open_bytes += event.record.approx_size();
                                    open.push(event);
                                    if open_bytes >= self.config.chunk_limit_size || open.len() >= self.config.chunk_limit_records {
                                        // Every chunk holding part of the batch holds a share.
                                        open_acks.push(batch.ack.clone());
                                        queued.push_back(seal(&mut open, &mut open_acks, &mut open_bytes));
                                        open_since = Some(Instant::now());
                                    }
                                }
                                if open.is_empty() {
                                    batch.ack.done(); // every event sits in a sealed chunk holding a share
                                } else {
                                    open_acks.push(batch.ack);
                                }
                            }
                            if caught_up && !open.is_empty() {
                                queued.push_back(seal(&mut open, &mut open_acks, &mut open_bytes));
                                open_since = None;
                            }
                        }
                        None => input_open = false,
                    }
                }
                _ = sleep_until(timer) => {}
            }
        }
        if self.abort.is_cancelled() {
            finish_in_flight(&mut in_flight, |chunk: Chunk| {
                chunk.acks.into_iter().for_each(Ack::done)
            })
            .await;
        } else if let Err(error) = self.sink.close().await {
            warn!(output = %self.name, error = %error.message, "closing the output failed");
        }
    }
}

impl BufferConfig {
    /// How long to wait before retry number `attempt`: exponential from `retry_wait`, capped
    /// at `retry_max_interval`, with ±12.5% jitter so many sidecars do not retry in step.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry_wait.as_secs_f64() * 2f64.powi(attempt.min(20) as i32);
        let capped = base.min(self.retry_max_interval.as_secs_f64());
        let jitter = 0.875 + 0.25 * pseudo_random();
        Duration::from_secs_f64(capped * jitter)
    }
}

/// After an abort: requests already sent may well succeed, so wait a little for them and hand
/// the delivered ones to `delivered`, rather than sending them again after the restart.
pub(crate) async fn finish_in_flight<C: 'static>(
    in_flight: &mut JoinSet<(C, Result<(), SinkError>)>,
    mut delivered: impl FnMut(C),
) {
    let grace = tokio::time::sleep(ABORT_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => break,
            done = in_flight.join_next() => match done {
                Some(Ok((chunk, Ok(())))) => delivered(chunk),
                Some(_) => {}
                None => break,
            },
        }
    }
}

fn seal(open: &mut Vec<Event>, acks: &mut Vec<Ack>, bytes: &mut usize) -> Chunk {
    *bytes = 0;
    Chunk {
        events: Arc::new(std::mem::take(open)),
        acks: std::mem::take(acks),
        attempt: 0,
    }
}

pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn pseudo_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(Instant::now().elapsed().as_nanos() as u64);
    (hasher.finish() % 10_000) as f64 / 10_000.0
}
