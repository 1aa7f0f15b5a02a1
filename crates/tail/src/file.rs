//! One open log file: its identity, how far it has been read, and the bytes of a line that has
//! not ended yet. Reading hands out whole lines only; an over-long line is split or truncated
//! here so a runaway writer cannot make the agent hold unbounded memory.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

/// A file's identity: survives renames, changes when a path is re-created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            inode: meta.ino(),
        }
    }
}

/// What to do with a line longer than `max_line_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongLines {
    /// Emit it as several lines of at most `max_line_size` bytes each.
    Split,
    /// Emit its first `max_line_size` bytes and skip the rest.
    Truncate,
}

/// Bytes read from one file in one go.
pub(crate) struct Piece {
    /// Complete lines (each ending in `\n`), or one part of an over-long line (no `\n`).
    pub data: Bytes,
    /// File offset of `data[0]`.
    pub start: u64,
    /// True when this piece is part of a line that was split or cut short.
    pub long_line: bool,
}

pub(crate) struct OpenFile {
    pub path: Arc<Path>,
    pub id: FileId,
    file: File,
    /// Offset of `buf[0]` in the file; `buf` holds read bytes not yet handed out.
    buf_start: u64,
    buf: Bytes,
    /// Inside an over-long line being truncated: drop bytes until the next newline.
    skipping: bool,
    pub eof: bool,
    /// The file's first bytes as read, to notice a copytruncate that was followed by more
    /// writing than had been read before the next look (the size alone cannot tell).
    head: Vec<u8>,
}

/// How many leading bytes identify a file's content for truncation checks.
const HEAD_BYTES: usize = 64;

