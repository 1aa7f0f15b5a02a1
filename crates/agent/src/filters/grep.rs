//! `@type grep`: `<regexp> key K pattern /P/ </regexp>` keeps events whose field matches (all
//! `<regexp>` must match), `<exclude>` drops events whose field matches (any). The v0.12
//! `regexpN K P` / `excludeN K P` forms are read too.

use fluent_config::Reader;
use regex::Regex;

use super::Filter;
use crate::event::{Event, value_text};

pub struct GrepFilter {
    keep: Vec<(String, Regex)>,
    drop: Vec<(String, Regex)>,
}

impl GrepFilter {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<GrepFilter> {
        let mut keep = Vec::new();
        let mut drop = Vec::new();
        for (name, list) in [("regexp", &mut keep), ("exclude", &mut drop)] {
            for section in r.sections(name) {
                let mut s = r.child(section);
                let key = s.required_string("key");
                let pattern = s.required_string("pattern");
                if let (Some(key), Some(pattern)) = (key, pattern)
                    && let Some(regex) = compile(&mut s, &pattern)
                {
                    list.push((key, regex));
                }
                s.finish();
            }
            for n in 1..=20 {
                let key = format!("{name}{n}");
                let Some(param) = r.param(&key).cloned() else {
                    continue;
                };
                match param.value.split_once(char::is_whitespace) {
                    Some((field, pattern)) => {
                        if let Some(regex) = compile_at(r, &param, pattern.trim()) {
                            list.push((field.to_string(), regex));
                        }
                    }
                    None => r.value_error(
                        &param,
                        format!("`{key}` needs a field name and a pattern"),
                        Some(format!("{key} message /error/")),
                    ),
                }
            }
        }
        Some(GrepFilter { keep, drop })
    }
}

fn strip(pattern: &str) -> &str {
    let p = pattern.trim();
    if p.len() >= 2 && p.starts_with('/') && p.ends_with('/') {
        &p[1..p.len() - 1]
    } else {
        p
    }
}

fn compile(r: &mut Reader<'_>, pattern: &str) -> Option<Regex> {
    let param = r.param("pattern").cloned()?;
    compile_at(r, &param, pattern)
}

fn compile_at(r: &mut Reader<'_>, param: &fluent_config::Param, pattern: &str) -> Option<Regex> {
    match Regex::new(strip(pattern)) {
        Ok(regex) => Some(regex),
        Err(error) => {
            let message = error
                .to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .to_string();
            r.value_error(
                param,
                format!("invalid regular expression: {message}"),
                None,
            );
            None
        }
    }
}

impl Filter for GrepFilter {
    fn apply(&self, event: &mut Event) -> bool {
        let matches = |key: &str, regex: &Regex| {
            event
                .record
                .get(key)
                .is_some_and(|v| regex.is_match(&value_text(&v)))
        };
        self.keep.iter().all(|(k, r)| matches(k, r))
            && !self.drop.iter().any(|(k, r)| matches(k, r))
    }
}
