//! The email and phone steps of the person's page: a one-time code sent through vouch's SMTP
//! mailer or the configured SMS gateway, and entered on the page (`vouch_core::otp` decides;
//! this module sends, counts and records). A verified code is recorded as the step's result
//! through the same path as `POST /v3/session/{id}/attempts/`.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use vouch_core::attempt::ActorType;
use vouch_core::feature::Feature;
use vouch_core::media::Refusal;
use vouch_core::otp::{self, Checked};
use vouch_core::person::{screen, Screen, StepState};
use vouch_core::steps::NewResult;
use vouch_core::AttemptStatus;
use vouch_store::SessionBundle;

use super::lang::{Phrase, Text};
use crate::service::modify;
use crate::state::AppState;
use vouch_core::capture::after_person_step;
use vouch_core::steps::record_attempt;

/// What the page says after a form: one of a closed list, carried in the redirect's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    CodeSent,
    CodeWrong,
    CodeMalformed,
    CodeExpired,
    CodeNoTries,
    CodeNoMoreSends,
    CodeWait,
    EmailInvalid,
    CodeSendFailed,
    EmailUnavailable,
    PhoneInvalid,
    SmsUnavailable,
    /// A capture was received and goes to its engine.
    Submitted,
    /// A file was refused, for this reason.
    Media(Refusal),
    /// No document type (or one the step does not take) was chosen.
    DocumentType,
    /// No issuing country (or one the step does not take) was chosen.
    Country,
    /// A two-sided document without its back.
    BackNeeded,
    /// The files could not be stored (storage or database unavailable).
    MediaUnavailable,
    /// The form was sent twice, or from a page the session has moved on from.
    Stale,
}

const NOTICES: [(Notice, &str); 24] = [
    (Notice::CodeSent, "code_sent"),
    (Notice::CodeWrong, "code_wrong"),
    (Notice::CodeMalformed, "code_malformed"),
    (Notice::CodeExpired, "code_expired"),
    (Notice::CodeNoTries, "code_no_tries"),
    (Notice::CodeNoMoreSends, "code_no_more_sends"),
    (Notice::CodeWait, "code_wait"),
    (Notice::EmailInvalid, "email_invalid"),
    (Notice::CodeSendFailed, "code_send_failed"),
    (Notice::EmailUnavailable, "email_unavailable"),
    (Notice::PhoneInvalid, "phone_invalid"),
    (Notice::SmsUnavailable, "sms_unavailable"),
    (Notice::Submitted, "submitted"),
    (Notice::Media(Refusal::Empty), "media_empty"),
    (Notice::Media(Refusal::TooLarge), "media_too_large"),
    (Notice::Media(Refusal::Unsupported), "media_unsupported"),
    (Notice::Media(Refusal::WrongKind), "media_wrong_kind"),
    (Notice::Media(Refusal::Damaged), "media_damaged"),
    (
        Notice::Media(Refusal::TooManyPixels),
        "media_too_many_pixels",
    ),
    (Notice::Media(Refusal::TooSmall), "media_too_small"),
    (Notice::DocumentType, "document_type"),
    (Notice::Country, "country"),
    (Notice::BackNeeded, "back_needed"),
    (Notice::MediaUnavailable, "media_unavailable"),
];

impl Notice {
    pub fn parse(s: &str) -> Option<Notice> {
        if s == "stale" {
            return Some(Notice::Stale);
        }
        NOTICES.iter().find(|(_, k)| *k == s).map(|(n, _)| *n)
    }

    fn key(self) -> &'static str {
        if self == Notice::Stale {
            return "stale";
        }
        NOTICES
            .iter()
            .find(|(n, _)| *n == self)
            .map_or("", |(_, k)| k)
    }

    /// Whether it reports a problem (shown as an alert rather than a status).
    pub fn is_problem(self) -> bool {
        !matches!(self, Notice::CodeSent | Notice::Submitted)
    }

    pub fn text(self, t: &Text, brand: &str) -> Phrase {
        let s = match self {
            Notice::CodeSent => t.code_sent,
            Notice::CodeWrong => t.code_wrong,
            Notice::CodeMalformed => t.code_malformed,
            Notice::CodeExpired => t.code_expired,
            Notice::CodeNoTries => t.code_no_tries,
            Notice::CodeNoMoreSends => t.code_no_more_sends,
            Notice::CodeWait => t.code_wait,
            Notice::EmailInvalid => t.email_invalid,
            Notice::CodeSendFailed => t.code_send_failed,
            Notice::EmailUnavailable => t.email_unavailable,
            Notice::PhoneInvalid => t.phone_invalid,
            Notice::SmsUnavailable => t.sms_unavailable,
            Notice::Submitted => t.c.submitted,
            Notice::Media(r) => match r {
                Refusal::Empty => t.c.media_empty,
                Refusal::TooLarge => t.c.media_too_large,
                Refusal::Unsupported => t.c.media_unsupported,
                Refusal::WrongKind => t.c.media_wrong_kind,
                Refusal::Damaged => t.c.media_damaged,
                Refusal::TooManyPixels => t.c.media_too_many_pixels,
                Refusal::TooSmall => t.c.media_too_small,
            },
            Notice::DocumentType => t.c.document_type_missing,
            Notice::Country => t.c.country_missing,
            Notice::BackNeeded => t.c.back_needed,
            Notice::MediaUnavailable => t.c.media_unavailable,
            Notice::Stale => t.c.stale,
        };
        Phrase::fill(s, brand)
    }
}

