//! logferry's pipeline runtime: sources read lines, parsers turn them into events, filters
//! change or drop them, the router sends each to the first `<match>` whose pattern fits its tag,
//! and outputs deliver them. Acknowledgements flow back the same way so a source only moves its
//! position over delivered lines.
#![forbid(unsafe_code)]

pub mod ack;
pub mod config;
pub mod event;
pub mod filters;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod metrics;
pub mod msgpack;
pub mod parsers;
pub mod pattern;
pub mod router;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod telemetry;
