//! CI's fuzzing of the query parser, evaluator and narrowing: the cargo-fuzz `query` target's
//! body over its seed corpus and seeded mutations (see `fuzz/README.md`), plus the inputs
//! fuzzing found.

#[path = "../../../fuzz/smoke.rs"]
mod smoke;

use logquery::fuzzing::fuzz_query;

#[test]
fn query_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b" AND ",
        b" OR ",
        b"NOT ",
        b"-",
        b"(",
        b")",
        b"=~",
        b"!~",
        b">=",
        b"<=",
        b"!=",
        b":",
        b"\"\\u00e9\\\"\"",
        b"severity",
        b"timestamp",
        b"jsonPayload.a.b",
        b"labels.\"k8s-pod/app\"",
        b"log_id(\"x\")",
        b"sample(insertId, 0.25)",
        b"ip_in_net(httpRequest.remoteIp, \"10.0.0.0/8\")",
        b"httpRequest.latency",
        b"\"1.5s\"",
        b"traceSampled",
        b"TRUE",
        b"trace",
        b"\"2026-11-25T10:00:00Z\"",
        b"-- c\n",
        b"\0{\"severity\":\"ERROR\",\"jsonPayload\":{\"a\":[1,{\"b\":null}]}}",
    ];
    smoke::run("query", dictionary, fuzz_query);
}

/// Not found by fuzzing (the inputs were capped at 4,096 bytes) but by hand: 5,000 nested
/// parentheses overflowed the stack. Now any depth is a parse error.
#[test]
fn regression_deep_nesting_overflowed_the_stack() {
    for levels in [64, 65, 5_000, 100_000] {
        // `labels.a`, a field that exists, so that the filters within the limit evaluate.
        let filter = format!("{}labels.a=x{}", "(".repeat(levels), ")".repeat(levels));
        fuzz_query(filter.as_bytes());
        fuzz_query(format!("{}labels.a=x", "NOT -".repeat(levels)).as_bytes());
    }
}
