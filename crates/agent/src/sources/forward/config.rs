//! `<source> @type forward` parameters, validated; also the `<security>` section and the
//! `bind`/`port` reading shared with the output and the metrics endpoints.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fluent_config::Reader;

/// fluentd's default port for the forward protocol.
pub const DEFAULT_PORT: u16 = 24224;

#[derive(Debug, Clone)]
pub struct ForwardSourceConfig {
    pub addr: SocketAddr,
    /// Replaces the tag of every event.
    pub tag: Option<String>,
    pub add_tag_prefix: Option<String>,
    pub source_hostname_key: Option<String>,
    pub source_address_key: Option<String>,
    /// Largest message accepted; a bigger one closes the connection.
    pub chunk_size_limit: usize,
    pub chunk_size_warn_limit: Option<usize>,
    /// Drop events that are not `[time, map]` instead of refusing their whole message.
    pub skip_invalid_event: bool,
    pub deny_keepalive: bool,
    pub security: Option<Security>,
    /// Answer UDP heartbeats on the same port.
    pub heartbeat: bool,
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// A connection silent this long between messages is closed.
    pub idle_timeout: Duration,
}

/// Default `max_connections`: far more than a pod's applications open, few enough that
/// their buffers (64 KiB each while idle) stay small.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Default `idle_timeout`: long enough for a logger that sends once an hour to keep its
/// connection, short enough that clients that vanished without a FIN do not pile up.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// `<security>`: the shared-key handshake of the forward protocol.
#[derive(Debug, Clone)]
pub struct Security {
    pub self_hostname: String,
    pub shared_key: String,
}

impl ForwardSourceConfig {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<ForwardSourceConfig> {
        let addr = read_addr(r, DEFAULT_PORT);
        let tag = r.string("tag");
        let add_tag_prefix = r.string("add_tag_prefix");
        let source_hostname_key = r.string("source_hostname_key");
        let source_address_key = r.string("source_address_key");
        let chunk_size_limit = r
            .size("chunk_size_limit")
            .unwrap_or(32 * 1024 * 1024)
            .clamp(1024, u32::MAX as u64) as usize;
        let chunk_size_warn_limit = r.size("chunk_size_warn_limit").map(|v| v as usize);
        let skip_invalid_event = r.bool("skip_invalid_event", false);
        let deny_keepalive = r.bool("deny_keepalive", false);
        let max_connections = match r.uint("max_connections") {
            Some(0) => {
                if let Some(p) = r.param("max_connections").cloned() {
                    r.value_error(&p, "max_connections must be at least 1", None);
                }
                None
            }
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => Some(DEFAULT_MAX_CONNECTIONS),
        };
        let idle_timeout = match r.duration("idle_timeout") {
            Some(d) if d.is_zero() => {
                if let Some(p) = r.param("idle_timeout").cloned() {
                    r.value_error(&p, "idle_timeout must be more than 0", None);
                }
                None
            }
            Some(d) => Some(d),
            None => Some(DEFAULT_IDLE_TIMEOUT),
        };
        for (key, why) in [
            ("linger_timeout", "connections are closed at once"),
            ("resolve_hostname", "the peer address is recorded as is"),
            (
                "send_keepalive_packet",
                "TCP keepalive is left to the system",
            ),
            ("blocking_timeout", "reads wait as long as the client needs"),
        ] {
            r.ignored(key, why);
        }
        let security = r.section_opt("security").and_then(|section| {
            let mut s = r.child(section);
            let security = read_security(&mut s, true);
            s.finish();
            security
        });
        transport_not_supported(r);
        for name in ["client", "user"] {
            for section in r.sections(name) {
                let span = section.span.clone();
                r.error_at(
                    &span,
                    format!("<{name}> is not supported by logferry's forward input"),
                    Some("use <security> with shared_key".into()),
                );
            }
        }
        Some(ForwardSourceConfig {
            addr: addr?,
            tag,
            add_tag_prefix,
            source_hostname_key,
            source_address_key,
            chunk_size_limit,
            chunk_size_warn_limit,
            skip_invalid_event,
            deny_keepalive,
            security,
            heartbeat: true,
            max_connections: max_connections?,
            idle_timeout: idle_timeout?,
        })
    }
}

/// `<security>`: `self_hostname` and `shared_key` (required by fluentd too).
pub fn read_security(r: &mut Reader<'_>, input: bool) -> Option<Security> {
    let self_hostname = r.required_string("self_hostname");
    let shared_key = r.required_string("shared_key");
    if input {
        r.ignored(
            "allow_anonymous_source",
            "no <client> sections: every client with the shared key is accepted",
        );
        if r.bool("user_auth", false) {
            let span = r
                .param("user_auth")
                .map(|p| p.value_span.clone())
                .unwrap_or_else(|| r.section().span.clone());
            r.error_at(
                &span,
                "user_auth is not supported by logferry's forward input",
                Some("use shared_key alone".into()),
            );
        }
    }
    Some(Security {
        self_hostname: self_hostname?,
        shared_key: shared_key?,
    })
}

/// `<transport tls>` (or `transport tls`) is refused with a clear error: logferry speaks the
/// forward protocol over plain TCP only.
pub fn transport_not_supported(r: &mut Reader<'_>) {
    if let Some(section) = r.section_opt("transport") {
        let mut t = r.child(section);
        let kind = section.arg.trim().to_string();
        let span = section.span.clone();
        if kind != "tcp" && !kind.is_empty() {
            t.error_at(
                &span,
                format!("<transport {kind}> is not supported: logferry's forward protocol runs over plain TCP"),
                Some("terminate TLS in front of logferry (a service mesh or stunnel), or remove <transport>".into()),
            );
        }
        let _ = t.rest();
        t.finish();
    }
    if let Some(p) = r.param("transport") {
        let kind = p.value.trim().to_string();
        if kind != "tcp" {
            r.value_error(
                p,
                format!("transport `{kind}` is not supported: logferry's forward protocol runs over plain TCP"),
                None,
            );
        }
    }
}

/// `bind` (default 127.0.0.1, unlike fluentd's 0.0.0.0: a sidecar listens to its own pod unless
/// told otherwise) and `port`.
pub fn read_addr(r: &mut Reader<'_>, default_port: u16) -> Option<SocketAddr> {
    let port = match r.uint("port") {
        Some(p) if p <= u16::MAX as u64 => p as u16,
        Some(_) => {
            let p = r.param("port").cloned();
            if let Some(p) = p {
                r.value_error(&p, "port must be at most 65535", None);
            }
            return None;
        }
        None => default_port,
    };
    let bind = r.string("bind").unwrap_or_else(|| "127.0.0.1".into());
    let bind = bind.trim().trim_start_matches('[').trim_end_matches(']');
    match bind.parse::<IpAddr>() {
        Ok(ip) => Some(SocketAddr::new(ip, port)),
        Err(_) => {
            let p = r.param("bind").cloned();
            if let Some(p) = p {
                r.value_error(
                    &p,
                    format!("bind `{bind}` is not an IP address"),
                    Some("use 0.0.0.0 for every interface or 127.0.0.1 for this pod only".into()),
                );
            }
            None
        }
    }
}

/// The default `self_hostname`-like name of this machine.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into())
}

/// How long a connection may stay silent in the middle of a message before it is closed.
pub const PARTIAL_MESSAGE_TIMEOUT: Duration = Duration::from_secs(300);
