//! How many chunks an output keeps in flight. Cloud Logging answers after tens of milliseconds,
//! so an output that waits for each answer before sending the next is paced by latency, not by
//! CPU: its throughput is `in flight × request size / latency`. A fixed number is either too
//! few for a slow endpoint or too many for an overloaded one, so network outputs adapt it, as
//! Vector's adaptive request concurrency does (AIMD on the observed round-trip time):
//!
//! - every window of about one round trip, the mean RTT of the window's successful sends is
//!   compared with the long-term mean (an EWMA, with its mean deviation);
//! - a window with a back-pressure answer (429, 5xx, a timeout) halves the limit;
//! - a window whose RTT rose beyond the usual spread takes 10% off (at least one);
//! - a window in which the limit was reached and the RTT stayed flat adds one, or doubles the
//!   limit until the first sign of congestion ("slow start", so a backlog after a restart does
//!   not wait for the limit to creep up one round trip at a time).
//!
//! The limiter only counts and decides; the runners (`buffer.rs`, `disk_buffer/runner.rs`) ask
//! it before each launch and report each completion.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::FailureKind;
use crate::metrics::{Gauge, Histogram};

/// A sink's concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Exactly this many chunks in flight (ordered sinks say 1).
    Fixed(usize),
    /// Adapted to the destination, starting at `initial`, never above `max`.
    Adaptive { initial: usize, max: usize },
}

impl Concurrency {
    /// The sink's concurrency as the user's `<buffer>` settles it: `flush_thread_count` is the
    /// ceiling of an adaptive limit (and the fixed number of a fixed one, or of any with
    /// `adaptive_concurrency false`).
    pub fn configured(self, flush_thread_count: usize, adaptive: Option<bool>) -> Concurrency {
        let set = (flush_thread_count > 0).then_some(flush_thread_count);
        match self {
            Concurrency::Fixed(n) => Concurrency::Fixed(set.unwrap_or(n).max(1)),
            Concurrency::Adaptive { initial, .. } if adaptive == Some(false) => {
                Concurrency::Fixed(set.unwrap_or(initial).max(1))
            }
            Concurrency::Adaptive { initial, max } => {
                let max = set.unwrap_or(max).max(1);
                Concurrency::Adaptive {
                    initial: initial.clamp(1, max),
                    max,
                }
            }
        }
    }
}

/// The limiter's metric series (one output's).
#[derive(Clone)]
pub struct LimiterGauges {
    pub limit: Arc<Gauge>,
    pub in_flight: Arc<Gauge>,
    pub rtt: Arc<Histogram>,
}

/// How much each answer moves the long-term RTT mean and deviation.
const EWMA_ALPHA: f64 = 0.4;
/// An RTT above `mean × (1 + tolerance) + scale × deviation` counts as rising.
const RTT_TOLERANCE: f64 = 0.1;
const RTT_DEVIATION_SCALE: f64 = 2.5;
/// The factor applied on a rising RTT, and on back-pressure.
const DECREASE_ON_RTT: f64 = 0.9;
const DECREASE_ON_BACKPRESSURE: f64 = 0.5;
/// The shortest window, so a sink that answers in microseconds is not re-judged per answer.
const MIN_WINDOW: Duration = Duration::from_millis(5);

/// The number of chunks an output may have in flight now; see the module docs.
pub struct Limiter {
    adaptive: bool,
    limit: usize,
    max: usize,
    in_flight: usize,
    slow_start: bool,
    /// When the limit last went down: answers to sends launched before then describe the old
    /// limit and do not count again (one cut per round trip, as TCP does per window).
    last_decrease: Option<Instant>,
    /// Long-term RTT mean and mean deviation, in seconds.
    past: Option<(f64, f64)>,
    window: Window,
    gauges: Option<LimiterGauges>,
}

struct Window {
    started: Instant,
    rtt_sum: f64,
    answers: u32,
    /// The limit was reached at a launch during this window.
    saturated: bool,
    backpressure: bool,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            started: now,
            rtt_sum: 0.0,
            answers: 0,
            saturated: false,
            backpressure: false,
        }
    }
}

