//! Turns one log record into one line: a Cloud Logging structured-logging JSON object, or
//! Python logging's default text shape.
//!
//! JSON keys follow https://cloud.google.com/logging/docs/structured-logging: `severity`,
//! `message`, `time`, `httpRequest`, `logging.googleapis.com/{trace,spanId,trace_sampled,
//! sourceLocation}`; any other event field becomes a top-level key of the `jsonPayload`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::time::UtcTime;

/// `--log-format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One Cloud Logging structured JSON object per line.
    #[default]
    Json,
    /// `2026-11-25 10:00:00,123 INFO app: message`, like Python logging.
    Text,
}

/// Fields of Cloud Logging's `HttpRequest`, as the access middleware saw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub request_size: u64,
    pub response_size: Option<u64>,
    pub latency: Duration,
    pub remote_ip: String,
    pub remote_port: u16,
    pub user_agent: Option<String>,
    pub protocol: String,
}

/// The trace a request came in with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: Option<String>,
    pub sampled: Option<bool>,
}

/// Where the event was emitted; tracing knows the module, not the function.
#[derive(Debug, Clone, Copy)]
pub struct SourceLocation<'a> {
    pub file: &'a str,
    pub line: u32,
    pub function: &'a str,
}

/// Everything one line needs.
#[derive(Debug)]
pub struct Record<'a> {
    pub time: SystemTime,
    pub severity: &'a str,
    /// Python's logger name in the text format: `app` or `access`.
    pub logger: &'a str,
    pub message: &'a str,
    pub source: Option<SourceLocation<'a>>,
    pub http: Option<&'a HttpRequest>,
    pub trace: Option<&'a TraceContext>,
    pub fields: &'a [(&'static str, Value)],
}

/// Formats records for one `--log-format` and `--project`.
#[derive(Debug, Clone, Default)]
pub struct Formatter {
    pub format: LogFormat,
    /// When set, traces are written as `projects/P/traces/ID` instead of the bare ID.
    pub project: Option<String>,
}

impl Formatter {
    /// One complete line including the trailing `\n`.
    pub fn line(&self, rec: &Record<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        self.write_line(rec, &mut out);
        out
    }

    /// Appends one complete line including the trailing `\n` to `out`.
    pub fn write_line(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        match self.format {
            LogFormat::Json => self.json(rec, out),
            LogFormat::Text => text(rec, out),
        }
        out.push(b'\n');
    }

    fn json(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"severity\":");
        json_str(out, rec.severity);
        out.extend_from_slice(b",\"message\":");
        json_str(out, rec.message);
        out.extend_from_slice(b",\"time\":\"");
        UtcTime::from_system(rec.time).write_rfc3339(out);
        out.push(b'"');
        if let Some(h) = rec.http {
            out.extend_from_slice(b",\"httpRequest\":{\"requestMethod\":");
            json_str(out, &h.method);
            out.extend_from_slice(b",\"requestUrl\":");
            json_str(out, &h.url);
            let _ = write!(
                out,
                ",\"status\":{},\"requestSize\":\"{}\"",
                h.status, h.request_size
            );
            if let Some(size) = h.response_size {
                let _ = write!(out, ",\"responseSize\":\"{size}\"");
            }
            let _ = write!(
                out,
                ",\"latency\":\"{}.{:06}s\",\"remoteIp\":",
                h.latency.as_secs(),
                h.latency.subsec_micros()
            );
            json_str(out, &h.remote_ip);
            if let Some(ua) = &h.user_agent {
                out.extend_from_slice(b",\"userAgent\":");
                json_str(out, ua);
            }
            out.extend_from_slice(b",\"protocol\":");
            json_str(out, &h.protocol);
            out.push(b'}');
        }
        if let Some(t) = rec.trace {
            out.extend_from_slice(b",\"logging.googleapis.com/trace\":");
            match &self.project {
                Some(p) => json_str(out, &format!("projects/{p}/traces/{}", t.trace_id)),
                None => json_str(out, &t.trace_id),
            }
            if let Some(span) = &t.span_id {
                out.extend_from_slice(b",\"logging.googleapis.com/spanId\":");
                json_str(out, span);
            }
            if let Some(sampled) = t.sampled {
                let _ = write!(out, ",\"logging.googleapis.com/trace_sampled\":{sampled}");
            }
        }
        if let Some(src) = rec.source {
            out.extend_from_slice(b",\"logging.googleapis.com/sourceLocation\":{\"file\":");
            json_str(out, src.file);
            let _ = write!(out, ",\"line\":\"{}\",\"function\":", src.line);
            json_str(out, src.function);
            out.push(b'}');
        }
        for (name, value) in rec.fields {
            out.push(b',');
            json_str(out, name);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, value);
        }
        out.push(b'}');
    }
}

