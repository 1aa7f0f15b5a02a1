//! The text index: which blocks of [`BLOCK_ROWS`] consecutive entries hold which trigrams of
//! their [searchable leaves](logquery::for_each_searchable_leaf). It narrows bare words and `:` on the payload to the
//! blocks holding every trigram of the needle; the evaluator decides on each of their rows.
//!
//! Each entry's trigrams are hashed to 20-bit keys when its write is prepared (on the request's
//! thread, beside other requests). The writer only sets an entry's keys in the bitmap of the
//! block its row goes in, the *open* block; when that block is full, its keys become one row of
//! an FTS5 table, written as hexadecimal words. A block of similar log lines shares most
//! of its trigrams, so the index holds a few keys per entry instead of a hundred, and that is
//! what made it affordable at 100,000 entries a second. The price is precision: a needle's
//! trigrams may all be in a block without being in one entry, so searches test a block's rows.
//!
//! Row ids are given by the writer, never reused, so a sealed block never gains a row. The open
//! block is not in the FTS table: searches always test its rows (at most [`BLOCK_ROWS`]), and
//! its set is rebuilt from them when the store opens. `text_sealed` holds the first block not
//! sealed, updated in the transaction that seals, so a search sees the same boundary as the
//! rows it reads.

use std::fmt::Write as _;

use logquery::Narrowing;
use rusqlite::{Connection, Transaction};
use serde_json::Value;

/// Entries per block of the text index (the unit a search narrows to), as a literal for the SQL.
macro_rules! block_rows {
    () => {
        128
    };
}

/// Entries per block of the text index: the unit a search narrows to.
pub(super) const BLOCK_ROWS: i64 = block_rows!();

/// A text search whose candidate blocks hold fewer rows than this builds its page from them
/// (looked up by id and sorted); more, and the ordered scan goes on, skipping the rows of other
/// blocks without reading them.
pub(super) const FEW_TEXT_ROWS: i64 = 16_384;

/// The index's tables: the sealed blocks' keys (contentless, without positions: a block only
/// needs to say whether it holds a key) and the first block not sealed.
pub(super) const TEXT_INDEX: &str = "
CREATE VIRTUAL TABLE text_blocks USING fts5(
    keys, content='', contentless_delete=1, detail=none, tokenize='ascii'
);
CREATE TABLE text_sealed (
    one INTEGER PRIMARY KEY CHECK (one = 0),
    next_block INTEGER NOT NULL
);
INSERT INTO text_sealed VALUES (0, 0);
";

/// The keys of `text`'s trigrams (every run of three characters), sorted and without repeats:
/// what a needle asks of the index.
pub(super) fn trigram_keys(text: &str) -> Vec<u32> {
    let mut keys = Vec::new();
    push_trigram_keys(text, &mut |key| keys.push(key));
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Calls `key` with the key of each run of three characters of `text`.
fn push_trigram_keys(text: &str, key: &mut dyn FnMut(u32)) {
    if text.is_ascii() {
        text.as_bytes().windows(3).for_each(|w| key(trigram_key(w)));
        return;
    }
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    for w in bounds.windows(4) {
        key(trigram_key(&text.as_bytes()[w[0]..w[3]]));
    }
}

/// The keys of an entry's searchable text: the trigrams of each of its leaves, lowercased the
/// way the evaluator compares (runs across two leaves are left out: the evaluator looks for
/// a needle within one leaf). Repeats are left for the block's bitmap to fold.
pub fn entry_keys(entry: &Value) -> Vec<u32> {
    let mut keys = Vec::new();
    let mut lower = String::new();
    logquery::for_each_searchable_leaf(entry, &mut |leaf| {
        if leaf.is_ascii() {
            lower.clear();
            lower.push_str(leaf);
            lower.make_ascii_lowercase();
        } else {
            lower = leaf.to_lowercase();
        }
        push_trigram_keys(&lower, &mut |key| keys.push(key));
    });
    keys
}

/// Bits in a key: about a million keys, so a block's set is a bitmap of 128 KiB, and two
/// trigrams sharing a key only make a block a candidate it did not need to be.
const KEY_BITS: u32 = 20;

/// FNV-1a over the trigram's UTF-8 bytes, folded to [`KEY_BITS`]: stable across builds and
/// machines (the keys are on disk).
fn trigram_key(bytes: &[u8]) -> u32 {
    let hash = bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash ^ (hash >> KEY_BITS)) & ((1 << KEY_BITS) - 1)
}

/// How a key is written in the FTS table: one ASCII word.
fn push_word(doc: &mut String, key: u32) {
    let _ = write!(doc, "k{key:05x} ");
}

/// A block's keys: a bitmap over every key (setting one is a bit test), and the keys set, in
/// the order they came, to write out and clear without reading the whole bitmap.
struct KeyBits {
    bits: Box<[u64]>,
    set: Vec<u32>,
}

impl KeyBits {
    fn new() -> KeyBits {
        KeyBits {
            bits: vec![0; 1 << (KEY_BITS - 6)].into_boxed_slice(),
            set: Vec::new(),
        }
    }

