//! cargo-fuzz target: record lifting, the fast text encoder, RFC 3339 (crates/gcloud-logging).
//! The body lives in the crate so CI's stable `tests/fuzz_smoke.rs` runs the same code; see
//! `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gcloud_logging::fuzzing::fuzz_lift(data));
