//! The tail loop's state: which files are followed and how often each is looked at, discovery
//! of new paths, the chunks handed out and the checkpoints behind the pos_file. Rotation and
//! truncation detection, and finding rotated files, live in [`rotation`].
//!
//! Rename rotation: the old file keeps being read through its open descriptor until it is
//! exhausted and `rotate_wait` has passed, and its lines are handed out before the new file's.
//! Copytruncate: a file that shrank below what was read starts over at offset 0. Identity is the
//! inode, so a glob matching both `app.log` and `app.log.1` never reads a rotated file twice.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::checkpoint::Checkpoint;
use crate::discovery::PathSpec;
use crate::file::{FileId, LongLines, OpenFile, Piece};
use crate::pos_file::{self, PosEntry, UNWATCHED};

mod rotation;

use rotation::{Finished, Waiting};

/// Fully read rotated files remembered in the pos_file.
const KEEP_CLOSED: usize = 16;

/// How far file modification times may lag the precise clock.
const COARSE_CLOCK_SLACK: Duration = Duration::from_millis(50);

/// Settings of one tail source (fluentd `in_tail` names).
#[derive(Debug, Clone)]
pub struct TailConfig {
    pub paths: PathSpec,
    pub pos_file: Option<PathBuf>,
    pub refresh_interval: Duration,
    pub rotate_wait: Duration,
    /// For a file with no saved position: start at its head (logferry's default) or its end.
    pub read_from_head: bool,
    pub max_line_size: usize,
    pub long_lines: LongLines,
    /// Bytes read from one file per read call.
    pub read_size: usize,
    /// Bytes read from all files per [`Tailer::poll`], so one busy file cannot starve others.
    pub poll_budget: usize,
}

impl TailConfig {
    pub fn new(paths: PathSpec) -> Self {
        Self {
            paths,
            pos_file: None,
            refresh_interval: Duration::from_secs(60),
            rotate_wait: Duration::from_secs(5),
            read_from_head: true,
            max_line_size: 1024 * 1024,
            long_lines: LongLines::Split,
            read_size: 256 * 1024,
            poll_budget: 4 * 1024 * 1024,
        }
    }
}

/// Lines read from one file: whole lines ending in `\n`, except a part of an over-long line or
/// the last line of a file that never got its newline.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub path: Arc<Path>,
    pub file: FileId,
    /// Acknowledge with this number ([`Tailer::ack`]).
    pub seq: u64,
    pub data: Bytes,
    /// File offset of `data[0]`.
    pub start: u64,
    /// Part of a line longer than `max_line_size`.
    pub long_line: bool,
}

impl Chunk {
    /// File offset just past this chunk.
    pub fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// Things worth telling the operator, in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Following {
        path: PathBuf,
        offset: u64,
    },
    Resumed {
        path: PathBuf,
        offset: u64,
    },
    ResumedRotated {
        path: PathBuf,
        found_at: PathBuf,
        offset: u64,
    },
    Rotated {
        path: PathBuf,
    },
    Truncated {
        path: PathBuf,
    },
    Closed {
        path: PathBuf,
    },
    LongLine {
        path: PathBuf,
        offset: u64,
        truncated: bool,
    },
    Unreadable {
        path: PathBuf,
        error: String,
    },
    PosFileDamaged {
        line: usize,
        text: String,
    },
}

struct Tracked {
    file: OpenFile,
    /// `Some` once the file no longer sits at its path (renamed away or deleted).
    rotated_at: Option<Instant>,
    /// Wall-clock time the file was opened: a sibling written after it may be a file that
    /// was rotated in and out between two polls.
    opened_at: std::time::SystemTime,
    /// Since when reads have found nothing new (`None`: the last read found lines).
    idle_since: Option<Instant>,
    /// A file idle for a while is looked at (read, checked for rotation and truncation) less
    /// often than every poll (see [`IDLE_LOOK_MAX`]): not before this. `None`: at the next poll.
    next_look: Option<Instant>,
}

