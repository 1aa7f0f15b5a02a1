//! The store's tests: group commit, and the text index.

mod group_commit {
    use super::super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn entry(n: usize) -> StoredEntry {
        StoredEntry {
            parent: "projects/p".into(),
            log_name: "projects/p/logs/app".into(),
            log_id: "app".into(),
            timestamp_nanos: 1_000 + n as i64,
            insert_id: format!("id-{n}"),
            severity: 0,
            resource_type: "global".into(),
            receive_nanos: 0,
            json: format!(r#"{{"insertId":"id-{n}"}}"#),
            text_keys: entry_keys(&serde_json::json!({ "insertId": format!("id-{n}") })),
        }
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn writes_that_wait_for_the_writer_share_one_commit_and_each_gets_its_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        store.insert(&[entry(0)]).unwrap();
        assert_eq!(store.commits(), 1);
        // Hold the writer as a commit in progress would, while four writes queue up; two of
        // them overlap, and one repeats the entry already stored.
        let writer = lock(&store.writer);
        let writes = [vec![0, 1, 2], vec![3, 4], vec![4, 5], vec![6]];
        let handles: Vec<_> = writes
            .iter()
            .map(|ns| {
                let store = store.clone();
                let entries: Vec<StoredEntry> = ns.iter().map(|&n| entry(n)).collect();
                std::thread::spawn(move || store.insert_new(entries).unwrap())
            })
            .collect();
        wait_until("four queued writes", || lock(&store.queued).len() == 4);
        drop(writer);
        let written: Vec<Written> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            store.commits(),
            2,
            "the four writes went in one transaction"
        );
        assert_eq!(store.count().unwrap(), 7);
        // Each write gets its own entries back and the indices of what it stored; the first
        // write of a duplicate wins, in the order the writes queued (which thread queued
        // first is not fixed, so the overlap is checked as a whole).
        for (w, ns) in written.iter().zip(&writes) {
            let back: Vec<String> = w.entries.iter().map(|e| e.insert_id.clone()).collect();
            let sent: Vec<String> = ns.iter().map(|n| format!("id-{n}")).collect();
            assert_eq!(back, sent);
        }
        assert_eq!(written[0].new, vec![1, 2], "id-0 was stored before");
        assert_eq!(
            written[1].new.len() + written[2].new.len(),
            3,
            "id-4 stored once"
        );
        assert_eq!(written[3].new, vec![0]);
    }

    #[test]
    fn concurrent_writers_store_each_entry_once_and_all_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        // 4 writers x 25 writes of 40 entries; writers 0/1 and 2/3 send the same entries.
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut new = 0;
                    for b in 0..25 {
                        let base = (w / 2) * 1_000 + b * 40;
                        let entries = (base..base + 40).map(entry).collect();
                        new += store.insert_new(entries).unwrap().new.len();
                    }
                    new
                })
            })
            .collect();
        let new: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(new, 2_000, "each distinct entry is new exactly once");
        assert_eq!(store.count().unwrap(), 2_000);
        assert!(store.commits() <= 100);
    }

    /// A reader on the log holds its restart back, but not the writes: each waits a moment
    /// for the reader and goes on (the restart is tried again after the next), instead of
    /// waiting out the busy timeout. Once the reader is gone, the log starts over.
    #[test]
    fn a_reader_on_the_log_does_not_hold_writes_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let padding = "x".repeat(4_000);
        let batch = |b: usize| -> Vec<StoredEntry> {
            (0..1_000)
                .map(|i| {
                    let mut e = entry(b * 1_000 + i);
                    e.json = format!(r#"{{"insertId":"id-{}","pad":"{padding}"}}"#, e.insert_id);
                    e
                })
                .collect()
        };
        store.insert(&batch(0)).unwrap();
        let reader = Connection::open(dir.path().join("entries.sqlite3")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let held: i64 = reader
            .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(held, 1_000);
        let mut slowest = Duration::ZERO;
        for b in 1..25 {
            let started = Instant::now();
            store.insert(&batch(b)).unwrap();
            slowest = slowest.max(started.elapsed());
        }
        assert!(
            slowest < Duration::from_secs(5),
            "a write waited {slowest:?} for the reader"
        );
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        let frames = || -> i64 {
            lock(&store.writer)
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .unwrap()
        };
        // A restart can also wait on the checkpoint thread's copy; a few writes give it time.
        let before = frames();
        let restarted = (25..45).any(|b| {
            store.insert(&batch(b)).unwrap();
            frames() < before / 2
        });
        assert!(
            restarted,
            "the log started over once the reader was gone ({before} frames before)"
        );
    }

    /// Under writes that never pause, the log still starts over: it stays near its restart
    /// bound instead of growing with everything written, however far behind the checkpoint
    /// thread is.
    #[test]
    fn the_write_ahead_log_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let wal = dir.path().join("entries.sqlite3-wal");
        let padding = "x".repeat(4_000);
        for batch in 0..40 {
            let entries: Vec<StoredEntry> = (0..1_000)
                .map(|i| {
                    let mut e = entry(batch * 1_000 + i);
                    e.json = format!(r#"{{"insertId":"id-{}","pad":"{padding}"}}"#, e.insert_id);
                    e
                })
                .collect();
            store.insert(&entries).unwrap();
        }
        let written: u64 = 40 * 1_000 * 4_000;
        let size = std::fs::metadata(&wal).unwrap().len();
        assert!(
            size < written * 3 / 4,
            "the log is {size} bytes after {written} bytes of entries"
        );
    }
}

