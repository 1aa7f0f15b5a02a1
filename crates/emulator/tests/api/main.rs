//! The emulator's integration tests, one binary: a real server on 127.0.0.1:0 with its own temp
//! directory per test, driven over HTTP like any client would.

mod browser;
mod durability;
mod explorer;
mod gcloud;
mod grpc;
mod list;
mod narrowing;
mod node;
mod python;
mod query_cli;
mod support;
mod write;
