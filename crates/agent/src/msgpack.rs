//! The part of MessagePack the Fluentd forward protocol uses: a decoder that tells "incomplete"
//! from "invalid" (so a stream reader knows whether to wait for more bytes or close), bounded in
//! depth and in what a length prefix can make it allocate, and an encoder for the few shapes
//! logferry sends. Hand-written: the subset is small and the decoder must be hardened anyway.

use serde_json::{Map, Value as Json};

/// A decoded MessagePack value. Strings stay bytes: fluentd clients send invalid UTF-8 too.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Vec<u8>),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More bytes are needed.
    #[error("incomplete value")]
    Incomplete,
    #[error("{0}")]
    Invalid(String),
}

/// Nesting deeper than this is refused (a record is rarely deeper than a few levels).
pub const MAX_DEPTH: usize = 64;

impl Value {
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) | Value::Bin(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str_lossy(&self) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The value under string key `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// What a JSON-speaking output sees.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Nil => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::UInt(u) => Json::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) | Value::Bin(s) => Json::String(String::from_utf8_lossy(s).into_owned()),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => Json::Object(map_to_json(entries)),
            Value::Ext(0, data) if data.len() == 8 => {
                let (s, n) = event_time(data);
                Json::from(s as f64 + n as f64 / 1e9)
            }
            Value::Ext(..) => Json::Null,
        }
    }
}

/// The longest JSON text a map key that is not a string is written as. A map used as a key
/// is escaped again at every level it is nested in (its text doubles in length), so 40 levels
/// of it in a 150-byte message would otherwise ask for terabytes.
pub const MAX_KEY_TEXT: usize = 1024;

/// A map's entries as a JSON object; keys that are not strings are written as JSON text, cut
/// at [`MAX_KEY_TEXT`] bytes (with `…`).
pub fn map_to_json(entries: &[(Value, Value)]) -> Map<String, Json> {
    let mut map = Map::new();
    for (k, v) in entries {
        let key = match k.as_bytes() {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => key_text(k),
        };
        map.insert(key, v.to_json());
    }
    map
}

fn key_text(key: &Value) -> String {
    let mut text = key.to_json().to_string();
    if text.len() > MAX_KEY_TEXT {
        let mut end = MAX_KEY_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Seconds and nanoseconds of an EventTime extension's 8 bytes.
pub fn event_time(data: &[u8]) -> (u32, u32) {
    let s = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let n = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    (s, n)
}

/// Decodes one value from the start of `buf`; returns it and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut d = Decoder { buf, pos: 0 };
    let v = d.value(0)?;
    Ok((v, d.pos))
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(DecodeError::Incomplete);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, DecodeError> {
        Ok(self.take(n)?.to_vec())
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        // Every element takes at least one byte: a length beyond what is here cannot be whole
        // yet, and must not make us allocate for it.
        let mut items = Vec::with_capacity(n.min(self.remaining()));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        let mut entries = Vec::with_capacity(n.min(self.remaining() / 2));
        for _ in 0..n {
            let k = self.value(depth + 1)?;
            let v = self.value(depth + 1)?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }

    fn ext(&mut self, n: usize) -> Result<Value, DecodeError> {
        let kind = self.byte()? as i8;
        Ok(Value::Ext(kind, self.bytes(n)?))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x7f => Value::UInt(marker as u64),
            0x80..=0x8f => return self.map((marker & 0x0f) as usize, depth),
            0x90..=0x9f => return self.array((marker & 0x0f) as usize, depth),
            0xa0..=0xbf => Value::Str(self.bytes((marker & 0x1f) as usize)?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = self.be(1)? as usize;
                Value::Bin(self.bytes(n)?)
            }
            0xc5 => {
                let n = self.be(2)? as usize;
                Value::Bin(self.bytes(n)?)
            }
            0xc6 => {
                let n = self.be(4)? as usize;
                Value::Bin(self.bytes(n)?)
            }
            0xc7 => {
                let n = self.be(1)? as usize;
                return self.ext(n);
            }
            0xc8 => {
                let n = self.be(2)? as usize;
                return self.ext(n);
            }
            0xc9 => {
                let n = self.be(4)? as usize;
                return self.ext(n);
            }
            0xca => Value::Float(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => Value::Float(f64::from_bits(self.be(8)?)),
            0xcc => Value::UInt(self.be(1)?),
            0xcd => Value::UInt(self.be(2)?),
            0xce => Value::UInt(self.be(4)?),
            0xcf => Value::UInt(self.be(8)?),
            0xd0 => Value::Int(self.be(1)? as u8 as i8 as i64),
            0xd1 => Value::Int(self.be(2)? as u16 as i16 as i64),
            0xd2 => Value::Int(self.be(4)? as u32 as i32 as i64),
            0xd3 => Value::Int(self.be(8)? as i64),
            0xd4 => return self.ext(1),
            0xd5 => return self.ext(2),
            0xd6 => return self.ext(4),
            0xd7 => return self.ext(8),
            0xd8 => return self.ext(16),
            0xd9 => {
                let n = self.be(1)? as usize;
                Value::Str(self.bytes(n)?)
            }
            0xda => {
                let n = self.be(2)? as usize;
                Value::Str(self.bytes(n)?)
            }
            0xdb => {
                let n = self.be(4)? as usize;
                Value::Str(self.bytes(n)?)
            }
            0xdc => {
                let n = self.be(2)? as usize;
                return self.array(n, depth);
            }
            0xdd => {
                let n = self.be(4)? as usize;
                return self.array(n, depth);
            }
            0xde => {
                let n = self.be(2)? as usize;
                return self.map(n, depth);
            }
            0xdf => {
                let n = self.be(4)? as usize;
                return self.map(n, depth);
            }
            0xe0..=0xff => Value::Int(marker as i8 as i64),
            0xc1 => return Err(DecodeError::Invalid("byte 0xc1 is never used".into())),
        })
    }
}

// ---- encoding --------------------------------------------------------------------------------

pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xc3 } else { 0xc2 });
}

pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if v <= u8::MAX as u64 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u32::MAX as u64 {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= u8::MAX as usize {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

pub fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= u8::MAX as usize {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

pub fn write_array_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

pub fn write_map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Fluentd's EventTime: extension type 0, seconds and nanoseconds as big-endian u32.
pub fn write_event_time(out: &mut Vec<u8>, seconds: u32, nanos: u32) {
    out.extend_from_slice(&[0xd7, 0x00]);
    out.extend_from_slice(&seconds.to_be_bytes());
    out.extend_from_slice(&nanos.to_be_bytes());
}

pub fn write_json(out: &mut Vec<u8>, value: &Json) {
    match value {
        Json::Null => write_nil(out),
        Json::Bool(b) => write_bool(out, *b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                write_uint(out, u)
            } else if let Some(i) = n.as_i64() {
                write_int(out, i)
            } else {
                write_f64(out, n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => write_str(out, s.as_bytes()),
        Json::Array(items) => {
            write_array_len(out, items.len());
            for item in items {
                write_json(out, item);
            }
        }
        Json::Object(map) => write_json_map(out, map),
    }
}

pub fn write_json_map(out: &mut Vec<u8>, map: &Map<String, Json>) {
    write_map_len(out, map.len());
    for (k, v) in map {
        write_str(out, k.as_bytes());
        write_json(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz run msgpack` (an out-of-memory): maps used as keys of maps, 40
    /// deep, in a few dozen bytes. Each level escaped the text of the one inside it again.
    #[test]
    fn maps_nested_as_keys_become_json_of_bounded_size() {
        let mut bytes = vec![0x81; 40]; // 40 levels of {key: value}, each key the next map
        bytes.extend_from_slice(&[0xa3, b'"', b'\\', b'"', 0xc0]); // innermost: {"\"\\\"": nil}
        bytes.extend(std::iter::repeat_n(0xc0, 39)); // the other levels' values: nil
        let (value, used) = decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        let json = value.to_json().to_string();
        assert!(json.len() < 4 * MAX_KEY_TEXT, "{} bytes", json.len());
        assert!(json.contains('…'), "the long key is cut: {json}");
    }

    #[test]
    fn round_trips_json_records_and_event_time() {
        let record = serde_json::json!({
            "message": "héllo", "n": -5, "big": 1u64 << 40, "f": 1.5, "ok": true,
            "none": null, "list": [1, "two", {"three": 3}], "long": "x".repeat(300),
        });
        let mut out = Vec::new();
        write_array_len(&mut out, 2);
        write_event_time(&mut out, 1_700_000_000, 123);
        write_json(&mut out, &record);
        let (value, used) = decode(&out).unwrap();
        assert_eq!(used, out.len());
        let Value::Array(items) = value else { panic!() };
        assert_eq!(
            items[0],
            Value::Ext(0, {
                let mut b = 1_700_000_000u32.to_be_bytes().to_vec();
                b.extend_from_slice(&123u32.to_be_bytes());
                b
            })
        );
        assert_eq!(items[1].to_json(), record);
    }

    #[test]
    fn tells_incomplete_from_invalid() {
        let mut out = Vec::new();
        write_json(&mut out, &serde_json::json!({"a": [1, 2, 3], "b": "text"}));
        for cut in 0..out.len() {
            assert_eq!(
                decode(&out[..cut]),
                Err(DecodeError::Incomplete),
                "cut at {cut}"
            );
        }
        assert!(matches!(decode(&[0xc1]), Err(DecodeError::Invalid(_))));
        // A huge declared length with nothing behind it waits for bytes, allocating nothing.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Incomplete)
        );
        let deep: Vec<u8> = std::iter::repeat_n(0x91, MAX_DEPTH + 2).collect();
        assert!(matches!(decode(&deep), Err(DecodeError::Invalid(_))));
    }
}
