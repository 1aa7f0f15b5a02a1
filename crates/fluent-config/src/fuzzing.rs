//! Entry points for `fuzz/` (cargo fuzz) and `tests/fuzz_smoke.rs` (stable CI): one function per
//! target, so both run exactly the same code. Not part of the API.
//!
//! The parser must never panic: any text is either a tree or diagnostics.

use std::path::Path;

use crate::{
    Diagnostic, ParseOptions, Reader, Section, parse_str_tolerant, render_all, sort_by_position,
};

/// Parses `data` as a config file, reads every parameter of every section through each typed
/// [`Reader`] accessor and renders the diagnostics.
///
/// `@include` is disarmed (a fuzzer would otherwise glob the file system) and `#{ENV[...]}` sees
/// a fixed environment, so a run depends only on `data`.
pub fn fuzz_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.replace("include", "inclxde");
    let env = |name: &str| (name == "HOME").then(|| "/home/fuzz".to_owned());
    let options = ParseOptions::with_env(&env);
    let (root, mut diags) = parse_str_tolerant(&text, Path::new("/fuzz/fluent.conf"), &options);
    read_section(&root, &mut diags);
    sort_by_position(&mut diags);
    let _ = render_all(&diags);
}

fn read_section(section: &Section, diags: &mut Vec<Diagnostic>) {
    let mut reader = Reader::new(section, diags);
    reader.alias("@type", "type");
    let _ = reader.common();
    let _ = reader.plugin_type();
    let keys: Vec<&str> = section.params.iter().map(|p| p.key.as_str()).collect();
    for (i, key) in keys.iter().enumerate() {
        // Every accessor on every key would bury real diagnostics under the same error ten
        // times; rotating through them by position still reaches each one.
        match i % 11 {
            0 => _ = reader.string(key),
            1 => _ = reader.bool(key, false),
            2 => _ = reader.int(key),
            3 => _ = reader.uint(key),
            4 => _ = reader.float(key),
            5 => _ = reader.size(key),
            6 => _ = reader.duration(key),
            7 => _ = reader.list(key),
            8 => _ = reader.hash(key),
            9 => _ = reader.enum_of(key, &["json", "none", "regexp"], "none"),
            _ => {} // left unread: `finish` reports it as unknown
        }
    }
    let mut names: Vec<&str> = section.sections.iter().map(|s| s.name.as_str()).collect();
    names.dedup();
    for name in names {
        let _ = reader.sections(name);
    }
    reader.finish();
    for child in &section.sections {
        read_section(child, diags);
    }
}
