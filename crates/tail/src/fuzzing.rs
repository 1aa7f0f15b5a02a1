//! Entry points for `fuzz/` (cargo fuzz) and `tests/fuzz_smoke.rs` (stable CI): one function per
//! target, so both run exactly the same code. Not part of the API.
//!
//! A damaged pos_file costs the damaged lines, never a panic; what was read back renders to a
//! file that reads back to the same positions.

use crate::pos_file::{parse, render};

/// `data` as a pos_file's contents (decoded the way [`crate::pos_file::load`] decodes them).
pub fn fuzz_pos_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (entries, bad) = parse(&text);
    assert!(
        bad.iter()
            .all(|b| b.line >= 1 && b.text.chars().count() <= 200)
    );
    let rendered = render(&entries);
    let (again, bad_again) = parse(&rendered);
    assert_eq!(again, entries, "{rendered:?}");
    assert!(bad_again.is_empty(), "{rendered:?} -> {bad_again:?}");
}
