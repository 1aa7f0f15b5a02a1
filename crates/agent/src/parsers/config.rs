//! Parser settings from `format ...` (v0.12, at the top of `<source>`) or a `<parse>` section
//! (v1), validated into a [`ParserConfig`] that builds one parser per file.

use std::time::Duration;

use fluent_config::Reader;
use gcloud_logging::Timestamp;
use regex::Regex;
use serde_json::{Map, Value};

use super::multiline::{Grouping, MultilineParser};
use super::{
    CriParser, DockerParser, JsonParser, LineParser, LtsvParser, NoneParser, RegexpParser,
};

/// How a field's text is converted (`types`).
#[derive(Debug, Clone)]
pub enum FieldType {
    String,
    Integer,
    Float,
    Bool,
    Time(Option<String>),
    Array(String),
}

/// `time_key`, `time_format`, `keep_time_key`.
#[derive(Debug, Clone)]
pub struct TimeConfig {
    pub key: Option<String>,
    pub format: Option<String>,
    pub keep: bool,
}

impl TimeConfig {
    /// Takes the record's time out of `map`; `None` when absent or unreadable (the field then
    /// stays in the record). The field also stays when the record carries a time of its own
    /// that outranks it ([`TimeConfig::keeps_key`]).
    pub fn take(&self, map: &mut Map<String, Value>) -> Option<Timestamp> {
        let key = self.key.as_deref()?;
        let ts = self.read(map.get(key)?)?;
        if !self.keep && !TimeConfig::keeps_key(map) {
            map.remove(key);
        }
        Some(ts)
    }

    /// Whether a record keeps its time key although `keep_time_key` is false: when its own
    /// `timestamp` object or `timestampSeconds`/`timestampNanos` pair gives the Cloud Logging
    /// entry its time ([`gcloud_logging::lift::own_timestamp`]), the time key is not what the
    /// entry's time comes from, and Google's agents leave an unused `time` in `jsonPayload`.
    /// The event's time is still read from the key, for every other output.
    pub fn keeps_key(record: &Map<String, Value>) -> bool {
        gcloud_logging::lift::own_timestamp(record).is_some()
    }

