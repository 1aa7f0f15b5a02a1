//! The durable entry store: one SQLite database in WAL mode with `synchronous=FULL`, so a write
//! is on disk before the API answers it. Each entry is kept as its canonical JSON plus the columns
//! the query narrowing and ordering need (parent, log, timestamp, insertId, severity, resource
//! type), indexed; the exact filter runs over the JSON afterwards.
//!
//! Bare words and `:` on the payload are narrowed by a text index of trigrams per block of
//! entries (module `text`): a needle of three characters or more picks the candidate blocks, and when
//! they are few the page is built from their rows alone instead of scanning the log in time
//! order; otherwise the ordered scan skips the other blocks' rows. The index only narrows; the
//! evaluator decides.
//!
//! One writer connection and one reader connection (WAL lets reads run beside a write), and a
//! thread that checkpoints the log into the database off the write path. The API calls in here
//! from `spawn_blocking`.
//!
//! Writes are group-committed: each write request queues its entries, then waits for the writer
//! connection; whoever gets it commits everything queued so far in one transaction (one fsync)
//! and answers each request it carried. While one group is being synced the next one gathers,
//! so concurrent writers share fsyncs instead of queueing for one each, and every answer still
//! comes after its entries are on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use logquery::Query;

mod checkpoint;
mod sql;
mod text;
use checkpoint::Checkpointer;
use rusqlite::{Connection, OpenFlags, params_from_iter, types::Value as SqlValue};
use serde_json::Value;
use sql::{ordered_index, push_in, push_narrowing};
pub use text::entry_keys;
use text::{
    BLOCK_ROWS, FEW_TEXT_ROWS, IN_TEXT_BLOCKS, TEXT_BLOCK_RANGES, TEXT_INDEX, TextBlocks,
    forget_blocks_before, text_match, upgrade_to_3,
};

/// Bumped when the schema changes; older versions are upgraded on open (1 and 2 get the text
/// index of version 3), a newer one is refused.
const SCHEMA_VERSION: i64 = 3;

/// At most this many candidate rows are examined per `list` call; past it the page ends early
/// with a token to continue (as Cloud Logging does for slow scans).
pub const MAX_SCANNED_PER_PAGE: usize = 200_000;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite error on {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The checkpoint thread could not be started.
    #[error("cannot start the checkpoint thread for {path}: {source}")]
    Thread {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The group commit that carried a write panicked before answering it.
    #[error("the write to {path} was abandoned by a failed group commit; it may not be stored")]
    Abandoned {
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by an incompatible version.
    #[error("{path} has schema version {found}, this emulator needs {SCHEMA_VERSION}")]
    SchemaVersion {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
}

/// One validated entry, ready to store.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// `projects/P` (the log name's parent).
    pub parent: String,
    /// The full `logName`.
    pub log_name: String,
    /// The decoded log id.
    pub log_id: String,
    /// Event time, nanoseconds since the epoch.
    pub timestamp_nanos: i64,
    /// The entry's insertId.
    pub insert_id: String,
    /// Severity rank (0 when absent).
    pub severity: i64,
    /// `resource.type`.
    pub resource_type: String,
    /// Receive time, nanoseconds since the epoch.
    pub receive_nanos: i64,
    /// The canonical LogEntry JSON.
    pub json: String,
    /// What the text index holds for it: [`entry_keys`] of `json` (made where the write is
    /// prepared, so the writer only adds them up).
    pub text_keys: Vec<u32>,
}

/// The columns of one entry and their placeholders, after `INSERT` (or `INSERT OR IGNORE`),
/// in the order of [`StoredEntry::params`].
const INSERT_ENTRY: &str = "INTO entries
    (id, parent, log_name, log_id, timestamp_nanos, insert_id, severity, resource_type,
     receive_nanos, entry)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

impl StoredEntry {
    /// The values for [`INSERT_ENTRY`]'s placeholders, the row stored under `id`.
    fn params<'a>(&'a self, id: &'a i64) -> [&'a dyn rusqlite::ToSql; 10] {
        [
            id,
            &self.parent,
            &self.log_name,
            &self.log_id,
            &self.timestamp_nanos,
            &self.insert_id,
            &self.severity,
            &self.resource_type,
            &self.receive_nanos,
            &self.json,
        ]
    }
}

/// Where a listing resumes: the (timestamp, insertId) of the last row examined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Timestamp of the last row, nanoseconds.
    pub timestamp_nanos: i64,
    /// insertId of the last row.
    pub insert_id: String,
}

