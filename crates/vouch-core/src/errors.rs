use std::collections::BTreeMap;

use serde::Serialize;

/// Field-keyed validation errors, serialized exactly as the contract's 400 body:
/// `{"field": ["message", ...], "nested[0].field": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(
    example = json!({"new_status": ["\"Pending\" is not a valid choice."]})
))]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn merge(&mut self, other: FieldErrors) {
        for (k, v) in other.0 {
            self.0.entry(k).or_default().extend(v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every (field, message), fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |m| (k.as_str(), m.as_str())))
    }

    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// `Ok(())` when no error was added, so validation code can end with `errors.into_result()?`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{k}: {}", v.join(" "))?;
        }
        Ok(())
    }
}

/// Why a command on a session was refused; nothing is written. Each variant has one answer in
/// the HTTP contract, chosen where errors become responses.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// The session, or the step named in the path, does not exist.
    NotFound,
    /// The body is not JSON (the parser's message); judged after the checks that come first.
    Malformed(String),
    /// update-status on a session whose status a reviewer may not act on.
    WrongCurrentStatus,
    Fields(FieldErrors),
    SameStatus,
    NothingToResubmit,
    /// A backend-only resubmission repeated within the cool-down.
    TooSoon {
        retry_after_secs: i64,
    },
    /// The person's page was out of date: the step was submitted already (a form sent twice),
    /// or the session moved on since the page was shown.
    Stale,
    /// The quoted email preview does not describe this change's email.
    Preview(crate::preview::PreviewError),
}

impl From<FieldErrors> for Rejection {
    fn from(f: FieldErrors) -> Self {
        Rejection::Fields(f)
    }
}
