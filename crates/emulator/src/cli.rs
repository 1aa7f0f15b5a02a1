//! The two commands the `logferry` binary wires in: `logferry emulator` (serve the API until
//! SIGINT/SIGTERM) and `logferry query` (read entries back like `gcloud logging read`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use fluent_config::literal::parse_duration;
use gcloud_logging::Timestamp;
use gcloud_logging::wire::ListLogEntriesRequest;
use serde_json::Value;

use crate::client::Client;
use crate::{EmulatorConfig, serve};

/// `logferry emulator`: a local Cloud Logging.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to serve the v2 API on, REST and gRPC alike, and the logs explorer (port 0 picks
    /// a free port).
    #[arg(long, default_value = "127.0.0.1:8085")]
    pub listen: SocketAddr,
    /// Directory of the durable store (created if missing).
    #[arg(
        long = "data",
        value_name = "DIR",
        default_value = "./logferry-emulator-data"
    )]
    pub data: PathBuf,
    /// Delete entries older than this (e.g. 7d, 12h, 30m); kept forever when unset.
    #[arg(long, value_parser = parse_duration)]
    pub retention: Option<Duration>,
}

/// Serves until SIGINT or SIGTERM. Prints `emulator listening on http://ADDR` to stderr once
/// the port is bound, so scripts can find a port chosen with `--listen 127.0.0.1:0`.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let config = EmulatorConfig {
        data_dir: args.data,
        retention: args.retention,
    };
    eprintln!("emulator listening on http://{addr}");
    eprintln!("logs explorer at http://{addr}/");
    serve(listener, config, shutdown_signal()).await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

/// Output format of `logferry query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A JSON array of LogEntry objects, as `gcloud logging read --format json`.
    Json,
    /// Aligned columns: timestamp, severity, log, payload.
    Table,
    /// One line per entry: `timestamp severity payload`.
    Text,
}

/// Sort order of `logferry query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// Newest first.
    Desc,
    /// Oldest first.
    Asc,
}

/// `logferry query`: read entries like `gcloud logging read`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// A Cloud Logging query, e.g. `resource.type="container" severity>=ERROR`.
    #[arg(default_value = "")]
    pub filter: String,
    /// Base URL of a logferry emulator, e.g. http://127.0.0.1:8085.
    #[arg(long, env = "LOGFERRY_EMULATOR")]
    pub emulator: Option<String>,
    /// Project to read from.
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT", default_value = "local-project")]
    pub project: String,
    /// Most entries to print.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Newest first (desc) or oldest first (asc).
    #[arg(long, value_enum, default_value = "desc")]
    pub order: Order,
    /// Only entries newer than this (e.g. 1d, 3h); ignored when the filter mentions `timestamp`.
    #[arg(long, value_parser = parse_duration, default_value = "1d")]
    pub freshness: Duration,
    /// How to print entries.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Runs the query and prints the entries to stdout.
pub async fn run_query(args: QueryArgs) -> anyhow::Result<()> {
    let entries = fetch_entries(&args).await?;
    let mut out = std::io::stdout().lock();
    print_entries(&mut out, &entries, args.format)?;
    out.flush()?;
    Ok(())
}

/// The entries `logferry query` prints, in order.
pub async fn fetch_entries(args: &QueryArgs) -> anyhow::Result<Vec<Value>> {
    let Some(url) = args.emulator.as_deref() else {
        bail!(
            "real Cloud Logging needs credentials: not supported by `query` yet; pass --emulator URL (or set LOGFERRY_EMULATOR)"
        );
    };
    let client = Client::new(url)?;
    let filter = effective_filter(&args.filter, args.freshness, Timestamp::now());
    fetch(&client, args, &filter).await
}

