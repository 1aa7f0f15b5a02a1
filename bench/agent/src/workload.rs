//! The two workloads: Python-logging text lines (~180 B) and structured JSON lines (~350 B with
//! `httpRequest` and a trace). Every line carries its sequence number as `seq=NNNNNNNNNN`, so
//! the sink can tell which line an entry is and when it was written.

use std::io::{self, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Json,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Json => "json",
        }
    }

    /// The fluentd `format` that reads this workload.
    pub fn format(self) -> &'static str {
        match self {
            Kind::Text => "none",
            Kind::Json => "json",
        }
    }
}

/// The marker before a line's sequence number (ten digits follow).
pub const SEQ_MARKER: &[u8] = b"seq=";

const PATHS: [&str; 4] = ["/api/items", "/api/users", "/api/orders", "/healthz"];

/// Appends line `seq` (with its newline) to `out`.
pub fn line(kind: Kind, seq: u64, out: &mut Vec<u8>) {
    let ms = seq % 1000;
    let sec = (seq / 1000) % 60;
    let min = (seq / 60_000) % 60;
    let path = PATHS[(seq % 4) as usize];
    let id = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let ip = seq % 250 + 1;
    let status = if seq.is_multiple_of(50) { 500 } else { 200 };
    let _ = match kind {
        Kind::Text => {
            let level = match seq % 100 {
                0 => "ERROR",
                1..=9 => "WARNING",
                _ => "INFO",
            };
            writeln!(
                out,
                "2026-05-01 12:{min:02}:{sec:02},{ms:03} {level} [app.api] thread=MainThread seq={seq:010} GET {path}/{} status={status} duration_ms={}.{:03} client=10.0.3.{ip} request_id={id:016x}{:016x}",
                seq % 10_000,
                seq % 97,
                seq % 1000,
                !id
            )
        }
        Kind::Json => {
            let severity = match seq % 100 {
                0 => "ERROR",
                1..=9 => "WARNING",
                _ => "INFO",
            };
            writeln!(
                out,
                r#"{{"severity":"{severity}","message":"handled seq={seq:010}","time":"2026-05-01T12:{min:02}:{sec:02}.{ms:03}123Z","httpRequest":{{"requestMethod":"GET","requestUrl":"{path}/{}","status":{status},"remoteIp":"10.0.3.{ip}","latency":"0.0{:05}s"}},"logging.googleapis.com/trace":"projects/bench-project/traces/{id:016x}{:016x}","logging.googleapis.com/spanId":"{:016x}"}}"#,
                seq % 10_000,
                seq % 99_999,
                !id,
                id >> 3
            )
        }
    };
}

/// Writes `lines` lines of `kind` to `path`; returns the byte count.
pub fn write_file(path: &Path, kind: Kind, lines: u64) -> io::Result<u64> {
    let mut file = std::fs::File::create(path)?;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut total = 0;
    for seq in 0..lines {
        line(kind, seq, &mut buf);
        if buf.len() >= (1 << 20) - 1024 {
            file.write_all(&buf)?;
            total += buf.len() as u64;
            buf.clear();
        }
    }
    file.write_all(&buf)?;
    total += buf.len() as u64;
    file.sync_all()?;
    Ok(total)
}

/// The sequence number following each `seq=` marker in `body`.
pub fn seqs_in(body: &[u8], mut f: impl FnMut(u64)) {
    for at in memchr::memmem::find_iter(body, SEQ_MARKER) {
        let digits = &body[at + SEQ_MARKER.len()..];
        if digits.len() < 10 {
            continue;
        }
        let mut n = 0u64;
        let mut ok = true;
        for &d in &digits[..10] {
            ok &= d.is_ascii_digit();
            n = n * 10 + u64::from(d.wrapping_sub(b'0'));
        }
        if ok {
            f(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_advertised_sizes_and_one_marker() {
        for (kind, lo, hi) in [(Kind::Text, 165, 195), (Kind::Json, 330, 380)] {
            let mut total = 0;
            for seq in [0, 7, 123_456, 999_999] {
                let mut out = Vec::new();
                line(kind, seq, &mut out);
                total += out.len();
                let mut found = Vec::new();
                seqs_in(&out, |s| found.push(s));
                assert_eq!(found, vec![seq], "{}", String::from_utf8_lossy(&out));
            }
            let mean = total / 4;
            assert!(
                (lo..=hi).contains(&mean),
                "{kind:?}: {mean} bytes: {}",
                String::from_utf8_lossy(&{
                    let mut o = Vec::new();
                    line(kind, 123_456, &mut o);
                    o
                })
            );
        }
    }
}
