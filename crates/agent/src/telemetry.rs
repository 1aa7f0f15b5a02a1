//! One agent's metrics and readiness, as handles rather than globals: the runtime makes them
//! (or is given them), every source and output it starts counts into them, and the operations
//! endpoint serves the ones it was given. Two agents in one process, such as a test's two
//! pipelines, count apart; the supervisor keeps one across reloads, so counters keep counting.

use std::sync::Arc;

use crate::health::Health;
use crate::metrics::Metrics;

/// Cheap to clone: clones share the same metrics and health.
#[derive(Clone, Default)]
pub struct Telemetry {
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry(..)")
    }
}
