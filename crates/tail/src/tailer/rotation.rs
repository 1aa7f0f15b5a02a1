//! Rotation: detecting that a followed file left its path (renamed or deleted) or was
//! truncated, finding files that were rotated in and out between two looks (beside the path and
//! beside a symlink's target), finishing rotated files before their successors, forgetting
//! paths that stay empty, and, after a restart, resuming rotated files the pos_file still names.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::{Chunk, Notice, Position, Tailer};
use crate::checkpoint::Checkpoint;
use crate::file::FileId;

/// A file read to its end and closed, as it was then. Its inode number alone does not name it
/// once it is deleted: ext4 gives the next file created the same number at once (kubelet
/// compresses a rotated log away and the runtime creates the next `0.log` right after), and
/// that file, if it was rotated away before we saw it at the path, must still be read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Finished {
    id: FileId,
    len: u64,
    modified: Option<SystemTime>,
}

impl Finished {
    pub(super) fn of(meta: &fs::Metadata) -> Finished {
        Finished {
            id: FileId::of(meta),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// `meta` is still this file: the same inode, the same size, not written since.
    pub(super) fn is(&self, meta: &fs::Metadata) -> bool {
        *self == Finished::of(meta)
    }
}

/// A path whose file rotated away, waiting for its successor.
#[derive(Clone, Copy)]
pub(super) struct Waiting {
    /// Wall-clock time the rotated file was opened: siblings written since may be files that
    /// were rotated in and out between two polls.
    pub(super) since: SystemTime,
    /// When the path was found empty.
    pub(super) at: Instant,
}

/// Paths waiting for a successor, at most: past this the longest-waiting is forgotten.
const MOST_WAITING: usize = 256;

impl Tailer {
    /// Detects truncation of every open file and rotation or deletion of the current ones.
    pub(super) fn check_paths(&mut self, now: Instant) {
        let mut missed = Vec::new();
        for tracked in &mut self.files {
            if !self.eager && tracked.next_look.is_some_and(|at| now < at) {
                continue; // checked when it is next looked at
            }
            if tracked.file.truncated() && tracked.file.restart().is_ok() {
                if let Some(p) = self.positions.get_mut(&tracked.file.id) {
                    p.checkpoint.reset();
                    self.dirty = true;
                }
                self.notices.push(Notice::Truncated {
                    path: tracked.file.path.to_path_buf(),
                });
            }
            if tracked.rotated_at.is_some() {
                continue;
            }
            let path = tracked.file.path.clone();
            let still_here = fs::metadata(&path).is_ok_and(|m| FileId::of(&m) == tracked.file.id);
            if !still_here {
                tracked.rotated_at = Some(now);
                self.notices.push(Notice::Rotated {
                    path: path.to_path_buf(),
                });
                missed.push((path, tracked.opened_at));
            }
        }
        for (path, since) in missed {
            self.follow_missed_rotations(&path, since, now);
            self.rotated_since
                .insert(path.to_path_buf(), Waiting { since, at: now });
        }
        self.forget_empty_paths(now);
    }

    /// A path that stayed empty longer than a refresh and a `rotate_wait` is gone (its app
    /// moved on to another name, or its pod was deleted): stop looking for its successor and
    /// forget it was seen. Should a file appear there after all, it is a new file like any
    /// other (read from its head by default).
    fn forget_empty_paths(&mut self, now: Instant) {
        let patience = self.cfg.refresh_interval.max(self.cfg.rotate_wait);
        let gone: Vec<PathBuf> = self
            .rotated_since
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.at) > patience)
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            self.rotated_since.remove(&path);
            self.forget_path(&path);
        }
        if self.rotated_since.len() > MOST_WAITING {
            let mut by_age: Vec<(Instant, PathBuf)> = self
                .rotated_since
                .iter()
                .map(|(p, w)| (w.at, p.clone()))
                .collect();
            by_age.sort();
            for (_, path) in by_age.drain(..by_age.len() - MOST_WAITING) {
                self.rotated_since.remove(&path);
                self.forget_path(&path);
            }
        }
    }

    fn forget_path(&mut self, path: &Path) {
        self.seen.remove(path);
        self.unreadable.remove(path);
    }

    /// Several rotations between two polls leave files that were never seen at the path:
    /// `app.log.2` was created, written and renamed while we still read `app.log.1`. Siblings
    /// named after the path, unknown to us and written since we opened the rotated file are
    /// such files; they are finished from their start, oldest first.
    pub(super) fn follow_missed_rotations(&mut self, path: &Path, since: SystemTime, now: Instant) {
        let current = fs::metadata(path).ok().map(|m| FileId::of(&m));
        let pos_file = self
            .cfg
            .pos_file
            .as_ref()
            .and_then(|p| fs::metadata(p).ok())
            .map(|m| FileId::of(&m));
        let pos_name = self
            .cfg
            .pos_file
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let listing = rotation_places(path).into_iter().flat_map(|(dir, base)| {
            fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(move |e| (e, base.clone()))
        });
        let mut found: Vec<(SystemTime, PathBuf)> = listing
            .filter(|(e, base)| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(base.as_str())
                    && name != *base
                    // The pos_file and whatever an agent keeps next to it (journals, temps).
                    && !pos_name.as_deref().is_some_and(|p| name.starts_with(p))
                    && ![
                        ".gz", ".bz2", ".xz", ".zip", ".zst", ".pos", ".tmp", ".lock",
                    ]
                    .iter()
                    .any(|x| name.ends_with(x))
            })
            .filter_map(|(e, _)| {
                let meta = e.metadata().ok()?;
                let id = FileId::of(&meta);
                // An open file is held by its descriptor (its inode cannot be reused); a
                // closed one only if it is unchanged.
                let known = Some(id) == current
                    || Some(id) == pos_file
                    || self.files.iter().any(|t| t.file.id == id)
                    || self.finished.iter().any(|f| f.is(&meta));
                let modified = meta.modified().ok()?;
                (meta.is_file() && !known && modified >= since).then(|| (modified, e.path()))
            })
            .collect();
        found.sort();
        found.dedup();
        for (_, at) in found {
            let before = self.files.len();
            self.open(at.clone(), 0, Some(now), false);
            if self.files.len() > before {
                let tracked = self.files.last().expect("just pushed");
                if let Some(p) = self.positions.get_mut(&tracked.file.id) {
                    p.path = path.into();
                }
                self.notices.push(Notice::ResumedRotated {
                    path: path.to_path_buf(),
                    found_at: at,
                    offset: 0,
                });
            }
        }
    }

    /// After a restart, the pos_file may name a file that was rotated away while it still had
    /// unread lines: find it next to its old path by inode and finish it first.
    pub(super) fn resume_rotated(&mut self, now: Instant) {
        let mut found = Vec::new();
        let mut finished = Vec::new();
        for (path, entries) in &self.saved {
            let path = Path::new(path);
            let current = fs::metadata(path).ok().map(|m| m.ino());
            let siblings: Vec<(PathBuf, fs::Metadata)> = rotation_places(path)
                .into_iter()
                .flat_map(|(dir, _)| fs::read_dir(dir).into_iter().flatten().flatten())
                .filter_map(|e| Some((e.path(), e.metadata().ok()?)))
                .filter(|(_, m)| m.is_file())
                .collect();
            for entry in entries {
                if Some(entry.inode) == current {
                    continue;
                }
                match siblings.iter().find(|(_, m)| m.ino() == entry.inode) {
                    Some((at, meta)) if meta.len() > entry.offset => {
                        found.push((path.to_path_buf(), at.clone(), entry.offset));
                    }
                    // Read to its end before the restart: never read it again.
                    Some((_, meta)) => {
                        finished.push((Finished::of(meta), path.to_path_buf(), entry.offset))
                    }
                    None => {}
                }
            }
        }
        for (done, path, offset) in finished {
            let id = done.id;
            self.finished.push_back(done);
            self.opened += 1;
            self.positions.insert(
                id,
                Position {
                    path: path.into(),
                    checkpoint: Checkpoint::at(offset),
                    open: false,
                    opened: self.opened,
                },
            );
        }
        for (path, at, offset) in found {
            self.notices.push(Notice::ResumedRotated {
                path: path.clone(),
                found_at: at.clone(),
                offset,
            });
            self.seen.insert(path.clone());
            let before = self.files.len();
            self.open(at, offset, Some(now), true);
            // Keep the original path so positions stay under the name the pos_file used.
            if self.files.len() > before {
                let shared: Arc<Path> = path.into();
                let tracked = self.files.last_mut().expect("just pushed");
                if let Some(p) = self.positions.get_mut(&tracked.file.id) {
                    p.path = shared;
                }
            }
        }
    }

    pub(super) fn close_finished(&mut self, now: Instant, chunks: &mut Vec<Chunk>) {
        let wait = self.cfg.rotate_wait;
        let mut index = 0;
        while index < self.files.len() {
            let tracked = &self.files[index];
            let done = tracked.file.eof
                && tracked
                    .rotated_at
                    .is_some_and(|at| now.saturating_duration_since(at) >= wait);
            if !done {
                index += 1;
                continue;
            }
            let mut tracked = self.files.remove(index);
            if let Some(piece) = tracked.file.take_partial() {
                let path = tracked.file.path.clone();
                chunks.push(self.issue(tracked.file.id, &path, piece));
            }
            if let Some(p) = self.positions.get_mut(&tracked.file.id) {
                p.open = false;
            }
            if let Ok(meta) = tracked.file.metadata() {
                self.finished.push_back(Finished::of(&meta));
            }
            if self.finished.len() > 256 {
                self.finished.pop_front();
            }
            self.prune_closed();
            self.dirty = true;
            self.notices.push(Notice::Closed {
                path: tracked.file.path.to_path_buf(),
            });
        }
    }
}

/// Where a file rotated away from `path` may be, as (directory, name prefix): beside the path,
/// and, when the path is a symlink, beside its target too. kubelet's
/// `/var/log/containers/*.log` are links to `/var/log/pods/.../0.log`, and rotation renames
/// the target (`0.log.20261203-...`) while the link stays where it is.
pub(super) fn rotation_places(path: &Path) -> Vec<(PathBuf, String)> {
    let place = |p: &Path| -> Option<(PathBuf, String)> {
        Some((
            p.parent()?.to_path_buf(),
            p.file_name()?.to_string_lossy().into_owned(),
        ))
    };
    let mut places: Vec<(PathBuf, String)> = place(path).into_iter().collect();
    // The link's own target (it need not exist: between kubelet's rename and its new file).
    if let Ok(target) = fs::read_link(path) {
        let target = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
        if let Some(beside) = place(&target).filter(|p| !places.contains(p)) {
            places.push(beside);
        }
    }
    places
}
