//! Access-log middleware: exactly one line per request, with Cloud Logging's `httpRequest`
//! fields and the trace the request arrived with (`traceparent` or `X-Cloud-Trace-Context`).
//!
//! The line is queued before the response is handed back to hyper, so a client that got a
//! response can count on its line being in the log (the writer is flushed at shutdown).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::logging::{ACCESS_TARGET, REQUEST_SPAN, TraceContext};

/// Logs the request after the inner service answered.
pub async fn access_log(req: Request, next: Next) -> Response {
    let start = tokio::time::Instant::now();
    let method = req.method().as_str().to_owned();
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let protocol = protocol_name(req.version());
    let request_size = content_length(req.headers()).unwrap_or(0);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let span = match trace_from_headers(req.headers()) {
        Some(t) => tracing::info_span!(
            REQUEST_SPAN,
            trace_id = t.trace_id.as_str(),
            span_id = t.span_id.as_deref(),
            sampled = t.sampled,
        ),
        None => tracing::Span::none(),
    };

    let response = next.run(req).instrument(span.clone()).await;

    let status = response.status();
    let response_size = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .or_else(|| content_length(response.headers()))
        .unwrap_or(0);
    let latency_us = start.elapsed().as_micros() as u64;
    let remote_ip = peer.map_or_else(|| "-".to_owned(), |p| p.ip().to_string());
    let remote_port = peer.map_or(0, |p| u64::from(p.port()));
    let ua = user_agent.as_deref();
    let _entered = span.enter();
    macro_rules! access_event {
        ($mac:ident) => {
            tracing::$mac!(
                target: ACCESS_TARGET,
                method = method.as_str(),
                url = url.as_str(),
                protocol,
                status = u64::from(status.as_u16()),
                request_size,
                response_size,
                latency_us,
                remote_ip = remote_ip.as_str(),
                remote_port,
                user_agent = ua,
                "{method} {url} {}",
                status.as_u16()
            )
        };
    }
    match severity_for(status) {
        tracing::Level::ERROR => access_event!(error),
        tracing::Level::WARN => access_event!(warn),
        _ => access_event!(info),
    }
    response
}

/// 5xx lines are ERROR, 4xx WARNING, the rest INFO — what Logs Explorer users filter on.
fn severity_for(status: StatusCode) -> tracing::Level {
    if status.is_server_error() {
        tracing::Level::ERROR
    } else if status.is_client_error() {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    }
}

fn protocol_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The incoming trace: W3C `traceparent` first, then `X-Cloud-Trace-Context`.
pub fn trace_from_headers(headers: &HeaderMap) -> Option<TraceContext> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    get("traceparent")
        .and_then(parse_traceparent)
        .or_else(|| get("x-cloud-trace-context").and_then(parse_cloud_trace_context))
}

/// `00-<32 hex trace>-<16 hex span>-<2 hex flags>`; all-zero ids are invalid per the spec.
pub fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceContext {
        trace_id: trace.to_ascii_lowercase(),
        span_id: Some(span.to_ascii_lowercase()),
        sampled: Some(flags & 1 == 1),
    })
}

/// `TRACE_ID[/SPAN_ID][;o=OPTIONS]`. The span id there is decimal; Cloud Logging's `spanId`
/// is 16 hex digits, so it is converted (kept as given if it is not a decimal u64).
pub fn parse_cloud_trace_context(value: &str) -> Option<TraceContext> {
    let (ids, options) = match value.trim().split_once(';') {
        Some((ids, opts)) => (ids, Some(opts)),
        None => (value.trim(), None),
    };
    let (trace, span) = match ids.split_once('/') {
        Some((t, s)) => (t, Some(s)),
        None => (ids, None),
    };
    if trace.is_empty() || !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let span_id = span
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<u64>() {
            Ok(n) => format!("{n:016x}"),
            Err(_) => s.to_owned(),
        });
    let sampled = options
        .and_then(|o| o.trim().strip_prefix("o="))
        .and_then(|o| o.parse::<u8>().ok())
        .map(|o| o & 1 == 1);
    Some(TraceContext {
        trace_id: trace.to_ascii_lowercase(),
        span_id,
        sampled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parses_and_rejects_junk() {
        let t =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(t.sampled, Some(true));
        let t =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert_eq!(t.sampled, Some(false));
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(parse_traceparent("00-xyz-00f067aa0ba902b7-01").is_none());
        assert!(parse_traceparent("garbage").is_none());
    }

    #[test]
    fn cloud_trace_context_converts_decimal_span() {
        let t = parse_cloud_trace_context("105445aa7843bc8bf206b12000100000/74;o=1").unwrap();
        assert_eq!(t.trace_id, "105445aa7843bc8bf206b12000100000");
        assert_eq!(t.span_id.as_deref(), Some("000000000000004a"));
        assert_eq!(t.sampled, Some(true));
        let t = parse_cloud_trace_context("105445aa7843bc8bf206b12000100000").unwrap();
        assert_eq!((t.span_id, t.sampled), (None, None));
        assert!(parse_cloud_trace_context("not hex/1;o=1").is_none());
    }

    #[test]
    fn traceparent_wins_over_cloud_header() {
        let mut h = HeaderMap::new();
        h.insert("x-cloud-trace-context", "aaaa/1;o=0".parse().unwrap());
        assert_eq!(trace_from_headers(&h).unwrap().trace_id, "aaaa");
        h.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            trace_from_headers(&h).unwrap().trace_id,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }
}
