//! The memory buffer in front of each output: events from the router collect into a chunk that
//! is sealed when it reaches `chunk_limit_size`/`chunk_limit_records`, when `flush_interval`
//! has passed since its first event, or as soon as the sources report they have caught up (a
//! line should wait for the network, not for a timer). Sealed chunks are sent with as many in
//! flight as the concurrency limit allows; for a sink that batches (Cloud Logging), queued
//! chunks are merged into one send up to its request size, so a backlog goes out in requests
//! as large as the API takes while a trickle still leaves at once. Chunks are retried until
//! delivered. What the output holds (open, queued and in flight) is bounded by bytes
//! (`total_limit_size`): past it the runner stops taking events, and the pressure travels back
//! to the sources.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::concurrency::{Concurrency, Limiter, LimiterGauges};
use super::{Batching, Delivery, Sink, SinkError};
use crate::ack::Ack;
use crate::event::Event;

/// Chunks of one output prepared (encoded) at once: one per core.
pub(crate) fn preparing_permits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(cores()))
}

/// How long an aborted output waits for requests already in flight.
pub(crate) const ABORT_GRACE: Duration = Duration::from_secs(2);

/// The default bound on what one output holds in memory (events, encoded requests in flight).
/// 48 MiB keeps about five 9 MB Cloud Logging requests in flight, which is what 200 ms of
/// latency needs for half a million lines per second, with the peak RSS under 80 MiB.
pub const DEFAULT_TOTAL_LIMIT_SIZE: usize = 48 * 1024 * 1024;

