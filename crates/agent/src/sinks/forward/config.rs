//! `<match> @type forward` parameters, validated.

use std::time::Duration;

use fluent_config::Reader;

use crate::sources::forward::{DEFAULT_PORT, Security, read_security, transport_not_supported};

#[derive(Debug, Clone)]
pub struct ForwardSinkConfig {
    /// Tried in order (standby servers last); the one that worked last is tried first.
    pub servers: Vec<Server>,
    pub require_ack_response: bool,
    pub ack_response_timeout: Duration,
    pub send_timeout: Duration,
    pub connect_timeout: Duration,
    pub gzip: bool,
    pub time_as_integer: bool,
    pub security: Option<Security>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub name: String,
    /// A server-level `shared_key` replaces the one in `<security>`.
    pub shared_key: Option<String>,
}

impl ForwardSinkConfig {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<ForwardSinkConfig> {
        let require_ack_response = r.bool("require_ack_response", false);
        let ack_response_timeout = r
            .duration("ack_response_timeout")
            .unwrap_or(Duration::from_secs(190));
        let send_timeout = r
            .duration("send_timeout")
            .unwrap_or(Duration::from_secs(60));
        let connect_timeout = r
            .duration("connect_timeout")
            .unwrap_or(Duration::from_secs(10));
        let gzip = r.enum_of("compress", &["text", "gzip"], "text") == "gzip";
        let time_as_integer = r.bool("time_as_integer", false);
        for key in [
            "heartbeat_type",
            "heartbeat_interval",
            "phi_failure_detector",
            "phi_threshold",
            "recover_wait",
            "hard_timeout",
            "expire_dns_cache",
            "dns_round_robin",
            "ignore_network_errors_at_startup",
            "verify_connection_at_startup",
            "keepalive",
            "keepalive_timeout",
            "tls_verify_hostname",
        ] {
            r.ignored(
                key,
                "logferry keeps one connection open, fails over to the next <server> when it breaks, and retries the chunk",
            );
        }
        transport_not_supported(r);
        let security = r.section_opt("security").and_then(|section| {
            let mut s = r.child(section);
            let security = read_security(&mut s, false);
            s.finish();
            security
        });
        let mut servers = Vec::new();
        let mut standby = Vec::new();
        for section in r.sections("server") {
            let mut s = r.child(section);
            let host = s.required_string("host");
            let port = match s.uint("port") {
                Some(p) if p > 0 && p <= u16::MAX as u64 => p as u16,
                Some(_) => {
                    let span = section.span.clone();
                    s.error_at(&span, "port must be between 1 and 65535", None);
                    DEFAULT_PORT
                }
                None => DEFAULT_PORT,
            };
            let name = s.string("name");
            let shared_key = s.string("shared_key");
            let is_standby = s.bool("standby", false);
            s.ignored("weight", "servers are used in order, not balanced");
            s.ignored("username", "user_auth is not supported");
            s.ignored("password", "user_auth is not supported");
            s.finish();
            if let Some(host) = host {
                let server = Server {
                    name: name.unwrap_or_else(|| format!("{host}:{port}")),
                    host,
                    port,
                    shared_key,
                };
                if is_standby {
                    standby.push(server);
                } else {
                    servers.push(server);
                }
            }
        }
        servers.extend(standby);
        if servers.is_empty() {
            let span = r.section().span.clone();
            r.error_at(
                &span,
                "the forward output needs at least one <server>",
                Some("add <server>\n  host aggregator.example\n  port 24224\n</server>".into()),
            );
            return None;
        }
        if security.is_none() && servers.iter().any(|s| s.shared_key.is_some()) {
            let span = r.section().span.clone();
            r.error_at(
                &span,
                "a <server> shared_key needs a <security> section with self_hostname",
                None,
            );
            return None;
        }
        Some(ForwardSinkConfig {
            servers,
            require_ack_response,
            ack_response_timeout,
            send_timeout,
            connect_timeout,
            gzip,
            time_as_integer,
            security,
        })
    }
}
