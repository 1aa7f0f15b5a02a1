//! Checkpoints off the write path. SQLite's automatic checkpoint runs inside the commit that
//! crosses its threshold, so one write in every few hundred waited for the log to be copied
//! into the database file and that file synced. Here the writer connection never checkpoints;
//! a thread of its own copies what was committed, at most every [`EVERY`], on its own
//! connection. A `PASSIVE` checkpoint takes no lock a writer or reader waits on.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is copied into the database while writes go on.
const EVERY: Duration = Duration::from_millis(250);

/// The checkpointing thread; stopped (after a last checkpoint) when dropped.
pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing through `conn` whenever `commits` has moved since the last
    /// checkpoint.
    pub(super) fn start(conn: Connection, commits: Arc<AtomicU64>) -> io::Result<Checkpointer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                let mut done = 0;
                loop {
                    let (flag, wake) = &*stopping;
                    let stopped = {
                        let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
                        let (guard, _) = wake
                            .wait_timeout_while(guard, EVERY, |stop| !*stop)
                            .unwrap_or_else(|p| p.into_inner());
                        *guard
                    };
                    let now = commits.load(Ordering::Relaxed);
                    if now != done {
                        // A checkpoint that cannot finish now (a reader on an old snapshot)
                        // copies the rest next time; nothing is lost by an error here.
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        done = now;
                    }
                    if stopped {
                        return;
                    }
                }
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
