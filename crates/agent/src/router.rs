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
            // The events of a batch mostly share a tag (a tail chunk is one file): each step's
            // pattern is matched once per tag, not once per event (splitting the tag was 9 % of
            // a node agent's tail thread). Filters never change an event's tag.
            let mut matched: Vec<bool> = Vec::with_capacity(scope.steps.len());
            let mut matched_tag: Option<Arc<str>> = None;
            for mut event in batch.events {
                if matched_tag
                    .as_ref()
                    .is_none_or(|t| !Arc::ptr_eq(t, &event.tag) && **t != *event.tag)
                {
                    matched.clear();
                    matched.extend(scope.steps.iter().map(|step| match step {
                        Step::Filter(pattern, _) | Step::Match(pattern, _) => {
                            pattern.matches(&event.tag)
                        }
                    }));
                    matched_tag = Some(event.tag.clone());
                }
                match route(scope, &matched, &mut event) {
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

/// Runs `event` through the scope's steps; `matched[i]`: step `i`'s pattern matches its tag.
fn route(scope: &Scope, matched: &[bool], event: &mut Event) -> Routed {
    for (step, &matches) in scope.steps.iter().zip(matched) {
        match step {
            Step::Filter(_, filter) if matches && !filter.apply(event) => {
                return Routed::Filtered;
            }
            Step::Match(_, output) if matches => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::Ack;
    use crate::event::Record;
    use bytes::Bytes;
    use gcloud_logging::Timestamp;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::mpsc;

    /// Drops the events whose line is `drop`, counting the events it saw.
    struct DropLine(&'static str, Arc<AtomicUsize>);

    impl Filter for DropLine {
        fn apply(&self, event: &mut Event) -> bool {
            self.1.fetch_add(1, Ordering::Relaxed);
            !matches!(&event.record, Record::Line(l) if l.as_ref() == self.0.as_bytes())
        }
    }

    fn event(tag: &Arc<str>, line: &'static str) -> Event {
        Event {
            tag: tag.clone(),
            time: Timestamp::new(0, 0).unwrap(),
            record: Record::Line(Bytes::from_static(line.as_bytes())),
            origin: None,
        }
    }

    /// Tags interleaved within one batch (each step's match is remembered per tag, so a change
    /// of tag must be noticed, by value as well as by pointer).
    #[test]
    fn interleaved_tags_in_one_batch_each_take_their_own_route() {
        let (app_tx, mut app_rx) = mpsc::channel(8);
        let (rest_tx, mut rest_rx) = mpsc::channel(8);
        let seen = Arc::new(AtomicUsize::new(0));
        let steps = vec![
            Step::Filter(
                TagPattern::new("app.**").unwrap(),
                Box::new(DropLine("noise", seen.clone())),
            ),
            Step::Match(TagPattern::new("app.**").unwrap(), 0),
            Step::Match(TagPattern::new("**").unwrap(), 1),
        ];
        let router = Router::new(
            HashMap::from([(None, Scope { steps })]),
            vec![
                OutputHandle::new("app".into(), app_tx),
                OutputHandle::new("rest".into(), rest_tx),
            ],
        );
        let (app, other): (Arc<str>, Arc<str>) = ("app.web".into(), "sys.kernel".into());
        let app_again: Arc<str> = "app.web".into(); // equal, not the same allocation
        let events = vec![
            event(&app, "a1"),
            event(&other, "noise"),
            event(&app, "noise"),
            event(&other, "k1"),
            event(&app_again, "a2"),
            event(&other, "k2"),
        ];
        router.dispatch(
            None,
            SourceBatch {
                events,
                ack: Ack::new(|| {}),
                caught_up: true,
            },
        );
        let lines = |batch: RoutedBatch| -> Vec<String> {
            batch
                .events
                .iter()
                .map(|e| match &e.record {
                    Record::Line(l) => String::from_utf8_lossy(l).into_owned(),
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(lines(app_rx.try_recv().unwrap()), ["a1", "a2"]);
        assert_eq!(lines(rest_rx.try_recv().unwrap()), ["noise", "k1", "k2"]);
        assert_eq!(
            seen.load(Ordering::Relaxed),
            3,
            "the filter saw only app.** events"
        );
        assert_eq!(router.filtered(), 1);
    }
}
