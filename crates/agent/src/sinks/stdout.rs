//! `@type stdout`: one line per event in fluentd's shape,
//! `2026-11-25 10:00:00.123456789 +0000 app.log: {"message":"..."}`.

use std::io::Write;
use std::sync::Arc;

use super::{SendFuture, Sink, SinkError};
use crate::event::Event;

pub struct StdoutSink;

impl Sink for StdoutSink {
    fn send(&self, chunk: Arc<Vec<Event>>) -> SendFuture {
        Box::pin(async move {
            let mut out = Vec::with_capacity(chunk.len() * 128);
            for event in chunk.iter() {
                write_fluentd_line(&mut out, event);
            }
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(&out)
                .and_then(|()| lock.flush())
                .map_err(|e| SinkError::new(format!("writing to stdout: {e}")))
        })
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
