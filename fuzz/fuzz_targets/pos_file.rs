//! cargo-fuzz target: the pos_file reader (crates/tail).
//! The body lives in the crate so CI's stable `tests/fuzz_smoke.rs` runs the same code; see
//! `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tail::fuzzing::fuzz_pos_file(data));