fn text(rec: &Record<'_>, out: &mut Vec<u8>) {
    UtcTime::from_system(rec.time).write_python(out);
    out.push(b' ');
    out.extend_from_slice(rec.severity.as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.logger.as_bytes());
    out.extend_from_slice(b": ");
    match rec.http {
        // uvicorn's access format: `127.0.0.1:5555 - "GET / HTTP/1.1" 200`
        Some(h) => {
            let _ = write!(
                out,
                "{}:{} - \"{} {} {}\" {}",
                h.remote_ip, h.remote_port, h.method, h.url, h.protocol, h.status
            );
        }
        None => push_one_line(out, rec.message),
    }
    for (name, value) in rec.fields {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        match value {
            Value::String(s) => push_one_line(out, s),
            other => {
                let _ = serde_json::to_writer(&mut *out, other);
            }
        }
    }
}

/// Text lines stay one record per line: embedded newlines are written as `\n`.
fn push_one_line(out: &mut Vec<u8>, s: &str) {
    for (i, part) in s.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\\n");
        }
        out.extend_from_slice(part.as_bytes());
    }
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(1_795_600_800_123_456)
    }

    fn access() -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            url: "/items/1".into(),
            status: 200,
            request_size: 0,
            response_size: Some(17),
            latency: Duration::from_micros(123),
            remote_ip: "127.0.0.1".into(),
            remote_port: 5555,
            user_agent: Some("curl/8".into()),
            protocol: "HTTP/1.1".into(),
        }
    }

    #[test]
    fn json_app_line() {
        let f = Formatter::default();
        let fields = [("item_id", Value::from(3))];
        let line = f.line(&Record {
            time: at(),
            severity: "INFO",
            logger: "app",
            message: "said \"hi\"\nthere",
            source: Some(SourceLocation {
                file: "src/routes/items.rs",
                line: 42,
                function: "web_api::routes::items",
            }),
            http: None,
            trace: None,
            fields: &fields,
        });
        let text = String::from_utf8(line).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert_eq!(
            text,
            concat!(
                r#"{"severity":"INFO","message":"said \"hi\"\nthere","time":"2026-11-25T10:00:00.123456Z","#,
                r#""logging.googleapis.com/sourceLocation":{"file":"src/routes/items.rs","line":"42","function":"web_api::routes::items"},"item_id":3}"#,
                "\n"
            )
        );
    }

    #[test]
    fn json_access_line_with_project_trace() {
        let f = Formatter {
            format: LogFormat::Json,
            project: Some("my-proj".into()),
        };
        let http = access();
        let trace = TraceContext {
            trace_id: "105445aa7843bc8bf206b12000100000".into(),
            span_id: Some("000000000000004a".into()),
            sampled: Some(true),
        };
        let line = f.line(&Record {
            time: at(),
            severity: "INFO",
            logger: "access",
            message: "GET /items/1 200",
            source: None,
            http: Some(&http),
            trace: Some(&trace),
            fields: &[],
        });
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["httpRequest"]["status"], 200);
        assert_eq!(v["httpRequest"]["responseSize"], "17");
        assert_eq!(v["httpRequest"]["latency"], "0.000123s");
        assert_eq!(
            v["logging.googleapis.com/trace"],
            "projects/my-proj/traces/105445aa7843bc8bf206b12000100000"
        );
        assert_eq!(v["logging.googleapis.com/trace_sampled"], true);
    }

    #[test]
    fn text_lines_look_like_python_and_uvicorn() {
        let f = Formatter {
            format: LogFormat::Text,
            project: None,
        };
        let app = f.line(&Record {
            time: at(),
            severity: "WARNING",
            logger: "app",
            message: "disk low\nreally",
            source: None,
            http: None,
            trace: None,
            fields: &[],
        });
        assert_eq!(
            String::from_utf8(app).unwrap(),
            "2026-11-25 10:00:00,123 WARNING app: disk low\\nreally\n"
        );
        let http = access();
        let acc = f.line(&Record {
            time: at(),
            severity: "INFO",
            logger: "access",
            message: "",
            source: None,
            http: Some(&http),
            trace: None,
            fields: &[],
        });
        assert_eq!(
            String::from_utf8(acc).unwrap(),
            "2026-11-25 10:00:00,123 INFO access: 127.0.0.1:5555 - \"GET /items/1 HTTP/1.1\" 200\n"
        );
    }
}
