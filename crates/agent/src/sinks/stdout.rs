//! `@type stdout`: one line per event in fluentd's shape,
//! `2026-11-25 10:00:00.123456789 +0000 app.log: {"message":"..."}`.

use std::io::Write;

use super::{Delivery, SendFuture, Sink, SinkError, ready};
use crate::event::Event;

pub struct StdoutSink;

impl Sink for StdoutSink {
    fn send(&self, delivery: Delivery) -> SendFuture {
        let mut out = Vec::with_capacity(delivery.events.len() * 128);
        for event in &delivery.events {
            write_fluentd_line(&mut out, event);
        }
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let result = lock
            .write_all(&out)
            .and_then(|()| lock.flush())
            .map_err(|e| SinkError::io("writing to stdout", e));
        drop(lock);
        ready(delivery, result)
    }
}

/// fluentd's `out_stdout` line.
pub fn write_fluentd_line(out: &mut Vec<u8>, event: &Event) {
    let (date, time) = civil(event.time.seconds);
    let _ = write!(
        out,
        "{date} {time}.{:09} +0000 {}: ",
        event.time.nanos, event.tag
    );
    let _ = serde_json::to_writer(&mut *out, &event.record.to_map());
    out.push(b'\n');
}

/// `YYYY-MM-DD` and `HH:MM:SS` in UTC.
pub(crate) fn civil(seconds: i64) -> (String, String) {
    let ts = gcloud_logging::Timestamp { seconds, nanos: 0 }.to_rfc3339();
    // "2026-11-25T10:00:00Z"
    (ts[..10].to_string(), ts[11..19].to_string())
}
