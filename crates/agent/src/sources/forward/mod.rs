//! `@type forward`: the Fluentd forward protocol (v1) over TCP, so applications using the
//! fluent-logger libraries, Fluent Bit or another Fluentd/logferry can send events here.
//! Message, Forward, PackedForward and CompressedPackedForward (gzip) modes; `chunk` options
//! are acknowledged only after every output delivered the events; the `<security>` shared-key
//! handshake; UDP heartbeats answered on the same port.
//!
//! Unlike fluentd (`bind 0.0.0.0`), logferry binds 127.0.0.1 unless `bind` says otherwise: a
//! sidecar serves its own pod. TLS (`<transport tls>`) is refused with a clear error.

mod config;
pub(crate) mod handshake;
mod server;
#[cfg(test)]
mod tests;

pub use config::{
    DEFAULT_PORT, ForwardSourceConfig, Security, hostname, read_addr, read_security,
    transport_not_supported,
};
pub use server::{KeptListeners, spawn_forward_source};
