//! End-to-end tests: the real `logferry` binary on real files, stopped with real signals.

mod e2e {
    pub mod check;
    pub mod cloud_logging;
    pub mod disk_buffer;
    pub mod emulator;
    pub mod forward;
    pub mod kit;
    pub mod kube_api;
    pub mod node;
    pub mod operations;
    pub mod pod;
    pub mod soak;
    pub mod support;
    pub mod tail;
    pub mod torture;
    pub mod torture_node;
}
