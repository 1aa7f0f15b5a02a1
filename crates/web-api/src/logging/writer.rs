//! The lossless log writer: one thread owns the log file (and stdout), fed through a bounded
//! in-memory buffer.
//!
//! Producers append whole lines to a shared buffer under a mutex and block while it is full, so
//! a writer that falls behind slows requests down instead of dropping lines (the failure mode
//! of `tracing-appender`'s non-blocking writer). The writer thread takes the whole buffer at
//! once and writes it with one `write`; lines are appended whole, so they never interleave.
//! Producers wake the writer only when it sleeps, and it lingers [`BATCH_LINGER`] after a
//! wake-up so a busy server pays one wake-up per batch, not per line — lines still reach the
//! file within milliseconds. The file can be reopened (SIGHUP, after an external rotation) or
//! rotated by size here.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer waits after a wake-up for more lines before writing the batch.
pub const BATCH_LINGER: Duration = Duration::from_millis(1);

/// Errors opening the log destinations.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot open log file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot start the log writer thread: {0}")]
    Thread(io::Error),
    #[error("cannot install the log subscriber: {0}")]
    Install(String),
}

/// Built-in size rotation: `app.log` → `app.log.1` → … → `app.log.{keep}` (the oldest is removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_bytes: u64,
    pub keep: u32,
}

/// Where lines go.
#[derive(Debug, Clone, Default)]
pub struct WriterConfig {
    pub file: Option<PathBuf>,
    pub rotation: Option<Rotation>,
    pub stdout: bool,
    /// Bytes of lines that may wait in memory before producers block.
    pub buffer_bytes: usize,
}

/// Counters the writer thread keeps; read by tests and the exit marker.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub lines_written: AtomicU64,
    pub batches: AtomicU64,
    pub rotations: AtomicU64,
    pub reopens: AtomicU64,
    pub write_errors: AtomicU64,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    lines: u64,
    writer_asleep: bool,
    /// Reopen the file once `buf[..at]` is written: a barrier, so later lines go to the new file.
    reopen_at: Option<usize>,
    flush_requested: u64,
    flush_done: u64,
}

struct Shared {
    pending: Mutex<Pending>,
    /// The writer waits here for lines or requests.
    work: Condvar,
    /// Producers wait here for room in the buffer.
    room: Condvar,
    /// `flush` callers wait here for their flush to be done.
    flushed: Condvar,
    capacity: usize,
    stats: WriterStats,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves plain bytes behind; keep going.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_writer(&self, p: &mut Pending) {
        if p.writer_asleep {
            p.writer_asleep = false;
            self.work.notify_one();
        }
    }
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.shared.stats)
            .finish()
    }
}

impl LogWriter {
    /// Opens the destinations and starts the writer thread.
    pub fn spawn(config: WriterConfig) -> Result<(LogWriter, JoinHandle<()>), LogError> {
        let file = match &config.file {
            Some(path) => Some(FileSink::open(path.clone(), config.rotation)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            flushed: Condvar::new(),
            capacity: config.buffer_bytes.max(1),
            stats: WriterStats::default(),
        });
        let mut sinks = Sinks {
            file,
            stdout: config.stdout.then(io::stdout),
            shared: shared.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || sinks.run())
            .map_err(LogError::Thread)?;
        Ok((LogWriter { shared }, handle))
    }