/// fluentd `<buffer>` parameters that logferry acts on.
#[derive(Debug, Clone)]
pub struct BufferConfig {
    pub flush_interval: Duration,
    pub chunk_limit_size: usize,
    pub chunk_limit_records: usize,
    /// Most sealed chunks waiting for a send (beside the byte bound).
    pub queued_chunks_limit_size: usize,
    /// Most bytes the output holds: open, queued and in-flight chunks, by their events'
    /// size or, once encoded, their request's (estimated as the sink's `Batching` says).
    pub total_limit_size: usize,
    pub retry_wait: Duration,
    pub retry_max_interval: Duration,
    /// 0: the sink's own; else the fixed number, or the ceiling of an adaptive limit.
    pub flush_thread_count: usize,
    /// logferry's `adaptive_concurrency`: `Some(false)` fixes the number of sends in flight.
    pub adaptive_concurrency: Option<bool>,
    /// `<buffer> @type file`: deliver from a disk buffer in this directory instead (see
    /// `sinks::disk_buffer`).
    pub disk: Option<super::disk_buffer::DiskBufferConfig>,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(1),
            // A chunk is what a trickle of lines collects before it is sealed; a backlog's
            // sealed chunks are merged into larger sends by sinks that batch.
            chunk_limit_size: 1024 * 1024,
            chunk_limit_records: usize::MAX,
            queued_chunks_limit_size: usize::MAX,
            total_limit_size: DEFAULT_TOTAL_LIMIT_SIZE,
            retry_wait: Duration::from_secs(1),
            retry_max_interval: Duration::from_secs(30),
            flush_thread_count: 0,
            adaptive_concurrency: None,
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
    pub(crate) fn new(name: Arc<str>, tx: mpsc::Sender<RoutedBatch>) -> Self {
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
    delivery: Delivery,
    acks: Vec<Ack>,
    attempt: u32,
    /// What this chunk counts for in the runner's `held` bytes now.
    counted: usize,
    /// When it was sealed.
    sealed_at: Instant,
    /// After a failure: not sent (or prepared) again before this.
    not_before: Option<Instant>,
}

impl Chunk {
    fn due(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }
}

/// Starts an output's runner. It stops once every handle is dropped and every chunk is
/// delivered, or when `abort` fires (then undelivered chunks stay unacknowledged and the
/// sources will read their lines again on the next start). `gauges` are the concurrency
/// limiter's series.
pub fn spawn_output(
    name: &str,
    sink: Arc<dyn Sink>,
    config: BufferConfig,
    gauges: Option<LimiterGauges>,
    abort: CancellationToken,
) -> (OutputHandle, tokio::task::JoinHandle<()>) {
    // Each batch is one read (up to 256 KiB of lines): a short queue keeps memory bounded;
    // the open chunk absorbs bursts.
    let (tx, rx) = mpsc::channel(8);
    let name: Arc<str> = name.into();
    let concurrency = sink
        .concurrency()
        .configured(config.flush_thread_count, config.adaptive_concurrency);
    let most = match concurrency {
        Concurrency::Fixed(n) => n,
        Concurrency::Adaptive { max, .. } => max,
    };
    let runner = Runner {
        name: name.clone(),
        batching: sink.batching(),
        sink,
        config,
        abort,
        limiter: Limiter::new(concurrency, gauges),
        // Chunks prepared at once: one per core, and one at a time for an ordered sink, whose
        // chunks must leave in the order they were sealed.
        preparing_at_once: cores().min(most),
        ordered: most == 1,
        held: 0,
    };
    (OutputHandle { name, tx }, tokio::spawn(runner.run(rx)))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

struct Runner {
    name: Arc<str>,
    sink: Arc<dyn Sink>,
    batching: Option<Batching>,
    config: BufferConfig,
    abort: CancellationToken,
    limiter: Limiter,
    preparing_at_once: usize,
    /// One chunk at a time, in order (a file): a failed chunk holds back every later one.
    ordered: bool,
    /// Bytes of the sealed chunks (queued, preparing, ready, in flight), as `count` sets them.
    held: usize,
}

/// A send that ended: the chunk, when it was sent, and the result.
type Flight = (Chunk, Instant, Result<(), SinkError>);

/// A chunk done preparing: whether its `prepare` panicked.
type PrepareDone = (Chunk, bool);

/// The chunk being filled.
#[derive(Default)]
struct Open {
    events: Vec<Event>,
    acks: Vec<Ack>,
    /// The events' size as the router counted them (what `chunk_limit_size` bounds).
    bytes: usize,
    /// What they cost in memory (what `total_limit_size` bounds).
    memory: usize,
    since: Option<Instant>,
}

impl Open {
    fn seal(&mut self) -> Chunk {
        // The sizes were summed as the events came in: no second walk over them.
        let (routed_bytes, memory_bytes) = (self.bytes, self.memory);
        self.bytes = 0;
        self.memory = 0;
        self.since = None;
        let mut events = std::mem::take(&mut self.events);
        // The list grew by doubling: give back the unused half (it would sit in the
        // allocator's heap as long as the chunk waits).
        events.shrink_to_fit();
        Chunk {
            delivery: Delivery::sized(events, routed_bytes, memory_bytes),
            acks: std::mem::take(&mut self.acks),
            attempt: 0,
            counted: 0,
            sealed_at: Instant::now(),
            not_before: None,
        }
    }
}

/// Where a chunk is, for what it costs in memory.
#[derive(Clone, Copy)]
enum Stage {
    /// Events, waiting to be prepared.
    Queued,
    /// Being prepared: its events and the request growing beside them.
    Preparing,
    /// Prepared (or a sink that sends events): ready to send, or sent.
    Ready,
}

impl Runner {
    /// The size of what a chunk's events become in a send (its request).
    fn estimate(&self, delivery: &Delivery) -> usize {
        delivery.routed_bytes + delivery.entries * self.batching.map_or(0, |b| b.per_event_bytes)
    }

    /// What a chunk waiting to be prepared is counted for: its request to come, or its events
    /// if they cost more (maps do).
    fn waiting_cost(&self, delivery: &Delivery) -> usize {
        self.estimate(delivery).max(delivery.memory_bytes)
    }

    /// Counts `chunk` in `held` at the cost of `stage`, instead of what it counted for.
    fn count(&mut self, chunk: &mut Chunk, stage: Stage) {
        let d = &chunk.delivery;
        let cost = match stage {
            Stage::Queued => self.waiting_cost(d),
            Stage::Preparing => self.estimate(d) + d.memory_bytes,
            Stage::Ready if d.prepared.is_some() => d.held_bytes(),
            Stage::Ready => self.waiting_cost(d),
        };
        self.held = self.held - chunk.counted + cost;
        chunk.counted = cost;
    }

    fn uncount(&mut self, chunk: &mut Chunk) {
        self.held -= chunk.counted;
        chunk.counted = 0;
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoutedBatch>) {
        let mut open = Open::default();
        // Sealed chunks in order: waiting to be prepared, then ready to send.
        let mut queued: VecDeque<Chunk> = VecDeque::new();
        let mut preparing: JoinSet<PrepareDone> = JoinSet::new();
        let mut ready: VecDeque<Chunk> = VecDeque::new();
        let mut in_flight: JoinSet<Flight> = JoinSet::new();
        // The server asked to wait (`Retry-After`): nothing is sent before then.
        let mut paused_until: Option<Instant> = None;
        let mut input_open = true;

        loop {
            // One moment for every decision of this turn and for the timer below: a deadline
            // that passes while the turn runs then arms the timer (which fires at once) instead
            // of being judged "not yet" above and "already past" below, which left a chunk
            // waiting for a wake-up that never came.
            let now = Instant::now();
            // Seal the open chunk when it is old enough or the input ended.
            let due = open
                .since
                .is_some_and(|t| now >= t + self.config.flush_interval);
            if !open.events.is_empty() && (due || !input_open) {
                let mut chunk = open.seal();
                self.count(&mut chunk, Stage::Queued);
                queued.push_back(chunk);
            }
            // Prepare ahead of the free send slots, one more than they need, so a slot that
            // frees up sends at once; but only what is worth a send now (`worth_sending`).
            let free = self
                .limiter
                .limit()
                .saturating_sub(self.limiter.in_flight());
            let busy = in_flight.len() + preparing.len() + ready.len();
            while preparing.len() < self.preparing_at_once
                && ready.len() + preparing.len() <= free
                && queued.front().is_some_and(|c| c.due(now))
                && self.worth_sending(&queued, &open, input_open, busy, now)
            {
                let Some(mut chunk) = queued.pop_front() else {
                    break;
                };
                self.merge_queued(&mut chunk, &mut queued);
                self.count(&mut chunk, Stage::Preparing);
                let sink = self.sink.clone();
                preparing.spawn(prepare(sink, chunk));
            }
            // Send what the limit allows: the oldest chunk that is due (for an ordered sink, the
            // oldest or nothing), so a chunk waiting out its backoff does not hold up the rest
            // while the limit, halved by the failure, paces them.
            while self.limiter.has_room() && paused_until.is_none_or(|t| now >= t) {
                let next = if self.ordered {
                    ready.front().is_some_and(|c| c.due(now)).then_some(0)
                } else {
                    ready.iter().position(|c| c.due(now))
                };
                let Some(chunk) = next.and_then(|i| ready.remove(i)) else {
                    break;
                };
                paused_until = None;
                self.limiter.launched();
                let sink = self.sink.clone();
                in_flight.spawn(async move {
                    let mut chunk = chunk;
                    let delivery =
                        std::mem::replace(&mut chunk.delivery, Delivery::new(Vec::new()));
                    let sent_at = Instant::now();
                    let (delivery, result) = sink.send(delivery).await;
                    chunk.delivery = delivery;
                    (chunk, sent_at, result)
                });
            }
            if !input_open
                && open.events.is_empty()
                && queued.is_empty()
                && preparing.is_empty()
                && ready.is_empty()
                && in_flight.is_empty()
            {
                break;
            }
            let accepting = input_open
                && self.held + open.memory < self.config.total_limit_size
                && queued.len() < self.config.queued_chunks_limit_size;
            // The next moment something becomes due. A moment already past (at `now`) is left
            // out: what it allows was done above unless something else (a free slot, a
            // finished preparation, room in the buffer) holds it back, and that wakes this loop
            // itself. Keeping it in would spin the loop until then (a storm of 429s cost half a
            // core).
            let timer = [
                open.since.map(|t| t + self.config.flush_interval),
                queued
                    .front()
                    .map(|c| c.sealed_at + self.config.flush_interval),
                queued.front().and_then(|c| c.not_before),
                ready.iter().filter_map(|c| c.not_before).min(),
                paused_until,
            ]
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
                            self.uncount(&mut chunk);
                            chunk.acks.drain(..).for_each(Ack::done);
                        }
                        Err(error) => {
                            let wait = error.retry_after.unwrap_or_else(|| self.config.backoff(chunk.attempt));
                            chunk.attempt += 1;
                            warn!(output = %self.name, attempt = chunk.attempt, retry_in = ?wait, error = %error, "failed to flush the buffer; will retry");
                            let at = Instant::now() + wait;
                            chunk.not_before = Some(at);
                            if error.retry_after.is_some() {
                                paused_until = Some(paused_until.map_or(at, |p| p.max(at)));
                            }
                            self.count(&mut chunk, Stage::Ready);
                            // Retry before anything newer so an ordered sink stays in order.
                            ready.push_front(chunk);
                        }
                    }
                }
                Some(done) = preparing.join_next(), if !preparing.is_empty() => {
                    let Ok((mut chunk, panicked)) = done else { continue };
                    if panicked {
                        let wait = self.config.backoff(chunk.attempt);
                        chunk.attempt += 1;
                        error!(output = %self.name, attempt = chunk.attempt, retry_in = ?wait,
                            "preparing a chunk panicked (a bug); the chunk is kept and prepared again");
                        chunk.not_before = Some(Instant::now() + wait);
                        self.count(&mut chunk, Stage::Queued);
                        queued.push_front(chunk);
                    } else {
                        self.count(&mut chunk, Stage::Ready);
                        ready.push_back(chunk);
                    }
                }
                batch = rx.recv(), if accepting => {
                    match batch {
                        Some(batch) => {
                            for mut chunk in self.take(&mut open, batch) {
                                self.count(&mut chunk, Stage::Queued);
                                queued.push_back(chunk);
                            }
                        }
                        None => input_open = false,
                    }
                }
                _ = sleep_until(timer) => {}
            }
        }
        if self.abort.is_cancelled() {
            finish_in_flight(&mut in_flight, |(chunk, ..)| {
                chunk.acks.into_iter().for_each(Ack::done)
            })
            .await;
        } else if let Err(error) = self.sink.close().await {
            warn!(output = %self.name, error = %error, "closing the output failed");
        }
    }

    /// Whether the queued chunks should be prepared and sent now, or wait to fill a larger
    /// request while others are in flight (as Nagle's algorithm waits for the ack): a sink that
    /// does not batch, an idle output (a trickle leaves at once), a full request's worth, a
    /// chunk waiting `flush_interval`, the input ending, or the memory bound reached.
    fn worth_sending(
        &self,
        queued: &VecDeque<Chunk>,
        open: &Open,
        input_open: bool,
        busy: usize,
        now: Instant,
    ) -> bool {
        let Some(front) = queued.front() else {
            return false;
        };
        let Some(batching) = self.batching else {
            return true;
        };
        busy == 0
            || !input_open
            || front.attempt > 0
            || now >= front.sealed_at + self.config.flush_interval
            || self.held + open.memory >= self.config.total_limit_size
            || queued
                .iter()
                .map(|c| self.estimate(&c.delivery))
                .sum::<usize>()
                >= batching.max_bytes
    }

    /// Adds a routed batch to the open chunk; returns the chunks it sealed.
    fn take(&self, open: &mut Open, batch: RoutedBatch) -> Vec<Chunk> {
        let mut sealed = Vec::new();
        let caught_up = batch.caught_up;
        if batch.events.is_empty() {
            // Nothing of this batch is for us: our share is done now.
            batch.ack.done();
        } else {
            // A batch that fits in a chunk is not split across two: a forced stop that
            // delivers one part but not the other would leave the delivered part
            // unacknowledged, and sent again.
            let batch_bytes: usize = batch.events.iter().map(|e| e.record.approx_size()).sum();
            let limit = self.config.chunk_limit_size;
            let records = self.config.chunk_limit_records;
            if !open.events.is_empty()
                && (open.bytes + batch_bytes > limit
                    || open.events.len() + batch.events.len() > records)
            {
                sealed.push(open.seal());
            }
            if open.events.is_empty() {
                open.since = Some(Instant::now());
            }
            for event in batch.events {
                open.bytes += event.record.approx_size();
                open.memory += event.record.memory_size();
                open.events.push(event);
                if open.bytes >= limit || open.events.len() >= records {
                    // Every chunk holding part of the batch holds a share.
                    open.acks.push(batch.ack.clone());
                    sealed.push(open.seal());
                    open.since = Some(Instant::now());
                }
            }
            if open.events.is_empty() {
                open.since = None;
                batch.ack.done(); // every event sits in a sealed chunk holding a share
            } else {
                open.acks.push(batch.ack);
            }
        }
        if caught_up && !open.events.is_empty() {
            sealed.push(open.seal());
        }
        sealed
    }

    /// Merges the queued chunks that follow `chunk` into it, in order, while the send stays
    /// within the sink's request size (only first attempts: a retry resends what it sent).
    fn merge_queued(&mut self, chunk: &mut Chunk, queued: &mut VecDeque<Chunk>) {
        let Some(batching) = self.batching else {
            return;
        };
        if chunk.attempt > 0 {
            return;
        }
        let mut size = self.estimate(&chunk.delivery);
        let mut entries = 0;
        let mut take = 0;
        for next in queued.iter() {
            size += self.estimate(&next.delivery);
            if next.attempt > 0 || size > batching.max_bytes {
                break;
            }
            entries += next.delivery.entries;
            take += 1;
        }
        chunk.delivery.events.reserve_exact(entries);
        for mut next in queued.drain(..take).collect::<Vec<_>>() {
            self.uncount(&mut next);
            chunk.delivery.absorb(next.delivery);
            chunk.acks.extend(next.acks);
        }
    }
}