    fn insert(&mut self, key: u32) {
        let (word, bit) = ((key >> 6) as usize, 1u64 << (key & 63));
        if self.bits[word] & bit == 0 {
            self.bits[word] |= bit;
            self.set.push(key);
        }
    }

    fn extend(&mut self, keys: &[u32]) {
        keys.iter().for_each(|&key| self.insert(key));
    }

    /// The keys as an FTS document, leaving the set empty.
    fn take_doc(&mut self) -> String {
        let mut doc = String::with_capacity(self.set.len() * 7);
        for &key in &self.set {
            push_word(&mut doc, key);
            self.bits[(key >> 6) as usize] = 0;
        }
        self.set.clear();
        doc
    }
}

/// The writer's side of the index: the next row id, the open block's keys, and the documents
/// of the blocks filled by the transaction under way (the first block's number with them),
/// sealed at its end.
pub(super) struct TextBlocks {
    next_id: i64,
    open_block: i64,
    open_keys: KeyBits,
    full: Option<(i64, Vec<String>)>,
}

impl TextBlocks {
    /// Reads the index's state from the database: the sealed boundary, the next id, and the
    /// open block's keys from its rows.
    pub(super) fn load(conn: &Connection) -> rusqlite::Result<TextBlocks> {
        let open_block: i64 =
            conn.query_row("SELECT next_block FROM text_sealed", [], |r| r.get(0))?;
        let max_id: Option<i64> =
            conn.query_row("SELECT max(id) FROM entries", [], |r| r.get(0))?;
        let first = open_block * BLOCK_ROWS;
        let mut open_keys = KeyBits::new();
        let mut rows = conn.prepare("SELECT entry FROM entries WHERE id >= ?1")?;
        let mut found = rows.query([first])?;
        while let Some(row) = found.next()? {
            open_keys.extend(&stored_entry_keys(&row.get::<_, String>(0)?));
        }
        Ok(TextBlocks {
            next_id: max_id.map_or(first, |m| (m + 1).max(first)),
            open_block,
            open_keys,
            full: None,
        })
    }

    /// The id the next stored entry gets.
    pub(super) fn next_id(&self) -> i64 {
        self.next_id
    }

    /// Records that the entry with keys `keys` was stored under [`Self::next_id`].
    pub(super) fn stored(&mut self, keys: &[u32]) {
        self.open_keys.extend(keys);
        self.next_id += 1;
        if self.next_id >= (self.open_block + 1) * BLOCK_ROWS {
            let doc = self.open_keys.take_doc();
            let (_, docs) = self
                .full
                .get_or_insert_with(|| (self.open_block, Vec::new()));
            docs.push(doc);
            self.open_block += 1;
        }
    }

    /// Seals the blocks the transaction filled, after its entries: FTS5 writes its pending
    /// keys out whenever a statement of the transaction opens a savepoint, so sealing among
    /// the inserts would write a segment per entry.
    pub(super) fn seal_full(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        match self.full.take() {
            Some((first, docs)) => seal(tx, first, &docs),
            None => Ok(()),
        }
    }
}

/// Writes the documents of consecutive blocks from `first` on as rows of the FTS table in one
/// statement (each statement's savepoint makes FTS5 write a segment of what it holds), and
/// moves the sealed boundary past them.
fn seal(tx: &Connection, first: i64, docs: &[String]) -> rusqlite::Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    // The documents are hexadecimal words: nothing in them needs escaping in JSON.
    let mut list = String::from("[");
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push('"');
        list.push_str(doc);
        list.push('"');
    }
    list.push(']');
    tx.prepare_cached("UPDATE text_sealed SET next_block = ?1")?
        .execute([first + docs.len() as i64])?;
    tx.prepare_cached(
        "INSERT INTO text_blocks (rowid, keys) SELECT ?1 + key, value FROM json_each(?2)",
    )?
    .execute(rusqlite::params![first, list])?;
    Ok(())
}

/// The keys of a stored entry, from its JSON (a row that does not parse has none).
fn stored_entry_keys(json: &str) -> Vec<u32> {
    entry_keys(&serde_json::from_str(json).unwrap_or(Value::Null))
}

/// Schema 1 or 2 -> 3, in one transaction: drops the indexes by log name and by severity
/// (the log-id index and the time-ordered scan serve them) and schema 2's text index (one FTS
/// row per entry), creates the block index and seals a block for every block of ids used.
pub(super) fn upgrade_to_3(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "DROP INDEX IF EXISTS entries_log;
         DROP INDEX IF EXISTS entries_severity;
         DROP TRIGGER IF EXISTS entries_text_delete;
         DROP TABLE IF EXISTS entries_text;",
    )?;
    tx.execute_batch(TEXT_INDEX)?;
    {
        let mut rows = tx.prepare("SELECT id, entry FROM entries ORDER BY id")?;
        let mut found = rows.query([])?;
        let mut keys = KeyBits::new();
        let mut block = None;
        while let Some(row) = found.next()? {
            let id: i64 = row.get(0)?;
            if block.is_some_and(|b| b != id / BLOCK_ROWS) {
                seal(&tx, block.unwrap_or_default(), &[keys.take_doc()])?;
            }
            block = Some(id / BLOCK_ROWS);
            keys.extend(&stored_entry_keys(&row.get::<_, String>(1)?));
        }
        if let Some(b) = block {
            seal(&tx, b, &[keys.take_doc()])?;
        }
    }
    tx.execute_batch(&format!("PRAGMA user_version={}", super::SCHEMA_VERSION))?;
    tx.commit()
}