/// What `list` should return.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Parents to search (`projects/P`).
    pub parents: Vec<String>,
    /// The exact filter.
    pub query: Query,
    /// Use the query's narrowing in SQL (false only in tests comparing both ways).
    pub narrow: bool,
    /// Newest first.
    pub descending: bool,
    /// How many matches make a page.
    pub page_size: usize,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// One page of matches.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Matching entries, in order.
    pub entries: Vec<Value>,
    /// Set when more rows may follow.
    pub next: Option<Cursor>,
}

/// At most this many candidate rows are tested per histogram with a filter.
pub const MAX_SCANNED_PER_HISTOGRAM: usize = 500_000;

/// What `histogram` should count: matches of `query` in `[start_nanos, end_nanos)`.
#[derive(Debug, Clone)]
pub struct HistogramQuery {
    /// Parents to search (`projects/P`).
    pub parents: Vec<String>,
    /// The exact filter (the empty query counts everything).
    pub query: Query,
    /// Lowest severity rank counted (0 counts all).
    pub min_severity: i64,
    /// Start of the first bucket, nanoseconds since the epoch.
    pub start_nanos: i64,
    /// End of the range, nanoseconds since the epoch.
    pub end_nanos: i64,
    /// How many equal buckets the range is split into.
    pub buckets: usize,
}

/// Per-bucket counts by severity rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramCounts {
    /// Width of each bucket in nanoseconds.
    pub width_nanos: i64,
    /// For each bucket, `(severity rank, count)` pairs.
    pub counts: Vec<Vec<(i64, u64)>>,
    /// Set when the scan stopped early, so the counts are a lower bound.
    pub truncated: bool,
}

/// What a write stored: its entries back, and the indices of those that were new (a
/// duplicate of a stored entry is skipped: the first write wins).
#[derive(Debug)]
pub struct Written {
    /// The entries handed to [`Store::insert_new`], in their order.
    pub entries: Vec<StoredEntry>,
    /// Indices into `entries` of the ones stored by this write.
    pub new: Vec<usize>,
}

/// A write waiting to be committed, and where its answer goes.
struct Queued {
    entries: Vec<StoredEntry>,
    reply: mpsc::SyncSender<Result<Written, StoreError>>,
}

/// The writer connection, the text index's state, which changes only with it, and the log's
/// length after its last commit.
struct Writer {
    conn: Connection,
    text: TextBlocks,
    log_frames: Arc<std::sync::atomic::AtomicI32>,
}

/// The SQLite-backed store.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Writer>,
    reader: Mutex<Connection>,
    /// Writes queued for the next group commit.
    queued: Mutex<Vec<Queued>>,
    /// Declared last: stops (after a last checkpoint) once the connections above are closed.
    checkpointer: Checkpointer,
}

