//! Follows log files the way fluentd's `in_tail` does, so a pod that ran fluentd can switch to
//! logferry and resume from fluentd's `pos_file`.
//!
//! The crate is synchronous and knows nothing about parsing or shipping: [`Tailer`] hands out
//! chunks of complete lines together with the byte offsets they came from, and moves a file's
//! checkpoint only when the consumer acknowledges a chunk ([`Tailer::ack`]). Positions are
//! written atomically in fluentd's format ([`pos_file`]).
#![forbid(unsafe_code)]

mod checkpoint;
mod discovery;
mod file;
#[doc(hidden)]
pub mod fuzzing;
pub mod pos_file;
mod tailer;

pub use discovery::PathSpec;
pub use file::{FileId, LongLines};
pub use tailer::{Chunk, Notice, TailConfig, Tailer};