mod text_index {
    use super::super::*;

    fn stored(n: usize, text: &str) -> StoredEntry {
        let json = serde_json::json!({
            "logName": "projects/p/logs/app",
            "insertId": format!("id-{n:05}"),
            "textPayload": text,
        });
        StoredEntry {
            parent: "projects/p".into(),
            log_name: "projects/p/logs/app".into(),
            log_id: "app".into(),
            timestamp_nanos: n as i64,
            insert_id: format!("id-{n:05}"),
            severity: 0,
            resource_type: "global".into(),
            receive_nanos: 0,
            json: json.to_string(),
            text_keys: entry_keys(&json),
        }
    }

    fn list(store: &Store, filter: &str) -> Vec<String> {
        let page = store
            .list(&ListQuery {
                parents: vec!["projects/p".into()],
                query: logquery::parse(filter).unwrap(),
                narrow: true,
                descending: true,
                page_size: 1_000,
                after: None,
            })
            .unwrap();
        page.entries
            .iter()
            .map(|e| e["insertId"].as_str().unwrap().to_owned())
            .collect()
    }

    fn plan(store: &Store, filter: &str) -> String {
        let conn = lock(&store.reader);
        let q = ListQuery {
            parents: vec!["projects/p".into()],
            query: logquery::parse(filter).unwrap(),
            narrow: true,
            descending: true,
            page_size: 50,
            after: None,
        };
        let (sql, args) = store.list_sql(&conn, &q).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    /// The explorer's histogram narrows by the text index too: a rare word counts the rows
    /// that hold its trigrams, not every row of the range, and counts exactly.
    #[test]
    fn a_histogram_of_a_word_tests_only_the_rows_the_text_index_gives() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entries: Vec<StoredEntry> = (0..3_000)
            .map(|n| {
                let text = match n % 1_000 {
                    7 => "GET /items 200 unicorn".to_owned(),
                    8 => "GET /items 200 unicor".to_owned(), // the trigrams of "unicor" only
                    _ => format!("GET /items/{n} 200"),
                };
                stored(n, &text)
            })
            .collect();
        store.insert(&entries).unwrap();
        let q = |filter: &str| HistogramQuery {
            parents: vec!["projects/p".into()],
            query: logquery::parse(filter).unwrap(),
            min_severity: 0,
            start_nanos: 0,
            end_nanos: 3_000,
            buckets: 3,
        };
        let totals = |filter: &str| -> Vec<u64> {
            let counts = store.histogram(&q(filter)).unwrap();
            assert!(!counts.truncated);
            counts
                .counts
                .iter()
                .map(|bucket| bucket.iter().map(|(_, n)| n).sum())
                .collect()
        };
        assert_eq!(totals("unicorn"), [1, 1, 1]);
        assert_eq!(totals("UNICOR"), [2, 2, 2]);
        assert_eq!(totals("items"), [1_000, 1_000, 1_000]);
        let (sql, args, exact) = histogram_sql(&q("unicorn"), 1_000, 3);
        assert!(!exact);
        let conn = lock(&store.reader);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan = stmt
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ");
        assert!(plan.contains("VIRTUAL TABLE"), "{plan}");
    }

