//! The small resource API: `GET/POST /items`, `GET /items/{item_id}`, validated like the
//! pydantic model `Item(name: str = Field(min_length=1), price: float = Field(ge=0))`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use crate::error::{ApiError, ValidationIssue};

/// A stored item as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: i64,
    pub name: String,
    pub price: f64,
}

/// In-memory items, ids from 1 (the FastAPI app kept a dict too).
#[derive(Debug, Default)]
pub struct ItemStore {
    inner: Mutex<(BTreeMap<i64, Item>, i64)>,
}

impl ItemStore {
    pub fn insert(&self, name: String, price: f64) -> Item {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (items, last_id) = &mut *guard;
        *last_id += 1;
        let item = Item {
            id: *last_id,
            name,
            price,
        };
        items.insert(item.id, item.clone());
        item
    }

    pub fn get(&self, id: i64) -> Option<Item> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Item> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.values().cloned().collect()
    }
}

pub async fn list(State(state): State<AppState>) -> Json<Vec<Item>> {
    Json(state.items.all())
}

pub async fn create(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let value = parse_json_body(&body)?;
    let (name, price) = validate_item(&value).map_err(ApiError::Validation)?;
    let item = state.items.insert(name, price);
    tracing::info!(item_id = item.id, "created item {:?}", item.name);
    Ok((StatusCode::CREATED, Json(item)))
}

pub async fn fetch(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<Item>, ApiError> {
    let id = parse_int(&raw_id, &["path", "item_id"])?;
    state
        .items
        .get(id)
        .map(Json)
        .ok_or(ApiError::NotFound("Item not found"))
}

/// FastAPI's `int` path/query parameter check.
pub fn parse_int(raw: &str, loc: &[&str]) -> Result<i64, ApiError> {
    raw.trim().parse::<i64>().map_err(|_| {
        ApiError::Validation(vec![ValidationIssue::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
            Value::from(raw),
        )])
    })
}

/// A required JSON body: empty → `missing`, malformed → `json_invalid` at its byte offset.
pub fn parse_json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![ValidationIssue::missing(
            &["body"],
            &Value::Null,
        )]));
    }
    serde_json::from_slice(body).map_err(|e| {
        let offset: usize = body
            .split(|b| *b == b'\n')
            .take(e.line().saturating_sub(1))
            .map(|l| l.len() + 1)
            .sum::<usize>()
            + e.column().saturating_sub(1);
        let mut issue =
            ValidationIssue::new("json_invalid", &["body"], "JSON decode error", json!({}))
                .with_ctx(json!({ "error": e.to_string() }));
        issue.loc.push(Value::from(offset));
        ApiError::Validation(vec![issue])
    })
}

/// The body must be an object; returns every issue at once, as pydantic does.
pub fn validate_item(value: &Value) -> Result<(String, f64), Vec<ValidationIssue>> {
    let Some(obj) = value.as_object() else {
        return Err(vec![not_an_object(value)]);
    };
    let mut issues = Vec::new();
    let name = match obj.get("name") {
        None => {
            issues.push(ValidationIssue::missing(&["body", "name"], value));
            None
        }
        Some(v) => match non_empty_string(v, &["body", "name"]) {
            Ok(s) => Some(s),
            Err(issue) => {
                issues.push(issue);
                None
            }
        },
    };
    let price = match obj.get("price") {
        None => {
            issues.push(ValidationIssue::missing(&["body", "price"], value));
            None
        }
        Some(v) => match non_negative_number(v, &["body", "price"]) {
            Ok(p) => Some(p),
            Err(issue) => {
                issues.push(issue);
                None
            }
        },
    };
    match (name, price) {
        (Some(name), Some(price)) if issues.is_empty() => Ok((name, price)),
        _ => Err(issues),
    }
}

pub fn not_an_object(value: &Value) -> ValidationIssue {
    ValidationIssue::new(
        "model_attributes_type",
        &["body"],
        "Input should be a valid dictionary or object to extract fields from",
        value.clone(),
    )
}

pub fn non_empty_string(v: &Value, loc: &[&str]) -> Result<String, ValidationIssue> {
    match v {
        Value::String(s) if s.is_empty() => Err(ValidationIssue::new(
            "string_too_short",
            loc,
            "String should have at least 1 character",
            v.clone(),
        )
        .with_ctx(json!({ "min_length": 1 }))),
        Value::String(s) => Ok(s.clone()),
        _ => Err(ValidationIssue::new(
            "string_type",
            loc,
            "Input should be a valid string",
            v.clone(),
        )),
    }
}

fn non_negative_number(v: &Value, loc: &[&str]) -> Result<f64, ValidationIssue> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        // pydantic's lax mode accepts numeric strings.
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                return Err(ValidationIssue::new(
                    "float_parsing",
                    loc,
                    "Input should be a valid number, unable to parse string as a number",
                    v.clone(),
                ));
            }
        },
        _ => None,
    };
    match n {
        None => Err(ValidationIssue::new(
            "float_type",
            loc,
            "Input should be a valid number",
            v.clone(),
        )),
        Some(n) if n < 0.0 => Err(ValidationIssue::new(
            "greater_than_equal",
            loc,
            "Input should be greater than or equal to 0",
            v.clone(),
        )
        .with_ctx(json!({ "ge": 0 }))),
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(v: Value) -> Vec<(&'static str, Vec<Value>)> {
        validate_item(&v)
            .unwrap_err()
            .into_iter()
            .map(|i| (i.kind, i.loc))
            .collect()
    }

    #[test]
    fn item_validation_reports_every_field() {
        assert_eq!(
            validate_item(&json!({"name": "pen", "price": "2.5"})).unwrap(),
            ("pen".into(), 2.5)
        );
        assert_eq!(
            kinds(json!({})),
            vec![
                ("missing", vec![json!("body"), json!("name")]),
                ("missing", vec![json!("body"), json!("price")])
            ]
        );
        assert_eq!(
            kinds(json!({"name": "", "price": -1})),
            vec![
                ("string_too_short", vec![json!("body"), json!("name")]),
                ("greater_than_equal", vec![json!("body"), json!("price")])
            ]
        );
        assert_eq!(
            kinds(json!({"name": 3, "price": "x"}))[1].0,
            "float_parsing"
        );
        assert_eq!(kinds(json!([1]))[0].0, "model_attributes_type");
    }

    #[test]
    fn malformed_json_points_at_the_offset() {
        let Err(ApiError::Validation(issues)) = parse_json_body(b"{\"name\": }") else {
            panic!("expected a validation error");
        };
        assert_eq!(issues[0].kind, "json_invalid");
        assert_eq!(issues[0].loc, vec![json!("body"), json!(9)]);
    }
}
