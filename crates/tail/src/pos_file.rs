//! fluentd's `pos_file`: one line per followed file, `path\t<16-hex offset>\t<16-hex inode>`.
//!
//! Reading accepts everything fluentd writes (including its "unwatched" marker and duplicate
//! lines for one path); writing replaces the whole file atomically (temp file, fsync, rename,
//! fsync of the directory) so a crash leaves either the old positions or the new ones, never a
//! torn mix. fluentd rewrites entries in place; the result on disk has the same format.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The offset fluentd writes for a path it stopped watching.
pub const UNWATCHED: u64 = u64::MAX;

/// One line of a pos_file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosEntry {
    pub path: String,
    pub offset: u64,
    pub inode: u64,
}

/// A line that could not be read back, reported so the operator learns the file was damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

/// Parses a pos_file's contents. Lines that do not have fluentd's shape are returned separately
/// instead of failing the whole file: one damaged line must not cost the other files' positions.
pub fn parse(text: &str) -> (Vec<PosEntry>, Vec<BadLine>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(entry) => entries.push(entry),
            None => bad.push(BadLine {
                line: index + 1,
                text: line.chars().take(200).collect(),
            }),
        }
    }
    (entries, bad)
}

fn parse_line(line: &str) -> Option<PosEntry> {
    let mut fields = line.rsplitn(3, '\t');
    let inode = fields.next()?;
    let offset = fields.next()?;
    let path = fields.next()?;
    if path.is_empty() {
        return None;
    }
    Some(PosEntry {
        path: path.to_string(),
        offset: u64::from_str_radix(offset.trim(), 16).ok()?,
        inode: u64::from_str_radix(inode.trim(), 16).ok()?,
    })
}

/// Renders entries in fluentd's exact format.
pub fn render(entries: &[PosEntry]) -> String {
    let mut text = String::with_capacity(entries.len() * 64);
    for entry in entries {
        text.push_str(&entry.path);
        text.push_str(&format!("\t{:016x}\t{:016x}\n", entry.offset, entry.inode));
    }
    text
}

/// Reads a pos_file; a missing file is an empty one.
pub fn load(path: &Path) -> io::Result<(Vec<PosEntry>, Vec<BadLine>)> {
    match fs::read(path) {
        Ok(bytes) => Ok(parse(&String::from_utf8_lossy(&bytes))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), Vec::new())),
        Err(error) => Err(error),
    }
}

/// Replaces the pos_file atomically.
pub fn store(path: &Path, entries: &[PosEntry]) -> io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut file = File::create(&tmp)?;
        file.write_all(render(entries).as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        // Persist the rename itself; a directory that cannot be opened (rare) only weakens
        // durability, the file contents are already safe.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_fluentd_writes() {
        let text = "/api/log/app.log\t00000000000004d2\t0000000000a1b2c3\n\
                    /var/log/old.log\tffffffffffffffff\t0000000000000007\n";
        let (entries, bad) = parse(text);
        assert!(bad.is_empty());
        assert_eq!(
            entries,
            vec![
                PosEntry {
                    path: "/api/log/app.log".into(),
                    offset: 1234,
                    inode: 0xa1b2c3
                },
                PosEntry {
                    path: "/var/log/old.log".into(),
                    offset: UNWATCHED,
                    inode: 7
                },
            ]
        );
        assert_eq!(render(&entries), text);
    }

    #[test]
    fn paths_with_tabs_keep_their_text() {
        let entry = PosEntry {
            path: "/tmp/odd\tname.log".into(),
            offset: 5,
            inode: 9,
        };
        let (entries, bad) = parse(&render(std::slice::from_ref(&entry)));
        assert!(bad.is_empty());
        assert_eq!(entries, vec![entry]);
    }

    #[test]
    fn damaged_lines_are_reported_and_the_rest_kept() {
        let text = "/a.log\t0000000000000010\t0000000000000001\n\
                    garbage without tabs\n\
                    /b.log\tzz\t01\n\
                    /c.log\t0000000000000020\t0000000000000003";
        let (entries, bad) = parse(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].path, "/c.log");
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn store_is_atomic_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log.pos");
        let entries = vec![PosEntry {
            path: "/api/log/app.log".into(),
            offset: 42,
            inode: 77,
        }];
        store(&path, &entries).unwrap();
        assert!(!dir.path().join("app.log.pos.tmp").exists());
        assert_eq!(load(&path).unwrap().0, entries);
        assert_eq!(load(&dir.path().join("missing")).unwrap().0, vec![]);
    }
}