/// The key codes are hashed with: derived from the server-wide secret, for this use only.
pub(super) fn code_key(state: &AppState) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.preview_key).expect("any key length");
    mac.update(b"vouch person codes v1");
    mac.finalize().into_bytes().to_vec()
}

/// A form posted from elsewhere is refused. Browsers say where a request comes from:
/// `Sec-Fetch-Site` decides when present (every current browser sends it); otherwise an `Origin`
/// must be this server's. (With `Referrer-Policy: no-referrer` a browser sends `Origin: null`
/// for the page's own forms, so `null` alone proves nothing either way; the token in the path
/// is still needed to post at all.)
pub(super) fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = value("origin").filter(|o| *o != "null") else {
        return true;
    };
    let public = url::Url::parse(public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let host = value("host").unwrap_or("");
    origin == public || origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// Back to the page (303), with a notice and the step in view.
pub(super) fn back(
    token: &str,
    lang: Option<&str>,
    notice: Option<Notice>,
    node_id: &str,
) -> Response {
    back_to(token, lang, notice, node_id, false)
}

/// `done`: a step was just completed, so that the page returns the person to the `callback` if
/// nothing is left for them to do.
pub(super) fn back_to(
    token: &str,
    lang: Option<&str>,
    notice: Option<Notice>,
    node_id: &str,
    done: bool,
) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(l) = lang {
        query.append_pair("lang", l);
    }
    if let Some(n) = notice {
        query.append_pair("notice", n.key());
    }
    if done {
        query.append_pair("done", "1");
    }
    let q = query.finish();
    let location = format!(
        "/session/{token}{}{q}#step-{node_id}",
        if q.is_empty() { "" } else { "?" }
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// How a step's code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn of(feature: Feature) -> Option<Channel> {
        match feature {
            Feature::EmailVerification => Some(Channel::Email),
            Feature::PhoneVerification => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A phone number as entered, in E.164 (`+34612345678`) if libphonenumber's metadata says it
/// is a valid number; the country code is required.
pub fn phone_e164(entered: &str) -> Option<String> {
    let entered = entered.trim();
    if entered.len() > 32 || !entered.starts_with('+') {
        return None;
    }
    let n = phonenumber::parse(None, entered).ok()?;
    phonenumber::is_valid(&n).then(|| n.format().mode(phonenumber::Mode::E164).to_string())
}

/// The session of the link and the step's channel, if `node_id` is one of its code steps
/// still to do.
async fn code_step(
    state: &AppState,
    token: &str,
    node_id: &str,
) -> Option<(SessionBundle, Channel)> {
    let target = state.store.session_by_token(token).await.ok()??;
    if target.deleted {
        return None;
    }
    let bundle = state
        .store
        .session_bundle(target.app_id, target.session_id)
        .await
        .ok()??;
    let Screen::Steps(steps) = screen(
        &bundle.session,
        &bundle.workflow.spec,
        &bundle.attempts,
        &[],
        false,
    ) else {
        return None;
    };
    let channel = steps
        .iter()
        .find(|s| s.node_id == node_id && s.state == StepState::ToDo)
        .and_then(|s| Channel::of(s.feature))?;
    Some((bundle, channel))
}

/// The page's two forms of a code step.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Send a code to the address in the form.
    Send,
    /// Check the code in the form.
    Verify,
}

pub async fn send(
    state: State<AppState>,
    path: Path<(String, String)>,
    query: RawQuery,
    headers: HeaderMap,
    form: Form<HashMap<String, String>>,
) -> Response {
    handle(Action::Send, state, path, query, headers, form).await
}

pub async fn verify(
    state: State<AppState>,
    path: Path<(String, String)>,
    query: RawQuery,
    headers: HeaderMap,
    form: Form<HashMap<String, String>>,
) -> Response {
    handle(Action::Verify, state, path, query, headers, form).await
}

/// Either form: refused from another site; a step that is not a code step still to do goes
/// back to the page unchanged; otherwise back to the page with what happened.
async fn handle(
    action: Action,
    State(state): State<AppState>,
    Path((token, node_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = super::lang_param(query.as_deref());
    if !same_origin(&headers, &state.config.public_url) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some((bundle, channel)) = code_step(&state, &token, &node_id).await else {
        return back(&token, lang.as_deref(), None, &node_id);
    };
    let limited = state.person_limits.take(
        bundle.session.id,
        super::limits::Kind::Code,
        std::time::Instant::now(),
    );
    if let Err(wait) = limited {
        return super::too_many(lang.as_deref(), wait);
    }
    let (notice, done) = match action {
        Action::Send => {
            match super::send::send_code(&state, &bundle, channel, &node_id, &form, lang.as_deref())
                .await
            {
                super::send::Sent::Notice(n) => (Some(n), false),
                super::send::Sent::Decided {
                    approved,
                    destination,
                    outcome,
                } => {
                    let status = if approved {
                        AttemptStatus::Approved
                    } else {
                        AttemptStatus::Declined
                    };
                    let data = json!({"phone_number": destination,
                        "verified_by": "sandbox test number", "sandbox_outcome": outcome});
                    match record_step(&state, &bundle, &node_id, status, data).await {
                        true => (None, true),
                        false => (Some(Notice::CodeSendFailed), false),
                    }
                }
            }
        }
        Action::Verify => {
            let entered = form.get("code").map(String::as_str).unwrap_or("");
            let notice = check_code(&state, &bundle, channel, &node_id, entered).await;
            (notice, notice.is_none())
        }
    };
    back_to(&token, lang.as_deref(), notice, &node_id, done)
}

/// Records a code step's result through the attempts path, with the automatic steps when it
/// was the person's last; answers whether it was recorded.
async fn record_step(
    state: &AppState,
    bundle: &SessionBundle,
    node_id: &str,
    status: AttemptStatus,
    data: serde_json::Value,
) -> bool {
    let s = &bundle.session;
    let result = NewResult {
        node_id: node_id.to_string(),
        status,
        data,
        warnings: json!([]),
        actor: ActorType::System,
    };
    let checking = state.store.checking_steps(s.id).await.unwrap_or_default();
    let node = node_id.to_string();
    let recorded = modify(state.store.as_ref(), s.app_id, s.id, None, move |st| {
        let mut change = record_attempt(st, &result, uuid::Uuid::now_v7(), crate::clock::now())?;
        after_person_step(st, &mut change, &node, &checking);
        Ok((Some(change), ()))
    })
    .await;
    if let Err(e) = &recorded {
        tracing::warn!(error = ?e, "recording a code step's result failed");
    }
    recorded.is_ok()
}

/// `None` when the code was right (the step is done).
async fn check_code(
    state: &AppState,
    bundle: &SessionBundle,
    channel: Channel,
    node_id: &str,
    entered: &str,
) -> Option<Notice> {
    let s = &bundle.session;
    let now = crate::clock::now();
    let Ok(challenge) = state.store.person_code(s.id, node_id).await else {
        return Some(Notice::CodeSendFailed);
    };
    // A sandbox test number's fixed code may have 4 to 8 digits.
    let lengths = if bundle.environment == vouch_core::session::Environment::Sandbox {
        otp::SANDBOX_LENGTHS
    } else {
        otp::LIVE_LENGTHS
    };
    let verdict = match otp::precheck_in(challenge.as_ref(), entered, now, lengths.clone()) {
        Some(v) => v,
        None => {
            let c = challenge.as_ref()?;
            match state
                .store
                .take_code_try(s.id, node_id, c.sent_at, otp::TRIES)
                .await
            {
                Ok(Some(tries)) => otp::verify_in(&code_key(state), c, entered, tries, lengths),
                Ok(None) => Checked::NoTriesLeft,
                Err(_) => return Some(Notice::CodeSendFailed),
            }
        }
    };
    match verdict {
        Checked::Verified => {
            let c = challenge?;
            let data = match channel {
                Channel::Email => json!({"email": c.destination, "verified_by": "one-time code"}),
                Channel::Sms => json!({
                    "phone_number": c.destination,
                    "verified_by": "one-time code"
                }),
            };
            if !record_step(state, bundle, node_id, AttemptStatus::Approved, data).await {
                return Some(Notice::CodeSendFailed);
            }
            None
        }
        Checked::Wrong(0) => Some(Notice::CodeNoTries),
        Checked::Wrong(_) => Some(Notice::CodeWrong),
        Checked::Malformed => Some(Notice::CodeMalformed),
        Checked::Expired => Some(Notice::CodeExpired),
        Checked::NoTriesLeft => Some(Notice::CodeNoTries),
        Checked::NoCode => Some(Notice::CodeExpired),
    }
}