/// Pages through `entries:list` until `limit` entries or the end.
async fn fetch(client: &Client, args: &QueryArgs, filter: &str) -> anyhow::Result<Vec<Value>> {
    let mut entries = Vec::new();
    let mut token = None;
    while entries.len() < args.limit {
        let want = (args.limit - entries.len()).min(1000);
        let request = ListLogEntriesRequest {
            resource_names: vec![format!("projects/{}", args.project)],
            filter: Some(filter.to_string()),
            order_by: Some(
                match args.order {
                    Order::Desc => "timestamp desc",
                    Order::Asc => "timestamp asc",
                }
                .to_string(),
            ),
            page_size: Some(want as i32),
            page_token: token.take(),
        };
        let resp: Value = client
            .call("/v2/entries:list", &request)
            .await
            .with_context(|| {
                format!(
                    "entries:list on {url}",
                    url = args.emulator.as_deref().unwrap_or("")
                )
            })?;
        if let Some(page) = resp.get("entries").and_then(Value::as_array) {
            entries.extend(page.iter().take(args.limit - entries.len()).cloned());
        }
        match resp.get("nextPageToken").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(entries)
}

/// The filter sent: the user's, plus `timestamp>="now - freshness"` unless it mentions timestamp.
pub fn effective_filter(filter: &str, freshness: Duration, now: Timestamp) -> String {
    if filter.contains("timestamp") {
        return filter.to_string();
    }
    let since = Timestamp::from_system_time(
        std::time::UNIX_EPOCH + Duration::new(now.seconds.max(0) as u64, now.nanos)
            - freshness.min(Duration::new(now.seconds.max(0) as u64, 0)),
    );
    let bound = format!("timestamp>=\"{since}\"");
    if filter.trim().is_empty() {
        bound
    } else {
        // The newline ends a trailing `--` comment before the closing parenthesis.
        format!("({filter}\n) AND {bound}")
    }
}

/// Prints entries in `format`.
pub fn print_entries(
    out: &mut impl Write,
    entries: &[Value],
    format: Format,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, entries)?;
            writeln!(out)
        }
        Format::Text => {
            for e in entries {
                writeln!(
                    out,
                    "{} {} {}",
                    field(e, "timestamp"),
                    severity(e),
                    payload(e)
                )?;
            }
            Ok(())
        }
        Format::Table => {
            let rows: Vec<[String; 4]> = entries
                .iter()
                .map(|e| [field(e, "timestamp"), severity(e), log_id(e), payload(e)])
                .collect();
            let header = ["TIMESTAMP", "SEVERITY", "LOG", "PAYLOAD"];
            let mut widths = header.map(str::len);
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row).take(3) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |out: &mut dyn Write, cells: [&str; 4]| {
                writeln!(
                    out,
                    "{:w0$}  {:w1$}  {:w2$}  {}",
                    cells[0],
                    cells[1],
                    cells[2],
                    cells[3],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2]
                )
            };
            line(out, header)?;
            for r in &rows {
                line(out, [&r[0], &r[1], &r[2], &r[3]])?;
            }
            Ok(())
        }
    }
}

fn field(e: &Value, name: &str) -> String {
    e.get(name)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn severity(e: &Value) -> String {
    match e.get("severity") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "DEFAULT".to_string(),
    }
}

fn log_id(e: &Value) -> String {
    let name = field(e, "logName");
    gcloud_logging::parse_log_name(&name)
        .map(|n| n.log_id)
        .unwrap_or(name)
}

fn payload(e: &Value) -> String {
    if let Some(t) = e.get("textPayload").and_then(Value::as_str) {
        return t.replace('\n', "\\n");
    }
    if let Some(j) = e.get("jsonPayload") {
        if let Some(m) = j.get("message").and_then(Value::as_str) {
            return m.replace('\n', "\\n");
        }
        return j.to_string();
    }
    e.get("protoPayload")
        .map(Value::to_string)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--retention` and `--freshness` read times with the one duration parser the agent's
    /// flags and config use: the same units everywhere, fractions too, a century at most.
    #[test]
    fn ages_parse_like_every_other_duration() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            emulator: EmulatorArgs,
            #[command(flatten)]
            query: QueryArgs,
        }
        let parse = |args: &[&str]| {
            <Flags as clap::Parser>::try_parse_from(
                std::iter::once("t").chain(args.iter().copied()),
            )
        };
        let flags = parse(&["--retention", "2w", "--freshness", "1.5h"]).unwrap();
        assert_eq!(
            flags.emulator.retention,
            Some(Duration::from_secs(14 * 86_400))
        );
        assert_eq!(flags.query.freshness, Duration::from_secs(5_400));
        let flags = parse(&["--retention", "90", "--freshness", "500ms"]).unwrap();
        assert_eq!(flags.emulator.retention, Some(Duration::from_secs(90)));
        assert_eq!(flags.query.freshness, Duration::from_millis(500));
        assert_eq!(
            parse(&[]).unwrap().query.freshness,
            Duration::from_secs(86_400)
        );
        for bad in ["d", "5y", "-1d", "99999999999999w"] {
            let flag = format!("--freshness={bad}");
            let err = parse(&[&flag]).err().expect(bad).to_string();
            assert!(err.contains("invalid time"), "{bad}: {err}");
        }
    }

    #[test]
    fn freshness_is_added_unless_timestamp_is_mentioned() {
        let now = Timestamp::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(
            effective_filter("", day, now),
            "timestamp>=\"2026-01-01T00:00:00Z\""
        );
        let f = effective_filter("severity>=ERROR -- errors", day, now);
        assert_eq!(
            f,
            "(severity>=ERROR -- errors\n) AND timestamp>=\"2026-01-01T00:00:00Z\""
        );
        assert!(logquery::parse(&f).is_ok());
        assert_eq!(
            effective_filter("timestamp>\"2020-01-01\"", day, now),
            "timestamp>\"2020-01-01\""
        );
    }
}
