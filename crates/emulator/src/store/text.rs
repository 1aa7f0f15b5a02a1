//! The text index: an FTS5 table of each entry's trigrams that narrows bare words and `:` on
//! the payload, its schema-1 migration, and the query a filter's texts become.

use logquery::Narrowing;
use rusqlite::Connection;
use serde_json::Value;

use super::SCHEMA_VERSION;

/// A text search matching fewer rows than this builds its page from those rows (looked up by
/// id and sorted); more, and the ordered scan finds matches soon enough on its own.
pub(super) const FEW_TEXT_ROWS: i64 = 10_000;

/// The text index: each entry's searchable text (lowercased already, so the tokenizer keeps
/// case), its trigrams without their positions (`detail=none`: a third of the cost of a full
/// index to write; a needle then asks for all its trigrams, wherever they are, and the
/// evaluator checks the rest), without a copy of the text (`content=''`), rows deleted with
/// their entries.
pub(super) const TEXT_INDEX: &str = "
CREATE VIRTUAL TABLE entries_text USING fts5(
    text, content='', contentless_delete=1, detail=none,
    tokenize='trigram case_sensitive 1'
);
CREATE TRIGGER entries_text_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entries_text WHERE rowid = old.id;
END;
";

/// Schema 1 -> 2: builds the text index over the entries already stored, in one transaction.
pub(super) fn add_text_index(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(TEXT_INDEX)?;
    {
        let mut rows = tx.prepare("SELECT id, entry FROM entries")?;
        let mut insert = tx.prepare("INSERT INTO entries_text (rowid, text) VALUES (?1, ?2)")?;
        let mut found = rows.query([])?;
        while let Some(row) = found.next()? {
            let id: i64 = row.get(0)?;
            let json: String = row.get(1)?;
            let value: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
            insert.execute(rusqlite::params![id, logquery::searchable_text(&value)])?;
        }
    }
    tx.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION}"))?;
    tx.commit()
}

/// At most this many trigrams of one needle are asked of the index (spread over it): more
/// narrow little further and each costs a posting-list walk.
const MAX_TRIGRAMS: usize = 12;

/// The FTS5 query for the narrowing's texts: every needle of three characters or more
/// contributes its trigrams, all required (a superset of the entries holding the needle).
/// Shorter ones are left to the evaluator; `None` when no text can use the index.
pub(super) fn text_match(n: &Narrowing) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for needle in &n.text_contains {
        let chars: Vec<char> = needle.chars().collect();
        let Some(last) = chars.len().checked_sub(3) else {
            continue;
        };
        let step = (last / MAX_TRIGRAMS.saturating_sub(1).max(1)).max(1);
        let starts = (0..=last).step_by(step).chain(std::iter::once(last));
        for start in starts {
            let trigram: String = chars[start..start + 3].iter().collect();
            let term = format!("\"{}\"", trigram.replace('"', "\"\""));
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
    (!terms.is_empty()).then(|| terms.join(" AND "))
}
