//! Reopening a buffer directory after a stop or a crash: the delivered-up-to cursor says where
//! replay starts; every segment after it is checked record by record. A torn record at the end
//! of the newest segment (the agent died mid-write) is cut off and reported; a damaged record
//! elsewhere is stepped over to the next valid one, so one bad spot never costs the rest.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::record::{self, Frame};
use super::segment;
use super::{Held, Pos};

/// What recovery found; logged once when the output starts.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Segments holding undelivered records.
    pub segments: usize,
    /// Undelivered records to replay.
    pub records: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// The same records as the output's buffer gauges count them.
    pub held: Held,
    pub torn_tail: Option<TornTail>,
    /// Damaged spots stepped over (the records around them are replayed).
    pub corrupt_regions: u64,
    /// Files that are not readable segments, renamed to `*.unreadable` with the reason.
    pub set_aside: Vec<(PathBuf, String)>,
    /// The cursor file was damaged: replay starts at the oldest segment (what was delivered
    /// already is sent again and deduplicated by Cloud Logging).
    pub cursor_lost: bool,
}

/// The end of the newest segment that was cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub segment: PathBuf,
    pub offset: u64,
    pub discarded: u64,
}

/// One segment checked from `start`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub records: u64,
    pub bytes: u64,
    /// The records as the output's buffer gauges count them.
    pub held: Held,
    pub corrupt_regions: u64,
    /// Where the last valid record ends.
    pub valid_end: u64,
    /// Bytes after `valid_end` in which no valid record starts.
    pub tail_garbage: u64,
}

/// Checks every record of a segment's bytes from `start`.
pub fn scan(bytes: &[u8], start: usize) -> Scan {
    let mut s = Scan::default();
    let mut pos = start.min(bytes.len());
    while pos < bytes.len() {
        match record::check_frame(&bytes[pos..]) {
            Frame::Valid(len) => {
                let end = pos + record::RECORD_HEADER + len;
                let payload = &bytes[pos + record::RECORD_HEADER..end];
                s.held.count(record::held_size(payload));
                pos = end;
                s.records += 1;
                s.bytes += len as u64;
            }
            Frame::Incomplete | Frame::Corrupt => match segment::resync(&bytes[pos..]) {
                Some(skip) => {
                    s.corrupt_regions += 1;
                    pos += skip;
                }
                None => {
                    s.tail_garbage = (bytes.len() - pos) as u64;
                    break;
                }
            },
        }
    }
    s.valid_end = (bytes.len() as u64) - s.tail_garbage;
    s
}

/// A segment found on disk, with the length of its valid part.
pub struct Found {
    pub id: u64,
    pub len: u64,
}

/// Recovers `dir`: returns the segments to replay (oldest first), where replay starts, and the
/// report. The newest segment's torn tail is truncated away.
pub fn recover(dir: &Path) -> io::Result<(Vec<Found>, Option<Pos>, RecoveryReport)> {
    fs::create_dir_all(dir)?;
    let mut report = RecoveryReport::default();
    let mut ids: Vec<u64> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(segment::parse_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    let cursor = match read_cursor(dir) {
        Ok(cursor) => cursor,
        Err(_) => {
            report.cursor_lost = true;
            None
        }
    };
    // A cursor into a segment that is gone (deleted after delivery) starts at the next one.
    let cursor = cursor.filter(|c| ids.contains(&c.segment));
    let mut found = Vec::new();
    let last = ids.last().copied();
    for id in ids {
        let path = dir.join(segment::file_name(id));
        if cursor.is_some_and(|c| id < c.segment) {
            fs::remove_file(&path)?; // delivered; the crash came before its deletion
            continue;
        }
        let mut bytes = fs::read(&path)?;
        if let Err(error) = segment::check_header(&bytes) {
            if error == segment::HeaderError::Short && Some(id) == last {
                // The agent died while creating it: nothing after a header was written yet.
                fs::remove_file(&path)?;
                if !bytes.is_empty() {
                    report.torn_tail = Some(TornTail {
                        segment: path,
                        offset: 0,
                        discarded: bytes.len() as u64,
                    });
                }
                continue;
            }
            let aside = path.with_extension("seg.unreadable");
            fs::rename(&path, &aside)?;
            report.set_aside.push((aside, error.to_string()));
            continue;
        }
        let start = match cursor {
            Some(c) if c.segment == id => c.offset.clamp(segment::HEADER_LEN, bytes.len() as u64),
            _ => segment::HEADER_LEN,
        };
        let scan = scan(&bytes, start as usize);
        if scan.tail_garbage > 0 && Some(id) == last {
            let file = fs::OpenOptions::new().write(true).open(&path)?;
            file.set_len(scan.valid_end)?;
            file.sync_all()?;
            bytes.truncate(scan.valid_end as usize);
            report.torn_tail = Some(TornTail {
                segment: path.clone(),
                offset: scan.valid_end,
                discarded: scan.tail_garbage,
            });
        } else if scan.tail_garbage > 0 {
            report.corrupt_regions += 1; // stepped over when it is read
        }
        report.corrupt_regions += scan.corrupt_regions;
        report.records += scan.records;
        report.bytes += scan.bytes;
        report.held.include(scan.held);
        if scan.records > 0 {
            report.segments += 1;
        }
        found.push(Found {
            id,
            len: bytes.len() as u64,
        });
    }
    Ok((found, cursor, report))
}

/// The file recording how far delivery got, so a restart does not send it all again.
pub const CURSOR_FILE: &str = "delivered";
const CURSOR_MAGIC: &[u8; 8] = b"LFBUFACK";
const CURSOR_LEN: usize = 32;

/// The cursor file cannot be read or is not a cursor.
#[derive(Debug, thiserror::Error)]
#[error("the delivered-up-to cursor is damaged")]
pub struct DamagedCursor;

/// `Ok(None)`: no cursor yet.
pub fn read_cursor(dir: &Path) -> Result<Option<Pos>, DamagedCursor> {
    let bytes = match fs::read(dir.join(CURSOR_FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(DamagedCursor),
    };
    if bytes.len() != CURSOR_LEN
        || &bytes[..8] != CURSOR_MAGIC
        || u32::from_le_bytes(bytes[8..12].try_into().unwrap()) != 1
        || u32::from_le_bytes(bytes[28..32].try_into().unwrap()) != record::crc32(&bytes[..28])
    {
        return Err(DamagedCursor);
    }
    Ok(Some(Pos {
        segment: u64::from_le_bytes(bytes[12..20].try_into().unwrap()),
        offset: u64::from_le_bytes(bytes[20..28].try_into().unwrap()),
    }))
}

/// Replaces the cursor file (temp file + rename, so it is always whole). Not fsynced: a cursor
/// lost to a power cut only means delivered records are sent again, and deduplicated.
pub fn write_cursor(dir: &Path, pos: Pos) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(CURSOR_LEN);
    bytes.extend_from_slice(CURSOR_MAGIC);
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&pos.segment.to_le_bytes());
    bytes.extend_from_slice(&pos.offset.to_le_bytes());
    let crc = record::crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("delivered.tmp");
    fs::File::create(&tmp)?.write_all(&bytes)?;
    fs::rename(&tmp, dir.join(CURSOR_FILE))
}
