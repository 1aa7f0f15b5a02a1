//! cargo-fuzz target: the disk buffer's recovery of a directory a crash left behind
//! (crates/agent). The body lives in the crate so CI's stable `tests/fuzz_smoke.rs` runs the
//! same code; see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| agent::fuzzing::fuzz_disk_segment(data));
