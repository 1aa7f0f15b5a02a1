//! `<source> @type tail` parameters, validated.

use std::path::PathBuf;
use std::time::Duration;

use fluent_config::Reader;
use tail::{LongLines, PathSpec, TailConfig};

use crate::parsers::ParserConfig;

#[derive(Debug, Clone)]
pub struct TailSourceConfig {
    pub tail: TailConfig,
    pub paths: Vec<String>,
    pub tag: String,
    pub parser: ParserConfig,
    pub path_key: Option<String>,
    /// How often files are checked for new lines when there was nothing to read.
    pub poll_interval: Duration,
}

impl TailSourceConfig {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<TailSourceConfig> {
        let paths: Vec<String> = r
            .required_string("path")
            .map(|p| {
                p.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let exclude = r.list("exclude_path").unwrap_or_default();
        let tag = r.required_string("tag");
        let pos_file = r.string("pos_file").map(PathBuf::from);
        let refresh_interval = r
            .duration("refresh_interval")
            .unwrap_or(Duration::from_secs(60));
        let rotate_wait = r.duration("rotate_wait").unwrap_or(Duration::from_secs(5));
        let read_from_head = r.bool("read_from_head", true);
        r.fixed_bool(
            "follow_inodes",
            true,
            "logferry always follows files by inode, so a rotated file is never read twice",
        );
        let max_line_size = r.size("max_line_size").unwrap_or(1024 * 1024).max(1024) as usize;
        let long_lines = match r.enum_of("long_line_action", &["split", "truncate"], "split") {
            "truncate" => LongLines::Truncate,
            _ => LongLines::Split,
        };
        let path_key = r.string("path_key");
        let poll_interval = r
            .duration("poll_interval")
            .unwrap_or(Duration::from_millis(100));
        for (key, why) in [
            ("read_lines_limit", "logferry reads in byte-sized chunks"),
            (
                "read_bytes_limit_per_second",
                "logferry does not throttle reading",
            ),
            ("limit_recently_modified", "every matching file is followed"),
            (
                "enable_watch_timer",
                "logferry polls files every poll_interval",
            ),
            (
                "enable_stat_watcher",
                "logferry polls files every poll_interval",
            ),
            ("open_on_every_update", "files stay open while followed"),
            ("skip_refresh_on_startup", "paths are expanded at start"),
            (
                "encoding",
                "lines are passed on as bytes; outputs that need text replace invalid UTF-8",
            ),
            (
                "from_encoding",
                "lines are passed on as bytes; outputs that need text replace invalid UTF-8",
            ),
            (
                "ignore_repeated_permission_error",
                "each distinct error is logged once",
            ),
            (
                "pos_file_compaction_interval",
                "the pos_file is rewritten whole on every update",
            ),
            (
                "emit_unmatched_lines",
                "unparsable lines are always kept as plain text",
            ),
            (
                "rotate_wait_on_shutdown",
                "logferry always reads rotated files to their end",
            ),
        ] {
            r.ignored(key, why);
        }
        let parser = ParserConfig::from_source(r, "none");
        let spec = match PathSpec::new(paths.clone(), &exclude) {
            Ok(spec) => spec,
            Err(message) => {
                let span = r
                    .param("path")
                    .map(|p| p.value_span.clone())
                    .unwrap_or_else(|| r.section().span.clone());
                r.error_at(&span, message, None);
                return None;
            }
        };
        let mut tail = TailConfig::new(spec);
        tail.pos_file = pos_file;
        tail.refresh_interval = refresh_interval;
        tail.rotate_wait = rotate_wait;
        tail.read_from_head = read_from_head;
        tail.max_line_size = max_line_size;
        tail.long_lines = long_lines;
        Some(TailSourceConfig {
            tail,
            paths,
            tag: tag?,
            parser: parser?,
            path_key,
            poll_interval,
        })
    }

    /// fluentd's tag expansion: `app.*` becomes `app.` + the path with `/` as `.`.
    pub fn tag_for(&self, path: &std::path::Path) -> String {
        if !self.tag.contains('*') {
            return self.tag.clone();
        }
        let dotted = path
            .to_string_lossy()
            .trim_start_matches('/')
            .replace('/', ".");
        self.tag.replacen('*', &dotted, 1)
    }
}