/// Prepares a chunk (see [`prepare_delivery`]); `true` when that failed and it must be
/// prepared again.
async fn prepare(sink: Arc<dyn Sink>, mut chunk: Chunk) -> PrepareDone {
    let delivery = std::mem::replace(&mut chunk.delivery, Delivery::new(Vec::new()));
    let (delivery, result) = prepare_delivery(&sink, delivery).await;
    chunk.delivery = delivery;
    if let Err(e) = &result {
        error!(error = %e, "preparing a chunk failed");
    }
    (chunk, result.is_err())
}

/// Has the sink prepare `delivery` if it has not yet, on a blocking thread (encoding a request
/// is CPU work). A panic keeps the events, so the chunk is prepared again, never dropped; a
/// delivery that lost its events (a runtime shutting down took them) is never passed on, so it
/// cannot be sent empty and acknowledged.
async fn prepare_delivery(
    sink: &Arc<dyn Sink>,
    mut delivery: Delivery,
) -> (Delivery, Result<(), SinkError>) {
    if delivery.prepared.is_some() {
        return (delivery, Ok(()));
    }
    if delivery.events.len() != delivery.entries {
        let error = SinkError::other("a chunk lost its events; it is kept unacknowledged");
        return (delivery, Err(error));
    }
    if delivery.events.is_empty() {
        return (delivery, Ok(()));
    }
    let sink = sink.clone();
    let events = std::mem::take(&mut delivery.events);
    let prepared = tokio::task::spawn_blocking(move || {
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.prepare(&events)));
        (events, made)
    })
    .await;
    match prepared {
        Ok((events, Ok(made))) => {
            delivery.events = events;
            if let Some(made) = made {
                delivery.set_prepared(made);
            }
            (delivery, Ok(()))
        }
        Ok((events, Err(_))) => {
            delivery.events = events;
            let error =
                SinkError::other("preparing a chunk panicked (a bug); it is kept and retried");
            (delivery, Err(error))
        }
        Err(e) => {
            let error = SinkError::other(format!("preparing a chunk failed: {e}"));
            (delivery, Err(error))
        }
    }
}