    /// The time a `time_key` value gives, if it reads.
    pub fn read(&self, value: &Value) -> Option<Timestamp> {
        match value {
            Value::String(text) => match &self.format {
                Some(format) => super::time::strptime(text, format),
                None => super::time::parse_any(text),
            },
            Value::Number(n) => {
                let v = n.as_f64()?;
                Timestamp::new(v.floor() as i64, ((v - v.floor()) * 1e9) as u32)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ParserConfig {
    None {
        message_key: Option<String>,
    },
    Json(TimeConfig),
    Regexp {
        regex: Regex,
        time: TimeConfig,
        types: Vec<(String, FieldType)>,
    },
    Ltsv(TimeConfig),
    Multiline {
        firstline: Regex,
        body: Option<Regex>,
        time: TimeConfig,
        types: Vec<(String, FieldType)>,
        flush_after: Duration,
    },
    Python {
        flush_after: Duration,
    },
    /// Container runtime logs (`cri`, `docker`): parts of a split line are joined.
    Cri {
        flush_after: Duration,
    },
    Docker {
        flush_after: Duration,
    },
}

const APACHE2: &str = r#"^(?P<host>[^ ]*) [^ ]* (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>(?:[^\"]|\\.)*?)(?: +\S*)?)?" (?P<code>[^ ]*) (?P<size>[^ ]*)(?: "(?P<referer>(?:[^\"]|\\.)*)" "(?P<agent>(?:[^\"]|\\.)*)")?$"#;
const NGINX: &str = r#"^(?P<remote>[^ ]*) (?P<host>[^ ]*) (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>[^"]*?)(?: +\S*)?)?" (?P<code>[^ ]*) (?P<size>[^ ]*)(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"(?:\s+(?P<http_x_forwarded_for>[^ ]+))?)?$"#;
const SYSLOG: &str = r"^(?P<time>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}) (?P<host>[^ ]*) (?P<ident>[^ :\[]*)(?:\[(?P<pid>[0-9]+)\])?(?:[^:]*:)? *(?P<message>.*)$";
const ACCESS_TIME: &str = "%d/%b/%Y:%H:%M:%S %z";

/// Every `format` logferry knows, for did-you-mean hints.
pub const FORMATS: &[&str] = &[
    "none",
    "json",
    "regexp",
    "ltsv",
    "multiline",
    "python",
    "cri",
    "docker",
    "apache2",
    "nginx",
    "syslog",
];

impl ParserConfig {
    /// Reads the parser of a `<source>`: a `<parse>` section, or the v0.12 flat `format`
    /// parameters on the source itself. `default` is used when neither is given.
    pub fn from_source(r: &mut Reader<'_>, default: &str) -> Option<ParserConfig> {
        if let Some(section) = r.section_opt("parse") {
            let mut p = r.child(section);
            let kind = p.required_plugin_type().map(|(t, _)| t);
            let config = kind.and_then(|kind| Self::read(&mut p, &kind, None));
            p.finish();
            return config;
        }
        let format = r.param("format").cloned();
        match format {
            None => Self::read(r, default, None),
            Some(param) => {
                let value = param.value.trim().to_string();
                if value.len() >= 2 && value.starts_with('/') && value.ends_with('/') {
                    Self::read(r, "regexp", Some(value[1..value.len() - 1].to_string()))
                } else {
                    if !FORMATS.contains(&value.as_str()) {
                        let hint = fluent_config::did_you_mean(&value, FORMATS)
                            .map(|s| format!("did you mean `{s}`?"))
                            .or_else(|| {
                                Some(format!(
                                    "known formats: {}, or /regexp/",
                                    FORMATS.join(", ")
                                ))
                            });
                        r.value_error(&param, format!("unknown format `{value}`"), hint);
                        return None;
                    }
                    Self::read(r, &value, None)
                }
            }
        }
    }

    fn read(r: &mut Reader<'_>, kind: &str, inline_regex: Option<String>) -> Option<ParserConfig> {
        let time = |r: &mut Reader<'_>, default_key: Option<&str>| TimeConfig {
            key: r.string("time_key").or(default_key.map(str::to_string)),
            format: r.string("time_format"),
            keep: r.bool("keep_time_key", false),
        };
        let config = match kind {
            "none" => ParserConfig::None {
                message_key: r.string("message_key").filter(|k| k != "message"),
            },
            "json" => {
                r.ignored("json_parser", "logferry always uses its own JSON parser");
                ParserConfig::Json(time(r, Some("time")))
            }
            "ltsv" => ParserConfig::Ltsv(time(r, Some("time"))),
            "regexp" | "apache2" | "nginx" | "syslog" => {
                let (pattern, default_time_format) = match kind {
                    "apache2" => (Some(APACHE2.to_string()), Some(ACCESS_TIME)),
                    "nginx" => (Some(NGINX.to_string()), Some(ACCESS_TIME)),
                    "syslog" => (Some(SYSLOG.to_string()), Some("%b %d %H:%M:%S")),
                    _ => (
                        inline_regex.or_else(|| r.string("expression").map(strip_slashes)),
                        None,
                    ),
                };
                let Some(pattern) = pattern else {
                    r.error_at(
                        &r.section().span.clone(),
                        "the regexp parser needs `expression /.../`",
                        None,
                    );
                    return None;
                };
                let regex = compile(r, "expression", &pattern)?;
                let mut time = time(r, Some("time"));
                if time.format.is_none() {
                    time.format = default_time_format.map(str::to_string);
                }
                let types = read_types(r);
                ParserConfig::Regexp { regex, time, types }
            }
            "multiline" => {
                let first = r.required_string("format_firstline").map(strip_slashes)?;
                let firstline = compile(r, "format_firstline", &first)?;
                let mut body = String::new();
                for n in 1..=20 {
                    if let Some(part) = r.string(&format!("format{n}")) {
                        body.push_str(&strip_slashes(part));
                    }
                }
                let body = if body.is_empty() {
                    None
                } else {
                    Some(compile(r, "format1", &format!("(?s){body}"))?)
                };
                let flush_after = r
                    .duration("multiline_flush_interval")
                    .unwrap_or(Duration::from_secs(5));
                ParserConfig::Multiline {
                    firstline,
                    body,
                    time: time(r, Some("time")),
                    types: read_types(r),
                    flush_after,
                }
            }
            "python" => ParserConfig::Python {
                flush_after: r
                    .duration("multiline_flush_interval")
                    .unwrap_or(Duration::from_secs(1)),
            },
            "cri" | "docker" => {
                // How long the parts of an unfinished line wait for the rest (a container
                // killed in the middle of a long line) before they go out as they are.
                let flush_after = r
                    .duration("multiline_flush_interval")
                    .unwrap_or(Duration::from_secs(5));
                if kind == "cri" {
                    ParserConfig::Cri { flush_after }
                } else {
                    ParserConfig::Docker { flush_after }
                }
            }
            other => {
                let hint = fluent_config::did_you_mean(other, FORMATS)
                    .map(|s| format!("did you mean `{s}`?"));
                let span = r.section().span.clone();
                r.error_at(&span, format!("unknown parser type `{other}`"), hint);
                return None;
            }
        };
        r.ignored(
            "estimate_current_event",
            "the read time is used when a record has no time",
        );
        r.ignored("null_value_pattern", "not implemented");
        r.ignored("null_empty_string", "not implemented");
        Some(config)
    }

    /// A fresh parser for one file.
    pub fn build(&self) -> Box<dyn LineParser> {
        match self {
            ParserConfig::None { message_key } => Box::new(NoneParser {
                message_key: message_key.clone(),
            }),
            ParserConfig::Json(time) => Box::new(JsonParser::new(time.clone())),
            ParserConfig::Ltsv(time) => Box::new(LtsvParser { time: time.clone() }),
            ParserConfig::Regexp { regex, time, types } => Box::new(RegexpParser {
                regex: regex.clone(),
                time: time.clone(),
                types: types.clone(),
            }),
            ParserConfig::Multiline {
                firstline,
                body,
                time,
                types,
                flush_after,
            } => Box::new(MultilineParser::new(
                Grouping::FirstLine(firstline.clone()),
                body.clone(),
                time.clone(),
                types.clone(),
                *flush_after,
            )),
            ParserConfig::Python { flush_after } => Box::new(MultilineParser::python(*flush_after)),
            ParserConfig::Cri { flush_after } => Box::new(CriParser::new(*flush_after)),
            ParserConfig::Docker { flush_after } => Box::new(DockerParser::new(*flush_after)),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ParserConfig::None { .. } => "none",
            ParserConfig::Json(_) => "json",
            ParserConfig::Regexp { .. } => "regexp",
            ParserConfig::Ltsv(_) => "ltsv",
            ParserConfig::Multiline { .. } => "multiline",
            ParserConfig::Python { .. } => "python",
            ParserConfig::Cri { .. } => "cri",
            ParserConfig::Docker { .. } => "docker",
        }
    }
}

fn strip_slashes(text: String) -> String {
    let t = text.trim();
    if t.len() >= 2 && t.starts_with('/') && t.ends_with('/') {
        t[1..t.len() - 1].to_string()
    } else if t.len() >= 3 && t.starts_with('/') && t.ends_with("/m") {
        format!("(?s){}", &t[1..t.len() - 2])
    } else {
        t.to_string()
    }
}

/// Ruby's `(?<name>...)` is spelled `(?P<name>...)` by older Rust regex; both are accepted.
fn compile(r: &mut Reader<'_>, key: &str, pattern: &str) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(regex) => Some(regex),
        Err(error) => {
            let span = r
                .param(key)
                .map(|p| p.value_span.clone())
                .unwrap_or_else(|| r.section().span.clone());
            let message = error
                .to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .to_string();
            r.error_at(
                &span,
                format!("invalid regular expression for `{key}`: {message}"),
                None,
            );
            None
        }
    }
}

fn read_types(r: &mut Reader<'_>) -> Vec<(String, FieldType)> {
    let Some(param) = r.param("types").cloned() else {
        return Vec::new();
    };
    let mut types = Vec::new();
    for item in param
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut parts = item.splitn(3, ':');
        let key = parts.next().unwrap_or_default().to_string();
        let kind = parts.next().unwrap_or("string");
        let extra = parts.next().map(str::to_string);
        let kind = match kind {
            "string" => FieldType::String,
            "integer" | "int" => FieldType::Integer,
            "float" => FieldType::Float,
            "bool" => FieldType::Bool,
            "time" => FieldType::Time(extra),
            "array" => FieldType::Array(extra.unwrap_or_else(|| ",".into())),
            other => {
                r.value_error(
                    &param,
                    format!("unknown type `{other}` for `{key}`"),
                    Some("types are string, integer, float, bool, time, array".into()),
                );
                continue;
            }
        };
        types.push((key, kind));
    }
    types
}