    #[test]
    fn a_rare_word_is_looked_up_in_the_text_index_and_a_common_one_scans_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entries: Vec<StoredEntry> = (0..20_000)
            .map(|n| {
                let text = if n == 4_242 {
                    "GET /items 200 unicorn".to_owned()
                } else {
                    format!("GET /items/{n} 200")
                };
                stored(n, &text)
            })
            .collect();
        store.insert(&entries).unwrap();
        assert_eq!(list(&store, "UNICORN"), ["id-04242"]);
        assert_eq!(list(&store, r#"textPayload:"s 200 uni""#), ["id-04242"]);
        let rare = plan(&store, "unicorn");
        assert!(rare.contains("VIRTUAL TABLE"), "{rare}");
        assert!(!rare.contains("USING INDEX"), "{rare}");
        // Every block has "items": past the few-rows bound, the ordered scan serves it
        // (skipping the rows of blocks without the word, here none).
        let common = plan(&store, "items");
        assert!(common.contains("USING INDEX entries_dedup"), "{common}");
        assert!(!common.contains("TEMP B-TREE"), "{common}");
        assert_eq!(list(&store, "items").len(), 1_000);
    }

    /// Every page of `filter`'s matches, oldest first, with or without narrowing.
    fn list_all(store: &Store, filter: &str, narrow: bool) -> Vec<String> {
        let mut ids = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list(&ListQuery {
                    parents: vec!["projects/p".into()],
                    query: logquery::parse(filter).unwrap(),
                    narrow,
                    descending: false,
                    page_size: 500,
                    after,
                })
                .unwrap();
            ids.extend(page.entries.iter().map(|e| e["insertId"].to_string()));
            match page.next {
                Some(next) => after = Some(next),
                None => return ids,
            }
        }
    }

