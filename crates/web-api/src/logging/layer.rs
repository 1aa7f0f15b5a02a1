//! The `tracing` layer that turns events into Cloud Logging lines and hands them to the writer.
//!
//! App events become `severity`/`message`/`sourceLocation` lines; events with target
//! [`ACCESS_TARGET`] carry the `httpRequest` fields the access middleware recorded. Events
//! inside a [`REQUEST_SPAN`] inherit the trace of the request that caused them.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::format::{Formatter, HttpRequest, Record, SourceLocation, TraceContext};
use super::writer::LogWriter;

/// Target of access-log events. Their fields: `method`, `url`, `protocol`, `status`,
/// `request_size`, `response_size`, `latency_us`, `remote_ip`, `remote_port`, `user_agent`.
pub const ACCESS_TARGET: &str = "web_api::access";
/// Name of the span that carries a request's trace: fields `trace_id`, `span_id`, `sampled`.
pub const REQUEST_SPAN: &str = "request";

thread_local! {
    /// Reused per thread so formatting a line does not allocate.
    static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
}

/// Formats every event it sees and queues the line on the writer (blocking when it is full).
#[derive(Debug)]
pub struct CloudLayer {
    writer: LogWriter,
    formatter: Formatter,
}

impl CloudLayer {
    pub fn new(writer: LogWriter, formatter: Formatter) -> Self {
        CloudLayer { writer, formatter }
    }
}

impl<S> Layer<S> for CloudLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != REQUEST_SPAN {
            return;
        }
        let mut visitor = TraceVisitor::default();
        attrs.record(&mut visitor);
        if !visitor.0.trace_id.is_empty()
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(visitor.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let time = SystemTime::now();
        let meta = event.metadata();
        let is_access = meta.target() == ACCESS_TARGET;
        let mut visitor = EventVisitor {
            http: is_access.then(HttpRequest::default),
            ..EventVisitor::default()
        };
        event.record(&mut visitor);

        let trace = ctx.event_scope(event).and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<TraceContext>().cloned())
        });
        let severity = visitor
            .severity
            .as_deref()
            .unwrap_or_else(|| severity_of(*meta.level()));
        let source = meta.file().map(|file| SourceLocation {
            file,
            line: meta.line().unwrap_or(0),
            function: meta.module_path().unwrap_or(""),
        });
        let record = Record {
            time,
            severity,
            logger: if is_access { "access" } else { "app" },
            message: &visitor.message,
            source,
            http: visitor.http.as_ref(),
            trace: trace.as_ref(),
            fields: &visitor.fields,
        };
        LINE.with_borrow_mut(|line| {
            line.clear();
            self.formatter.write_line(&record, line);
            self.writer.write_line(line);
        });
    }
}

/// Cloud Logging's severity names for tracing's levels.
pub fn severity_of(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

#[derive(Default)]
struct TraceVisitor(TraceContext);

impl Visit for TraceVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "trace_id" => self.0.trace_id = value.to_owned(),
            "span_id" => self.0.span_id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "sampled" {
            self.0.sampled = Some(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[derive(Default)]
struct EventVisitor {
    message: String,
    severity: Option<String>,
    http: Option<HttpRequest>,
    fields: Vec<(&'static str, Value)>,
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        if let Some(h) = &mut self.http {
            let slot = match name {
                "method" => Some(&mut h.method),
                "url" => Some(&mut h.url),
                "protocol" => Some(&mut h.protocol),
                "remote_ip" => Some(&mut h.remote_ip),
                _ => None,
            };
            if let Some(slot) = slot {
                value.clone_into(slot);
                return;
            }
            if name == "user_agent" {
                h.user_agent = Some(value.to_owned());
                return;
            }
        }
        match name {
            "message" => value.clone_into(&mut self.message),
            "severity" => self.severity = Some(value.to_owned()),
            _ => self.fields.push((name, Value::from(value))),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(h) = &mut self.http {
            match field.name() {
                "status" => return h.status = value as u16,
                "request_size" => return h.request_size = value,
                "response_size" => return h.response_size = Some(value),
                "latency_us" => return h.latency = Duration::from_micros(value),
                "remote_port" => return h.remote_port = value as u16,
                _ => {}
            }
        }
        self.fields.push((field.name(), Value::from(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.push((field.name(), Value::from(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.push((field.name(), Value::from(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.push((field.name(), Value::from(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.fields
            .push((field.name(), Value::from(error_chain(value))));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            "severity" => self.severity = Some(text),
            name => self.fields.push((name, Value::from(text))),
        }
    }
}

/// `outer: cause: root cause`, the way anyhow prints `{:#}`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::format::LogFormat;
    use crate::logging::writer::WriterConfig;
    use tracing_subscriber::layer::SubscriberExt;

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let (writer, _) = LogWriter::spawn(WriterConfig {
            file: Some(path.clone()),
            buffer_bytes: 8,
            ..Default::default()
        })
        .unwrap();
        let layer = CloudLayer::new(
            writer.clone(),
            Formatter {
                format: LogFormat::Json,
                project: None,
            },
        );
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
        writer.flush();
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn app_event_has_severity_message_source_and_fields() {
        let lines = capture(|| tracing::warn!(item_id = 7u64, "low stock for {}", "pens"));
        assert_eq!(lines.len(), 1);
        let v = &lines[0];
        assert_eq!(v["severity"], "WARNING");
        assert_eq!(v["message"], "low stock for pens");
        assert_eq!(v["item_id"], 7);
        let src = &v["logging.googleapis.com/sourceLocation"];
        assert!(src["file"].as_str().unwrap().ends_with("layer.rs"));
        assert!(src["line"].as_str().unwrap().parse::<u32>().unwrap() > 0);
    }

    #[test]
    fn severity_field_overrides_level_and_span_trace_is_inherited() {
        let lines = capture(|| {
            let span = tracing::info_span!(
                REQUEST_SPAN,
                trace_id = "abc",
                span_id = "0a",
                sampled = true
            );
            let _g = span.enter();
            tracing::error!(severity = "CRITICAL", "on fire");
        });
        let v = &lines[0];
        assert_eq!(v["severity"], "CRITICAL");
        assert_eq!(v["logging.googleapis.com/trace"], "abc");
        assert_eq!(v["logging.googleapis.com/spanId"], "0a");
        assert_eq!(v["logging.googleapis.com/trace_sampled"], true);
    }

    #[test]
    fn access_event_fills_http_request() {
        let lines = capture(|| {
            tracing::info!(
                target: ACCESS_TARGET,
                method = "POST",
                url = "/items",
                protocol = "HTTP/1.1",
                status = 201u64,
                request_size = 30u64,
                response_size = 40u64,
                latency_us = 1_500_000u64,
                remote_ip = "10.0.0.1",
                remote_port = 4000u64,
                user_agent = "t/1",
                "POST /items 201"
            )
        });
        let h = &lines[0]["httpRequest"];
        assert_eq!(h["requestMethod"], "POST");
        assert_eq!(h["status"], 201);
        assert_eq!(h["requestSize"], "30");
        assert_eq!(h["latency"], "1.500000s");
        assert_eq!(h["remoteIp"], "10.0.0.1");
        assert_eq!(h["userAgent"], "t/1");
    }
}
