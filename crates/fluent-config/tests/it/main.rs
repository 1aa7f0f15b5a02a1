//! Integration tests for `fluent-config`, one binary: parsing real-world and
//! v1 files, includes, the typed `Reader`, and rendered diagnostics.

mod diagnostics;
mod include;
mod reader;
mod syntax;

use std::path::{Path, PathBuf};

use fluent_config::{Section, parse_str};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Parses text that must be error-free.
pub fn parse_ok(text: &str) -> Section {
    match parse_str(text, Path::new("test.conf")) {
        Ok((root, _)) => root,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

/// `name(arg){k=v;...}[children]` — a compact, comparable view of a tree.
pub fn outline(s: &Section) -> String {
    let params: Vec<String> = s
        .params
        .iter()
        .map(|p| format!("{}={}", p.key, p.value))
        .collect();
    let children: Vec<String> = s.sections.iter().map(outline).collect();
    let mut out = format!("{}({}){{{}}}", s.name, s.arg, params.join(";"));
    if !children.is_empty() {
        out.push_str(&format!("[{}]", children.join(",")));
    }
    out
}
