//! Rendered diagnostics: one file with five different mistakes, syntax and
//! validation, all reported in one run with correct positions and carets.

use fluent_config::{Diagnostic, ParseOptions, Reader, parse_file_tolerant, parse_str, render_all};
use std::path::Path;

use crate::fixture;

/// What a plugin's config code would do with the fixture's sections.
fn validate(root: &fluent_config::Section, diags: &mut Vec<Diagnostic>) {
    let mut top = Reader::new(root, diags);
    for source in top.sections("source") {
        let mut r = top.child(source);
        r.required_plugin_type();
        r.required_string("path");
        r.string("pos_file");
        r.finish();
    }
    for m in top.sections("match") {
        let mut r = top.child(m);
        r.required_plugin_type();
        for buffer in r.sections("buffer") {
            let mut b = r.child(buffer);
            b.size("chunk_limit_size");
            b.finish();
        }
        r.finish();
    }
    top.finish();
}

#[test]
fn five_mistakes_are_all_reported() {
    let path = fixture("five_mistakes.conf");
    let (root, mut diags) = parse_file_tolerant(&path, &ParseOptions::default());
    validate(&root, &mut diags);
    fluent_config::sort_by_position(&mut diags);
    let p = path.display();
    let expected = format!(
        "\
error: unknown parameter `pos_flie` in <source>
  --> {p}:4:2
   |
 4 |     pos_flie /var/lib/app.pos
   |     ^^^^^^^^
   = help: did you mean `pos_file`?

error: mismatched closing tag: expected `</source>`, found `</sorce>`
  --> {p}:5:1
   |
 5 | </sorce>
   | ^^^^^^^^
   = note: <source> was opened at {p}:1:1

error: expected a parameter or a section, found `>`
  --> {p}:6:1
   |
 6 | >
   | ^

error: unclosed section <match **>
  --> {p}:7:1
   |
 7 | <match **>
   | ^^^^^^^^^^
   = help: add `</match>` to close it

error: invalid size `8x` for `chunk_limit_size`: expected a number of bytes with an optional k, m, g or t suffix, e.g. `8m`
   --> {p}:10:20
    |
 10 |         chunk_limit_size 8x
    |                          ^^

error: 5 errors in {p}
"
    );
    let rendered = render_all(&diags);
    assert_eq!(rendered, expected, "got:\n{rendered}");
}

#[test]
fn diagnostics_error_display_lists_all_and_summarises() {
    let err = parse_str("<a>\n</b>\n<c>\n", Path::new("/etc/x.conf")).unwrap_err();
    assert_eq!(err.error_count(), 2);
    let text = err.to_string();
    assert!(text.starts_with("error: mismatched closing tag"), "{text}");
    assert!(text.ends_with("error: 2 errors in /etc/x.conf\n"), "{text}");
}

#[test]
fn garbage_lines_are_skipped_and_parsing_continues() {
    let text = "<source\n} x\n< >\nk \"v\" trailing\n<ok>\n</ok extra>\nkey \"unterminated\nmore\n";
    let err = parse_str(text, Path::new("g.conf")).unwrap_err();
    let got: Vec<String> = err
        .0
        .iter()
        .map(|d| format!("{}:{} {}", d.span.line, d.span.column, d.message))
        .collect();
    assert_eq!(
        got,
        [
            "1:1 unterminated section tag: expected `>`",
            "2:1 expected a parameter or a section, found `}`",
            "3:1 missing section name",
            "4:7 unexpected text after the closing quote",
            "6:6 closing tag `</ok>` takes no argument",
            "7:5 unterminated string: missing closing `\"`",
        ],
    );
}

#[test]
fn closing_an_outer_section_reports_the_inner_one_unclosed_once() {
    let text = "<match **>\n  <buffer>\n    path /b\n</match>\n<source>\n</source>\n";
    let (root, diags) =
        fluent_config::parse_str_tolerant(text, Path::new("n.conf"), &ParseOptions::default());
    let got: Vec<String> = diags
        .iter()
        .map(|d| format!("{}:{} {}", d.span.line, d.span.column, d.message))
        .collect();
    assert_eq!(got, ["2:3 unclosed section <buffer>"]);
    assert_eq!(
        diags[0].hint.as_deref(),
        Some("add `</buffer>` before the `</match>` at n.conf:4:1")
    );
    assert_eq!(
        crate::outline(&root),
        "ROOT(){}[match(**){}[buffer(){path=/b}],source(){}]"
    );
}
