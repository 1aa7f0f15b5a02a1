//! The tail source's metrics: lines and bytes read per path, the acknowledged position and the
//! bytes still undelivered behind the end of each file, and the exposure window (a chunk's read
//! to its acknowledgement: how long its lines exist only in the file that a node loss deletes).
//!
//! Per-path series live as long as the tailer knows the path (its open files and the few
//! closed ones it remembers): a glob over rotating names would otherwise add series forever.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tail::Tailer;
use tail::pos_file::PosEntry;

const POSITIONS_EVERY: Duration = Duration::from_secs(1);

use crate::metrics::{Counter, Histogram, Metrics};

pub(super) struct TailMetrics {
    registry: Arc<Metrics>,
    plugin_id: String,
    records: Arc<Counter>,
    pub(super) exposure: Arc<Histogram>,
    next_positions: Instant,
    per_path: HashMap<Arc<Path>, (Arc<Counter>, Arc<Counter>)>,
    /// The paths the tailer knew at the last position update.
    known_paths: HashSet<String>,
}

impl TailMetrics {
    pub(super) fn new(plugin_id: &str, registry: Arc<Metrics>) -> TailMetrics {
        TailMetrics {
            plugin_id: plugin_id.to_string(),
            records: registry.input_records.with(&[plugin_id, "tail"]),
            exposure: registry.exposure_window.with(&[plugin_id]),
            registry,
            per_path: HashMap::new(),
            known_paths: HashSet::new(),
            next_positions: Instant::now(),
        }
    }

    /// A chunk of `lines` lines and `bytes` bytes was read from `path`.
    pub(super) fn read(&mut self, path: &Arc<Path>, lines: u64, bytes: u64) {
        let (plugin_id, registry) = (&self.plugin_id, &self.registry);
        let (l, b) = self.per_path.entry(path.clone()).or_insert_with(|| {
            let p = path.to_string_lossy();
            (
                registry.tail_lines_read.with(&[plugin_id, &p]),
                registry.tail_bytes_read.with(&[plugin_id, &p]),
            )
        });
        l.add(lines);
        b.add(bytes);
    }

    /// Counts an error of `class`.
    pub(super) fn error(&self, class: &'static str) {
        self.registry.error(class);
    }

    /// Events handed to the router.
    pub(super) fn emitted(&self, events: usize) {
        self.records.add(events as u64);
    }

    /// The tailer's positions when the gauges are due an update (at most once a second).
    pub(super) fn positions_due(&mut self, tailer: &Tailer) -> Option<Vec<PosEntry>> {
        let now = Instant::now();
        if now < self.next_positions {
            return None;
        }
        self.next_positions = now + POSITIONS_EVERY;
        Some(tailer.pos_entries())
    }

    /// Updates the position and bytes-behind gauges from `entries` (the tailer's positions),
    /// and forgets the series of paths the tailer no longer knows. Returns those paths.
    pub(super) fn update_positions(&mut self, entries: &[PosEntry]) -> Vec<String> {
        self.positions(entries);
        let known: HashSet<String> = entries.iter().map(|e| e.path.clone()).collect();
        let gone: Vec<String> = self.known_paths.difference(&known).cloned().collect();
        // A path read from but never in a position update (gone within a second) too.
        let unknown_read: Vec<String> = self
            .per_path
            .keys()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !known.contains(p) && !self.known_paths.contains(p))
            .collect();
        self.known_paths = known;
        let gone: Vec<String> = gone.into_iter().chain(unknown_read).collect();
        if !gone.is_empty() {
            self.forget(&gone);
        }
        gone
    }

    /// Removes every series of these paths.
    fn forget(&mut self, paths: &[String]) {
        let gone: HashSet<&str> = paths.iter().map(String::as_str).collect();
        self.per_path
            .retain(|path, _| !gone.contains(path.to_string_lossy().as_ref()));
        let plugin_id = self.plugin_id.as_str();
        // Label values: [plugin_id, path] or [plugin_id, type, path].
        let ours = |labels: &[String]| {
            labels.first().is_some_and(|id| id == plugin_id)
                && labels
                    .last()
                    .is_some_and(|path| gone.contains(path.as_str()))
        };
        let registry = &self.registry;
        registry.tail_lines_read.remove_where(ours);
        registry.tail_bytes_read.remove_where(ours);
        registry.tail_file_position.remove_where(ours);
        registry.tail_bytes_behind.remove_where(ours);
    }

    /// The position and bytes-behind gauges of the file now at each path.
    fn positions(&self, entries: &[PosEntry]) {
        // The last entry of a path is its current file.
        let mut current: HashMap<&str, &PosEntry> = HashMap::new();
        for entry in entries {
            current.insert(entry.path.as_str(), entry);
        }
        for (path, entry) in current {
            self.registry
                .tail_file_position
                .with(&[&self.plugin_id, "tail", path])
                .set(entry.offset as i64);
            if let Ok(meta) = std::fs::metadata(path)
                && meta.ino() == entry.inode
            {
                self.registry
                    .tail_bytes_behind
                    .with(&[&self.plugin_id, path])
                    .set(meta.len().saturating_sub(entry.offset) as i64);
            }
        }
    }
}
