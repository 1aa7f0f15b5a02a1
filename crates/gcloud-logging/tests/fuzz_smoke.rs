//! CI's fuzzing of record lifting, the fast text-entry encoder and RFC 3339 parsing: the
//! cargo-fuzz `lift` target's body over its seed corpus and seeded mutations (see
//! `fuzz/README.md`), plus the inputs fuzzing found.

#[path = "../../../fuzz/smoke.rs"]
mod smoke;

use gcloud_logging::fuzzing::fuzz_lift;

#[test]
fn lift_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b"\"severity\":",
        b"\"httpRequest\":{\"status\":",
        b"\"latency\":\"",
        b"\"time\":\"",
        b"\"timestamp\":{\"seconds\":",
        b"\"nanos\":",
        b"\"timestampSeconds\":",
        b"\"logging.googleapis.com/labels\":{",
        b"\"logging.googleapis.com/trace\":\"",
        b"\"logging.googleapis.com/sourceLocation\":{\"line\":",
        b"\"message\":",
        b"\"logging.googleapis.com/operation\":{\"first\":\"true\"",
        b"\"CONFIG\"",
        b"450.5",
        b"18446744073709551616",
        b"9999-12-31T23:59:59.999999999Z",
        b"0001-01-01T00:00:00+23:59",
        b"\\ud83d\\ude00",
        b"\\u0000",
    ];
    smoke::run("lift", dictionary, fuzz_lift);
}
