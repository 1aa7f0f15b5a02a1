//! Segment files: `<id>.seg` in the buffer directory, a 16-byte versioned header
//! (`LFBUFSEG`, format version, CRC of both) followed by framed records. Only the newest
//! segment is written; older ones are read-only until every record in them is delivered, and
//! then deleted whole.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::record::{self, Frame, RECORD_HEADER};

pub const MAGIC: &[u8; 8] = b"LFBUFSEG";
/// The segment format this build writes and reads.
pub const VERSION: u32 = 1;
pub const HEADER_LEN: u64 = 16;

pub fn file_name(id: u64) -> String {
    format!("{id:020}.seg")
}

/// The id of a segment file name, if it is one.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    let crc = record::crc32(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a segment's header cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header: the agent died while creating the file.
    Short,
    /// Not a logferry segment, or a damaged header.
    BadHeader,
    /// Written by a logferry with another segment format.
    Version(u32),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Short => f.write_str("the file is shorter than a segment header"),
            HeaderError::BadHeader => f.write_str("the segment header is damaged"),
            HeaderError::Version(v) => write!(
                f,
                "segment format version {v} (this logferry reads version {VERSION})"
            ),
        }
    }
}

pub fn check_header(bytes: &[u8]) -> Result<(), HeaderError> {
    if bytes.len() < HEADER_LEN as usize {
        return Err(HeaderError::Short);
    }
    let crc = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    if &bytes[..8] != MAGIC || crc != record::crc32(&bytes[..12]) {
        return Err(HeaderError::BadHeader);
    }
    match u32::from_le_bytes(bytes[8..12].try_into().unwrap()) {
        VERSION => Ok(()),
        other => Err(HeaderError::Version(other)),
    }
}

/// The first offset after `bytes[0]` at which a valid record starts (used to step over a
/// corrupt region without losing the records after it).
pub fn resync(bytes: &[u8]) -> Option<usize> {
    (1..bytes.len().saturating_sub(RECORD_HEADER - 1))
        .find(|&i| matches!(record::check_frame(&bytes[i..]), Frame::Valid(_)))
}

/// The segment being appended to.
pub struct SegmentWriter {
    pub id: u64,
    file: File,
    /// Bytes written (header included).
    pub len: u64,
    /// Bytes known to be on stable storage.
    pub synced_len: u64,
}

impl SegmentWriter {
    /// Creates segment `id` with its header.
    pub fn create(dir: &Path, id: u64) -> io::Result<SegmentWriter> {
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join(file_name(id)))?;
        file.write_all(&header())?;
        Ok(SegmentWriter {
            id,
            file,
            len: HEADER_LEN,
            synced_len: 0,
        })
    }

    /// Appends whole records; on failure the file is cut back to where it was, so a half
    /// written record never sits in front of later ones.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Err(error) = self.file.write_all(bytes) {
            let _ = self.file.set_len(self.len);
            return Err(error);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn sync(&mut self) -> io::Result<()> {
        if self.synced_len < self.len {
            self.file.sync_data()?;
            self.synced_len = self.len;
        }
        Ok(())
    }
}

/// What the reader found at its position.
pub enum Next {
    /// A valid record; its payload is in [`SegmentReader::payload`].
    Record,
    /// Nothing valid starts at `at`; reading goes on at `resume` (the next valid record), or
    /// at the end of what was written when nothing valid follows.
    Corrupt { at: u64, resume: Option<u64> },
}

/// Sequential reads of one segment.
pub struct SegmentReader {
    pub id: u64,
    file: BufReader<File>,
    /// Offset of the next record.
    pub pos: u64,
    payload: Vec<u8>,
}

impl SegmentReader {
    pub fn open(path: &PathBuf, id: u64, pos: u64) -> io::Result<SegmentReader> {
        let mut file = BufReader::with_capacity(64 * 1024, File::open(path)?);
        file.seek(SeekFrom::Start(pos))?;
        Ok(SegmentReader {
            id,
            file,
            pos,
            payload: Vec::new(),
        })
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Reads the record at `pos`, never past `end` (the bytes written so far).
    pub fn next(&mut self, end: u64) -> io::Result<Next> {
        let at = self.pos;
        let mut header = [0u8; RECORD_HEADER];
        if end - at >= RECORD_HEADER as u64 {
            self.file.read_exact(&mut header)?;
            if let Some(len) = record::claimed_len(&header)
                && (len as u64) <= end - at - RECORD_HEADER as u64
            {
                self.payload.resize(len, 0);
                self.file.read_exact(&mut self.payload)?;
                if record::checksum_matches(&header, &self.payload) {
                    self.pos = at + (RECORD_HEADER + len) as u64;
                    return Ok(Next::Record);
                }
            }
        }
        // Damaged: look for the next valid record in the rest of what was written.
        self.file.seek(SeekFrom::Start(at))?;
        let mut rest = vec![0u8; (end - at) as usize];
        self.file.read_exact(&mut rest)?;
        let resume = resync(&rest).map(|i| at + i as u64);
        self.pos = resume.unwrap_or(end);
        self.file.seek(SeekFrom::Start(self.pos))?;
        Ok(Next::Corrupt { at, resume })
    }
}