/// The longest an idle file goes without being looked at. A node has thousands of container
/// logs and most are quiet: looking at each on every poll (a stat of its path, an fstat and a
/// read) cost more than the busy ones' lines. A file idle for `t` ≥ [`IDLE_BEFORE_BACKOFF`] is
/// looked at every `t / 4`, at most every second, so a busy file (or one quiet for a moment)
/// keeps its poll-interval latency and a line in a long-quiet file waits at most this much
/// longer (Vector's file source backs off to 2 s).
const IDLE_LOOK_MAX: Duration = Duration::from_secs(1);

/// Idle for less than this, a file is looked at on every poll.
const IDLE_BEFORE_BACKOFF: Duration = Duration::from_secs(1);

struct Position {
    path: Arc<Path>,
    checkpoint: Checkpoint,
    open: bool,
    /// When the file was opened: the pos_file lists a path's files oldest first, so a restart
    /// finishes rotated files in the order they were written.
    opened: u64,
}

/// Follows the files of one tail source.
pub struct Tailer {
    cfg: TailConfig,
    files: Vec<Tracked>,
    positions: HashMap<FileId, Position>,
    /// Positions read from the pos_file at start, consumed as their paths are found.
    saved: HashMap<String, Vec<PosEntry>>,
    /// Paths that have had a file before: a file appearing there later is new content.
    seen: HashSet<PathBuf>,
    unreadable: HashMap<PathBuf, String>,
    next_refresh: Option<Instant>,
    /// Wall-clock time of the last glob expansion (before the first: when the pos_file was
    /// last written, if there is one).
    last_refresh: Option<std::time::SystemTime>,
    /// Paths whose file rotated away while no successor was there yet: when one appears, look
    /// again for files that came and went in between. A path that stays empty is forgotten
    /// (see [`Waiting`]), or a glob over ever-new names would keep every name it ever matched.
    rotated_since: HashMap<PathBuf, Waiting>,
    /// Files read to their end and closed, so a sibling scan never reads them again.
    finished: std::collections::VecDeque<Finished>,
    notices: Vec<Notice>,
    dirty: bool,
    at_eof: bool,
    opened: u64,
    /// Look at every file on every poll (the agent is draining or reloading, and must not
    /// call a file done that it skipped).
    eager: bool,
}

