//! One buffered event on disk: `[len u32][crc32 u32][payload]`, little-endian, where the CRC
//! covers the length bytes and the payload, so a torn length is caught as surely as a torn
//! payload. The payload keeps everything a replay needs to send the very same entry again: the
//! tag, the timestamp and the origin (file identity + offset, from which the `insertId` comes).

use std::sync::Arc;

use bytes::Bytes;
use gcloud_logging::{Timestamp, transcode};

use crate::event::{Event, JsonLine, Origin, Record};

/// Bytes before the payload.
pub const RECORD_HEADER: usize = 8;
/// Larger lengths are corruption, not records (a line is split well below this).
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

const HAS_ORIGIN: u8 = 1;
const MAP_RECORD: u8 = 2;

/// Appends `event` as one framed record to `out`.
pub fn encode(event: &Event, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER]);
    let mut flags = 0;
    if event.origin.is_some() {
        flags |= HAS_ORIGIN;
    }
    if matches!(event.record, Record::Map(_) | Record::Json(_)) {
        flags |= MAP_RECORD;
    }
    out.push(flags);
    out.extend_from_slice(&event.time.seconds.to_le_bytes());
    out.extend_from_slice(&event.time.nanos.to_le_bytes());
    if let Some(origin) = event.origin {
        out.extend_from_slice(&origin.file.to_le_bytes());
        out.extend_from_slice(&origin.offset.to_le_bytes());
    }
    // A tag past 64 KiB is cut at a character boundary, so it reads back as UTF-8.
    let tag = &event.tag[..event.tag.floor_char_boundary(u16::MAX as usize)];
    out.extend_from_slice(&(tag.len() as u16).to_le_bytes());
    out.extend_from_slice(tag.as_bytes());
    match &event.record {
        Record::Line(line) => out.extend_from_slice(line),
        // A JSON line is its map's JSON already, unless the parser consumed a key.
        Record::Json(json) if json.without.is_none() => out.extend_from_slice(&json.line),
        Record::Json(json) => {
            serde_json::to_writer(&mut *out, &json.to_map()).expect("a JSON map always serializes")
        }
        Record::Map(map) => {
            serde_json::to_writer(&mut *out, map).expect("a JSON map always serializes")
        }
    }
    let len = (out.len() - start - RECORD_HEADER) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = frame_crc(&out[start..start + 4], &out[start + RECORD_HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What a framed record at some position turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole record whose checksum matches: payload length.
    Valid(usize),
    /// The header or payload runs past the end of the bytes given.
    Incomplete,
    /// The length is impossible or the checksum does not match.
    Corrupt,
}

/// Checks the record starting at `bytes[0]`.
pub fn check_frame(bytes: &[u8]) -> Frame {
    if bytes.len() < RECORD_HEADER {
        return Frame::Incomplete;
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    if len > MAX_PAYLOAD {
        return Frame::Corrupt;
    }
    if bytes.len() < RECORD_HEADER + len {
        return Frame::Incomplete;
    }
    let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    if crc != frame_crc(&bytes[0..4], &bytes[RECORD_HEADER..RECORD_HEADER + len]) {
        return Frame::Corrupt;
    }
    Frame::Valid(len)
}

/// The payload length a header claims, if it is possible at all.
pub fn claimed_len(header: &[u8; RECORD_HEADER]) -> Option<usize> {
    let len = u32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
    (len <= MAX_PAYLOAD).then_some(len)
}

/// Whether `payload` matches the checksum in `header`.
pub fn checksum_matches(header: &[u8; RECORD_HEADER], payload: &[u8]) -> bool {
    u32::from_le_bytes(header[4..8].try_into().unwrap()) == frame_crc(&header[0..4], payload)
}

/// Why a payload with a good checksum is still not an event (written by a newer logferry, or a
/// bug): the record is skipped and reported like a corrupt one.
#[derive(Debug, thiserror::Error)]
#[error("undecodable record: {0}")]
pub struct DecodeError(&'static str);

/// Decodes a payload written by [`encode`].
pub fn decode(payload: &[u8]) -> Result<Event, DecodeError> {
    let Head {
        flags,
        time,
        origin,
        tag,
        rest,
    } = head(payload)?;
    let record = if flags & MAP_RECORD != 0 {
        let mut members = Vec::new();
        match transcode::scan_object(rest, &mut members) {
            Ok(()) => Record::Json(JsonLine {
                line: Bytes::copy_from_slice(rest),
                without: None,
            }),
            Err(_) => Record::Map(
                serde_json::from_slice(rest).map_err(|_| DecodeError("map is not JSON"))?,
            ),
        }
    } else {
        Record::Line(Bytes::copy_from_slice(rest))
    };
    Ok(Event {
        tag: Arc::from(tag),
        time,
        record,
        origin,
    })
}

/// What the output's buffer gauges count for the event in `payload`: the `approx_size()` of the
/// record [`decode`] returns, found without building it (recovery and every append count each
/// record). `None` when the payload cannot be decoded: it is skipped, so it is not counted.
///
/// A line and a JSON object line count their bytes plus the same overhead. A map record
/// decodes as a JSON object line when the scanner takes its JSON; one it does not (a key with
/// escapes, a repeated key, more members or depth than its fast path handles: what a forward
/// client may send) decodes as a map, counted as a map (the `held_size_matches_decode` fuzz
/// regression).
pub fn held_size(payload: &[u8]) -> Option<usize> {
    let head = head(payload).ok()?;
    if head.flags & MAP_RECORD != 0 && transcode::scan_object(head.rest, &mut Vec::new()).is_err() {
        return match decode(payload).ok()?.record {
            record @ Record::Map(_) => Some(record.approx_size()),
            _ => None,
        };
    }
    Some(Record::Line(Bytes::new()).approx_size() + head.rest.len())
}

/// A payload's fields before the record's bytes.
struct Head<'a> {
    flags: u8,
    time: Timestamp,
    origin: Option<Origin>,
    tag: &'a str,
    rest: &'a [u8],
}

fn head(payload: &[u8]) -> Result<Head<'_>, DecodeError> {
    let mut cur = payload;
    let flags = take::<1>(&mut cur)?[0];
    if flags & !(HAS_ORIGIN | MAP_RECORD) != 0 {
        return Err(DecodeError("unknown flags"));
    }
    let seconds = i64::from_le_bytes(take::<8>(&mut cur)?);
    let nanos = u32::from_le_bytes(take::<4>(&mut cur)?);
    let time = Timestamp::new(seconds, nanos).ok_or(DecodeError("nanoseconds out of range"))?;
    let origin = if flags & HAS_ORIGIN != 0 {
        let file = u64::from_le_bytes(take::<8>(&mut cur)?);
        let offset = u64::from_le_bytes(take::<8>(&mut cur)?);
        Some(Origin { file, offset })
    } else {
        None
    };
    let tag_len = u16::from_le_bytes(take::<2>(&mut cur)?) as usize;
    if cur.len() < tag_len {
        return Err(DecodeError("tag runs past the record"));
    }
    let tag = std::str::from_utf8(&cur[..tag_len]).map_err(|_| DecodeError("tag is not UTF-8"))?;
    Ok(Head {
        flags,
        time,
        origin,
        tag,
        rest: &cur[tag_len..],
    })
}

fn take<const N: usize>(cur: &mut &[u8]) -> Result<[u8; N], DecodeError> {
    if cur.len() < N {
        return Err(DecodeError("record ends early"));
    }
    let (head, rest) = cur.split_at(N);
    *cur = rest;
    Ok(head.try_into().unwrap())
}

fn frame_crc(len: &[u8], payload: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(len);
    crc.update(payload);
    crc.finish()
}

/// CRC-32 (IEEE 802.3, the one zlib and `crc32fast` compute), table-driven.
pub struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    pub fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    pub fn finish(&self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}
