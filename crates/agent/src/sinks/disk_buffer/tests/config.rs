//! Reading `<buffer> @type file` and the v0.12 flat parameters.

use super::*;

fn output_buffer(text: &str) -> Result<BufferConfig, String> {
    let text = format!("<source>\n  @type forward\n</source>\n{text}");
    match crate::config::load_str(&text, Path::new("test.conf")) {
        Ok((mut pipeline, _)) => Ok(pipeline.outputs.remove(0).buffer),
        Err(diagnostics) => Err(fluent_config::render_all(&diagnostics)),
    }
}

#[test]
fn buffer_type_file_selects_the_disk_buffer() {
    let v1 = "<match **>\n  @type null\n  <buffer>\n    @type file\n    path /tmp/lf\n    total_limit_size 8m\n    fsync never\n  </buffer>\n</match>\n";
    let disk = output_buffer(v1).unwrap().disk.unwrap();
    assert_eq!(disk.path, Path::new("/tmp/lf"));
    assert_eq!(disk.total_limit_size, 8 * 1024 * 1024);
    assert_eq!(disk.segment_size, 1024 * 1024);
    assert_eq!(disk.fsync, FsyncPolicy::Never);

    let v012 = "<match **>\n  type null\n  buffer_type file\n  buffer_path /var/log/td.*.buffer\n</match>\n";
    let disk = output_buffer(v012).unwrap().disk.unwrap();
    assert_eq!(disk.path, Path::new("/var/log/td.buffer"));
    assert_eq!(disk.total_limit_size, DEFAULT_TOTAL_LIMIT_SIZE);
    assert_eq!(disk.fsync, FsyncPolicy::BeforeAck);

    let memory = "<match **>\n  @type null\n  <buffer>\n    @type memory\n  </buffer>\n</match>\n";
    assert!(output_buffer(memory).unwrap().disk.is_none());
    assert!(
        output_buffer("<match **>\n  @type null\n</match>\n")
            .unwrap()
            .disk
            .is_none()
    );

    let no_path = "<match **>\n  @type null\n  <buffer>\n    @type file\n  </buffer>\n</match>\n";
    let error = output_buffer(no_path).unwrap_err();
    assert!(error.contains("needs `path`"), "{error}");
    let bad_fsync = "<match **>\n  @type null\n  <buffer>\n    @type file\n    path /tmp/lf\n    fsync sometimes\n  </buffer>\n</match>\n";
    let error = output_buffer(bad_fsync).unwrap_err();
    assert!(error.contains("before_ack"), "{error}");
}