impl Tailer {
    /// Loads the pos_file (if any) and finds rotated files that still have unread lines.
    pub fn new(cfg: TailConfig, now: Instant) -> io::Result<Self> {
        let (entries, bad) = match &cfg.pos_file {
            Some(path) => pos_file::load(path)?,
            None => Default::default(),
        };
        // When the last run last wrote its positions: a path the pos_file does not know
        // appeared after that (a container started while the agent was down), and files
        // rotated away from it since are its earlier ones.
        let last_written = cfg
            .pos_file
            .as_ref()
            .and_then(|p| fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .map(|t| t - COARSE_CLOCK_SLACK);
        let mut tailer = Self {
            cfg,
            files: Vec::new(),
            positions: HashMap::new(),
            saved: HashMap::new(),
            seen: HashSet::new(),
            unreadable: HashMap::new(),
            next_refresh: None,
            last_refresh: last_written,
            finished: Default::default(),
            rotated_since: HashMap::new(),
            notices: bad
                .into_iter()
                .map(|b| Notice::PosFileDamaged {
                    line: b.line,
                    text: b.text,
                })
                .collect(),
            dirty: false,
            at_eof: false,
            opened: 0,
            eager: false,
        };
        for entry in entries {
            if entry.offset != UNWATCHED {
                tailer
                    .saved
                    .entry(entry.path.clone())
                    .or_default()
                    .push(entry);
            }
        }
        tailer.resume_rotated(now);
        Ok(tailer)
    }

    /// Reads what is new in every followed file. Returns the chunks in the order their lines
    /// must be delivered (a rotated file's rest before its successor's first lines).
    pub fn poll(&mut self, now: Instant) -> Vec<Chunk> {
        self.check_paths(now);
        self.discover(now);
        let mut chunks = Vec::new();
        let mut budget = self.cfg.poll_budget;
        let mut at_eof = true;
        let mut pieces = Vec::new();
        // Rotated files first, oldest first, so their lines come before their successor's.
        let mut order: Vec<usize> = (0..self.files.len()).collect();
        order.sort_by_key(|&i| (self.files[i].rotated_at.is_none(), self.files[i].rotated_at));
        let mut unfinished_paths: HashSet<Arc<Path>> = HashSet::new();
        let eager = self.eager;
        for index in order {
            let tracked = &mut self.files[index];
            if tracked.rotated_at.is_none() && unfinished_paths.contains(&tracked.file.path) {
                at_eof = false;
                continue;
            }
            if !eager && tracked.next_look.is_some_and(|at| now < at) {
                continue; // idle, and was at its end when last looked at
            }
            let offset_before = tracked.file.read_offset();
            while budget > 0 {
                match tracked.file.read(
                    self.cfg.read_size.min(budget).max(4096),
                    self.cfg.max_line_size,
                    self.cfg.long_lines,
                    &mut pieces,
                ) {
                    Ok(0) => break,
                    Ok(n) => budget = budget.saturating_sub(n),
                    Err(error) => {
                        let path = tracked.file.path.to_path_buf();
                        self.notices.push(Notice::Unreadable {
                            path,
                            error: error.to_string(),
                        });
                        break;
                    }
                }
            }
            if !tracked.file.eof {
                at_eof = false;
                if tracked.rotated_at.is_some() {
                    unfinished_paths.insert(tracked.file.path.clone());
                }
            }
            if tracked.file.read_offset() != offset_before {
                tracked.idle_since = None;
                tracked.next_look = None;
            } else if tracked.rotated_at.is_none() {
                let idle = now.saturating_duration_since(*tracked.idle_since.get_or_insert(now));
                tracked.next_look =
                    (idle >= IDLE_BEFORE_BACKOFF).then(|| now + (idle / 4).min(IDLE_LOOK_MAX));
            }
            let id = tracked.file.id;
            let path = tracked.file.path.clone();
            for piece in pieces.drain(..) {
                chunks.push(self.issue(id, &path, piece));
            }
        }
        self.close_finished(now, &mut chunks);
        self.at_eof = at_eof;
        chunks
    }

    /// True when the last [`poll`](Self::poll) reached the end of every file (an idle file it
    /// did not look at counts as at its end, unless [`set_eager`](Self::set_eager)).
    pub fn caught_up(&self) -> bool {
        self.at_eof
    }

    /// From now on, every poll looks at every file (draining, reloading): a file skipped for
    /// being idle may have just been written to.
    pub fn set_eager(&mut self, eager: bool) {
        self.eager = eager;
    }

    /// Hands out every held last line without a newline: the agent is draining.
    pub fn flush_partial_lines(&mut self) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        for index in 0..self.files.len() {
            if let Some(piece) = self.files[index].file.take_partial() {
                let id = self.files[index].file.id;
                let path = self.files[index].file.path.clone();
                chunks.push(self.issue(id, &path, piece));
            }
        }
        chunks
    }

    /// Records that the lines of chunk `seq` of `file` up to `commit` are delivered.
    pub fn ack(&mut self, file: FileId, seq: u64, commit: u64) {
        if let Some(position) = self.positions.get_mut(&file)
            && position.checkpoint.ack(seq, commit)
        {
            self.dirty = true;
        }
        self.prune_closed();
    }

    /// Issues a sequence number without data, for records a consumer finishes later (a
    /// multiline record flushed by its timer). `None` if the file is no longer tracked.
    pub fn reserve(&mut self, file: FileId) -> Option<u64> {
        self.positions.get_mut(&file).map(|p| p.checkpoint.issue())
    }