impl OpenFile {
    pub fn open(path: Arc<Path>, offset: u64) -> io::Result<(Self, Metadata)> {
        let mut file = File::open(&path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let offset = if offset > meta.len() { 0 } else { offset };
        file.seek(SeekFrom::Start(offset))?;
        let mut head = vec![0; HEAD_BYTES.min(offset as usize)];
        let n = read_at_most(&file, &mut head)?;
        head.truncate(n);
        let open = Self {
            path,
            id: FileId::of(&meta),
            file,
            buf_start: offset,
            buf: Bytes::new(),
            skipping: false,
            eof: false,
            head,
        };
        Ok((open, meta))
    }

    /// True when the file (by its descriptor, wherever it lives now) holds less than was read
    /// or starts differently than it did: it was truncated.
    pub fn truncated(&mut self) -> bool {
        match self.file.metadata() {
            Ok(meta) if meta.len() < self.read_offset() => true,
            Ok(_) => self.head_changed().unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The file's metadata, by its descriptor (wherever it lives now).
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.file.metadata()
    }

    /// Offset up to which every byte has been handed out as a (piece of a) line.
    pub fn handed_out(&self) -> u64 {
        self.buf_start
    }

    /// Offset of the next byte to read from the file.
    pub fn read_offset(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// Starts over at offset 0 after the file was truncated (copytruncate).
    pub fn restart(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.buf = Bytes::new();
        self.buf_start = 0;
        self.skipping = false;
        self.eof = false;
        self.head.clear();
        Ok(())
    }

    /// True when the file no longer starts with the bytes it started with: it was truncated
    /// and written again. Learns the head the first time enough of the file has been read.
    pub fn head_changed(&mut self) -> io::Result<bool> {
        let want = HEAD_BYTES.min(self.read_offset() as usize);
        if want == 0 {
            return Ok(false);
        }
        let mut now = vec![0; want];
        let n = read_at_most(&self.file, &mut now)?;
        now.truncate(n);
        if self.head.len() < want {
            if now.len() >= self.head.len() && now.starts_with(&self.head) {
                self.head = now;
                return Ok(false);
            }
            return Ok(true);
        }
        Ok(now.len() < self.head.len() || now[..self.head.len()] != self.head[..])
    }

    /// Reads up to `read_size` bytes and returns the complete lines among them.
    pub fn read(
        &mut self,
        read_size: usize,
        max_line: usize,
        long_lines: LongLines,
        out: &mut Vec<Piece>,
    ) -> io::Result<usize> {
        // A fresh buffer per read: the lines handed out keep the old one alive. It is sized to
        // what the file holds past our offset, not to `read_size`: a chunk of one short line
        // must not pin 256 KiB until it is delivered (with a thousand files, or a glob through
        // thousands of names, that was most of the agent's memory), and a file with nothing
        // new costs an fstat, not an allocation. The unfinished line is copied over (it is
        // short), and `read_to_end` fills the spare capacity without zeroing it first (zeroing
        // 256 KiB per read showed up in the profile).
        let before = self.buf.len();
        let available = self
            .file
            .metadata()?
            .len()
            .saturating_sub(self.read_offset());
        if available == 0 {
            self.eof = true;
            return Ok(0);
        }
        let want = read_size.max(1).min(available as usize);
        let mut fresh = Vec::with_capacity(before + want);
        fresh.extend_from_slice(&self.buf);
        let read = (&self.file).take(want as u64).read_to_end(&mut fresh);
        let n = fresh.len() - before;
        self.buf = Bytes::from(fresh);
        if let Err(e) = read
            && n == 0
        {
            return Err(e);
        }
        self.eof = n == 0;
        let read_from = self.buf_start + before as u64;
        if self.head.len() < HEAD_BYTES && read_from == self.head.len() as u64 {
            let take = n.min(HEAD_BYTES - self.head.len());
            self.head
                .extend_from_slice(&self.buf[before..before + take]);
        }
        self.split_lines(max_line, long_lines, out);
        Ok(n)
    }

    fn split_lines(&mut self, max_line: usize, long_lines: LongLines, out: &mut Vec<Piece>) {
        loop {
            if self.skipping {
                match memchr::memchr(b'\n', &self.buf) {
                    Some(nl) => {
                        self.take(nl + 1);
                        self.skipping = false;
                    }
                    None => {
                        let all = self.buf.len();
                        self.take(all);
                        return;
                    }
                }
            }
            match memchr::memrchr(b'\n', &self.buf) {
                // Every line in buf[..=last] may still be longer than allowed.
                Some(last) => {
                    if let Some(long_at) = first_long_line(&self.buf[..=last], max_line) {
                        if long_at > 0 {
                            let data = self.take(long_at);
                            out.push(Piece {
                                data,
                                start: self.buf_start - long_at as u64,
                                long_line: false,
                            });
                        }
                        self.emit_long(max_line, long_lines, out);
                        continue;
                    }
                    let start = self.buf_start;
                    let data = self.take(last + 1);
                    out.push(Piece {
                        data,
                        start,
                        long_line: false,
                    });
                    return;
                }
                None if self.buf.len() > max_line => {
                    self.emit_long(max_line, long_lines, out);
                }
                None => return,
            }
        }
    }

    /// `buf` starts with a line longer than `max_line`: hand out its first `max_line` bytes.
    fn emit_long(&mut self, max_line: usize, long_lines: LongLines, out: &mut Vec<Piece>) {
        let start = self.buf_start;
        let data = self.take(max_line);
        out.push(Piece {
            data,
            start,
            long_line: true,
        });
        if long_lines == LongLines::Truncate {
            self.skipping = true;
        }
    }

    /// Hands out whatever is buffered as a final line (the file is done, or the agent drains).
    pub fn take_partial(&mut self) -> Option<Piece> {
        if self.buf.is_empty() || self.skipping {
            let all = self.buf.len();
            self.take(all);
            self.skipping = false;
            return None;
        }
        let start = self.buf_start;
        let all = self.buf.len();
        Some(Piece {
            data: self.take(all),
            start,
            long_line: false,
        })
    }

    fn take(&mut self, n: usize) -> Bytes {
        self.buf_start += n as u64;
        self.buf.split_to(n)
    }
}

fn read_at_most(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Offset of the first line in `data` (which ends with `\n`) longer than `max_line` bytes,
/// not counting its newline.
fn first_long_line(data: &[u8], max_line: usize) -> Option<usize> {
    if data.len() <= max_line {
        return None;
    }
    let mut line_start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        if nl - line_start > max_line {
            return Some(line_start);
        }
        line_start = nl + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pieces(content: &[u8], max_line: usize, mode: LongLines) -> Vec<(String, u64, bool)> {
        let dir = tempfile::tempdir().unwrap();
        let path: Arc<Path> = dir.path().join("f.log").into();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        let (mut file, _) = OpenFile::open(path, 0).unwrap();
        let mut out = Vec::new();
        while file.read(7, max_line, mode, &mut out).unwrap() > 0 {}
        out.extend(file.take_partial());
        out.into_iter()
            .map(|p| {
                (
                    String::from_utf8(p.data.to_vec()).unwrap(),
                    p.start,
                    p.long_line,
                )
            })
            .collect()
    }

    #[test]
    fn hands_out_whole_lines_with_offsets() {
        let got = pieces(b"ab\ncd\nef", 100, LongLines::Split);
        let text: String = got.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(text, "ab\ncd\nef");
        assert_eq!(got.last().unwrap(), &("ef".to_string(), 6, false));
        for (data, start, _) in &got {
            assert!(data.ends_with('\n') || *start == 6);
        }
    }

    #[test]
    fn splits_long_lines() {
        let got = pieces(b"0123456789\nab\n", 4, LongLines::Split);
        let joined: Vec<&str> = got.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(joined.concat(), "0123456789\nab\n");
        assert!(got.iter().any(|p| p.2));
        assert!(
            got.iter()
                .all(|p| p.0.trim_end_matches('\n').len() <= 4 || !p.2)
        );
    }

    #[test]
    fn truncates_long_lines_and_keeps_reading() {
        let got = pieces(b"0123456789\nab\n", 4, LongLines::Truncate);
        let joined: String = got.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(joined, "0123ab\n");
    }
}
