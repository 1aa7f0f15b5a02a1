//! cargo-fuzz target: the query parser, evaluator and narrowing (crates/logquery).
//! The body lives in the crate so CI's stable `tests/fuzz_smoke.rs` runs the same code; see
//! `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logquery::fuzzing::fuzz_query(data));