    /// Closed files stay in the pos_file (fully read) so a restart knows not to read them
    /// again; only the most recent few are kept.
    fn prune_closed(&mut self) {
        let mut closed: Vec<(u64, FileId)> = self
            .positions
            .iter()
            .filter(|(_, p)| !p.open && p.checkpoint.idle())
            .map(|(id, p)| (p.opened, *id))
            .collect();
        if closed.len() > KEEP_CLOSED {
            closed.sort();
            for (_, id) in &closed[..closed.len() - KEEP_CLOSED] {
                self.positions.remove(id);
            }
        }
    }

    /// True when every chunk handed out has been acknowledged.
    pub fn all_acked(&self) -> bool {
        self.positions.values().all(|p| p.checkpoint.idle())
    }

    /// Writes the pos_file if a position moved since the last call.
    pub fn persist(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(path) = &self.cfg.pos_file {
            pos_file::store(path, &self.pos_entries())?;
        }
        self.dirty = false;
        Ok(())
    }

    /// The positions as they would be written to the pos_file now.
    pub fn pos_entries(&self) -> Vec<PosEntry> {
        let mut entries: Vec<(u64, PosEntry)> = self
            .positions
            .iter()
            .map(|(id, p)| {
                (
                    p.opened,
                    PosEntry {
                        path: p.path.to_string_lossy().into_owned(),
                        offset: p.checkpoint.committed,
                        inode: id.inode,
                    },
                )
            })
            .collect();
        // fluentd reads the last line of a path as its position: the current (newest) file
        // goes last.
        entries.sort_by(|a, b| (a.1.path.as_str(), a.0).cmp(&(b.1.path.as_str(), b.0)));
        entries.into_iter().map(|(_, e)| e).collect()
    }

    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Number of files open now (current and rotated).
    pub fn open_files(&self) -> usize {
        self.files.len()
    }

    fn issue(&mut self, id: FileId, path: &Arc<Path>, piece: Piece) -> Chunk {
        let opened = self.opened;
        let position = self.positions.entry(id).or_insert_with(|| Position {
            path: path.clone(),
            checkpoint: Checkpoint::at(piece.start),
            open: true,
            opened,
        });
        if piece.long_line {
            self.notices.push(Notice::LongLine {
                path: path.to_path_buf(),
                offset: piece.start,
                truncated: self.cfg.long_lines == LongLines::Truncate,
            });
        }
        Chunk {
            path: path.clone(),
            file: id,
            seq: position.checkpoint.issue(),
            data: piece.data,
            start: piece.start,
            long_line: piece.long_line,
        }
    }

    /// Starts following files that appeared at configured paths.
    fn discover(&mut self, now: Instant) {
        // A path whose file rotated away with no successor yet: files may come and go there
        // before one stays long enough to be seen at the path itself.
        let waiting: Vec<(PathBuf, std::time::SystemTime)> = self
            .rotated_since
            .iter()
            .map(|(p, w)| (p.clone(), w.since))
            .collect();
        for (path, since) in waiting {
            if !path.exists() {
                self.follow_missed_rotations(&path, since, now);
            }
        }
        let refresh = self.next_refresh.is_none_or(|at| now >= at);
        // A path a refresh finds for the first time appeared since the previous refresh.
        let mut appeared_since = None;
        let candidates: Vec<PathBuf> = if refresh {
            self.next_refresh = Some(now + self.cfg.refresh_interval);
            appeared_since = self.last_refresh;
            self.last_refresh = Some(std::time::SystemTime::now() - COARSE_CLOCK_SLACK);
            self.cfg.paths.expand()
        } else {
            self.cfg.paths.literal_paths().collect()
        };
        // A set, not a scan per candidate: a node's glob matches thousands of files, and
        // comparing paths component by component for each pair was most of a refresh.
        if candidates.is_empty() {
            return; // a glob between two refreshes
        }
        let followed: HashSet<Arc<Path>> = self
            .files
            .iter()
            .filter(|t| t.rotated_at.is_none())
            .map(|t| t.file.path.clone())
            .collect();
        for path in candidates {
            if !followed.contains(path.as_path()) {
                self.start_following(path, now, appeared_since);
            }
        }
    }

