//! `limit`/`offset` pagination with absolute `next`/`previous` links (§4.3).

use vouch_core::FieldErrors;
use vouch_store::Page;

use super::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// A parsed query string: the page and every parameter as sent (for links and filters).
pub struct PageQuery {
    pub page: Page,
    pub params: Vec<(String, String)>,
}

impl PageQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let mut errors = FieldErrors::new();
        for (k, v) in &params {
            if k.contains('\0') || v.contains('\0') {
                errors.add(k.replace('\0', ""), super::json::NULL_CHARACTERS);
            }
        }
        let get = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let limit = match get("limit") {
            None | Some("") => DEFAULT_LIMIT,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.add(
                        "limit",
                        format!("Ensure this value is an integer between 1 and {MAX_LIMIT}."),
                    );
                    DEFAULT_LIMIT
                }
            },
        };
        let offset = match get("offset") {
            None | Some("") => 0,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => n,
                _ => {
                    errors.add("offset", "Ensure this value is a non-negative integer.");
                    0
                }
            },
        };
        errors.into_result()?;
        Ok(Self {
            page: Page { limit, offset },
            params,
        })
    }

    /// The last value given for `key`, if any and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn link(&self, base: &str, path: &str, offset: i64) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            if k != "offset" && k != "limit" {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("limit", &self.page.limit.to_string());
        if offset > 0 {
            ser.append_pair("offset", &offset.to_string());
        }
        format!("{base}{path}?{}", ser.finish())
    }
}

/// `(next, previous)` absolute URLs, `None` at either end.
pub fn page_links(
    base: &str,
    path: &str,
    q: &PageQuery,
    count: i64,
) -> (Option<String>, Option<String>) {
    let Page { limit, offset } = q.page;
    // Saturating: an offset near i64::MAX is valid input and simply past the end.
    let next = (offset.saturating_add(limit) < count).then(|| q.link(base, path, offset + limit));
    let previous = (offset > 0).then(|| q.link(base, path, (offset - limit).max(0)));
    (next, previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_past_any_count_has_no_next_page() {
        let q = PageQuery::parse(Some("limit=100&offset=9223372036854775807")).unwrap();
        let (next, previous) = page_links("http://x", "/v3/sessions/", &q, 10);
        assert_eq!(next, None);
        assert!(previous.unwrap().contains("offset=9223372036854775707"));
    }
}