impl Limiter {
    pub fn new(concurrency: Concurrency, gauges: Option<LimiterGauges>) -> Limiter {
        let (adaptive, limit, max) = match concurrency {
            Concurrency::Fixed(n) => (false, n.max(1), n.max(1)),
            Concurrency::Adaptive { initial, max } => (true, initial.max(1), max.max(1)),
        };
        let limiter = Limiter {
            adaptive,
            limit: limit.min(max),
            max,
            in_flight: 0,
            slow_start: true,
            last_decrease: None,
            past: None,
            window: Window::new(Instant::now()),
            gauges,
        };
        limiter.publish();
        limiter
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether one more chunk may be launched now.
    pub fn has_room(&self) -> bool {
        self.in_flight < self.limit
    }

    /// A chunk was launched.
    pub fn launched(&mut self) {
        self.in_flight += 1;
        if self.in_flight >= self.limit {
            self.window.saturated = true;
        }
        self.publish();
    }

    /// A chunk's send, started at `sent_at`, ended now: `None` if it was delivered, else why
    /// it failed.
    pub fn finished(&mut self, sent_at: Instant, failure: Option<FailureKind>) {
        let now = Instant::now();
        let rtt = now.saturating_duration_since(sent_at);
        self.in_flight = self.in_flight.saturating_sub(1);
        if failure.is_none()
            && let Some(g) = &self.gauges
        {
            g.rtt.observe_duration(rtt);
        }
        let current = self.last_decrease.is_none_or(|t| sent_at >= t);
        match failure {
            _ if !current => {}
            None => {
                self.window.rtt_sum += rtt.as_secs_f64();
                self.window.answers += 1;
            }
            Some(kind) if kind.is_backpressure() => self.window.backpressure = true,
            Some(_) => {}
        }
        if self.adaptive {
            self.adjust(now);
        }
        self.publish();
    }

    fn adjust(&mut self, now: Instant) {
        let w = &self.window;
        if w.answers == 0 && !w.backpressure {
            return;
        }
        let length = self
            .past
            .map(|(mean, _)| Duration::from_secs_f64(mean))
            .unwrap_or(Duration::ZERO)
            .max(MIN_WINDOW);
        if now < w.started + length && self.past.is_some() {
            return;
        }
        if w.backpressure {
            self.slow_start = false;
            self.limit = decrease(self.limit, DECREASE_ON_BACKPRESSURE);
            self.last_decrease = Some(now);
        } else {
            let current = w.rtt_sum / f64::from(w.answers);
            match self.past {
                Some((mean, deviation))
                    if current > mean * (1.0 + RTT_TOLERANCE) + RTT_DEVIATION_SCALE * deviation =>
                {
                    self.slow_start = false;
                    self.limit = decrease(self.limit, DECREASE_ON_RTT);
                    self.last_decrease = Some(now);
                }
                _ if w.saturated => {
                    let grown = if self.slow_start {
                        self.limit * 2
                    } else {
                        self.limit + 1
                    };
                    self.limit = grown.min(self.max);
                }
                _ => {}
            }
            self.past = Some(match self.past {
                None => (current, 0.0),
                Some((mean, deviation)) => (
                    mean + EWMA_ALPHA * (current - mean),
                    deviation + EWMA_ALPHA * ((current - mean).abs() - deviation),
                ),
            });
        }
        self.window = Window::new(now);
        // A launch now would find the limit reached if nothing is free.
        self.window.saturated = self.in_flight >= self.limit;
    }

    fn publish(&self) {
        if let Some(g) = &self.gauges {
            g.limit.set(self.limit as i64);
            g.in_flight.set(self.in_flight as i64);
        }
    }
}

fn decrease(limit: usize, factor: f64) -> usize {
    let lowered = (limit as f64 * factor).floor() as usize;
    lowered.min(limit - 1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive(initial: usize, max: usize) -> Limiter {
        Limiter::new(Concurrency::Adaptive { initial, max }, None)
    }

    /// Launches up to the limit and completes every send after `rtt` (of paused time).
    async fn round(limiter: &mut Limiter, rtt: Duration, failure: Option<FailureKind>) {
        let n = limiter.limit() - limiter.in_flight();
        let sent_at = Instant::now();
        for _ in 0..n {
            limiter.launched();
        }
        tokio::time::advance(rtt).await;
        for _ in 0..n {
            limiter.finished(sent_at, failure);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flat_rtt_grows_the_limit_fast_then_one_at_a_time() {
        let mut l = adaptive(2, 64);
        let rtt = Duration::from_millis(50);
        round(&mut l, rtt, None).await;
        assert_eq!(l.limit(), 4, "slow start doubles");
        round(&mut l, rtt, None).await;
        assert_eq!(l.limit(), 8);
        // The RTT quadruples: the limit goes down while the long-term mean catches up, then
        // grows by one per window (no more doubling) while the new RTT stays flat.
        let mut seen = Vec::new();
        for _ in 0..8 {
            round(&mut l, Duration::from_millis(200), None).await;
            seen.push(l.limit());
        }
        assert!(seen[0] < 8, "a rising RTT ends slow start: {seen:?}");
        assert!(
            seen.windows(2).skip(4).all(|w| w[1] == w[0] + 1),
            "{seen:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn back_pressure_halves_the_limit_and_it_recovers() {
        let mut l = adaptive(16, 64);
        let rtt = Duration::from_millis(50);
        round(&mut l, rtt, None).await;
        let before = l.limit();
        round(&mut l, rtt, Some(FailureKind::Throttled)).await;
        assert_eq!(l.limit(), before / 2, "one cut for a round trip of 429s");
        round(&mut l, rtt, Some(FailureKind::Server)).await;
        assert_eq!(l.limit(), before / 4);
        for _ in 0..5 {
            round(&mut l, rtt, None).await;
        }
        assert_eq!(l.limit(), before / 4 + 5);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_stays_within_one_and_max() {
        let mut l = adaptive(1, 3);
        for _ in 0..10 {
            round(
                &mut l,
                Duration::from_millis(10),
                Some(FailureKind::Timeout),
            )
            .await;
        }
        assert_eq!(l.limit(), 1);
        for _ in 0..10 {
            round(&mut l, Duration::from_millis(10), None).await;
        }
        assert_eq!(l.limit(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unsaturated_sender_does_not_grow_the_limit() {
        let mut l = adaptive(4, 64);
        for _ in 0..10 {
            let sent_at = Instant::now();
            l.launched();
            tokio::time::advance(Duration::from_millis(50)).await;
            l.finished(sent_at, None);
        }
        assert_eq!(l.limit(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn connection_failures_leave_the_limit_alone() {
        let mut l = adaptive(4, 64);
        round(
            &mut l,
            Duration::from_millis(50),
            Some(FailureKind::Connection),
        )
        .await;
        round(&mut l, Duration::from_millis(50), Some(FailureKind::Other)).await;
        assert_eq!(l.limit(), 4);
    }

    #[test]
    fn fixed_stays_fixed() {
        let mut l = Limiter::new(Concurrency::Fixed(3), None);
        for _ in 0..3 {
            l.launched();
        }
        assert!(!l.has_room());
        l.finished(Instant::now(), Some(FailureKind::Throttled));
        assert_eq!(l.limit(), 3);
        assert!(l.has_room());
    }

    #[test]
    fn flush_thread_count_is_the_ceiling_or_the_fixed_number() {
        let adaptive = Concurrency::Adaptive {
            initial: 2,
            max: 32,
        };
        assert_eq!(adaptive.configured(0, None), adaptive);
        assert_eq!(
            adaptive.configured(8, None),
            Concurrency::Adaptive { initial: 2, max: 8 }
        );
        assert_eq!(
            adaptive.configured(1, None),
            Concurrency::Adaptive { initial: 1, max: 1 }
        );
        assert_eq!(adaptive.configured(8, Some(false)), Concurrency::Fixed(8));
        assert_eq!(adaptive.configured(0, Some(false)), Concurrency::Fixed(2));
        assert_eq!(
            Concurrency::Fixed(1).configured(0, None),
            Concurrency::Fixed(1)
        );
        assert_eq!(
            Concurrency::Fixed(1).configured(4, None),
            Concurrency::Fixed(4)
        );
    }
}