impl Store {
    /// Opens (creating if needed) `data_dir/entries.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join("entries.sqlite3");
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut writer = Connection::open(&path).map_err(err)?;
        // The writer leaves checkpoints to the checkpoint thread (but for restarting a long
        // log), and keeps the indexes' upper pages cached: every insert walks three of them.
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA wal_autocheckpoint=0;
                 PRAGMA cache_size=-65536;",
            )
            .map_err(err)?;
        writer.busy_timeout(checkpoint::BUSY_TIMEOUT).map_err(err)?;
        let version: i64 = writer
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version == 0 {
            writer
                .execute_batch(&format!(
                    "BEGIN; {SCHEMA} {TEXT_INDEX} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                ))
                .map_err(err)?;
        } else if version < SCHEMA_VERSION {
            upgrade_to_3(&mut writer).map_err(err)?;
        } else if version != SCHEMA_VERSION {
            return Err(StoreError::SchemaVersion {
                path,
                found: version,
            });
        }
        let log_frames = checkpoint::watch_log(&mut writer).map_err(err)?;
        let text = TextBlocks::load(&writer).map_err(err)?;
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        reader.busy_timeout(checkpoint::BUSY_TIMEOUT).map_err(err)?;
        reader
            .execute_batch("PRAGMA cache_size=-65536;")
            .map_err(err)?;
        let checkpoints = Connection::open(&path).map_err(err)?;
        checkpoints
            .busy_timeout(checkpoint::BUSY_TIMEOUT)
            .map_err(err)?;
        let checkpointer =
            Checkpointer::start(checkpoints).map_err(|source| StoreError::Thread {
                path: path.clone(),
                source,
            })?;
        Ok(Store {
            path,
            writer: Mutex::new(Writer {
                conn: writer,
                text,
                log_frames,
            }),
            reader: Mutex::new(reader),
            queued: Mutex::new(Vec::new()),
            checkpointer,
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores entries (durable when this returns); an entry whose (parent, insertId, timestamp)
    /// is already stored is skipped: the first write wins. Returns how many were new.
    pub fn insert(&self, entries: &[StoredEntry]) -> Result<usize, StoreError> {
        self.insert_new(entries.to_vec()).map(|w| w.new.len())
    }

    /// Stores `entries` in the next group commit and returns once they are on disk, with the
    /// indices of the entries that were new (live tail announces those: a duplicate is not a
    /// new line). Concurrent calls share one transaction and one fsync.
    pub fn insert_new(&self, entries: Vec<StoredEntry>) -> Result<Written, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        lock(&self.queued).push(Queued { entries, reply });
        {
            // Whoever holds the writer commits what is queued; if ours went with an earlier
            // group, its answer is already waiting and the queue may be empty.
            let mut writer = lock(&self.writer);
            let group = std::mem::take(&mut *lock(&self.queued));
            if !group.is_empty() {
                self.commit_group(&mut writer, group);
            }
        }
        // No answer only if the commit that took this write panicked.
        answer.recv().unwrap_or_else(|_| {
            Err(StoreError::Abandoned {
                path: self.path.clone(),
            })
        })
    }

    /// Commits `group` in one transaction and answers each write. If the transaction fails,
    /// each write is tried in its own, so one write's failure is not every write's.
    fn commit_group(&self, writer: &mut Writer, group: Vec<Queued>) {
        if group.len() > 1 {
            let all: Vec<&[StoredEntry]> = group.iter().map(|q| &q.entries[..]).collect();
            if let Ok(news) = self.commit(writer, &all) {
                for (queued, new) in group.into_iter().zip(news) {
                    let written = Written {
                        entries: queued.entries,
                        new,
                    };
                    // A caller that went away (a cancelled request) needs no answer.
                    let _ = queued.reply.send(Ok(written));
                }
                return;
            }
        }
        for queued in group {
            let result = self
                .commit(writer, &[&queued.entries[..]])
                .map(|mut news| Written {
                    new: news.pop().unwrap_or_default(),
                    entries: queued.entries,
                });
            let _ = queued.reply.send(result);
        }
    }

    /// Inserts each write's entries in one transaction; per write, the indices that were new.
    /// If it fails, the text index's state is read back from what the database kept.
    fn commit(
        &self,
        writer: &mut Writer,
        writes: &[&[StoredEntry]],
    ) -> Result<Vec<Vec<usize>>, StoreError> {
        let result =
            Self::insert_all(&mut writer.conn, &mut writer.text, writes).map_err(|e| self.err(e));
        match &result {
            Ok(_) => {
                self.checkpointer.committed();
                checkpoint::restart_if_long(&writer.conn, &writer.log_frames);
            }
            Err(_) => {
                if let Ok(text) = TextBlocks::load(&writer.conn) {
                    writer.text = text;
                }
            }
        }
        result
    }

    fn insert_all(
        conn: &mut Connection,
        text: &mut TextBlocks,
        writes: &[&[StoredEntry]],
    ) -> rusqlite::Result<Vec<Vec<usize>>> {
        let tx = conn.transaction()?;
        let mut news = Vec::with_capacity(writes.len());
        {
            let mut stmt = tx.prepare_cached(&format!("INSERT OR IGNORE {INSERT_ENTRY}"))?;
            for entries in writes {
                let mut added = Vec::new();
                for (index, e) in entries.iter().enumerate() {
                    if stmt.execute(e.params(&text.next_id()))? > 0 {
                        text.stored(&e.text_keys);
                        added.push(index);
                    }
                }
                news.push(added);
            }
        }
        text.seal_full(&tx)?;
        tx.commit()?;
        Ok(news)
    }

    /// Whether the blocks the text index gives for `text` (an FTS5 MATCH) and the open block
    /// hold fewer than [`FEW_TEXT_ROWS`] rows.
    fn few_text_rows(&self, conn: &Connection, text: &str) -> Result<bool, StoreError> {
        let limit = FEW_TEXT_ROWS / BLOCK_ROWS - 1;
        let blocks: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM \
                 (SELECT rowid FROM text_blocks WHERE text_blocks MATCH ?1 LIMIT ?2)",
            )
            .and_then(|mut stmt| stmt.query_row(rusqlite::params![text, limit], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        Ok(blocks < limit)
    }

    /// The SQL (and its arguments) that yields `q`'s candidate rows in order.
    fn list_sql(
        &self,
        conn: &Connection,
        q: &ListQuery,
    ) -> Result<(String, Vec<SqlValue>), StoreError> {
        let narrowing = q
            .narrow
            .then(|| with_log_ids_of_names(q.query.restrictions()));
        let text = narrowing.as_ref().and_then(text_match);
        let few = match &text {
            Some(text) => self.few_text_rows(conn, text)?,
            None => false,
        };
        let mut args: Vec<SqlValue> = Vec::new();
        let mut sql = match text {
            Some(text) if few => {
                // Few candidates: read their blocks' rows by id (NOT INDEXED leaves the id
                // range as the only way in) and sort them, rather than walk the whole log in
                // time order.
                args.push(SqlValue::Text(text));
                format!(
                    "SELECT timestamp_nanos, insert_id, entry FROM {TEXT_BLOCK_RANGES} AS b \
                     CROSS JOIN entries NOT INDEXED WHERE id >= b.lo AND id < b.hi AND "
                )
            }
            Some(text) => {
                // Many: the ordered scan, skipping the rows of other blocks unread.
                args.push(SqlValue::Text(text));
                format!(
                    "SELECT timestamp_nanos, insert_id, entry FROM entries INDEXED BY {} \
                     WHERE {IN_TEXT_BLOCKS} AND ",
                    ordered_index(narrowing.as_ref())
                )
            }
            None => format!(
                "SELECT timestamp_nanos, insert_id, entry FROM entries INDEXED BY {} WHERE ",
                ordered_index(narrowing.as_ref())
            ),
        };
        push_in(&mut sql, &mut args, "parent", &q.parents);
        if let Some(narrowing) = &narrowing {
            push_narrowing(&mut sql, &mut args, narrowing);
        }
        if let Some(after) = &q.after {
            let cmp = if q.descending { "<" } else { ">" };
            sql.push_str(&format!(" AND (timestamp_nanos, insert_id) {cmp} (?, ?)"));
            args.push(SqlValue::Integer(after.timestamp_nanos));
            args.push(SqlValue::Text(after.insert_id.clone()));
        }
        let dir = if q.descending { "DESC" } else { "ASC" };
        sql.push_str(&format!(" ORDER BY timestamp_nanos {dir}, insert_id {dir}"));
        Ok((sql, args))
    }

    /// One page of entries matching `q`.
    pub fn list(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        let conn = lock(&self.reader);
        let (sql, args) = self.list_sql(&conn, q)?;
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(args))
            .map_err(|e| self.err(e))?;
        let mut page = ListPage::default();
        let mut scanned = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            scanned += 1;
            let text: String = row.get(2).map_err(|e| self.err(e))?;
            let Ok(entry) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let cursor = || -> Result<Cursor, StoreError> {
                Ok(Cursor {
                    timestamp_nanos: row.get(0).map_err(|e| self.err(e))?,
                    insert_id: row.get(1).map_err(|e| self.err(e))?,
                })
            };
            if q.query.matches(&entry) {
                page.entries.push(entry);
                if page.entries.len() >= q.page_size {
                    page.next = Some(cursor()?);
                    break;
                }
            }
            if scanned >= MAX_SCANNED_PER_PAGE {
                page.next = Some(cursor()?);
                break;
            }
        }
        Ok(page)
    }

    /// Counts entries matching `q` per time bucket and severity, for the explorer's histogram.
    /// Without a filter the counting is one SQL `GROUP BY`; with one, each candidate row in the
    /// range is tested (at most [`MAX_SCANNED_PER_HISTOGRAM`], then `truncated` is set).
    pub fn histogram(&self, q: &HistogramQuery) -> Result<HistogramCounts, StoreError> {
        let buckets = q.buckets.max(1);
        let width = ((q.end_nanos - q.start_nanos) / buckets as i64).max(1);
        let (sql, args, exact) = histogram_sql(q, width, buckets);
        let mut counts = HistogramCounts {
            width_nanos: width,
            counts: vec![Vec::new(); buckets],
            truncated: false,
        };
        let mut add = |bucket: i64, severity: i64, n: u64| {
            if let Some(row) = usize::try_from(bucket)
                .ok()
                .and_then(|b| counts.counts.get_mut(b))
            {
                match row.iter_mut().find(|(s, _)| *s == severity) {
                    Some((_, count)) => *count += n,
                    None => row.push((severity, n)),
                }
            }
        };
        let conn = lock(&self.reader);
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(args))
            .map_err(|e| self.err(e))?;
        let mut scanned = 0;
        let mut truncated = false;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let bucket: i64 = row.get(0).map_err(|e| self.err(e))?;
            let severity: i64 = row.get(1).map_err(|e| self.err(e))?;
            if exact {
                let n: i64 = row.get(2).map_err(|e| self.err(e))?;
                add(bucket, severity, n as u64);
                continue;
            }
            scanned += 1;
            if scanned > MAX_SCANNED_PER_HISTOGRAM {
                truncated = true;
                break;
            }
            let text: String = row.get(2).map_err(|e| self.err(e))?;
            if serde_json::from_str::<Value>(&text).is_ok_and(|entry| q.query.matches(&entry)) {
                add(bucket, severity, 1);
            }
        }
        counts.truncated = truncated;
        Ok(counts)
    }

    /// Every parent (`projects/P`) with at least one entry, in order; a skip scan of the
    /// dedup index, so it costs one lookup per project rather than one per entry.
    pub fn parents(&self) -> Result<Vec<String>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "WITH RECURSIVE p(name) AS (
                   SELECT MIN(parent) FROM entries
                   UNION ALL
                   SELECT (SELECT MIN(parent) FROM entries WHERE parent > p.name)
                   FROM p WHERE p.name IS NOT NULL
                 )
                 SELECT name FROM p WHERE name IS NOT NULL",
            )
            .map_err(|e| self.err(e))?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(names)
    }

    /// Distinct log names under `parent`, in order, after `after`, at most `limit`. The logs
    /// are found by a skip scan of the log-id index (one lookup per log, not per entry), each
    /// named as one of its entries names it (a log id written in two spellings, `a/b` and
    /// `a%2Fb`, is one log, as it is to `logs delete`).
    pub fn log_names(
        &self,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "WITH RECURSIVE ids(id) AS (
                   SELECT MIN(log_id) FROM entries WHERE parent = ?1
                   UNION ALL
                   SELECT (SELECT MIN(log_id) FROM entries WHERE parent = ?1 AND log_id > ids.id)
                   FROM ids WHERE ids.id IS NOT NULL
                 )
                 SELECT (SELECT log_name FROM entries WHERE parent = ?1 AND log_id = ids.id
                         LIMIT 1)
                 FROM ids WHERE ids.id IS NOT NULL",
            )
            .map_err(|e| self.err(e))?;
        let mut names = stmt
            .query_map([parent], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| self.err(e))?;
        names.sort();
        names.retain(|name| after.is_none_or(|after| name.as_str() > after));
        names.truncate(limit);
        Ok(names)
    }

    /// Deletes every entry of one log; returns how many were deleted. Its keys stay in the
    /// text index's blocks (they only make those blocks candidates; the evaluator decides).
    pub fn delete_log(&self, parent: &str, log_id: &str) -> Result<usize, StoreError> {
        let writer = lock(&self.writer);
        writer
            .conn
            .execute(
                "DELETE FROM entries WHERE parent = ?1 AND log_id = ?2",
                rusqlite::params![parent, log_id],
            )
            .map_err(|e| self.err(e))
    }

    /// Deletes entries whose timestamp is before `cutoff_nanos`, and the text index's blocks
    /// left without entries before the oldest one; returns how many entries.
    pub fn expire(&self, cutoff_nanos: i64) -> Result<usize, StoreError> {
        let writer = lock(&self.writer);
        let deleted = writer
            .conn
            .execute(
                "DELETE FROM entries WHERE timestamp_nanos < ?1",
                [cutoff_nanos],
            )
            .map_err(|e| self.err(e))?;
        forget_blocks_before(&writer.conn).map_err(|e| self.err(e))?;
        Ok(deleted)
    }

    /// How many write transactions (each one fsync) have been committed.
    pub fn commits(&self) -> u64 {
        self.checkpointer.commits()
    }

    /// How many entries are stored (all parents).
    pub fn count(&self) -> Result<u64, StoreError> {
        let conn = lock(&self.reader);
        conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}

