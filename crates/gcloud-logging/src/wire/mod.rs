//! The Cloud Logging v2 REST JSON types, shared by the sink, the emulator and the CLI so that what
//! the sink sends is exactly what the emulator accepts (DESIGN invariant 5).
//!
//! Field names follow proto3 JSON (lowerCamelCase out); like Google's own parsers, input also
//! accepts the original snake_case names, which Google's Python client sends for some fields.
//! int64 fields go out as strings and come in as strings or numbers.

mod entry;
mod list;
mod status;
mod write;

pub use entry::{
    HttpRequest, LogEntry, LogEntryOperation, LogEntrySourceLocation, LogSplit, MonitoredResource,
};
pub use list::{ListLogEntriesRequest, ListLogEntriesResponse, ListLogsResponse};
pub use status::{ApiError, ErrorBody, RpcCode, Status, WriteLogEntriesPartialErrors};
pub use write::{WriteLogEntriesRequest, WriteLogEntriesResponse};

/// proto3 JSON integers: int64 written as a string, either form read back.
pub(crate) mod int {
    use std::fmt;

    use serde::Serializer;
    use serde::de::{self, Deserializer, Visitor};

    struct IntVisitor;

    impl Visitor<'_> for IntVisitor {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, as a number or a decimal string")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i64>, E> {
            // proto3 JSON allows an exponent form such as 1e3 as long as the value is integral.
            if v.fract() == 0.0 && v.abs() < 9.2e18 {
                Ok(Some(v as i64))
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
            v.parse()
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
    }

    /// `Option<i64>` as an int64 field: `"123"` out, `"123"` or `123` in.
    pub mod int64 {
        use super::*;

        pub fn serialize<S: Serializer>(
            value: &Option<i64>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => serializer.collect_str(v),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<i64>, D::Error> {
            deserializer.deserialize_any(IntVisitor)
        }
    }

    /// `i32` as an int32 field: a number out, a number or a string in (null reads as 0).
    pub mod int32 {
        use super::*;

        pub fn serialize<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_i32(*value)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
            let v = deserializer.deserialize_any(IntVisitor)?.unwrap_or(0);
            i32::try_from(v)
                .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &"an int32"))
        }
    }

    /// `Option<i32>` as an int32 field.
    pub mod opt_int32 {
        use super::*;

        pub fn serialize<S: Serializer>(
            value: &Option<i32>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => serializer.serialize_i32(*v),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<i32>, D::Error> {
            match deserializer.deserialize_any(IntVisitor)? {
                Some(v) => i32::try_from(v)
                    .map(Some)
                    .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(v), &"an int32")),
                None => Ok(None),
            }
        }
    }
}

/// For `skip_serializing_if` on proto3 booleans, which are omitted when false.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
