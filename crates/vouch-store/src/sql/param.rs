//! One parameter type for both drivers: each binds it in its own column types (SQLite: text for
//! ids, times and documents; PostgreSQL: uuid, timestamptz, json, and whichever integer width the
//! statement's parameter has).

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Json(serde_json::Value),
    /// A list for `queries::queue::in_list`: an array on PostgreSQL, a JSON array on SQLite.
    Uuids(Vec<Uuid>),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl Param {
    /// A document column.
    pub fn json(v: &impl serde::Serialize) -> Self {
        serde_json::to_value(v).map_or(Param::Null, Param::Json)
    }

    /// A list of ids for `queries::queue::in_list`.
    pub fn ids<T: Copy + Into<Uuid>>(ids: &[T]) -> Self {
        Param::Uuids(ids.iter().map(|&i| i.into()).collect())
    }

    /// A document column that may be NULL.
    pub fn opt_json(v: Option<&impl serde::Serialize>) -> Self {
        v.map_or(Param::Null, Param::json)
    }
}

impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<i32> for Param {
    fn from(v: i32) -> Self {
        Param::Int(v.into())
    }
}
impl From<u16> for Param {
    fn from(v: u16) -> Self {
        Param::Int(v.into())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(v.clone())
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_string())
    }
}
impl From<&[u8]> for Param {
    fn from(v: &[u8]) -> Self {
        Param::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Bytes(v)
    }
}
impl From<Uuid> for Param {
    fn from(v: Uuid) -> Self {
        Param::Uuid(v)
    }
}
/// Typed ids are stored as the UUIDs they wrap.
macro_rules! as_uuid {
    ($($t:ty),*) => {$(
        impl From<$t> for Param {
            fn from(v: $t) -> Self {
                Param::Uuid(v.uuid())
            }
        }
    )*};
}
as_uuid!(
    vouch_core::AppId,
    vouch_core::KeyId,
    vouch_core::WorkflowId,
    vouch_core::SessionId,
    vouch_core::DestinationId,
    vouch_core::DeliveryId,
    vouch_core::EventId,
    vouch_core::MediaId,
    vouch_core::EngineJobId
);
impl From<DateTime<Utc>> for Param {
    fn from(v: DateTime<Utc>) -> Self {
        Param::Time(v)
    }
}
impl From<serde_json::Value> for Param {
    fn from(v: serde_json::Value) -> Self {
        Param::Json(v)
    }
}
impl From<&serde_json::Value> for Param {
    fn from(v: &serde_json::Value) -> Self {
        Param::Json(v.clone())
    }
}
/// The domain's closed vocabularies are stored as their wire names.
macro_rules! as_text {
    ($($t:ty),*) => {$(
        impl From<$t> for Param {
            fn from(v: $t) -> Self {
                Param::Text(v.as_str().to_string())
            }
        }
        impl From<&$t> for Param {
            fn from(v: &$t) -> Self {
                Param::Text(v.as_str().to_string())
            }
        }
    )*};
}
as_text!(
    vouch_core::change::EventType,
    vouch_core::change::NotSentReason,
    vouch_core::change::EmailKind,
    vouch_core::review::ActivityType,
    vouch_core::console::Role
);

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}
