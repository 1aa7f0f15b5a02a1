//! The lossless log writer: one thread owns the log file (and stdout), fed by a bounded channel.
//!
//! Senders block when the channel is full, so a writer that falls behind slows requests down
//! instead of dropping lines (the failure mode of `tracing-appender`'s non-blocking writer).
//! Lines are buffered and flushed whenever the channel runs dry, so they reach the file within
//! milliseconds; each line is one buffered write from one thread, so lines never interleave.
//! The file can be reopened (SIGHUP, after an external rotation) or rotated by size here.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

/// Size of the in-memory buffer in front of each destination.
const BUFFER_BYTES: usize = 64 * 1024;

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
    /// Lines that may wait in memory before senders block.
    pub channel_capacity: usize,
}

enum Command {
    Line(Vec<u8>),
    Reopen,
    Flush(SyncSender<()>),
}

/// Counters the writer thread keeps; read by tests and the exit marker.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub lines_written: AtomicU64,
    pub rotations: AtomicU64,
    pub reopens: AtomicU64,
    pub write_errors: AtomicU64,
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct LogWriter {
    tx: SyncSender<Command>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.stats)
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
        let stdout = config
            .stdout
            .then(|| BufWriter::with_capacity(BUFFER_BYTES, io::stdout()));
        let (tx, rx) = mpsc::sync_channel(config.channel_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let mut sinks = Sinks {
            file,
            stdout,
            stats: stats.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || sinks.run(rx))
            .map_err(LogError::Thread)?;
        Ok((LogWriter { tx, stats }, handle))
    }

    /// Queues one complete line (ending in `\n`); blocks while the channel is full.
    pub fn write_line(&self, line: Vec<u8>) {
        // The receiver only goes away if the writer thread panicked; nothing left to write to.
        let _ = self.tx.send(Command::Line(line));
    }

    /// Asks the writer to reopen the file after everything queued so far (SIGHUP).
    pub fn reopen(&self) {
        let _ = self.tx.send(Command::Reopen);
    }

    /// Blocks until every line queued before this call is written and flushed to disk.
    pub fn flush(&self) {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        if self.tx.send(Command::Flush(ack_tx)).is_ok() {
            let _ = ack_rx.recv();
        }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

struct Sinks {
    file: Option<FileSink>,
    stdout: Option<BufWriter<io::Stdout>>,
    stats: Arc<WriterStats>,
}

impl Sinks {
    fn run(&mut self, rx: Receiver<Command>) {
        while let Ok(first) = rx.recv() {
            self.handle(first);
            // Drain whatever piled up, then flush once: one syscall per burst, not per line.
            loop {
                match rx.try_recv() {
                    Ok(cmd) => self.handle(cmd),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush();
                        return;
                    }
                }
            }
            self.flush();
        }
        self.flush();
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Line(line) => {
                if let Some(file) = &mut self.file {
                    match file.write_line(&line) {
                        Ok(rotated) => {
                            if rotated {
                                self.stats.rotations.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e) => self.report(&e),
                    }
                }
                if let Some(out) = &mut self.stdout {
                    let _ = out.write_all(&line);
                }
                self.stats.lines_written.fetch_add(1, Ordering::Relaxed);
            }
            Command::Reopen => {
                if let Some(file) = &mut self.file {
                    match file.reopen() {
                        Ok(()) => {
                            self.stats.reopens.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => self.report(&e),
                    }
                }
            }
            Command::Flush(ack) => {
                self.flush();
                if let Some(file) = &mut self.file {
                    let _ = file.out.get_ref().sync_data();
                }
                let _ = ack.send(());
            }
        }
    }

    fn flush(&mut self) {
        if let Some(file) = &mut self.file
            && let Err(e) = file.out.flush()
        {
            let e = io::Error::new(e.kind(), format!("flushing {}: {e}", file.path.display()));
            self.report(&e);
        }
        if let Some(out) = &mut self.stdout {
            let _ = out.flush();
        }
    }

    fn report(&self, e: &io::Error) {
        // The log itself is what failed, so stderr is the only place left to say so.
        if self.stats.write_errors.fetch_add(1, Ordering::Relaxed) < 10 {
            eprintln!("web-api: log writer: {e}");
        }
    }
}

struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    rotation: Option<Rotation>,
}

impl FileSink {
    fn open(path: PathBuf, rotation: Option<Rotation>) -> Result<Self, LogError> {
        let (file, size) = open_append(&path).map_err(|source| LogError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(FileSink {
            path,
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            size,
            rotation,
        })
    }

    /// Writes one line, rotating first if it would push the file past the limit.
    fn write_line(&mut self, line: &[u8]) -> io::Result<bool> {
        let mut rotated = false;
        if let Some(rot) = self.rotation
            && self.size > 0
            && self.size + line.len() as u64 > rot.max_bytes
        {
            // A failed rotation must not cost the line: keep appending to the current file.
            match self.rotate(rot.keep) {
                Ok(()) => rotated = true,
                Err(e) => eprintln!("web-api: log writer: rotating {}: {e}", self.path.display()),
            }
        }
        self.out.write_all(line)?;
        self.size += line.len() as u64;
        Ok(rotated)
    }

    fn rotate(&mut self, keep: u32) -> io::Result<()> {
        self.out.flush()?;
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
        self.out.flush()?;
        let (file, size) = open_append(&self.path)?;
        self.out = BufWriter::with_capacity(BUFFER_BYTES, file);
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
            channel_capacity: capacity,
        })
        .unwrap();
        w
    }

    #[test]
    fn tiny_channel_loses_nothing_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(dir.path(), None, 1);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        w.write_line(format!("{t}-{i}-{}\n", "x".repeat(i % 300)).into_bytes());
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
            w.write_line(format!("line {i:04} {}\n", "y".repeat(10)).into_bytes());
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
        w.write_line(b"before\n".to_vec());
        w.flush();
        let base = dir.path().join("app.log");
        std::fs::rename(&base, dir.path().join("app.log.old")).unwrap();
        w.write_line(b"still old\n".to_vec());
        w.reopen();
        w.write_line(b"after\n".to_vec());
        w.flush();
        let old = std::fs::read_to_string(dir.path().join("app.log.old")).unwrap();
        assert_eq!(old, "before\nstill old\n");
        assert_eq!(std::fs::read_to_string(&base).unwrap(), "after\n");
    }

    #[test]
    fn open_error_names_the_path() {
        let err = LogWriter::spawn(WriterConfig {
            file: Some("/nonexistent-dir/app.log".into()),
            channel_capacity: 1,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/app.log"),
            "{err}"
        );
    }
}
