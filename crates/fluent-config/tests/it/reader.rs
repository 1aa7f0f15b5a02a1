//! The typed `Reader`: values, defaults, aliases, warnings and the unknown
//! parameter report, the way plugin config code uses it.

use std::time::Duration;

use fluent_config::{Diagnostic, Level, Reader};

use crate::parse_ok;

fn messages(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{} {}",
                d.level, d.span.line, d.span.column, d.message
            )
        })
        .collect()
}

#[test]
fn reads_typed_values() {
    let root = parse_ok(concat!(
        "<match **>\n",
        "  @type google_cloud\n",
        "  @id out\n",
        "  @label @CLOUD\n",
        "  @log_level debug\n",
        "  buffer_chunk_limit 8m\n",
        "  flush_interval 5s\n",
        "  use_grpc\n",
        "  retry_limit 17\n",
        "  ratio 0.25\n",
        "  offset -3\n",
        "  labels k1:v1,k2:v2\n",
        "  tags [\"a\", \"b\"]\n",
        "  mode sync\n",
        "  <buffer tag>\n",
        "    flush_thread_count 2\n",
        "  </buffer>\n",
        "</match>\n",
    ));
    let mut diags = Vec::new();
    let mut r = Reader::new(&root.sections[0], &mut diags);
    assert_eq!(
        r.plugin_type().map(|(t, _)| t).as_deref(),
        Some("google_cloud")
    );
    let common = r.common();
    assert_eq!(common.id.as_deref(), Some("out"));
    assert_eq!(common.label.map(|(l, _)| l).as_deref(), Some("@CLOUD"));
    assert_eq!(common.log_level.as_deref(), Some("debug"));
    assert_eq!(r.size("buffer_chunk_limit"), Some(8 << 20));
    assert_eq!(r.duration("flush_interval"), Some(Duration::from_secs(5)));
    assert!(r.bool("use_grpc", false));
    assert!(!r.bool("absent", false));
    assert_eq!(r.uint("retry_limit"), Some(17));
    assert_eq!(r.float("ratio"), Some(0.25));
    assert_eq!(r.int("offset"), Some(-3));
    assert_eq!(
        r.hash("labels").unwrap(),
        [("k1".into(), "v1".into()), ("k2".into(), "v2".into())]
    );
    assert_eq!(r.list("tags").unwrap(), ["a", "b"]);
    assert_eq!(r.enum_of("mode", &["sync", "async"], "async"), "sync");
    let buffers = r.sections("buffer");
    assert_eq!(buffers.len(), 1);
    let mut b = r.child(buffers[0]);
    assert_eq!(b.uint("flush_thread_count"), Some(2));
    b.finish();
    r.finish();
    assert!(diags.is_empty(), "{:?}", messages(&diags));
}

#[test]
fn unknown_missing_and_invalid_parameters() {
    let root = parse_ok(
        "<source>\n  @type tail\n  pth /x\n  read_from_head yse\n  format jsn\n  <prase>\n  </prase>\n</source>\n",
    );
    let mut diags = Vec::new();
    let mut r = Reader::new(&root.sections[0], &mut diags);
    r.plugin_type();
    assert_eq!(r.required_string("path"), None);
    assert!(!r.bool("read_from_head", false));
    assert_eq!(r.enum_of("format", &["none", "json"], "none"), "none");
    let _ = r.section_opt("parse");
    r.finish();
    assert_eq!(
        messages(&diags),
        [
            "error:1:1 missing required parameter `path` in <source>",
            "error:4:18 invalid boolean `yse` for `read_from_head`: expected true or false",
            "error:5:10 invalid value `jsn` for `format`: expected one of `none`, `json`",
            "error:3:3 unknown parameter `pth` in <source>",
            "error:6:3 unknown section <prase> in <source>",
        ]
    );
    assert_eq!(diags[2].hint.as_deref(), Some("did you mean `json`?"));
    assert_eq!(diags[3].hint.as_deref(), Some("did you mean `path`?"));
    assert_eq!(diags[4].hint.as_deref(), Some("did you mean <parse>?"));
    assert_eq!(diags[1].width, 3);
}

#[test]
fn legacy_type_alias_and_duplicates() {
    let root = parse_ok(
        "<match **>\n  type file\n  @type google_cloud\n  path /a\n  path /b\n</match>\n<source>\n  tag x\n</source>\n",
    );
    let mut diags = Vec::new();
    let mut r = Reader::new(&root.sections[0], &mut diags);
    assert_eq!(
        r.plugin_type().map(|(t, s)| (t, s.line)),
        Some(("google_cloud".to_owned(), 3))
    );
    assert_eq!(r.string("path").as_deref(), Some("/b"));
    r.finish();
    let mut r = Reader::new(&root.sections[1], &mut diags);
    assert_eq!(r.required_plugin_type(), None);
    r.alias("tag", "old_tag");
    assert_eq!(r.string("tag").as_deref(), Some("x"));
    r.finish();
    assert_eq!(
        messages(&diags),
        [
            "warning:2:3 both `@type` and `type` are set in <match **>; using `@type`",
            "warning:4:3 parameter `path` is set more than once in <match **>; the last value wins",
            "error:7:1 missing required parameter `@type` in <source>",
        ]
    );
}

#[test]
fn ignored_rest_and_did_you_mean_over_absent_keys() {
    let root = parse_ok(
        "<source>\n  num_threads 4\n  pos_flie /p\n</source>\n<record>\n  a 1\n  b 2\n</record>\n",
    );
    let mut diags = Vec::new();
    let mut r = Reader::new(&root.sections[0], &mut diags);
    r.ignored("num_threads", "the tailer is single-threaded");
    let _ = r.string("pos_file"); // absent, but still a candidate
    r.finish();
    let mut r = Reader::new(&root.sections[1], &mut diags);
    let keys: Vec<&str> = r.rest().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    r.finish();
    assert_eq!(diags.len(), 2);
    assert_eq!(diags[0].level, Level::Warning);
    assert_eq!(
        diags[0].message,
        "parameter `num_threads` is accepted for compatibility but has no effect: the tailer is single-threaded"
    );
    assert_eq!(diags[1].hint.as_deref(), Some("did you mean `pos_file`?"));
    assert_eq!(diags[1].source_line.as_deref(), Some("  pos_flie /p"));
}

/// A boolean implemented one way only: the value logferry acts as is silent, the other is a
/// warning at the value (not an error: the config still runs).
#[test]
fn fixed_bool_warns_only_about_the_value_not_acted_on() {
    let root = parse_ok(
        "<source>\n  follow_inodes false\n  append true\n  flag\n  bad maybe\n</source>\n",
    );
    let mut diags = Vec::new();
    let mut r = Reader::new(&root.sections[0], &mut diags);
    r.fixed_bool("follow_inodes", true, "files are followed by inode");
    r.fixed_bool("append", true, "files are appended to");
    r.fixed_bool("flag", true, "always on");
    r.fixed_bool("absent", false, "never read");
    r.fixed_bool("bad", true, "n/a");
    r.finish();
    assert_eq!(
        messages(&diags),
        [
            "warning:2:17 `follow_inodes false` is accepted for compatibility but has no effect: files are followed by inode",
            "error:5:7 invalid boolean `maybe` for `bad`: expected true or false",
        ]
    );
}
