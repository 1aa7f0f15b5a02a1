//! cargo-fuzz target: the fluentd config parser and `Reader` (crates/fluent-config).
//! The body lives in the crate so CI's stable `tests/fuzz_smoke.rs` runs the same code; see
//! `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fluent_config::fuzzing::fuzz_config(data));
