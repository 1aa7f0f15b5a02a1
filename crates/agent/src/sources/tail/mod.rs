//! `@type tail`: follows files like fluentd's `in_tail` (see the `tail` crate for rotation,
//! truncation and the pos_file), parses their lines and emits events tagged after the file.

mod config;
mod metrics;
mod read_times;
mod source;
#[cfg(test)]
mod tests;

pub use config::TailSourceConfig;
pub use source::{DrainPolicy, SourceControl, spawn_tail_source};
