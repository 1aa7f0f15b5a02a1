//! The Cloud Logging v2 vocabulary that logferry's sink, emulator and CLI share: the REST wire
//! types, severity, timestamps and durations, how a JSON log record becomes a `LogEntry`
//! (Google's agents' field lifting), the allocation-free encoder for the hot path, and the ids
//! (`insertId`, `logName`) derived from where a line came from.
//!
//! Auth, metadata-server resource detection and the HTTP client are built on top of this.

#![forbid(unsafe_code)]

pub mod duration;
pub mod encode;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod lift;
pub mod limits;
pub mod severity;
mod siphash;
pub mod time;
pub mod transcode;
pub mod wire;

pub use duration::Duration;
pub use ids::{InsertId, LogName, insert_id, log_name, parse_log_name};
pub use lift::lift_record;
pub use limits::{MAX_ENTRY_BYTES, MAX_REQUEST_BYTES};
pub use severity::Severity;
pub use time::{Timestamp, TimestampFormatter};
pub use wire::{
    ErrorBody, HttpRequest, LogEntry, LogEntryOperation, LogEntrySourceLocation, LogSplit,
    MonitoredResource, Status, WriteLogEntriesPartialErrors, WriteLogEntriesRequest,
    WriteLogEntriesResponse,
};
