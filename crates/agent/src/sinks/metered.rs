//! Wraps every output's [`Sink`] to count what it is given, delivers and retries, time each
//! chunk, and tell the readiness probe whether the output is delivering. Being a wrapper, it
//! needs no change in the buffer or in any sink.

use std::sync::Arc;

use tokio::time::Instant;

use super::concurrency::LimiterGauges;
use super::{Batching, CloseFuture, Concurrency, Delivery, Prepared, SendFuture, Sink};
use crate::event::Event;
use crate::health::OutputHealth;
use crate::metrics::{Counter, Gauge, Histogram, Metrics};
use crate::telemetry::Telemetry;

pub struct MeteredSink {
    inner: Arc<dyn Sink>,
    m: Arc<OutputMetrics>,
}

/// The series of one output, looked up once.
pub struct OutputMetrics {
    pub emit_records: Arc<Counter>,
    write_count: Arc<Counter>,
    retry_count: Arc<Counter>,
    num_errors: Arc<Counter>,
    sent: Arc<Counter>,
    acked: Arc<Counter>,
    retried: Arc<Counter>,
    pub buffer_bytes: Arc<Gauge>,
    pub buffer_entries: Arc<Gauge>,
    flush_duration: Arc<Histogram>,
    limiter: LimiterGauges,
    health: Arc<OutputHealth>,
    /// Where a failure is counted by its class.
    metrics: Arc<Metrics>,
}

impl OutputMetrics {
    /// The series of output `plugin_id` of type `kind` in `telemetry`, and its health.
    pub fn new(telemetry: &Telemetry, plugin_id: &str, kind: &str) -> Arc<OutputMetrics> {
        let labels = [plugin_id, kind];
        let m = &telemetry.metrics;
        Arc::new(OutputMetrics {
            emit_records: m.output_emit_records.with(&labels),
            write_count: m.output_write_count.with(&labels),
            retry_count: m.output_retry_count.with(&labels),
            num_errors: m.output_num_errors.with(&labels),
            sent: m.output_entries_sent.with(&labels),
            acked: m.output_entries_acked.with(&labels),
            retried: m.output_entries_retried.with(&labels),
            buffer_bytes: m.output_buffer_bytes.with(&labels),
            buffer_entries: m.output_buffer_entries.with(&labels),
            flush_duration: m.output_flush_duration.with(&labels),
            limiter: LimiterGauges {
                limit: m.output_concurrency_limit.with(&labels),
                in_flight: m.output_in_flight.with(&labels),
                rtt: m.output_rtt.with(&labels),
            },
            health: telemetry.health.register_output(plugin_id),
            metrics: m.clone(),
        })
    }

    /// The concurrency limiter's series.
    pub fn limiter_gauges(&self) -> LimiterGauges {
        self.limiter.clone()
    }

    /// Events entering the output's buffer (called by the router).
    pub fn routed(&self, events: &[Event]) {
        let bytes: usize = events.iter().map(|e| e.record.approx_size()).sum();
        self.emit_records.add(events.len() as u64);
        self.buffer_entries.add(events.len() as i64);
        self.buffer_bytes.add(bytes as i64);
    }
}

impl MeteredSink {
    pub fn wrap(inner: Arc<dyn Sink>, m: Arc<OutputMetrics>) -> Arc<dyn Sink> {
        Arc::new(MeteredSink { inner, m })
    }
}

impl Sink for MeteredSink {
    fn prepare(&self, events: &[Event]) -> Option<Prepared> {
        self.inner.prepare(events)
    }

    fn send(&self, delivery: Delivery) -> SendFuture {
        let m = self.m.clone();
        let entries = delivery.entries as u64;
        let bytes = delivery.routed_bytes;
        m.write_count.inc();
        m.sent.add(entries);
        let future = self.inner.send(delivery);
        Box::pin(async move {
            let started = Instant::now();
            let (delivery, result) = future.await;
            m.flush_duration.observe_duration(started.elapsed());
            match &result {
                Ok(()) => {
                    m.acked.add(entries);
                    m.buffer_entries.add(-(entries as i64));
                    m.buffer_bytes.add(-(bytes as i64));
                    m.health.delivered();
                }
                Err(error) => {
                    m.retry_count.inc();
                    m.num_errors.inc();
                    m.retried.add(entries);
                    m.metrics.error(error.class());
                    m.health.failed();
                }
            }
            (delivery, result)
        })
    }

    fn concurrency(&self) -> Concurrency {
        self.inner.concurrency()
    }

    fn batching(&self) -> Option<Batching> {
        self.inner.batching()
    }

    fn close(&self) -> CloseFuture {
        self.inner.close()
    }
}
