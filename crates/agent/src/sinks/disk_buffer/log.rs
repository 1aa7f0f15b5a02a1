//! The buffer directory as one log: appends go to the newest segment (rolling to a new one
//! when it is full), reads walk forward from the oldest undelivered record, and deliveries,
//! which may finish out of order, move a cursor over the delivered prefix; segments behind it
//! are deleted. The log keeps count of the events it holds undelivered, so the output's
//! buffer gauges can count a recovered backlog and take back what is left when it stops.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tracing::warn;

use super::lock::{self, DirLock};
use super::recovery::{self, RecoveryReport};
use super::segment::{self, HEADER_LEN, Next, SegmentReader, SegmentWriter};
use super::{DiskBufferConfig, FsyncPolicy, Held, Pos, record};
use crate::event::Event;

struct SegmentMeta {
    id: u64,
    len: u64,
}

/// Events read from the log, not yet delivered.
pub struct ReadChunk {
    /// Where the chunk starts; pass it to [`DiskLog::delivered`].
    pub start: Pos,
    pub events: Vec<Event>,
}

/// A chunk read and not yet delivered.
struct Outstanding {
    end: Pos,
    delivered: bool,
    held: Held,
}

pub struct DiskLog {
    dir: PathBuf,
    /// Held until the log is dropped: no other buffer opens the directory meanwhile.
    _lock: DirLock,
    config: DiskBufferConfig,
    segments: VecDeque<SegmentMeta>,
    writer: SegmentWriter,
    reader: Option<SegmentReader>,
    read_pos: Pos,
    /// Chunks read, by where they start.
    outstanding: BTreeMap<Pos, Outstanding>,
    /// Every event written and not delivered (read or not).
    held: Held,
    /// Everything before it is delivered.
    cursor: Pos,
    encoded: Vec<u8>,
    /// Damaged records stepped over since the start.
    pub skipped_corrupt: u64,
}

