//! CI's fuzzing of the pos_file reader: the cargo-fuzz `pos_file` target's body over its seed
//! corpus and seeded mutations (see `fuzz/README.md`), plus the inputs fuzzing found.

#[path = "../../../fuzz/smoke.rs"]
mod smoke;

use tail::fuzzing::fuzz_pos_file;

#[test]
fn pos_file_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b"\t",
        b"\tffffffffffffffff",
        b"\t0000000000000000",
        b"\t+1f",
        b"\t-1",
        b"\r\n",
        b"/var/log/containers/x.log",
        b"\t10000000000000000",
    ];
    smoke::run("pos_file", dictionary, fuzz_pos_file);
}