    /// The index only narrows: whether a word is in a few blocks (the page built from them),
    /// in many (the ordered scan skipping the others), in every one, or in the open block only,
    /// the narrowed listing is the one the evaluator alone gives.
    #[test]
    fn narrowed_listings_are_the_evaluators() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entries: Vec<StoredEntry> = (0..30_000)
            .map(|n| {
                let mut text = format!("GET /items/{n} 200");
                if n % 7_919 == 0 {
                    text.push_str(" rare-beetle");
                }
                if n % 200 == 0 {
                    // In 150 of the 234 blocks: more than the page is built from.
                    text.push_str(" medium-moth");
                }
                if n >= 29_950 {
                    text.push_str(" fresh-fern");
                }
                stored(n, &text)
            })
            .collect();
        store.insert(&entries).unwrap();
        for filter in [
            "rare-beetle",
            "medium-moth",
            "fresh-fern",
            "items",
            r#"textPayload:"moth" OR textPayload:"fern""#,
            "nowhere-at-all",
        ] {
            let narrowed = list_all(&store, filter, true);
            assert_eq!(narrowed, list_all(&store, filter, false), "{filter}");
            assert!(
                filter.starts_with("nowhere") || !narrowed.is_empty(),
                "{filter}"
            );
        }
        assert_eq!(list_all(&store, "rare-beetle", true).len(), 4);
        assert_eq!(list_all(&store, "medium-moth", true).len(), 150);
        let medium = plan(&store, "medium-moth");
        assert!(medium.contains("USING INDEX entries_dedup"), "{medium}");
        assert!(medium.contains("LIST SUBQUERY"), "{medium}");
    }

    /// How many sealed blocks the text index holds.
    fn blocks(store: &Store) -> i64 {
        lock(&store.reader)
            .query_row("SELECT count(*) FROM text_blocks", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn expired_entries_take_their_blocks_with_them_and_a_deleted_log_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entries: Vec<StoredEntry> = (0..300)
            .map(|n| stored(n, if n % 100 == 1 { "zebra" } else { "horse" }))
            .collect();
        store.insert(&entries).unwrap();
        assert_eq!(
            blocks(&store),
            2,
            "two full blocks of 128 sealed, 44 rows open"
        );
        assert_eq!(list(&store, "zebra"), ["id-00201", "id-00101", "id-00001"]);
        store.expire(200).unwrap();
        assert_eq!(list(&store, "zebra"), ["id-00201"]);
        assert_eq!(
            blocks(&store),
            1,
            "block 0 held only expired rows; block 1 holds 200"
        );
        store.delete_log("projects/p", "app").unwrap();
        assert!(list(&store, "zebra").is_empty());
        store.expire(1_000).unwrap();
        assert_eq!(blocks(&store), 0);
    }

    /// Row ids are never given twice: a row stored after the newest ones were deleted does
    /// not land in a sealed block whose keys do not have its words.
    #[test]
    fn a_row_stored_after_a_delete_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entries: Vec<StoredEntry> = (0..128).map(|n| stored(n, "horse")).collect();
        store.insert(&entries).unwrap();
        assert_eq!(blocks(&store), 1);
        store.delete_log("projects/p", "app").unwrap();
        store.insert(&[stored(500, "walrus")]).unwrap();
        assert_eq!(list(&store, "walrus"), ["id-00500"]);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        store.insert(&[stored(501, "walrus")]).unwrap();
        assert_eq!(list(&store, "walrus"), ["id-00501", "id-00500"]);
    }

    /// The open block's keys live in the writer's memory; a reopened store reads them back
    /// from its rows, so the block sealed later still has the words written before.
    #[test]
    fn the_open_blocks_words_survive_a_reopen_and_its_sealing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let entries: Vec<StoredEntry> = (0..200)
                .map(|n| stored(n, if n == 150 { "narwhal" } else { "horse" }))
                .collect();
            store.insert(&entries).unwrap();
            assert_eq!(blocks(&store), 1);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(list(&store, "narwhal"), ["id-00150"]);
        let entries: Vec<StoredEntry> = (200..300).map(|n| stored(n, "horse")).collect();
        store.insert(&entries).unwrap();
        assert_eq!(blocks(&store), 2, "the block holding 150 is sealed now");
        assert_eq!(list(&store, "narwhal"), ["id-00150"]);
        assert!(plan(&store, "narwhal").contains("VIRTUAL TABLE"));
    }

    #[test]
    fn schema_1_and_2_databases_get_the_block_index_on_open() {
        for version in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            {
                // What an emulator of that schema left behind (2 added a per-entry index).
                let conn = Connection::open(dir.path().join("entries.sqlite3")).unwrap();
                conn.execute_batch(&format!(
                    "{SCHEMA} PRAGMA user_version={version};
                     CREATE INDEX entries_log ON entries (parent, log_name, timestamp_nanos, insert_id);
                     CREATE INDEX entries_severity ON entries (parent, severity, timestamp_nanos, insert_id);"
                ))
                .unwrap();
                if version == 2 {
                    conn.execute_batch(
                        "CREATE VIRTUAL TABLE entries_text USING fts5(text, content='',
                             contentless_delete=1, detail=none,
                             tokenize='trigram case_sensitive 1');
                         CREATE TRIGGER entries_text_delete AFTER DELETE ON entries BEGIN
                             DELETE FROM entries_text WHERE rowid = old.id;
                         END;",
                    )
                    .unwrap();
                }
                for (n, text) in [(1, "old walrus"), (2, "old seal"), (300, "old walrus")] {
                    let e = stored(n, text);
                    conn.execute(&format!("INSERT {INSERT_ENTRY}"), e.params(&(n as i64)))
                        .unwrap();
                }
            }
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(list(&store, "walrus"), ["id-00300", "id-00001"]);
            assert!(plan(&store, "walrus").contains("VIRTUAL TABLE"));
            assert_eq!(blocks(&store), 2, "ids 1 and 2 in block 0, 300 in block 2");
            let version: i64 = lock(&store.reader)
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version, SCHEMA_VERSION);
            let old_indexes: i64 = lock(&store.reader)
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('entries_log', 'entries_severity')",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(old_indexes, 0, "dropped: every write paid for them");
            // New rows go after the blocks made.
            store.insert(&[stored(400, "new walrus")]).unwrap();
            drop(store);
            // Opening again leaves it as it is.
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(list(&store, "old").len(), 3);
            assert_eq!(list(&store, "walrus").len(), 3);
        }
    }
}

