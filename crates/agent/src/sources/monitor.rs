//! `<source> @type prometheus` and `<source> @type monitor_agent`: they produce no events; each
//! asks for the operations endpoint (see [`crate::health`]) on its `bind`/`port`. The supervisor
//! serves them for the life of the process, across reloads.

use std::net::SocketAddr;

use fluent_config::Reader;

use super::forward::{read_addr, transport_not_supported};

/// fluent-plugin-prometheus's default port.
pub const PROMETHEUS_PORT: u16 = 24231;
/// fluentd monitor_agent's default port.
pub const MONITOR_AGENT_PORT: u16 = 24220;

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub addr: SocketAddr,
}

impl EndpointConfig {
    pub fn prometheus(r: &mut Reader<'_>) -> Option<EndpointConfig> {
        let addr = read_addr(r, PROMETHEUS_PORT);
        if let Some(p) = r.param("metrics_path").cloned()
            && p.value.trim() != "/metrics"
        {
            r.value_error(
                &p,
                "logferry serves metrics at /metrics only",
                Some("remove metrics_path".into()),
            );
        }
        r.ignored(
            "aggregated_metrics_path",
            "/aggregated_metrics serves the same metrics (logferry runs one worker)",
        );
        r.ignored("content_encoding", "metrics are sent uncompressed");
        transport_not_supported(r);
        Some(EndpointConfig { addr: addr? })
    }

    pub fn monitor_agent(r: &mut Reader<'_>) -> Option<EndpointConfig> {
        let addr = read_addr(r, MONITOR_AGENT_PORT);
        for key in ["tag", "emit_interval", "include_config", "include_retry"] {
            r.ignored(
                key,
                "logferry serves /api/plugins.json and /metrics; it does not emit its metrics as events",
            );
        }
        Some(EndpointConfig { addr: addr? })
    }
}
