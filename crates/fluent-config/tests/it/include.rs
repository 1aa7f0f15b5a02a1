//! `@include`: relative paths, globs in sorted order, spans in the included
//! file, missing files and cycles.

use std::fs;
use std::path::Path;

use fluent_config::parse_file;

use crate::outline;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn relative_and_glob_includes_are_spliced_in_place() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.conf",
        "@include common.conf\n<source>\n  @include source-params.conf\n</source>\n@include conf.d/*.conf\n@include empty.d/*.conf\n",
    );
    write(
        dir.path(),
        "common.conf",
        "<system>\n  workers 1\n</system>\n",
    );
    write(dir.path(), "source-params.conf", "@type tail\npath /x\n");
    write(dir.path(), "conf.d/b.conf", "<match b>\n</match>\n");
    write(dir.path(), "conf.d/a.conf", "<match a>\n</match>\n");
    write(
        dir.path(),
        "conf.d/.hidden.conf",
        "<match hidden>\n</match>\n",
    );
    write(dir.path(), "conf.d/notes.txt", "garbage >\n");
    fs::create_dir(dir.path().join("empty.d")).unwrap();

    let (root, _) = parse_file(&dir.path().join("main.conf")).unwrap();
    assert_eq!(
        outline(&root),
        "ROOT(){}[system(){workers=1},source(){@type=tail;path=/x},match(a){},match(b){}]"
    );
    let path = &root.sections[1].params[1];
    assert_eq!(
        &*path.key_span.file,
        dir.path().join("source-params.conf").as_path()
    );
    assert_eq!((path.key_span.line, path.key_span.column), (2, 1));
    assert_eq!(
        &*root.sections[2].span.file,
        dir.path().join("conf.d/a.conf").as_path()
    );
}

#[test]
fn missing_include_is_an_error_at_the_directive() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.conf", "# header\n@include nope.conf\n");
    let err = parse_file(&dir.path().join("main.conf")).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(
        err.0[0].message.contains("nope.conf` not found"),
        "{}",
        err.0[0].message
    );
    assert_eq!((err.0[0].span.line, err.0[0].span.column), (2, 10));
}

#[test]
fn include_cycle_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.conf", "@include b.conf\n");
    write(dir.path(), "b.conf", "key v\n@include a.conf\n");
    let err = parse_file(&dir.path().join("a.conf")).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    let d = &err.0[0];
    assert!(d.message.starts_with("include cycle: "), "{}", d.message);
    assert!(d.message.ends_with("a.conf"));
    assert_eq!(&*d.span.file, dir.path().join("b.conf").as_path());
    assert_eq!(d.span.line, 2);
    assert_eq!(d.source_line.as_deref(), Some("@include a.conf"));
}

#[test]
fn errors_inside_included_files_point_there() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.conf", "@include inc.conf\n");
    write(dir.path(), "inc.conf", "ok 1\n<source>\n");
    let err = parse_file(&dir.path().join("main.conf")).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].message, "unclosed section <source>");
    assert_eq!(
        err.0[0].span.to_string(),
        format!("{}:2:1", dir.path().join("inc.conf").display())
    );
}
