//! The disk buffer (`<buffer> @type file` + `path DIR`; v0.12 `buffer_type file` +
//! `buffer_path`): an append-only log of checksummed, length-prefixed event records in
//! versioned segment files. A source's batch is acknowledged once its events are in the log
//! (fsynced first, by default), so the pos_file moves on; the output delivers from the log,
//! deletes a segment once everything in it is delivered, and on the next start replays what
//! was not delivered before anything new. When the log reaches `total_limit_size` the output
//! stops taking events, and the sources stop reading: the log file is the buffer of last resort.
//!
//! Which buffer for a `format none` tail sidecar? The memory buffer stays the default. With it
//! a position moves only after Cloud Logging accepted the lines, so the log file itself is the
//! durable buffer and a disk buffer would only write every line a second time to the same
//! `emptyDir`. The disk buffer matters where the input cannot be read again (`forward`: the
//! sender forgets a chunk once it is acknowledged) and for outages longer than the app's log
//! rotation keeps its files. See `docs/buffers.md`.

mod lock;
mod log;
pub mod record;
pub mod recovery;
mod runner;
pub mod segment;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use lock::BufferInUse;
pub use log::{DiskLog, ReadChunk};
pub use recovery::RecoveryReport;
pub use runner::spawn_disk_output;

/// When appended records are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// `fsync before_ack` (default): before the source's batch is acknowledged, so a position
    /// never moves past lines that a power cut could take from the buffer.
    #[default]
    BeforeAck,
    /// `fsync never`: left to the kernel. Survives the agent being killed (the page cache
    /// outlives the process), not a kernel crash or power cut.
    Never,
}

impl FsyncPolicy {
    pub const NAMES: &[&str] = &["before_ack", "never"];

    pub fn from_name(name: &str) -> Option<FsyncPolicy> {
        match name {
            "before_ack" => Some(FsyncPolicy::BeforeAck),
            "never" => Some(FsyncPolicy::Never),
            _ => None,
        }
    }
}

/// Settings of a disk buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskBufferConfig {
    /// The buffer directory (one per output: it is locked while the buffer is open).
    pub path: PathBuf,
    /// `total_limit_size`: the most the segments may hold before the sources are held back.
    pub total_limit_size: u64,
    /// A segment is sealed when it reaches this size (an eighth of the limit by default, so
    /// space comes back in small steps as deliveries progress).
    pub segment_size: u64,
    pub fsync: FsyncPolicy,
}

/// Sized for a sidecar: a few minutes of a busy API's logs, far below an `emptyDir` limit.
pub const DEFAULT_TOTAL_LIMIT_SIZE: u64 = 64 * 1024 * 1024;

impl DiskBufferConfig {
    pub fn new(path: PathBuf) -> Self {
        Self::with_limit(path, DEFAULT_TOTAL_LIMIT_SIZE)
    }

    pub fn with_limit(path: PathBuf, total_limit_size: u64) -> Self {
        Self {
            path,
            total_limit_size,
            segment_size: (total_limit_size / 8).clamp(4096, 8 * 1024 * 1024),
            fsync: FsyncPolicy::default(),
        }
    }
}

/// A place in the log: segment id and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

/// Undelivered events, counted the way the output's buffer gauges count them (entries, and
/// bytes as `Record::approx_size`): see [`record::held_size`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub events: u64,
    pub bytes: u64,
}

impl Held {
    /// Counts one event of `held_size` (nothing for an event that cannot be decoded).
    pub fn count(&mut self, held_size: Option<usize>) {
        if let Some(bytes) = held_size {
            self.events += 1;
            self.bytes += bytes as u64;
        }
    }

    pub fn include(&mut self, more: Held) {
        self.events += more.events;
        self.bytes += more.bytes;
    }

    pub fn remove(&mut self, gone: Held) {
        self.events = self.events.saturating_sub(gone.events);
        self.bytes = self.bytes.saturating_sub(gone.bytes);
    }

    /// What `self` holds beyond `earlier`.
    pub fn since(mut self, earlier: Held) -> Held {
        self.remove(earlier);
        self
    }
}
