//! `logferry check`: validates a config and prints the pipeline it resolves to, or every
//! mistake with file:line:column. Exit status 0 when it would run, 1 otherwise.

use std::path::Path;
use std::process::ExitCode;

use agent::config::{OutputKind, SourceKind, StepDef};

pub fn run(path: &Path) -> ExitCode {
    match agent::config::load(path) {
        Err(diagnostics) => {
            eprint!("{}", fluent_config::render_all(&diagnostics));
            ExitCode::FAILURE
        }
        Ok((pipeline, warnings)) => {
            if !warnings.is_empty() {
                eprint!("{}", fluent_config::render_all(&warnings));
            }
            println!("configuration {} is valid", path.display());
            println!();
            for source in &pipeline.sources {
                match &source.kind {
                    SourceKind::Tail(tail) => {
                        println!("source {} (tail)", source.name);
                        println!("  path          {}", tail.paths.join(", "));
                        if let Some(pos) = &tail.tail.pos_file {
                            println!("  pos_file      {}", pos.display());
                        } else {
                            println!(
                                "  pos_file      (none: positions are not kept across restarts)"
                            );
                        }
                        println!("  tag           {}", tail.tag);
                        println!("  parser        {}", tail.parser.name());
                        println!("  read_from_head {}", tail.tail.read_from_head);
                        if let Some(label) = &source.label {
                            println!("  label         {label}");
                        }
                    }
                    SourceKind::Forward(forward) => {
                        println!("source {} (forward)", source.name);
                        println!("  listen        {}", forward.addr);
                        println!(
                            "  security      {}",
                            if forward.security.is_some() {
                                "shared_key"
                            } else {
                                "none"
                            }
                        );
                    }
                    other => {
                        println!("source {} ({})", source.name, other.type_name());
                        if let Some(addr) = other.endpoint() {
                            println!(
                                "  listen        http://{addr} (/metrics, /healthz, /readyz, /api/plugins.json)"
                            );
                        }
                    }
                }
            }
            let mut labels: Vec<&Option<String>> = pipeline.scopes.keys().collect();
            labels.sort();
            for label in labels {
                println!();
                match label {
                    None => println!("routes (top level)"),
                    Some(name) => println!("routes in <label {name}>"),
                }
                for step in &pipeline.scopes[label] {
                    match step {
                        StepDef::Filter(pattern, ..) => println!("  filter {}", pattern.as_str()),
                        StepDef::Match(pattern, index) => {
                            let output = &pipeline.outputs[*index];
                            let detail = match &output.kind {
                                OutputKind::File(f) => format!(" path={}", f.path),
                                _ => String::new(),
                            };
                            println!(
                                "  match {} -> {} ({}{detail}), flush_interval {:?}",
                                pattern.as_str(),
                                output.name,
                                output.kind.type_name(),
                                output.buffer.flush_interval
                            );
                        }
                    }
                }
            }
            ExitCode::SUCCESS
        }
    }
}