mod logs {
    use super::super::*;

    fn in_log(n: usize, log_name: &str) -> StoredEntry {
        let parsed = gcloud_logging::parse_log_name(log_name).unwrap();
        StoredEntry {
            parent: parsed.parent,
            log_name: log_name.into(),
            log_id: parsed.log_id,
            timestamp_nanos: n as i64,
            insert_id: format!("id-{n}"),
            severity: 0,
            resource_type: "global".into(),
            receive_nanos: 0,
            json: serde_json::json!({ "logName": log_name, "insertId": format!("id-{n}") })
                .to_string(),
            text_keys: Vec::new(),
        }
    }

    /// Logs are listed from the log-id index: in name order, paged by name, one name per log.
    #[test]
    fn log_names_are_listed_in_order_and_paged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let names = [
            "projects/p/logs/zeta",
            "projects/p/logs/alpha",
            "projects/p/logs/app%2Fweb",
            "projects/p/logs/mid",
            "projects/q/logs/other",
        ];
        let entries: Vec<StoredEntry> = (0..500).map(|n| in_log(n, names[n % 5])).collect();
        store.insert(&entries).unwrap();
        let all = store.log_names("projects/p", None, 10).unwrap();
        assert_eq!(
            all,
            [
                "projects/p/logs/alpha",
                "projects/p/logs/app%2Fweb",
                "projects/p/logs/mid",
                "projects/p/logs/zeta"
            ]
        );
        let page = store
            .log_names("projects/p", Some("projects/p/logs/app%2Fweb"), 1)
            .unwrap();
        assert_eq!(page, ["projects/p/logs/mid"]);
        assert!(
            store
                .log_names("projects/none", None, 10)
                .unwrap()
                .is_empty()
        );
    }

    /// A filter on `logName` is served by the log-id index, and exactly.
    #[test]
    fn a_log_name_filter_scans_the_log_id_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entries: Vec<StoredEntry> = (0..300)
            .map(|n| {
                in_log(
                    n,
                    if n % 3 == 0 {
                        "projects/p/logs/a%2Fb"
                    } else {
                        "projects/p/logs/c"
                    },
                )
            })
            .collect();
        store.insert(&entries).unwrap();
        let q = ListQuery {
            parents: vec!["projects/p".into()],
            query: logquery::parse(r#"logName="projects/p/logs/a%2Fb""#).unwrap(),
            narrow: true,
            descending: false,
            page_size: 1_000,
            after: None,
        };
        assert_eq!(store.list(&q).unwrap().entries.len(), 100);
        let conn = lock(&store.reader);
        let (sql, args) = store.list_sql(&conn, &q).unwrap();
        let plan: String = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(plan.contains("entries_log_id"), "{plan}");
        drop(conn);
        let other = ListQuery {
            query: logquery::parse(r#"logName="projects/p/logs/nope" OR logName="bad""#).unwrap(),
            ..q
        };
        assert!(store.list(&other).unwrap().entries.is_empty());
    }
}
