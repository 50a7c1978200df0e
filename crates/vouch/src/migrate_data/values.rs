//! What each column becomes in PostgreSQL, and the conversion of one SQLite value to it.

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// How a column is stored in PostgreSQL (read from the target's catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uuid,
    Time,
    Bool,
    I64,
    I32,
    Text,
    Bytes,
    /// `json`: the SQLite text, kept byte for byte.
    Json,
}

impl Kind {
    /// The kind of a PostgreSQL column type; `None` for types vouch's schema does not use.
    pub fn of(ty: &Type) -> Option<Kind> {
        Some(match *ty {
            Type::UUID => Kind::Uuid,
            Type::TIMESTAMPTZ => Kind::Time,
            Type::BOOL => Kind::Bool,
            Type::INT8 => Kind::I64,
            Type::INT4 => Kind::I32,
            Type::TEXT | Type::VARCHAR => Kind::Text,
            Type::BYTEA => Kind::Bytes,
            Type::JSON => Kind::Json,
            _ => return None,
        })
    }

    /// The type the binary COPY encodes the column's values as. A `json` value's binary form is
    /// its text, exactly, so JSON is sent as `text` bytes: PostgreSQL validates it and stores
    /// it unchanged (key order, spacing and number spelling included).
    pub fn copy_type(self) -> Type {
        match self {
            Kind::Uuid => Type::UUID,
            Kind::Time => Type::TIMESTAMPTZ,
            Kind::Bool => Type::BOOL,
            Kind::I64 => Type::INT8,
            Kind::I32 => Type::INT4,
            Kind::Text | Kind::Json => Type::TEXT,
            Kind::Bytes => Type::BYTEA,
        }
    }
}

/// One converted value; `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Uuid(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Bool(Option<bool>),
    I64(Option<i64>),
    I32(Option<i32>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Val {
    pub fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Val::Uuid(v) => v,
            Val::Time(v) => v,
            Val::Bool(v) => v,
            Val::I64(v) => v,
            Val::I32(v) => v,
            Val::Text(v) => v,
            Val::Bytes(v) => v,
        }
    }

    fn null(kind: Kind) -> Val {
        match kind {
            Kind::Uuid => Val::Uuid(None),
            Kind::Time => Val::Time(None),
            Kind::Bool => Val::Bool(None),
            Kind::I64 => Val::I64(None),
            Kind::I32 => Val::I32(None),
            Kind::Text | Kind::Json => Val::Text(None),
            Kind::Bytes => Val::Bytes(None),
        }
    }
}

fn describe(v: &ValueRef) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("integer {i}"),
        ValueRef::Real(r) => format!("real {r}"),
        ValueRef::Text(t) => format!("text {:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a {}-byte blob", b.len()),
    }
}

fn text<'a>(v: &ValueRef<'a>) -> Option<&'a str> {
    match *v {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

/// Converts one SQLite value to `kind`; the error says what was found instead.
pub fn convert(kind: Kind, v: ValueRef) -> Result<Val, String> {
    if v == ValueRef::Null {
        return Ok(Val::null(kind));
    }
    let converted = match kind {
        Kind::Uuid => text(&v)
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(|u| Val::Uuid(Some(u))),
        Kind::Time => text(&v)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| Val::Time(Some(t.with_timezone(&Utc)))),
        Kind::Bool => match v {
            ValueRef::Integer(0) => Some(Val::Bool(Some(false))),
            ValueRef::Integer(1) => Some(Val::Bool(Some(true))),
            _ => None,
        },
        Kind::I64 => match v {
            ValueRef::Integer(i) => Some(Val::I64(Some(i))),
            _ => None,
        },
        Kind::I32 => match v {
            ValueRef::Integer(i) => i32::try_from(i).ok().map(|i| Val::I32(Some(i))),
            _ => None,
        },
        Kind::Text | Kind::Json => text(&v).map(|s| Val::Text(Some(s.to_owned()))),
        Kind::Bytes => match v {
            ValueRef::Blob(b) => Some(Val::Bytes(Some(b.to_vec()))),
            _ => None,
        },
    };
    converted.ok_or_else(|| {
        let want = match kind {
            Kind::Uuid => "a UUID",
            Kind::Time => "an RFC 3339 time",
            Kind::Bool => "0 or 1",
            Kind::I64 => "an integer",
            Kind::I32 => "a 32-bit integer",
            Kind::Text => "UTF-8 text",
            Kind::Json => "JSON text",
            Kind::Bytes => "a blob",
        };
        format!("expected {want}, found {}", describe(&v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact() {
        let t = convert(Kind::Time, ValueRef::Text(b"2024-05-01T10:20:30.123456Z")).unwrap();
        let Val::Time(Some(t)) = t else { panic!() };
        assert_eq!(
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "2024-05-01T10:20:30.123456Z"
        );
        let raw = r#"{"b":1.50,"a":"\u00e9"}"#;
        assert_eq!(
            convert(Kind::Json, ValueRef::Text(raw.as_bytes())).unwrap(),
            Val::Text(Some(raw.into()))
        );
        assert_eq!(
            convert(Kind::Bool, ValueRef::Integer(1)).unwrap(),
            Val::Bool(Some(true))
        );
        assert!(convert(Kind::Bool, ValueRef::Integer(2)).is_err());
        assert!(convert(Kind::I32, ValueRef::Integer(1 << 40)).is_err());
        assert!(convert(Kind::Uuid, ValueRef::Text(b"nope"))
            .unwrap_err()
            .contains("expected a UUID, found text \"nope\""));
        assert_eq!(
            convert(Kind::Time, ValueRef::Null).unwrap(),
            Val::Time(None)
        );
        assert_eq!(
            convert(Kind::Bytes, ValueRef::Blob(&[1, 2])).unwrap(),
            Val::Bytes(Some(vec![1, 2]))
        );
    }
}
