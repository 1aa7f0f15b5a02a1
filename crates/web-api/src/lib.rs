//! The web API: the Rust counterpart of the FastAPI app whose log file the sidecar ships.
//!
//! [`app`] is the axum service, [`run`] serves it with a bounded graceful drain, and
//! [`logging`] writes Cloud Logging structured lines losslessly to a file and/or stdout.
#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod error;
pub mod logging;
pub mod routes;
pub mod server;

pub use config::{Cli, Config, ConfigError};
pub use routes::{AppState, app};
pub use server::{ServeConfig, ServeError, Stopped, run};
