//! The HTTP surface: the same endpoints as the FastAPI app, wrapped in the access log.
//!
//! `app(state)` is the whole service; tests and `run` use it as is.

mod items;
mod misc;
mod openapi;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::access::access_log;
use crate::error::ApiError;

pub use items::{Item, ItemStore};
pub use openapi::openapi_document;

/// Shared state of the handlers.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    pub items: Arc<ItemStore>,
}

/// The service: routes, FastAPI-style 404/405 answers, and the access log around all of it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(misc::hello))
        .route("/health", get(misc::health))
        .route("/items", get(items::list).post(items::create))
        .route("/items/{item_id}", get(items::fetch))
        .route("/log", post(misc::write_log))
        .route("/error", get(misc::fail))
        .route("/slow", get(misc::slow))
        .route("/openapi.json", get(openapi::json))
        .route("/docs", get(openapi::docs))
        .fallback(|| async { ApiError::NotFound("Not Found") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(access_log))
        .with_state(state)
}
