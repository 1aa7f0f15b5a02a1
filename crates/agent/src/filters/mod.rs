//! Filters (`<filter>`): `grep` keeps or drops events by field patterns, `record_transformer`
//! adds and removes fields, `kubernetes_metadata` says which pod and container a line is from
//! and what the API server knows of them. Each runs on the source's thread, in declaration order.

mod grep;
mod kubernetes_metadata;
mod record_transformer;

pub use grep::GrepFilter;
pub use kubernetes_metadata::{Fields as KubernetesFields, KubernetesMetadata};
pub use record_transformer::RecordTransformer;

use crate::event::Event;
use crate::telemetry::Telemetry;

pub trait Filter: Send + Sync {
    /// Starts what the filter runs beside the pipeline (the `kubernetes_metadata` watch), from
    /// within the runtime, before the sources; stopped when the filter is dropped. Its metrics
    /// go to `telemetry` under `plugin_id`.
    fn start(&self, _plugin_id: &str, _telemetry: &Telemetry) {}

    /// Changes the event in place; `false` drops it (intentionally: it counts as delivered).
    fn apply(&self, event: &mut Event) -> bool;
}

#[cfg(test)]
mod tests;
