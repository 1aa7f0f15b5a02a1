//! CI's fuzzing of the forward input's MessagePack decoder and the disk buffer's record decoder:
//! the cargo-fuzz `msgpack` and `disk_record` targets' bodies over their seed corpora and seeded
//! mutations (see `fuzz/README.md`), plus the inputs fuzzing found.

#[path = "../../../fuzz/smoke.rs"]
mod smoke;

use agent::fuzzing::{fuzz_disk_record, fuzz_disk_segment, fuzz_msgpack};

#[test]
fn msgpack_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b"\xc0",
        b"\xc1",
        b"\xd7\x00",
        b"\xdd\xff\xff\xff\xff",
        b"\xdf\x00\x00\x00\x01",
        b"\xdb\x00\x00\x01\x00",
        b"\xc9\x00\x00\x00\x02\x01",
        b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
        b"\x91\x91\x91\x91\x91\x91\x91\x91",
        b"\xa5chunk",
        b"\xaacompressed",
    ];
    smoke::run("msgpack", dictionary, fuzz_msgpack);
}

#[test]
fn disk_record_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b"\x00\x00\x00\x00",
        b"\xff\xff\xff\xff",
        b"\x00\x00\x00\x04",
        b"\x01",
        b"\x02",
        b"\x03",
        b"{\"a\":1}",
        b"{\"a\":1,\"a\":2}",
        b"\\u0000",
        b"\xff\xc9\x9a\x3b",
    ];
    smoke::run("disk_record", dictionary, fuzz_disk_record);
}

#[test]
fn disk_segment_target_survives_mutated_corpus() {
    let dictionary: &[&[u8]] = &[
        b"LFBUFSEG",
        b"\x01\x00\x00\x00",
        b"\x00\x00\x00\x00",
        b"\xff\xff\xff\xff",
        b"\x35\x00\x00\x00",
        b"app.log",
    ];
    smoke::run("disk_segment", dictionary, fuzz_disk_segment);
}

/// The seeds reach the decoders' accepting paths (a seed that fails its checksum or its decoding
/// would leave the round trips above untested).
#[test]
fn the_seeds_decode() {
    use agent::sinks::disk_buffer::record::{self, Frame, RECORD_HEADER};
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/");
    let segment =
        std::fs::read(format!("{corpus}disk_record/03_segment_three_records.bin")).unwrap();
    let mut rest = &segment[..];
    let mut tags = Vec::new();
    while let Frame::Valid(len) = record::check_frame(rest) {
        let event = record::decode(&rest[RECORD_HEADER..RECORD_HEADER + len]).unwrap();
        tags.push(event.tag.to_string());
        rest = &rest[RECORD_HEADER + len..];
    }
    assert_eq!(tags, ["app.log", "app.json", ""]);
    assert!(rest.is_empty());
    let forward = std::fs::read(format!("{corpus}msgpack/02_forward_chunk.bin")).unwrap();
    let (value, used) = agent::msgpack::decode(&forward).unwrap();
    assert_eq!(used, forward.len());
    assert!(value.to_json().to_string().contains("GET /health 200"));
}

/// Found by the `disk_record` target: a map record whose JSON the transcoder's fast path does
/// not take (here a key with an escape) decodes as a map, but `held_size` counted it as a JSON
/// line (16 + its bytes), so the buffer gauges added and took off different sizes for it.
#[test]
fn held_size_matches_decode_for_a_map_the_scanner_does_not_take() {
    fuzz_disk_record(b"\x02\x80\xc8/i\x00\x00\x00\x00\x05\x00\x00\x00\x01\x00t {\"\\u0000a\":1} ");
    fuzz_disk_record(b"\x02\x80\xc8/i\x00\x00\x00\x00\x05\x00\x00\x00\x01\x00t{\"a\":1,\"a\":2}");
}

/// Found by `cargo fuzz run disk_record`: serde_json's float parsing without its
/// `float_roundtrip` feature read `1.00000000000066668e+24` into a float that prints as
/// `...667e+24`, so a map record holding it changed on its way through the disk buffer. The
/// workspace parses floats exactly now, and the target holds maps to their values.
#[test]
fn a_map_float_keeps_its_last_digit() {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/disk_record/"
    );
    let input = std::fs::read(format!("{corpus}13_a_map_float_keeps_its_last_digit.bin")).unwrap();
    fuzz_disk_record(&input);
}
