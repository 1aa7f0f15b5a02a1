//! `protoPayload`: a `google.protobuf.Any`, which gRPC carries as bytes and REST as JSON with an
//! `@type`. Converting between the two needs the message's descriptor, so the emulator accepts
//! the types Cloud Logging itself accepts (`google.cloud.audit.AuditLog`,
//! `google.appengine.logging.v1.RequestLog`) plus the protobuf well-known types, from Google's
//! descriptors embedded in the binary (`proto/payload_types.binpb`, see `proto/NOTICE`).
//! Anything else is rejected per entry, on both protocols alike, as the real API does with
//! user-defined types.

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::Value;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(&include_bytes!("../proto/payload_types.binpb")[..])
        .expect("the embedded payload descriptors decode")
});

fn any_descriptor() -> MessageDescriptor {
    POOL.get_message_by_name("google.protobuf.Any")
        .expect("the embedded descriptors hold google.protobuf.Any")
}

/// Checks the type URL names a message the emulator knows.
fn check_type(type_url: &str) -> Result<(), String> {
    let name = type_url.rsplit_once('/').map_or(type_url, |(_, name)| name);
    if POOL.get_message_by_name(name).is_some() {
        return Ok(());
    }
    Err(format!(
        "protoPayload: type {type_url:?} is not supported; use \
         type.googleapis.com/google.cloud.audit.AuditLog, \
         type.googleapis.com/google.appengine.logging.v1.RequestLog or a google.protobuf \
         well-known type (jsonPayload takes any structure)"
    ))
}

/// The gRPC form (bytes) as proto3 JSON with its `@type`.
pub(crate) fn any_to_json(any: &prost_types::Any) -> Result<Value, String> {
    check_type(&any.type_url)?;
    let message = DynamicMessage::decode(any_descriptor(), any.encode_to_vec().as_slice())
        .map_err(|e| format!("protoPayload: cannot decode {}: {e}", any.type_url))?;
    let mut value = serde_json::to_value(&message)
        .map_err(|e| format!("protoPayload: cannot decode {}: {e}", any.type_url))?;
    whole_numbers_as_integers(&mut value);
    Ok(value)
}

/// Prints `1.0` as `1`, as jsonPayload numbers are, so a payload reads the same whichever
/// protocol wrote it (a REST client's `1` decodes to the same double).
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                *value = crate::convert::number_to_json(f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// The REST form (JSON with `@type`) as the gRPC form.
pub(crate) fn json_to_any(value: &Value) -> Result<prost_types::Any, String> {
    let type_url = value
        .get("@type")
        .and_then(Value::as_str)
        .ok_or("protoPayload: an \"@type\" naming the message type is required")?;
    check_type(type_url)?;
    let message = DynamicMessage::deserialize(any_descriptor(), value)
        .map_err(|e| format!("protoPayload: invalid {type_url}: {e}"))?;
    message
        .transcode_to::<prost_types::Any>()
        .map_err(|e| format!("protoPayload: invalid {type_url}: {e}"))
}

#[cfg(test)]
/// Validates a REST payload and returns it in canonical proto3 JSON (field names, int64s as
/// strings, defaults left out), exactly as the same payload written over gRPC is stored.
pub(crate) fn canonical(value: &Value) -> Result<Value, String> {
    any_to_json(&json_to_any(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_logs_round_trip_and_are_canonicalized() {
        let rest = json!({
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": "storage.buckets.delete",
            "serviceName": "storage.googleapis.com",
            "authenticationInfo": {"principalEmail": "alice@example.com"},
            "numResponseItems": 3,
            "status": {"code": 0},
            "request": {"@type": "type.googleapis.com/google.protobuf.Struct", "bucket": "b"},
        });
        let any = json_to_any(&rest).unwrap();
        assert_eq!(
            any.type_url,
            "type.googleapis.com/google.cloud.audit.AuditLog"
        );
        let back = any_to_json(&any).unwrap();
        assert_eq!(back["methodName"], "storage.buckets.delete");
        assert_eq!(back["numResponseItems"], "3", "int64 as a string: {back}");
        assert_eq!(
            back["authenticationInfo"]["principalEmail"],
            "alice@example.com"
        );
        assert_eq!(back["request"]["bucket"], "b");
        assert_eq!(canonical(&back).unwrap(), back);
    }

    #[test]
    fn well_known_types_use_their_json_form() {
        let rest =
            json!({"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": 1}});
        assert_eq!(canonical(&rest).unwrap(), rest);
    }

    #[test]
    fn unknown_types_and_fields_are_refused() {
        let e = json_to_any(&json!({"@type": "type.googleapis.com/my.Own"})).unwrap_err();
        assert!(
            e.contains("\"type.googleapis.com/my.Own\" is not supported"),
            "{e}"
        );
        let e = json_to_any(&json!({"methodName": "x"})).unwrap_err();
        assert!(e.contains("@type"), "{e}");
        let e = json_to_any(
            &json!({"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "nope": 1}),
        )
        .unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let any = prost_types::Any {
            type_url: "type.googleapis.com/my.Own".into(),
            value: vec![1, 2],
        };
        assert!(any_to_json(&any).is_err());
    }
}
