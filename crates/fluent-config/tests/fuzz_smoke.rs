//! CI's fuzzing of the config parser and `Reader`: the cargo-fuzz `config` target's body over
//! its seed corpus and seeded mutations (see `fuzz/README.md`), plus the inputs fuzzing found.

#[path = "../../../fuzz/smoke.rs"]
mod smoke;

use fluent_config::fuzzing::fuzz_config;

#[test]
fn config_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b"<source>\n",
        b"</source>\n",
        b"<match **>",
        b"</match>",
        b"<label @X>",
        b"@type ",
        b"@include ",
        b"#{ENV['HOME']}",
        b"#{ENV[\"NOPE\"]}",
        b"\"a\\\"b\\n\\u00e9\"",
        b"'x\\'y'",
        b"[\"a\",\n\"b\"]",
        b"{\"k\":\n\"v\"}",
        b" 10m",
        b" 1.5h",
        b" 8k",
        b" true",
        b" # comment",
        b"\n  key value\n",
    ];
    smoke::run("config", dictionary, fuzz_config);
}
