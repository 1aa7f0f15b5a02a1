//! Parsing: the legacy tab-indented production file, v1 sections, quoting,
//! interpolation, multi-line values and comments.

use std::path::Path;

use fluent_config::{ParseOptions, Span, parse_file, parse_str, parse_str_with};

use crate::{fixture, outline, parse_ok};

#[test]
fn legacy_tab_indented_file_parses_exactly() {
    let (root, warnings) = parse_file(&fixture("legacy_tabs.conf")).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        outline(&root),
        "ROOT(){}[source(){type=tail;format=none;path=/api/log/app.log;\
         pos_file=/api/log/app.log.pos;tag=app.log},match(**){type=google_cloud}]"
    );
    let source = &root.sections[0];
    assert_eq!((source.span.line, source.span.column), (1, 2));
    let path = &source.params[2];
    assert_eq!((path.key_span.line, path.key_span.column), (5, 4));
    assert_eq!((path.value_span.line, path.value_span.column), (5, 9));
    assert_eq!(root.sections[1].arg_span.column, 9);
}

#[test]
fn v1_file_with_nested_sections() {
    let (root, _) = parse_file(&fixture("v1.conf")).unwrap();
    let names: Vec<(&str, &str)> = root
        .sections
        .iter()
        .map(|s| (s.name.as_str(), s.arg.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("system", ""),
            ("source", ""),
            ("filter", "app.**"),
            ("match", "app.**"),
            ("label", "@CLOUD")
        ]
    );
    let source = &root.sections[1];
    assert_eq!(source.get("@type"), Some("tail"));
    assert_eq!(source.get("path"), Some("/var/log/app/*.log"));
    let parse = source.children("parse").next().unwrap();
    assert_eq!(
        parse.get("expression"),
        Some("/^(?<time>[^ ]+) (?<msg>.*)$/")
    );
    let record = &root.sections[2].sections[0];
    assert!(!record.get("hostname").unwrap().is_empty());
    assert_eq!(record.get("tag_parts"), Some("${tag_parts[0]}"));
    let buffer = &root.sections[4].sections[0].sections[0];
    assert_eq!(
        (buffer.name.as_str(), buffer.arg.as_str()),
        ("buffer", "tag,time")
    );
    assert_eq!(buffer.get("chunk_limit_size"), Some("8m"));
    assert_eq!(buffer.get("retry_forever"), Some(""));
    assert_eq!(buffer.span, Span::new(fixture("v1.conf"), 37, 5));
}

#[test]
fn quoted_strings_and_escapes() {
    let root = parse_ok(concat!(
        "a \"tab\\tnl\\nq\\\"bs\\\\hash\\#{x}\"\n",
        "b 'it\\'s \\n raw'\n",
        "c \"has # inside\"   # and a comment\n",
        "d \"\"\n",
        "e \"regex \\d+\"\n",
        "f \"two\nlines\"\n",
        "g value#not-a-comment\n",
    ));
    assert_eq!(root.get("a"), Some("tab\tnl\nq\"bs\\hash#{x}"));
    assert_eq!(root.get("b"), Some("it's \\n raw"));
    assert_eq!(root.get("c"), Some("has # inside"));
    assert_eq!(root.get("d"), Some(""));
    assert_eq!(root.get("e"), Some("regex \\d+"));
    assert_eq!(root.get("f"), Some("two\nlines"));
    assert_eq!(root.get("g"), Some("value#not-a-comment"));
}

#[test]
fn env_interpolation() {
    let env = |name: &str| match name {
        "LOGFERRY_TEST_DIR" => Some("/srv/logs".to_owned()),
        _ => None,
    };
    let text = concat!(
        "a \"#{ENV['LOGFERRY_TEST_DIR']}/app.log\"\n",
        "b \"#{ENV[\"LOGFERRY_TEST_DIR\"]}\"\n",
        "c \"#{ENV.fetch('LOGFERRY_UNSET_VAR', 'fallback')}\"\n",
        "d \"x#{ENV['LOGFERRY_UNSET_VAR']}y\"\n",
    );
    let (root, warnings) =
        parse_str_with(text, Path::new("t.conf"), &ParseOptions::with_env(&env)).unwrap();
    assert_eq!(root.get("a"), Some("/srv/logs/app.log"));
    assert_eq!(root.get("b"), Some("/srv/logs"));
    assert_eq!(root.get("c"), Some("fallback"));
    assert_eq!(root.get("d"), Some("xy"));
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].message,
        "environment variable `LOGFERRY_UNSET_VAR` is not set; using an empty string"
    );
    assert_eq!((warnings[0].span.line, warnings[0].span.column), (4, 5));

    // The default options read the real process environment (cargo sets this).
    let root = parse_ok("dir \"#{ENV['CARGO_MANIFEST_DIR']}\"\n");
    assert_eq!(root.get("dir"), Some(env!("CARGO_MANIFEST_DIR")));
}

#[test]
fn other_embedded_ruby_is_an_error() {
    let err = parse_str("a \"#{`rm -rf /`}\"\n", Path::new("t.conf")).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(
        err.0[0].message,
        "embedded Ruby is not supported: only ENV lookups"
    );
    assert_eq!((err.0[0].span.line, err.0[0].span.column), (1, 4));
}

#[test]
fn multi_line_json_values() {
    let root = parse_ok(concat!(
        "<record>\n",
        "  list [\"a\",\n",
        "         \"b] #x\",\n",
        "         \"c\"]  # a comment\n",
        "  hash {\n",
        "    \"k\": {\"nested\": [1, 2]}\n",
        "  }\n",
        "  inline [1, 2] # comment\n",
        "  after x\n",
        "</record>\n",
    ));
    let record = &root.sections[0];
    assert_eq!(
        record.get("list"),
        Some("[\"a\",\n         \"b] #x\",\n         \"c\"]")
    );
    assert_eq!(
        record.get("hash"),
        Some("{\n    \"k\": {\"nested\": [1, 2]}\n  }")
    );
    assert_eq!(record.get("inline"), Some("[1, 2]"));
    assert_eq!(record.get("after"), Some("x"));
    let list = fluent_config::literal::parse_list(record.get("list").unwrap()).unwrap();
    assert_eq!(list, ["a", "b] #x", "c"]);
}

#[test]
fn comments_blank_lines_and_crlf() {
    let root = parse_ok(
        "# top\r\n\r\n<source>\r\n  # inside\r\n  key value # trailing\r\n  empty\r\n</source> # after\r\n",
    );
    assert_eq!(outline(&root), "ROOT(){}[source(){key=value;empty=}]");
}

#[test]
fn prints_back_in_fluentd_style() {
    let root = parse_ok(
        "<source>\n  @type tail\n  <parse>\n    @type none\n  </parse>\n</source>\n<match **>\n  @type null\n</match>\n",
    );
    assert_eq!(
        root.to_string(),
        "<ROOT>\n  <source>\n    @type tail\n    <parse>\n      @type none\n    </parse>\n  </source>\n  <match **>\n    @type null\n  </match>\n</ROOT>\n"
    );
    let masked = root.to_fluentd_string_masked(|s, p| s.name == "match" && p.key == "@type");
    assert!(masked.contains("@type xxxxxx"));
}
