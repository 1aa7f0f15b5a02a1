//! When each chunk of a file was first read, kept next to the pos_file until the chunk is
//! delivered. A `format none` line's timestamp is its read time; after a crash the line is read
//! again, and without this journal it would get a new timestamp — and Cloud Logging, which
//! deduplicates on `insertId` *and* timestamp, would show it twice. With it, a re-read line
//! gets the time it was first read, so a resend after `kill -9` is deduplicated.
//!
//! Format: one line per chunk, `inode<TAB>start<TAB>end<TAB>seconds<TAB>nanos`, appended as
//! chunks are read and compacted whenever the pos_file is written. A torn last line (the
//! crash hit mid-write) is ignored.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use gcloud_logging::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
    time: Timestamp,
}

pub struct ReadTimes {
    path: PathBuf,
    file: Option<File>,
    /// Ranges read before the last start, by inode, sorted by start: consulted for re-reads.
    previous: HashMap<u64, Vec<Range>>,
    /// Ranges handed out by this process, by inode, in read order.
    current: HashMap<u64, Vec<Range>>,
    appended_since_compaction: usize,
}

impl ReadTimes {
    /// Opens (and reads) the journal that belongs to `pos_file`.
    pub fn open(pos_file: &Path) -> ReadTimes {
        let mut name = pos_file.file_name().unwrap_or_default().to_os_string();
        name.push(".readtimes");
        let path = pos_file.with_file_name(name);
        let mut previous: HashMap<u64, Vec<Range>> = HashMap::new();
        if let Ok(text) = fs::read_to_string(&path) {
            for line in text.lines() {
                if let Some((inode, range)) = parse_line(line) {
                    previous.entry(inode).or_default().push(range);
                }
            }
        }
        for ranges in previous.values_mut() {
            ranges.sort_by_key(|r| r.start);
        }
        ReadTimes {
            path,
            file: None,
            previous,
            current: HashMap::new(),
            appended_since_compaction: 0,
        }
    }

    /// The time a line at `offset` was first read, if an earlier run read it.
    pub fn earlier(&self, inode: u64, offset: u64) -> Option<Timestamp> {
        let ranges = self.previous.get(&inode)?;
        // Ranges of several runs may overlap; the latest-starting one holding the offset wins
        // (a later run journals only what it read for the first time).
        let candidates = ranges.partition_point(|r| r.start <= offset);
        ranges[..candidates]
            .iter()
            .rev()
            .find(|r| offset < r.end)
            .map(|r| r.time)
    }

    /// True when nothing from an earlier run is waiting to be matched (the fast path).
    pub fn nothing_earlier(&self) -> bool {
        self.previous.is_empty()
    }

    /// Records a chunk's read time (appended, not synced: it only has to survive the process,
    /// the pod's volume does not outlive the node anyway).
    pub fn record(&mut self, inode: u64, start: u64, end: u64, time: Timestamp) -> io::Result<()> {
        self.current
            .entry(inode)
            .or_default()
            .push(Range { start, end, time });
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let file = self.file.as_mut().expect("opened above");
        writeln!(
            file,
            "{inode}\t{start}\t{end}\t{}\t{}",
            time.seconds, time.nanos
        )?;
        self.appended_since_compaction += 1;
        Ok(())
    }

    /// Forgets what is delivered: everything of `inode` below `committed`. Rewrites the journal
    /// when it has grown, atomically.
    pub fn compact(&mut self, committed: &HashMap<u64, u64>) -> io::Result<()> {
        for map in [&mut self.previous, &mut self.current] {
            map.retain(|inode, ranges| {
                let done = committed.get(inode).copied();
                if let Some(done) = done {
                    ranges.retain(|r| r.end > done);
                }
                // A file no longer in the pos_file is finished or gone.
                done.is_some() && !ranges.is_empty()
            });
        }
        if self.appended_since_compaction < 1024 {
            return Ok(());
        }
        self.appended_since_compaction = 0;
        let mut text = String::new();
        for (inode, ranges) in self.previous.iter().chain(self.current.iter()) {
            for r in ranges {
                text.push_str(&format!(
                    "{inode}\t{}\t{}\t{}\t{}\n",
                    r.start, r.end, r.time.seconds, r.time.nanos
                ));
            }
        }
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, text)?;
        fs::rename(&tmp, &self.path)?;
        self.file = None; // reopen the new file on the next append
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<(u64, Range)> {
    let mut fields = line.split('\t');
    let inode = fields.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    let seconds = fields.next()?.parse().ok()?;
    let nanos = fields.next()?.parse().ok()?;
    if fields.next().is_some() || end <= start {
        return None;
    }
    Some((
        inode,
        Range {
            start,
            end,
            time: Timestamp::new(seconds, nanos)?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_finds_the_first_read_time_and_ignores_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let pos = dir.path().join("app.log.pos");
        let t1 = Timestamp::new(100, 5).unwrap();
        let t2 = Timestamp::new(200, 7).unwrap();
        {
            let mut times = ReadTimes::open(&pos);
            times.record(9, 0, 50, t1).unwrap();
            times.record(9, 50, 80, t2).unwrap();
        }
        let journal = dir.path().join("app.log.pos.readtimes");
        let mut text = fs::read_to_string(&journal).unwrap();
        text.push_str("9\t80\t9"); // torn by a crash
        fs::write(&journal, text).unwrap();
        let times = ReadTimes::open(&pos);
        assert_eq!(times.earlier(9, 0), Some(t1));
        assert_eq!(times.earlier(9, 49), Some(t1));
        assert_eq!(times.earlier(9, 50), Some(t2));
        assert_eq!(times.earlier(9, 80), None);
        assert_eq!(times.earlier(8, 10), None);
    }

    #[test]
    fn delivered_ranges_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let pos = dir.path().join("p.pos");
        let mut times = ReadTimes::open(&pos);
        for i in 0..2000u64 {
            times
                .record(1, i * 10, i * 10 + 10, Timestamp::new(i as i64, 0).unwrap())
                .unwrap();
        }
        times.compact(&HashMap::from([(1, 19_990)])).unwrap();
        let reopened = ReadTimes::open(&pos);
        assert_eq!(
            reopened.earlier(1, 19_995),
            Some(Timestamp::new(1999, 0).unwrap())
        );
        assert_eq!(reopened.earlier(1, 100), None);
    }
}
