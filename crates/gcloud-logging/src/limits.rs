//! Cloud Logging's size limits, which batching must respect: an entry over the entry limit is
//! rejected on its own, a request over the request limit is rejected whole.

/// Largest encoded `LogEntry` Cloud Logging accepts: 256 KiB.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// Largest `entries:write` request body Cloud Logging accepts: 10 MB (decimal).
pub const MAX_REQUEST_BYTES: usize = 10 * 1000 * 1000;