/// Drops the sealed blocks wholly before the oldest stored entry (after an expiry).
pub(super) fn forget_blocks_before(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM text_blocks WHERE rowid < coalesce(
             (SELECT min(id) FROM entries) / ?1,
             (SELECT next_block FROM text_sealed))",
        [BLOCK_ROWS],
    )
}

/// The FTS5 query for the narrowing's texts: every needle of three characters or more
/// contributes its trigrams' keys, all required (the blocks holding the needle are among
/// them). Shorter needles are left to the evaluator; `None` when no text can use the index.
pub(super) fn text_match(n: &Narrowing) -> Option<String> {
    let mut keys: Vec<u32> = n
        .text_contains
        .iter()
        .flat_map(|needle| trigram_keys(needle))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut query = String::new();
    for key in keys {
        if !query.is_empty() {
            query.push_str("AND ");
        }
        push_word(&mut query, key);
    }
    (!query.is_empty()).then_some(query)
}

/// The condition on `entries` that keeps the rows of the blocks matching the next `?` (a
/// [`text_match`] query) and of the open block.
pub(super) const IN_TEXT_BLOCKS: &str = concat!(
    "(id / ",
    block_rows!(),
    " IN (SELECT rowid FROM text_blocks WHERE text_blocks MATCH ?)",
    " OR id >= (SELECT next_block FROM text_sealed) * ",
    block_rows!(),
    ")"
);

/// The candidate blocks of a [`text_match`] query (bound as `?`) and the open block, as a
/// table of their first row ids `lo` and the first ids past them `hi`, to join `entries` on.
pub(super) const TEXT_BLOCK_RANGES: &str = concat!(
    "(SELECT rowid * ",
    block_rows!(),
    " AS lo, (rowid + 1) * ",
    block_rows!(),
    " AS hi FROM text_blocks WHERE text_blocks MATCH ?",
    " UNION ALL SELECT next_block * ",
    block_rows!(),
    ", (next_block + 1) * ",
    block_rows!(),
    " FROM text_sealed)"
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_the_distinct_trigrams_of_the_characters() {
        assert_eq!(trigram_keys("ab"), Vec::<u32>::new());
        assert_eq!(trigram_keys("abc"), vec![trigram_key(b"abc")]);
        assert_eq!(trigram_keys("abcabc").len(), 3, "abc, bca, cab");
        // Trigrams are of characters, not bytes.
        assert_eq!(trigram_keys("aéb"), vec![trigram_key("aéb".as_bytes())]);
        // FNV-1a 32 (0x1a47e90b for "abc") folded to 20 bits, as written on disk: pinned so
        // a change of hash is a schema change.
        assert_eq!(trigram_key(b"abc"), 0x7_e8af);
    }

    /// A block's document holds its keys once each, and taking it leaves the bitmap empty for
    /// the next block (a key left set would make every later block a candidate for it).
    #[test]
    fn a_blocks_keys_are_written_once_and_cleared_for_the_next() {
        let mut keys = KeyBits::new();
        keys.extend(&[5, 0xf_ffff, 5, 64, 0]);
        assert_eq!(keys.take_doc(), "k00005 kfffff k00040 k00000 ");
        assert!(keys.bits.iter().all(|&w| w == 0));
        keys.extend(&[64]);
        assert_eq!(keys.take_doc(), "k00040 ");
        assert_eq!(keys.take_doc(), "");
    }

    /// Whatever needle the evaluator finds in an entry, the entry's keys hold the needle's:
    /// the index never hides a match. Runs across two leaves and the timestamps are left out.
    #[test]
    fn an_entrys_keys_hold_every_needle_the_evaluator_finds_in_it() {
        let entry = serde_json::json!({
            "timestamp": "2026-12-03T10:00:00Z",
            "insertId": "Abc-42",
            "labels": {"Pod": "Web-ÄÖ-ΣΑΣ", "ok": true},
            "jsonPayload": {"message": "GET /Items", "status": 503, "nested": ["Zebra"]},
        });
        let keys: HashSet<u32> = entry_keys(&entry).into_iter().collect();
        let query_keys = |needle: &str| trigram_keys(&needle.to_lowercase());
        for needle in [
            "abc-42",
            "GET /ITEMS",
            "web-äö-σας",
            "503",
            "true",
            "zebra",
            "bra",
        ] {
            let filter = logquery::parse(&format!("{needle:?}")).unwrap();
            assert!(filter.matches(&entry), "{needle}");
            for key in query_keys(needle) {
                assert!(keys.contains(&key), "{needle}");
            }
        }
        // Not held: a run across two leaves, and the timestamp.
        assert!(!query_keys("42g").iter().all(|k| keys.contains(k)));
        assert!(!query_keys("2026-12").iter().all(|k| keys.contains(k)));
    }
}