/// One attempt of the disk buffer's runner: prepares the chunk if needed (as many at once as
/// `preparing` allows: while prepared, a chunk holds its events and its request), then sends
/// it; returns it with when the send started and the result.
pub(crate) async fn attempt(
    sink: Arc<dyn Sink>,
    delivery: Delivery,
    preparing: &Semaphore,
) -> (Delivery, Instant, Result<(), SinkError>) {
    let (delivery, prepared) = {
        let _permit = preparing.acquire().await;
        prepare_delivery(&sink, delivery).await
    };
    if let Err(error) = prepared {
        return (delivery, Instant::now(), Err(error));
    }
    let sent_at = Instant::now();
    let (delivery, result) = sink.send(delivery).await;
    (delivery, sent_at, result)
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
pub(crate) async fn finish_in_flight<F>(in_flight: &mut JoinSet<F>, mut delivered: impl FnMut(F))
where
    F: Send + Finished + 'static,
{
    let grace = tokio::time::sleep(ABORT_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => break,
            done = in_flight.join_next() => match done {
                Some(Ok(flight)) if flight.succeeded() => delivered(flight),
                Some(_) => {}
                None => break,
            },
        }
    }
}

/// A finished send, as `finish_in_flight` sees it.
pub(crate) trait Finished {
    fn succeeded(&self) -> bool;
}

impl Finished for Flight {
    fn succeeded(&self) -> bool {
        self.2.is_ok()
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

#[cfg(test)]
mod tests;
