//! `/openapi.json` (a hand-written OpenAPI 3.1 document, as FastAPI would generate for the
//! same app) and `/docs`, a self-contained page that renders it — nothing is fetched from the
//! internet at build or run time.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde_json::{Value, json};

use super::misc::{MAX_SLOW_MS, SEVERITIES};

static DOCUMENT: LazyLock<String> = LazyLock::new(|| openapi_document().to_string());
const DOCS_PAGE: &str = include_str!("docs.html");

pub async fn json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

pub async fn docs() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn validation_error() -> Value {
    ok(
        "Validation Error",
        json!({ "$ref": "#/components/schemas/HTTPValidationError" }),
    )
}

/// The OpenAPI document of the service.
pub fn openapi_document() -> Value {
    let item = json!({ "$ref": "#/components/schemas/Item" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "web-api",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Rust counterpart of the FastAPI demo app; every request is logged as Cloud Logging structured JSON."
        },
        "paths": {
            "/": { "get": {
                "summary": "Hello", "operationId": "hello",
                "responses": { "200": ok("Greeting", json!({ "type": "object", "properties": { "message": { "type": "string" } } })) }
            }},
            "/health": { "get": {
                "summary": "Health probe", "operationId": "health",
                "responses": { "200": ok("Healthy", json!({ "type": "object", "properties": { "status": { "type": "string", "const": "ok" } } })) }
            }},
            "/items": {
                "get": {
                    "summary": "List items", "operationId": "list_items",
                    "responses": { "200": ok("All items", json!({ "type": "array", "items": item })) }
                },
                "post": {
                    "summary": "Create an item", "operationId": "create_item",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ItemIn" } } } },
                    "responses": { "201": ok("Created", item.clone()), "422": validation_error() }
                }
            },
            "/items/{item_id}": { "get": {
                "summary": "Get an item", "operationId": "get_item",
                "parameters": [{ "name": "item_id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                "responses": {
                    "200": ok("The item", item.clone()),
                    "404": ok("No such item", json!({ "type": "object", "properties": { "detail": { "type": "string" } } })),
                    "422": validation_error()
                }
            }},
            "/log": { "post": {
                "summary": "Write an application log line", "operationId": "write_log",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LogRequest" } } } },
                "responses": { "200": ok("Logged", json!({ "type": "object" })), "422": validation_error() }
            }},
            "/error": { "get": {
                "summary": "Fail on purpose (logged at ERROR with its cause chain)", "operationId": "error",
                "responses": { "500": ok("Internal Server Error", json!({ "type": "object", "properties": { "detail": { "type": "string" } } })) }
            }},
            "/slow": { "get": {
                "summary": "Answer after a delay", "operationId": "slow",
                "parameters": [{ "name": "ms", "in": "query", "required": false,
                    "schema": { "type": "integer", "minimum": 0, "maximum": MAX_SLOW_MS, "default": 100 } }],
                "responses": { "200": ok("Slept", json!({ "type": "object", "properties": { "slept_ms": { "type": "integer" } } })), "422": validation_error() }
            }}
        },
        "components": { "schemas": {
            "ItemIn": {
                "type": "object", "required": ["name", "price"],
                "properties": { "name": { "type": "string", "minLength": 1 }, "price": { "type": "number", "minimum": 0 } }
            },
            "Item": {
                "type": "object", "required": ["id", "name", "price"],
                "properties": { "id": { "type": "integer" }, "name": { "type": "string" }, "price": { "type": "number" } }
            },
            "LogRequest": {
                "type": "object", "required": ["message"],
                "properties": {
                    "severity": { "type": "string", "enum": SEVERITIES, "default": "INFO" },
                    "message": { "type": "string", "minLength": 1 }
                }
            },
            "ValidationError": {
                "type": "object", "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": { "type": "array", "items": { "anyOf": [{ "type": "string" }, { "type": "integer" }] } },
                    "msg": { "type": "string" }, "type": { "type": "string" }
                }
            },
            "HTTPValidationError": {
                "type": "object",
                "properties": { "detail": { "type": "array", "items": { "$ref": "#/components/schemas/ValidationError" } } }
            }
        }}
    })
}
