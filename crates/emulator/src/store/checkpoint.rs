//! Checkpoints off the write path. SQLite's automatic checkpoint runs inside the commit that
//! crosses its threshold, so one write in every few hundred waited for the log to be copied
//! into the database file and that file synced. Here a thread of its own copies what was
//! committed, on its own connection, soon after each commit and at most every [`EVERY`]; a
//! `PASSIVE` checkpoint takes no lock a writer or reader waits on.
//!
//! But the log only starts over from its beginning when a write begins after every frame was
//! copied, which under steady writes never happens by itself (it grew to 345 MB in a bench of
//! 600,000 entries, and a long log makes every read slower: each page is looked up in its
//! index). So the writer, once a commit leaves more than [`RESTART_FRAMES`] in the log, runs a
//! `RESTART` checkpoint itself ([`restart_if_long`]): it copies what the thread has not yet
//! and makes the next write start the log over. A reader still on the log holds a restart
//! back; the writer waits at most [`RESTART_WAIT`] for it and tries again after its next
//! commit, so a long query does not stall the writes behind it.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// The shortest time between two checkpoints while writes go on.
const EVERY: Duration = Duration::from_millis(100);

/// Log frames (pages) past which the log is started over: 64 MiB of 4 KiB pages.
const RESTART_FRAMES: i32 = 16_384;

/// How long a restart waits for readers still on the log (and for the thread's checkpoint).
const RESTART_WAIT: Duration = Duration::from_millis(200);

/// How long a connection waits for a lock (the writer's but while restarting the log).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Keeps the number of frames each commit of `writer` leaves in the log, for
/// [`restart_if_long`].
pub(super) fn watch_log(writer: &mut Connection) -> rusqlite::Result<Arc<AtomicI32>> {
    let frames = Arc::new(AtomicI32::new(0));
    let kept = frames.clone();
    writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
        kept.store(n, Ordering::Relaxed);
        Ok(())
    }))?;
    Ok(frames)
}

/// After a commit that left more than [`RESTART_FRAMES`] in the log: a `RESTART` checkpoint,
/// waiting at most [`RESTART_WAIT`]. One that cannot finish now is tried after the next commit;
/// nothing is lost by an error here.
pub(super) fn restart_if_long(writer: &Connection, frames: &AtomicI32) {
    if frames.load(Ordering::Relaxed) <= RESTART_FRAMES {
        return;
    }
    if writer.busy_timeout(RESTART_WAIT).is_ok() {
        let _ = writer.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
        let _ = writer.busy_timeout(BUSY_TIMEOUT);
    }
}

/// What the writer and the thread share: the write transactions committed, whether to stop,
/// and the bell.
#[derive(Default)]
struct Shared {
    state: Mutex<(u64, bool)>,
    bell: Condvar,
}

/// The checkpointing thread; stopped (after a last checkpoint) when dropped.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing through `conn` after the commits [`Checkpointer::committed`] is
    /// told of.
    pub(super) fn start(conn: Connection) -> io::Result<Checkpointer> {
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || run(&conn, &theirs))?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Counts a commit and rings the thread.
    pub(super) fn committed(&self) {
        lock(&self.shared.state).0 += 1;
        self.shared.bell.notify_one();
    }

    /// Write transactions committed so far (each one fsync).
    pub(super) fn commits(&self) -> u64 {
        lock(&self.shared.state).0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The thread: waits for a commit not yet copied, copies, and rests [`EVERY`] before the next.
fn run(conn: &Connection, shared: &Shared) {
    let mut done = 0;
    loop {
        let (commits, stop) = {
            let guard = lock(&shared.state);
            let guard = shared
                .bell
                .wait_while(guard, |(commits, stop)| *commits == done && !*stop)
                .unwrap_or_else(|p| p.into_inner());
            *guard
        };
        if commits != done {
            checkpoint(conn);
            done = commits;
        }
        if stop {
            return;
        }
        let guard = lock(&shared.state);
        let _ = shared
            .bell
            .wait_timeout_while(guard, EVERY, |(_, stop)| !*stop);
    }
}

/// One `PASSIVE` checkpoint. One that cannot finish now (a reader on an old snapshot) copies
/// the rest next time; nothing is lost by an error here, so errors are left to the next one.
fn checkpoint(conn: &Connection) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        lock(&self.shared.state).1 = true;
        self.shared.bell.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