    /// Starts following the file at `path`. `appeared_since`: the path was not there at that
    /// time (the previous glob refresh), so files rotated away from it meanwhile are its
    /// earlier ones.
    fn start_following(
        &mut self,
        path: PathBuf,
        now: Instant,
        appeared_since: Option<std::time::SystemTime>,
    ) {
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                self.unreadable.remove(&path);
                return;
            }
            Err(error) => return self.unreadable(path, error.to_string()),
        };
        if !meta.is_file() {
            return self.unreadable(path, "not a regular file".into());
        }
        let id = FileId::of(&meta);
        if self.files.iter().any(|t| t.file.id == id) {
            return; // already followed under another name (a rotated file matched by a glob)
        }
        if let Some(waiting) = self.rotated_since.remove(&path) {
            self.follow_missed_rotations(&path, waiting.since, now);
        }
        let key = path.to_string_lossy().into_owned();
        let saved = self.saved.remove(&key).unwrap_or_default();
        let resumed = saved.iter().rev().find(|e| e.inode == id.inode);
        let (offset, resumed) = match resumed {
            Some(entry) if entry.offset <= meta.len() && ends_a_line(&path, entry.offset) => {
                (entry.offset, true)
            }
            Some(_) => {
                // Shrank, or was rewritten, while we were away: truncated.
                self.notices.push(Notice::Truncated { path: path.clone() });
                (0, false)
            }
            None if !saved.is_empty() || self.seen.contains(&path) => (0, false),
            None if self.cfg.read_from_head => {
                // A container that started after the previous refresh may have rotated its
                // first file away already (kubelet renames `0.log` beside the link's target):
                // those files come first, from their start, or their lines are never read.
                if let Some(since) = appeared_since {
                    self.follow_missed_rotations(&path, since, now);
                }
                (0, false)
            }
            None => (meta.len(), false),
        };
        self.open(path, offset, None, resumed);
    }

    fn open(&mut self, path: PathBuf, offset: u64, rotated_at: Option<Instant>, resumed: bool) {
        let shared: Arc<Path> = path.clone().into();
        match OpenFile::open(shared.clone(), offset) {
            Ok((file, _)) => {
                self.unreadable.remove(&path);
                self.seen.insert(path.clone());
                let id = file.id;
                let offset = file.handed_out();
                self.opened += 1;
                self.positions.insert(
                    id,
                    Position {
                        path: shared,
                        checkpoint: Checkpoint::at(offset),
                        open: true,
                        opened: self.opened,
                    },
                );
                self.dirty = true;
                // File times come from the kernel's coarse clock (a tick behind the precise
                // one): allow for it, or a file written just after this one looks older.
                let opened_at = std::time::SystemTime::now() - COARSE_CLOCK_SLACK;
                self.files.push(Tracked {
                    file,
                    rotated_at,
                    opened_at,
                    idle_since: None,
                    next_look: None,
                });
                if rotated_at.is_none() {
                    self.notices.push(if resumed {
                        Notice::Resumed { path, offset }
                    } else {
                        Notice::Following { path, offset }
                    });
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => self.unreadable(path, error.to_string()),
        }
    }

    fn unreadable(&mut self, path: PathBuf, error: String) {
        if self.unreadable.get(&path) != Some(&error) {
            self.unreadable.insert(path.clone(), error.clone());
            self.notices.push(Notice::Unreadable { path, error });
        }
    }
}

/// A saved position always sits just after a newline; if the byte before it is something else,
/// the file was truncated and rewritten while nobody was watching.
fn ends_a_line(path: &Path, offset: u64) -> bool {
    use std::os::unix::fs::FileExt;
    if offset == 0 {
        return true;
    }
    let mut byte = [0u8];
    fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut byte, offset - 1))
        .map(|()| byte[0] == b'\n')
        .unwrap_or(true)
}