const SCHEMA: &str = "
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    parent TEXT NOT NULL,
    log_name TEXT NOT NULL,
    log_id TEXT NOT NULL,
    timestamp_nanos INTEGER NOT NULL,
    insert_id TEXT NOT NULL,
    severity INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    receive_nanos INTEGER NOT NULL,
    entry TEXT NOT NULL
);
CREATE UNIQUE INDEX entries_dedup ON entries (parent, timestamp_nanos, insert_id);
CREATE INDEX entries_log_id ON entries (parent, log_id, timestamp_nanos, insert_id);
CREATE INDEX entries_resource ON entries (parent, resource_type, timestamp_nanos, insert_id);
";

/// Adds to a narrowing by log names the log ids they name, so the log-id index serves them
/// (a name that does not parse is no stored entry's, so it names no id).
fn with_log_ids_of_names(mut n: logquery::Narrowing) -> logquery::Narrowing {
    if let (Some(names), None) = (&n.log_names, &n.log_ids) {
        let ids = names
            .iter()
            .filter_map(|name| gcloud_logging::parse_log_name(name))
            .map(|parsed| parsed.log_id)
            .collect();
        n.log_ids = Some(ids);
    }
    n
}

/// Locks `m`; a panic while it was held leaves SQLite's own state consistent (an unfinished
/// transaction rolls back), so the lock is taken anyway.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The histogram's SQL and its arguments; `true` when SQL counts exactly (no filter to test).
/// A filter's bare words and `:` texts narrow through the text index, as a listing's do: the
/// rows tested are those holding every trigram of the needles, not the whole range.
fn histogram_sql(q: &HistogramQuery, width: i64, buckets: usize) -> (String, Vec<SqlValue>, bool) {
    let mut sql = String::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let exact = q.query.is_empty();
    if exact {
        sql.push_str("SELECT (timestamp_nanos - ?) / ?, severity, COUNT(*) FROM entries WHERE ");
    } else {
        sql.push_str("SELECT (timestamp_nanos - ?) / ?, severity, entry FROM entries WHERE ");
    }
    args.push(SqlValue::Integer(q.start_nanos));
    args.push(SqlValue::Integer(width));
    push_in(&mut sql, &mut args, "parent", &q.parents);
    if !exact {
        let narrowing = with_log_ids_of_names(q.query.restrictions());
        push_narrowing(&mut sql, &mut args, &narrowing);
        if let Some(text) = text_match(&narrowing) {
            sql.push_str(" AND ");
            sql.push_str(IN_TEXT_BLOCKS);
            args.push(SqlValue::Text(text));
        }
    }
    sql.push_str(" AND timestamp_nanos >= ? AND timestamp_nanos < ? AND severity >= ?");
    args.push(SqlValue::Integer(q.start_nanos));
    args.push(SqlValue::Integer(q.start_nanos + width * buckets as i64));
    args.push(SqlValue::Integer(q.min_severity));
    if exact {
        sql.push_str(" GROUP BY 1, 2");
    }
    (sql, args, exact)
}

#[cfg(test)]
mod tests;