impl DiskLog {
    /// Locks and recovers the buffer directory (see [`lock::lock`]: another buffer holding it
    /// is a [`super::BufferInUse`] error, and nothing in it is touched). Appends go to a fresh
    /// segment.
    pub fn open(config: DiskBufferConfig) -> io::Result<(DiskLog, RecoveryReport)> {
        let dir = config.path.clone();
        fs::create_dir_all(&dir)?;
        let lock = lock::lock(&dir)?;
        let (found, cursor, report) = recovery::recover(&dir)?;
        let mut segments: VecDeque<SegmentMeta> = found
            .into_iter()
            .map(|f| SegmentMeta {
                id: f.id,
                len: f.len,
            })
            .collect();
        let next_id = segments
            .back()
            .map(|s| s.id + 1)
            .or(cursor.map(|c| c.segment + 1))
            .unwrap_or(0);
        let writer = SegmentWriter::create(&dir, next_id)?;
        sync_dir(&dir, config.fsync)?;
        segments.push_back(SegmentMeta {
            id: next_id,
            len: writer.len,
        });
        let first = segments.front().expect("the new segment is there");
        let read_pos = match cursor {
            Some(c) if c.segment == first.id => Pos {
                segment: c.segment,
                offset: c.offset.clamp(HEADER_LEN, first.len),
            },
            _ => Pos {
                segment: first.id,
                offset: HEADER_LEN,
            },
        };
        let mut log = DiskLog {
            dir,
            _lock: lock,
            config,
            segments,
            writer,
            reader: None,
            read_pos,
            outstanding: BTreeMap::new(),
            held: report.held,
            cursor: read_pos,
            encoded: Vec::new(),
            skipped_corrupt: 0,
        };
        log.normalize_read_pos();
        Ok((log, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends events (not yet durable: see [`DiskLog::sync`]). On an error nothing of the
    /// event that failed is left in the log.
    pub fn append(&mut self, events: &[Event]) -> io::Result<()> {
        self.encoded.clear();
        let mut encoded = Held::default();
        for event in events {
            let start = self.encoded.len();
            record::encode(event, &mut self.encoded);
            let held_size = record::held_size(&self.encoded[start + record::RECORD_HEADER..]);
            let full = self.writer.len + self.encoded.len() as u64 > self.config.segment_size;
            if full && (self.writer.len > HEADER_LEN || start > 0) {
                let rest = self.encoded.split_off(start);
                self.write_encoded(std::mem::take(&mut encoded))?;
                self.roll()?;
                self.encoded = rest;
            }
            encoded.count(held_size);
        }
        self.write_encoded(encoded)
    }

    /// Writes the encoded records, which hold `held`.
    fn write_encoded(&mut self, held: Held) -> io::Result<()> {
        let result = self.writer.write(&self.encoded);
        self.encoded.clear();
        self.segments.back_mut().expect("the writer's segment").len = self.writer.len;
        if result.is_ok() {
            self.held.include(held);
        }
        result
    }

    /// Makes every append durable, as the fsync policy asks.
    pub fn sync(&mut self) -> io::Result<()> {
        match self.config.fsync {
            FsyncPolicy::BeforeAck => self.writer.sync(),
            FsyncPolicy::Never => Ok(()),
        }
    }

    /// Seals the newest segment and starts the next.
    fn roll(&mut self) -> io::Result<()> {
        self.sync()?;
        let next = SegmentWriter::create(&self.dir, self.writer.id + 1)?;
        sync_dir(&self.dir, self.config.fsync)?;
        self.segments.push_back(SegmentMeta {
            id: next.id,
            len: next.len,
        });
        self.writer = next;
        Ok(())
    }

    /// Bytes the buffer holds on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// The total size limit is reached: take no more events until deliveries free space.
    pub fn is_full(&self) -> bool {
        self.size_on_disk() >= self.config.total_limit_size
    }

    /// Record bytes written but not read yet.
    pub fn unread_bytes(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.id >= self.read_pos.segment)
            .map(|s| {
                let from = if s.id == self.read_pos.segment {
                    self.read_pos.offset
                } else {
                    HEADER_LEN
                };
                s.len.saturating_sub(from)
            })
            .sum()
    }

    /// Events written and not delivered yet (read or not), as the buffer gauges count them.
    pub fn held(&self) -> Held {
        self.held
    }

    /// Chunks read and not delivered yet.
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }

    /// The newest segment's length and how much of it is on stable storage (for tests that
    /// tear it the way a crash could).
    pub fn newest_segment(&self) -> (PathBuf, u64, u64) {
        (
            self.dir.join(segment::file_name(self.writer.id)),
            self.writer.len,
            self.writer.synced_len,
        )
    }

    /// Reads the next chunk of up to `max_bytes` (at least one record) and `max_records`.
    /// `None`: nothing unread.
    pub fn read_chunk(
        &mut self,
        max_bytes: usize,
        max_records: usize,
    ) -> io::Result<Option<ReadChunk>> {
        loop {
            self.normalize_read_pos();
            let start = self.read_pos;
            let mut events = Vec::new();
            let mut held = Held::default();
            let mut bytes = 0usize;
            while bytes < max_bytes && events.len() < max_records.max(1) {
                self.normalize_read_pos();
                let end = self.segment_len(self.read_pos.segment);
                if self.read_pos.offset >= end {
                    break;
                }
                let reader = self.reader_at(self.read_pos)?;
                match reader.next(end)? {
                    Next::Record => match record::decode(reader.payload()) {
                        Ok(event) => {
                            bytes += reader.payload().len();
                            held.count(record::held_size(reader.payload()));
                            events.push(event);
                        }
                        Err(error) => {
                            // Counted when it was written or recovered, never delivered.
                            let mut skipped = Held::default();
                            skipped.count(record::held_size(reader.payload()));
                            self.held.remove(skipped);
                            self.skipped_corrupt += 1;
                            warn!(buffer = %self.dir.display(), segment = self.read_pos.segment, offset = self.read_pos.offset, %error, "disk buffer: skipped a record that cannot be decoded");
                        }
                    },
                    Next::Corrupt { at, resume } => {
                        let skipped = reader.pos - at;
                        self.skipped_corrupt += 1;
                        warn!(buffer = %self.dir.display(), segment = self.read_pos.segment, offset = at, skipped_bytes = skipped, resumed = resume.is_some(), "disk buffer: skipped a damaged record (checksum or length wrong); the records after it are delivered");
                    }
                }
                self.read_pos.offset = self.reader.as_ref().expect("just used").pos;
            }
            if self.read_pos == start {
                return Ok(None);
            }
            let chunk = Outstanding {
                end: self.read_pos,
                delivered: false,
                held,
            };
            self.outstanding.insert(start, chunk);
            if events.is_empty() {
                // Only damaged records: nothing to send, the cursor may pass them.
                self.delivered(start)?;
                continue;
            }
            return Ok(Some(ReadChunk { start, events }));
        }
    }

    /// Marks the chunk that started at `start` delivered; moves the cursor over the delivered
    /// prefix, persists it, and deletes segments wholly behind it.
    pub fn delivered(&mut self, start: Pos) -> io::Result<()> {
        if let Some(chunk) = self.outstanding.get_mut(&start)
            && !chunk.delivered
        {
            chunk.delivered = true;
            self.held.remove(chunk.held);
        }
        let mut cursor = self.cursor;
        while let Some((_, chunk)) = self.outstanding.first_key_value()
            && chunk.delivered
        {
            cursor = chunk.end;
            self.outstanding.pop_first();
        }
        if self.outstanding.is_empty() {
            // Everything read is delivered: a full newest segment can go now rather than
            // after the next append, so a buffer over its limit always drains to empty.
            if self.read_pos.segment == self.writer.id
                && self.read_pos.offset >= self.writer.len
                && self.writer.len >= self.config.segment_size
            {
                self.roll()?;
            }
            self.normalize_read_pos();
            cursor = self.read_pos;
        }
        if cursor != self.cursor {
            self.cursor = cursor;
            recovery::write_cursor(&self.dir, cursor)?;
            while self.segments.len() > 1 && self.segments[0].id < cursor.segment {
                let old = self.segments.pop_front().expect("checked");
                fs::remove_file(self.dir.join(segment::file_name(old.id)))?;
            }
        }
        Ok(())
    }

    /// Steps over the ends of fully read segments.
    fn normalize_read_pos(&mut self) {
        loop {
            let Some(index) = self
                .segments
                .iter()
                .position(|s| s.id == self.read_pos.segment)
            else {
                // Its segment is gone (cannot happen while reads are tracked): start at the oldest.
                let first = self.segments.front().expect("the writer's segment");
                self.read_pos = Pos {
                    segment: first.id,
                    offset: HEADER_LEN,
                };
                continue;
            };
            let seg = &self.segments[index];
            if self.read_pos.offset < seg.len || index + 1 == self.segments.len() {
                return;
            }
            self.read_pos = Pos {
                segment: self.segments[index + 1].id,
                offset: HEADER_LEN,
            };
        }
    }

    fn segment_len(&self, id: u64) -> u64 {
        self.segments
            .iter()
            .find(|s| s.id == id)
            .map_or(0, |s| s.len)
    }

    fn reader_at(&mut self, pos: Pos) -> io::Result<&mut SegmentReader> {
        let reusable = self
            .reader
            .as_ref()
            .is_some_and(|r| r.id == pos.segment && r.pos == pos.offset);
        if !reusable {
            let path = self.dir.join(segment::file_name(pos.segment));
            self.reader = Some(SegmentReader::open(&path, pos.segment, pos.offset)?);
        }
        Ok(self.reader.as_mut().expect("just set"))
    }
}

fn sync_dir(dir: &Path, policy: FsyncPolicy) -> io::Result<()> {
    match policy {
        FsyncPolicy::BeforeAck => File::open(dir)?.sync_all(),
        FsyncPolicy::Never => Ok(()),
    }
}
