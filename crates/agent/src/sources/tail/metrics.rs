//! The tail source's metrics: lines and bytes read per path, the acknowledged position and the
//! bytes still undelivered behind the end of each file, and the exposure window (a chunk's read
//! to its acknowledgement: how long its lines exist only in the file that a node loss deletes).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tail::Tailer;
use tail::pos_file::PosEntry;

const POSITIONS_EVERY: Duration = Duration::from_secs(1);

use crate::metrics::{self, Counter, Histogram};

pub(super) struct TailMetrics {
    plugin_id: String,
    records: Arc<Counter>,
    pub(super) exposure: Arc<Histogram>,
    next_positions: Instant,
    per_path: HashMap<Arc<Path>, (Arc<Counter>, Arc<Counter>)>,
}

impl TailMetrics {
    pub(super) fn new(plugin_id: &str) -> TailMetrics {
        TailMetrics {
            plugin_id: plugin_id.to_string(),
            records: metrics::INPUT_RECORDS.with(&[plugin_id, "tail"]),
            exposure: metrics::EXPOSURE_WINDOW.with(&[plugin_id]),
            per_path: HashMap::new(),
            next_positions: Instant::now(),
        }
    }

    /// A chunk of `lines` lines and `bytes` bytes was read from `path`.
    pub(super) fn read(&mut self, path: &Arc<Path>, lines: u64, bytes: u64) {
        let plugin_id = &self.plugin_id;
        let (l, b) = self.per_path.entry(path.clone()).or_insert_with(|| {
            let p = path.to_string_lossy();
            (
                metrics::TAIL_LINES_READ.with(&[plugin_id, &p]),
                metrics::TAIL_BYTES_READ.with(&[plugin_id, &p]),
            )
        });
        l.add(lines);
        b.add(bytes);
    }

    /// Events handed to the router.
    pub(super) fn emitted(&self, events: usize) {
        self.records.add(events as u64);
    }

    /// Updates the position and bytes-behind gauges, at most once a second.
    pub(super) fn update_positions(&mut self, tailer: &Tailer) {
        let now = Instant::now();
        if now < self.next_positions {
            return;
        }
        self.next_positions = now + POSITIONS_EVERY;
        self.positions(&tailer.pos_entries());
    }

    /// The position and bytes-behind gauges of the file now at each path.
    fn positions(&self, entries: &[PosEntry]) {
        // The last entry of a path is its current file.
        let mut current: HashMap<&str, &PosEntry> = HashMap::new();
        for entry in entries {
            current.insert(entry.path.as_str(), entry);
        }
        for (path, entry) in current {
            metrics::TAIL_FILE_POSITION
                .with(&[&self.plugin_id, "tail", path])
                .set(entry.offset as i64);
            if let Ok(meta) = std::fs::metadata(path)
                && meta.ino() == entry.inode
            {
                metrics::TAIL_BYTES_BEHIND
                    .with(&[&self.plugin_id, path])
                    .set(meta.len().saturating_sub(entry.offset) as i64);
            }
        }
    }
}
