//! Routing: within a label (or the top level), an event passes through the `<filter>`s that
//! come before the first `<match>` whose pattern fits its tag, then goes to that `<match>`'s
//! output. First match wins, as in fluentd.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::warn;

use crate::event::Event;
use crate::filters::Filter;
use crate::pattern::TagPattern;
use crate::sinks::metered::OutputMetrics;
use crate::sinks::{OutputHandle, RoutedBatch};
use crate::sources::SourceBatch;

/// A `<filter>` or `<match>` in declaration order.
pub enum Step {
    Filter(TagPattern, Box<dyn Filter>),
    Match(TagPattern, usize),
}

/// The steps of one label (`None`: the top level).
#[derive(Default)]
pub struct Scope {
    pub steps: Vec<Step>,
}

pub struct Router {
    scopes: HashMap<Option<String>, Scope>,
    outputs: Vec<OutputHandle>,
    unmatched: AtomicU64,
    filtered: AtomicU64,
    /// Per output, counted as events enter its buffer.
    metrics: Vec<Arc<OutputMetrics>>,
}

impl Router {
    pub fn new(scopes: HashMap<Option<String>, Scope>, outputs: Vec<OutputHandle>) -> Self {
        Self {
            scopes,
            outputs,
            unmatched: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            metrics: Vec::new(),
        }
    }

    /// Counts what each output is given (one entry per output, in order).
    pub fn with_metrics(mut self, metrics: Vec<Arc<OutputMetrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Events dropped because no `<match>` fits their tag.
    pub fn unmatched(&self) -> u64 {
        self.unmatched.load(Ordering::Relaxed)
    }

    /// Events dropped by filters.
    pub fn filtered(&self) -> u64 {
        self.filtered.load(Ordering::Relaxed)
    }

    /// Filters and routes a source batch, blocking while an output is full. The batch's
    /// acknowledgement completes when every output that got part of it delivered its part.
    pub fn dispatch(&self, label: Option<&str>, batch: SourceBatch) {
        let scope = self.scopes.get(&label.map(str::to_string));
        let mut per_output: Vec<Vec<Event>> = Vec::new();
        per_output.resize_with(self.outputs.len(), Vec::new);
        if let Some(scope) = scope {
            for mut event in batch.events {
                match route(scope, &mut event) {
                    Routed::To(index) => per_output[index].push(event),
                    Routed::Filtered => {
                        self.filtered.fetch_add(1, Ordering::Relaxed);
                    }
                    Routed::Nowhere => self.report_unmatched(&event),
                }
            }
        }
        for (index, events) in per_output.into_iter().enumerate() {
            if events.is_empty() && !batch.caught_up {
                continue;
            }
            if let Some(metrics) = self.metrics.get(index) {
                metrics.routed(&events);
            }
            let routed = RoutedBatch {
                events,
                ack: batch.ack.clone(),
                caught_up: batch.caught_up,
            };
            // An output that is gone was aborted: its events stay unacknowledged.
            let _ = self.outputs[index].blocking_send(routed);
        }
        batch.ack.done();
    }

    fn report_unmatched(&self, event: &Event) {
        let n = self.unmatched.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            warn!(tag = %event.tag, total = n, "no patterns matched tag=\"{}\"", event.tag);
        }
    }
}

enum Routed {
    To(usize),
    Filtered,
    Nowhere,
}

fn route(scope: &Scope, event: &mut Event) -> Routed {
    for step in &scope.steps {
        match step {
            Step::Filter(pattern, filter)
                if pattern.matches(&event.tag) && !filter.apply(event) =>
            {
                return Routed::Filtered;
            }
            Step::Match(pattern, output) if pattern.matches(&event.tag) => {
                return Routed::To(*output);
            }
            _ => {}
        }
    }
    Routed::Nowhere
}

impl OutputHandle {
    /// The blocking form of [`OutputHandle::send`], for source threads.
    pub fn blocking_send(&self, batch: RoutedBatch) -> Result<(), RoutedBatch> {
        self.sender().blocking_send(batch).map_err(|e| e.0)
    }
}

/// Shared so sources on several threads can route.
pub type SharedRouter = Arc<Router>;