    /// Queues one complete line (ending in `\n`); blocks while the buffer is full.
    pub fn write_line(&self, line: &[u8]) {
        let shared = &*self.shared;
        let mut p = shared.lock();
        while !p.buf.is_empty() && p.buf.len() + line.len() > shared.capacity {
            // Also ends the writer's linger: a full buffer should be written now.
            p.writer_asleep = false;
            shared.work.notify_one();
            p = shared.room.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        p.buf.extend_from_slice(line);
        p.lines += 1;
        shared.wake_writer(&mut p);
    }

    /// Asks the writer to reopen the file after the lines queued so far (SIGHUP).
    pub fn reopen(&self) {
        let mut p = self.shared.lock();
        if p.reopen_at.is_none() {
            p.reopen_at = Some(p.buf.len());
        }
        p.writer_asleep = false;
        self.shared.work.notify_one();
    }

    /// Blocks until every line queued before this call is written and synced to disk.
    pub fn flush(&self) {
        let shared = &*self.shared;
        let mut p = shared.lock();
        p.flush_requested += 1;
        let target = p.flush_requested;
        p.writer_asleep = false;
        shared.work.notify_one();
        while p.flush_done < target {
            p = shared.flushed.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.shared.stats
    }
}

struct Sinks {
    file: Option<FileSink>,
    stdout: Option<io::Stdout>,
    shared: Arc<Shared>,
}

impl Sinks {
    fn run(&mut self) {
        let mut batch = Vec::new();
        loop {
            let shared = self.shared.clone();
            let mut p = shared.lock();
            let idle = |p: &Pending| {
                p.buf.is_empty() && p.reopen_at.is_none() && p.flush_requested == p.flush_done
            };
            while idle(&p) {
                p.writer_asleep = true;
                p = shared.work.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            // Let a burst gather so it costs one wake-up and one write; requests, or a buffer
            // that fills up, cut the wait short.
            let capacity = shared.capacity;
            p = shared
                .work
                .wait_timeout_while(p, BATCH_LINGER, |p| {
                    p.reopen_at.is_none()
                        && p.flush_requested == p.flush_done
                        && p.buf.len() < capacity / 2
                })
                .unwrap_or_else(|e| e.into_inner())
                .0;
            std::mem::swap(&mut p.buf, &mut batch);
            let lines = std::mem::take(&mut p.lines);
            let reopen_at = p.reopen_at.take();
            let flush_target = p.flush_requested;
            let flush_pending = p.flush_done < flush_target;
            drop(p);
            shared.room.notify_all();

            let split = reopen_at.unwrap_or(batch.len()).min(batch.len());
            self.write_batch(&batch[..split]);
            if reopen_at.is_some()
                && let Some(file) = &mut self.file
            {
                match file.reopen() {
                    Ok(()) => {
                        shared.stats.reopens.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => self.report(&e),
                }
            }
            self.write_batch(&batch[split..]);
            if !batch.is_empty() {
                shared
                    .stats
                    .lines_written
                    .fetch_add(lines, Ordering::Relaxed);
                shared.stats.batches.fetch_add(1, Ordering::Relaxed);
                batch.clear();
                if batch.capacity() > 4 * shared.capacity {
                    batch.shrink_to(shared.capacity);
                }
            }
            if flush_pending {
                if let Some(file) = &mut self.file {
                    let _ = file.out.sync_data();
                }
                let mut p = shared.lock();
                p.flush_done = flush_target;
                drop(p);
                shared.flushed.notify_all();
            }
        }
    }

    fn write_batch(&mut self, batch: &[u8]) {
        if batch.is_empty() {
            return;
        }
        if let Some(file) = &mut self.file {
            match file.write_batch(batch) {
                Ok(rotations) => {
                    self.shared
                        .stats
                        .rotations
                        .fetch_add(rotations, Ordering::Relaxed);
                }
                Err(e) => self.report(&e),
            }
        }
        if let Some(out) = &mut self.stdout {
            let _ = out.write_all(batch);
            let _ = out.flush();
        }
    }

    fn report(&self, e: &io::Error) {
        // The log itself is what failed, so stderr is the only place left to say so.
        if self
            .shared
            .stats
            .write_errors
            .fetch_add(1, Ordering::Relaxed)
            < 10
        {
            eprintln!("web-api: log writer: {e}");
        }
    }
}

struct FileSink {
    path: PathBuf,
    out: File,
    size: u64,
    rotation: Option<Rotation>,
}

impl FileSink {
    fn open(path: PathBuf, rotation: Option<Rotation>) -> Result<Self, LogError> {
        let (out, size) = open_append(&path).map_err(|source| LogError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(FileSink {
            path,
            out,
            size,
            rotation,
        })
    }

    /// Writes whole lines, rotating between lines when the next would pass the limit.
    /// Returns how many rotations happened.
    fn write_batch(&mut self, batch: &[u8]) -> io::Result<u64> {
        let Some(rot) = self.rotation else {
            self.out.write_all(batch)?;
            self.size += batch.len() as u64;
            return Ok(0);
        };
        let mut rotations = 0;
        // batch[start..end] are whole lines that still fit in the current file.
        let (mut start, mut end) = (0, 0);
        for line in batch.split_inclusive(|b| *b == b'\n') {
            let fits = self.size + (end - start + line.len()) as u64 <= rot.max_bytes;
            if !fits && (self.size > 0 || end > start) {
                self.out.write_all(&batch[start..end])?;
                self.size += (end - start) as u64;
                start = end;
                // A failed rotation must not cost lines: keep appending to the current file.
                match self.rotate(rot.keep) {
                    Ok(()) => rotations += 1,
                    Err(e) => {
                        eprintln!("web-api: log writer: rotating {}: {e}", self.path.display())
                    }
                }
            }
            end += line.len();
        }
        self.out.write_all(&batch[start..end])?;
        self.size += (end - start) as u64;
        Ok(rotations)
    }

    fn rotate(&mut self, keep: u32) -> io::Result<()> {
        let keep = keep.max(1);
        let _ = std::fs::remove_file(numbered(&self.path, keep));
        for n in (1..keep).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.reopen()
    }

    fn reopen(&mut self) -> io::Result<()> {
        let (out, size) = open_append(&self.path)?;
        self.out = out;
        self.size = size;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// `app.log` + 2 → `app.log.2`
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &Path, rotation: Option<Rotation>, capacity: usize) -> LogWriter {
        let (w, _h) = LogWriter::spawn(WriterConfig {
            file: Some(dir.join("app.log")),
            rotation,
            stdout: false,
            buffer_bytes: capacity,
        })
        .unwrap();
        w
    }

    #[test]
    fn tiny_buffer_loses_nothing_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(dir.path(), None, 1);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        w.write_line(format!("{t}-{i}-{}\n", "x".repeat(i % 300)).as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        w.flush();
        let text = std::fs::read_to_string(dir.path().join("app.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8000);
        for line in lines {
            let mut parts = line.splitn(3, '-');
            let (_, i, pad) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
            let i: usize = i.parse().unwrap();
            assert_eq!(pad.len(), i % 300, "line was torn: {line}");
        }
        assert_eq!(w.stats().lines_written.load(Ordering::Relaxed), 8000);
    }

    #[test]
    fn size_rotation_shifts_and_keeps_n() {
        let dir = tempfile::tempdir().unwrap();
        let rot = Rotation {
            max_bytes: 100,
            keep: 2,
        };
        let w = writer(dir.path(), Some(rot), 16);
        for i in 0..40 {
            w.write_line(format!("line {i:04} {}\n", "y".repeat(10)).as_bytes());
        }
        w.flush();
        let base = dir.path().join("app.log");
        let all: Vec<String> = [numbered(&base, 2), numbered(&base, 1), base.clone()]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        for f in &all {
            assert!(f.len() <= 100, "file over the limit: {}", f.len());
        }
        assert!(!numbered(&base, 3).exists());
        // The newest lines are in order across .2, .1 and the live file.
        let joined: Vec<String> = all.concat().lines().map(String::from).collect();
        let last = joined.last().unwrap();
        assert!(last.starts_with("line 0039"));
        for pair in joined.windows(2) {
            assert!(pair[0] < pair[1]);
        }
    }

    #[test]
    fn reopen_follows_an_external_rename() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(dir.path(), None, 16);
        w.write_line(b"before\n".as_slice());
        w.flush();
        let base = dir.path().join("app.log");
        std::fs::rename(&base, dir.path().join("app.log.old")).unwrap();
        w.write_line(b"still old\n".as_slice());
        w.reopen();
        w.write_line(b"after\n".as_slice());
        w.flush();
        let old = std::fs::read_to_string(dir.path().join("app.log.old")).unwrap();
        assert_eq!(old, "before\nstill old\n");
        assert_eq!(std::fs::read_to_string(&base).unwrap(), "after\n");
    }

    #[test]
    fn open_error_names_the_path() {
        let err = LogWriter::spawn(WriterConfig {
            file: Some("/nonexistent-dir/app.log".into()),
            buffer_bytes: 1,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/app.log"),
            "{err}"
        );
    }
}
