//! `@type record_transformer`: `<record> key value </record>` with `${tag}`, `${tag_parts[N]}`,
//! `${hostname}`, `${time}` and `${record["key"]}` placeholders; `remove_keys`, `keep_keys`,
//! `renew_record`. Ruby expressions (`enable_ruby`) are not supported and say so.

use fluent_config::Reader;
use serde_json::{Map, Value};

use super::Filter;
use crate::event::{Event, value_text};

pub struct RecordTransformer {
    fields: Vec<(String, Template)>,
    remove_keys: Vec<String>,
    keep_keys: Vec<String>,
    renew_record: bool,
    hostname: String,
}

struct Template(Vec<Piece>);

enum Piece {
    Text(String),
    Tag,
    TagPart(i64),
    Hostname,
    Time,
    Field(String),
}

impl RecordTransformer {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<RecordTransformer> {
        let mut fields = Vec::new();
        if let Some(section) = r.section_opt("record") {
            let mut s = r.child(section);
            for param in s.rest() {
                match Template::parse(&param.value) {
                    Ok(t) => fields.push((param.key.clone(), t)),
                    Err(message) => s.value_error(param, message, Some("placeholders: ${tag}, ${tag_parts[N]}, ${hostname}, ${time}, ${record[\"key\"]}".into())),
                }
            }
            s.finish();
        }
        if let Some(param) = r.param("enable_ruby").cloned()
            && param.value.trim() == "true"
        {
            r.value_error(
                &param,
                "enable_ruby is not supported: logferry does not run Ruby",
                Some("use the ${...} placeholders".into()),
            );
        }
        let remove_keys = r.list("remove_keys").unwrap_or_default();
        let keep_keys = r.list("keep_keys").unwrap_or_default();
        let renew_record = r.bool("renew_record", false);
        r.ignored(
            "auto_typecast",
            "values are strings unless the template is a single field reference",
        );
        Some(RecordTransformer {
            fields,
            remove_keys,
            keep_keys,
            renew_record,
            hostname: hostname(),
        })
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "localhost".into())
}

impl Template {
    fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed placeholder in `{text}`"))?
                + start;
            let inner = rest[start + 2..end].trim();
            pieces.push(match inner {
                "tag" => Piece::Tag,
                "hostname" => Piece::Hostname,
                "time" => Piece::Time,
                _ if inner.starts_with("tag_parts[") && inner.ends_with(']') => Piece::TagPart(
                    inner[10..inner.len() - 1]
                        .parse()
                        .map_err(|_| format!("bad index in `${{{inner}}}`"))?,
                ),
                _ if inner.starts_with("record[") && inner.ends_with(']') => {
                    let key = inner[7..inner.len() - 1]
                        .trim()
                        .trim_matches(|c| c == '"' || c == '\'');
                    Piece::Field(key.to_string())
                }
                _ => return Err(format!("unsupported placeholder `${{{inner}}}`")),
            });
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    fn render(&self, event: &Event, hostname: &str) -> Value {
        if let [Piece::Field(key)] = self.0.as_slice() {
            return event.record.get(key).unwrap_or(Value::Null);
        }
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Tag => out.push_str(&event.tag),
                Piece::TagPart(i) => {
                    let parts: Vec<&str> = event.tag.split('.').collect();
                    let index = if *i < 0 { parts.len() as i64 + i } else { *i };
                    if let Some(part) = usize::try_from(index).ok().and_then(|i| parts.get(i)) {
                        out.push_str(part);
                    }
                }
                Piece::Hostname => out.push_str(hostname),
                Piece::Time => out.push_str(&event.time.to_rfc3339()),
                Piece::Field(key) => {
                    if let Some(v) = event.record.get(key) {
                        out.push_str(&value_text(&v));
                    }
                }
            }
        }
        Value::String(out)
    }
}

impl Filter for RecordTransformer {
    fn apply(&self, event: &mut Event) -> bool {
        let values: Vec<(String, Value)> = self
            .fields
            .iter()
            .map(|(k, t)| (k.clone(), t.render(event, &self.hostname)))
            .collect();
        let map = event.record.make_map();
        if self.renew_record {
            *map = Map::new();
        }
        if !self.keep_keys.is_empty() {
            map.retain(|k, _| self.keep_keys.contains(k));
        }
        for (k, v) in values {
            map.insert(k, v);
        }
        for key in &self.remove_keys {
            map.remove(key);
        }
        true
    }
}
