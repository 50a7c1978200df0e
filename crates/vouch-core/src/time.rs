//! The one way the API writes a time: RFC 3339 in UTC with microseconds
//! (`2026-12-01T10:00:00.000000Z`), the precision every backend stores.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// A time in an answer, a webhook or an email job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(value_type = String, format = DateTime, example = "2026-12-01T10:00:00.000000Z")
)]
pub struct WireTime(pub DateTime<Utc>);

impl WireTime {
    pub fn text(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl From<DateTime<Utc>> for WireTime {
    fn from(t: DateTime<Utc>) -> Self {
        WireTime(t)
    }
}

impl Serialize for WireTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl std::fmt::Display for WireTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// `t` as the API writes it.
pub fn wire(t: DateTime<Utc>) -> String {
    WireTime(t).text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_in_utc() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T11:00:00.5+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(wire(t), "2026-12-01T10:00:00.500000Z");
        assert_eq!(
            serde_json::to_string(&WireTime(t)).unwrap(),
            "\"2026-12-01T10:00:00.500000Z\""
        );
    }
}
