//! The answers of the person's page: every one with the headers that protect the person (a
//! strict Content-Security-Policy, no framing unless the application allows the embedding
//! origin, no `Referer`, nothing cached), the message pages, and the redirects.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_core::person::Ended;

use super::lang::{self, Phrase, Text};
use super::{lang_param, param, ASSET_VERSION};

pub(super) struct Link {
    pub href: String,
    pub label: Phrase,
}

/// What a page of a known session carries for the camera script and for a page that embeds it
/// (Didit's web SDK): the script's nonce, the origins allowed to frame it, and the facts its
/// events announce (`data-*` on `<body>`).
pub(super) struct Embed {
    pub nonce: String,
    pub ancestors: Vec<String>,
    pub session_id: String,
    pub status: &'static str,
    /// The first step still to do.
    pub step: String,
    /// The outcome screen: the person is done.
    pub outcome: bool,
    /// Why the link no longer works (`expired`, `abandoned`, `deleted`), or empty.
    pub ended: &'static str,
}

impl Embed {
    pub fn new(ancestors: &[String], session_id: impl ToString, status: &'static str) -> Self {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        Self {
            nonce: hex::encode(b),
            ancestors: ancestors.to_vec(),
            session_id: session_id.to_string(),
            status,
            step: String::new(),
            outcome: false,
            ended: "",
        }
    }
}

#[derive(Template)]
#[template(path = "hosted/message.html")]
pub(super) struct MessagePage<'a> {
    t: &'a Text,
    languages: &'static [&'static Text],
    asset_version: &'a str,
    brand: &'a str,
    heading: Phrase,
    body: Phrase,
    back: Option<Link>,
    embed: Option<Embed>,
}

pub(super) fn ended(t: &'static Text, brand: &str, why: Ended, embed: Option<Embed>) -> Response {
    let heading = match why {
        Ended::Expired => t.expired_heading,
        Ended::Abandoned => t.abandoned_heading,
        Ended::Deleted => t.deleted_heading,
    };
    let body = if brand.is_empty() {
        Phrase::plain(t.unknown_body)
    } else {
        Phrase::fill(t.ended_body, brand)
    };
    let embed = embed.map(|e| Embed {
        ended: match why {
            Ended::Expired => "expired",
            Ended::Abandoned => "abandoned",
            Ended::Deleted => "deleted",
        },
        ..e
    });
    message(
        StatusCode::GONE,
        t,
        brand,
        Phrase::plain(heading),
        body,
        None,
        embed,
    )
}

/// A form over its session's limit: `429` with a page saying when to try again.
pub(super) fn too_many(lang: Option<&str>, retry_after_secs: u64) -> Response {
    let t = lang::choose(lang, None, None);
    let mut r = message(
        StatusCode::TOO_MANY_REQUESTS,
        t,
        "",
        Phrase::plain(t.c.too_many_heading),
        Phrase::plain(t.c.too_many_body),
        None,
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

pub(super) fn unavailable(e: &vouch_store::StoreError, t: &'static Text) -> Response {
    tracing::warn!(error = %e, "the person's page could not read the session");
    let mut r = message(
        StatusCode::SERVICE_UNAVAILABLE,
        t,
        "",
        Phrase::plain(t.title),
        Phrase::plain(t.unknown_body),
        None,
        None,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

pub(super) fn message(
    status: StatusCode,
    t: &'static Text,
    brand: &str,
    heading: Phrase,
    body: Phrase,
    back: Option<Link>,
    embed: Option<Embed>,
) -> Response {
    let nonce = embed.as_ref().map(|e| e.nonce.clone());
    let ancestors = embed
        .as_ref()
        .map(|e| e.ancestors.clone())
        .unwrap_or_default();
    let view = MessagePage {
        t,
        languages: &lang::ALL,
        asset_version: &ASSET_VERSION,
        brand,
        heading,
        body,
        back,
        embed,
    };
    html(status, view.render(), nonce.as_deref(), &ancestors)
}

/// The page, and at once the `callback` after it (`Refresh: 0`, which browsers treat as an
/// immediate `<meta http-equiv="refresh">`): the person's last step is done and the service
/// that sent them waits. A new navigation, not a redirect of the form that finished the step,
/// so the page's `form-action 'self'` does not stand in its way; the link on the page remains
/// for a browser that does not follow it.
pub(super) fn redirecting(mut r: Response, to: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("0; url={to}")) {
        r.headers_mut()
            .insert(header::HeaderName::from_static("refresh"), v);
    }
    r
}

/// The page, reloaded by the browser in 3 seconds (`Refresh: 3`) with the same language and
/// without the one-off notice.
pub(super) fn reloading(mut r: Response, token: &str, query: Option<&str>) -> Response {
    let mut keep = url::form_urlencoded::Serializer::new(String::new());
    if let Some(l) = lang_param(query).and_then(|l| lang::find(&l)) {
        keep.append_pair("lang", l.code);
    }
    if param(query, "done").is_some() {
        keep.append_pair("done", "1");
    }
    let q = keep.finish();
    let sep = if q.is_empty() { "" } else { "?" };
    if let Ok(v) = HeaderValue::from_str(&format!("3; url=/session/{token}{sep}{q}")) {
        r.headers_mut()
            .insert(header::HeaderName::from_static("refresh"), v);
    }
    r
}

/// A page with the headers every person-facing answer carries: nothing may run but what vouch
/// serves (its one script by this answer's `nonce`), the page is framed only by the origins the
/// application allows (`ancestors`; none by default), the token in the URL never leaves in a
/// `Referer`, and nothing personal is cached.
pub(super) fn html(
    status: StatusCode,
    rendered: askama::Result<String>,
    nonce: Option<&str>,
    ancestors: &[String],
) -> Response {
    let body = match rendered {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "rendering the person's page");
            return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
        }
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let script = nonce.map_or(String::new(), |n| format!("script-src 'nonce-{n}'; "));
    let frame = if ancestors.is_empty() {
        "'none'".to_string()
    } else {
        ancestors.join(" ")
    };
    let csp = format!(
        "default-src 'none'; {script}style-src 'self'; img-src 'self' blob:; form-action 'self'; \
         base-uri 'none'; frame-ancestors {frame}"
    );
    match HeaderValue::from_str(&csp) {
        Ok(v) => h.insert(header::CONTENT_SECURITY_POLICY, v),
        Err(_) => h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ),
    };
    h.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    // X-Frame-Options cannot name origins: sent only when nothing may frame the page.
    if ancestors.is_empty() {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
