//! End-to-end tests: each drives the real `web-api` binary on `127.0.0.1:0` in its own temp
//! dir and checks what clients see and what lands in the log file.

mod access_log;
mod endpoints;
mod files;
mod load;
mod support;
