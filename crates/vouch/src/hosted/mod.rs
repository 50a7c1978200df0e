//! The person's side: the page a session's `url` opens (`<public_url>/session/<session_token>`).
//!
//! Rendered on the server from templates compiled into the binary (askama, `templates/hosted/`)
//! with one stylesheet served by vouch itself: no script, no font, no request to anyone else.
//! What the page shows is decided by `vouch_core::person::screen`; this module only renders it in
//! the person's language (`lang/`).

pub mod capture;
pub mod codes;
pub mod lang;
pub mod limits;
mod media;
mod respond;
mod send;

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use vouch_core::person::{screen, Ended, Screen, StepState};
use vouch_core::session::Session;
use vouch_core::SessionStatus;

use crate::state::AppState;
use lang::{Phrase, Text};
use respond::too_many;
use respond::{ended, html, message, redirecting, reloading, unavailable, Embed, Link};

/// A capture form carries at most two files (a document's sides) and a few fields.
pub fn router(max_file_bytes: usize) -> Router<AppState> {
    let capture_body_limit = 2 * max_file_bytes + 64 * 1024;
    Router::new()
        .route("/session/{token}", get(page))
        .route("/session/{token}/steps/{node}/code", post(codes::send))
        .route("/session/{token}/steps/{node}/verify", post(codes::verify))
        .route(
            "/session/{token}/steps/{node}/capture",
            post(capture::post).layer(DefaultBodyLimit::max(capture_body_limit)),
        )
        .route("/media/{id}/{variant}", get(media::get))
        .route("/assets/hosted.css", get(stylesheet))
        .route("/assets/hosted.js", get(script))
}

/// A person's request over its client address's rate limit (`http::limits`): the page saying
/// when to try again, in the language the link asked for.
pub(crate) fn too_many_requests(query: Option<&str>, retry_after_secs: u64) -> Response {
    too_many(lang_param(query).as_deref(), retry_after_secs)
}

const CSS: &str = include_str!("../../assets/hosted.css");
/// The camera for capture steps; the page works without it.
const JS: &str = include_str!("../../assets/hosted.js");

/// Changes whenever the stylesheet or the script does, so that both can be cached for a year.
static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    h.update(CSS.as_bytes());
    h.update(JS.as_bytes());
    hex::encode(&h.finalize()[..6])
});

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// A query parameter (the last one given), read leniently: a query the page cannot use is
/// ignored.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .last()
}

/// `?lang=`.
fn lang_param(query: Option<&str>) -> Option<String> {
    param(query, "lang")
}

struct StepView {
    node_id: String,
    name: &'static str,
    state: Phrase,
    class: &'static str,
    reason: Option<String>,
    /// The email or phone step's forms, when it is to do.
    code: Option<CodeForm>,
    /// The capture step's form, when it is to do.
    capture: Option<capture::CaptureForm>,
}

struct CodeForm {
    send_action: String,
    verify_action: String,
    /// The address field: `email` or `phone`, its input type, label and autocomplete token.
    field: &'static str,
    input_type: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    hint: &'static str,
    address: String,
    /// A code was sent: the field to enter it is shown.
    code_sent: bool,
}

#[derive(Template)]
#[template(path = "hosted/steps.html")]
struct StepsPage<'a> {
    t: &'a Text,
    languages: &'static [&'static Text],
    asset_version: &'a str,
    brand: &'a str,
    heading: Phrase,
    intro: Phrase,
    steps: Vec<StepView>,
    /// What the last form did.
    notice: Option<Phrase>,
    notice_is_problem: bool,
    /// Nothing is left for the person: the way back to the `callback`.
    back: Option<Link>,
    /// Steps are being checked: the page reloads itself to show their results.
    checking: bool,
    /// The script's nonce and what it announces to an embedding page.
    embed: Option<Embed>,
}

/// Tokens vouch hands out are 32 letters and digits; anything else names no session.
fn plausible_token(token: &str) -> bool {
    (16..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang_param(query.as_deref());
    let notice = param(query.as_deref(), "notice").and_then(|n| codes::Notice::parse(&n));
    // Set by the redirect after the person completed a step.
    let just_done = param(query.as_deref(), "done").is_some();
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let unknown = |t: &'static Text| {
        message(
            StatusCode::NOT_FOUND,
            t,
            "",
            Phrase::plain(t.unknown_heading),
            Phrase::plain(t.unknown_body),
            None,
            None,
        )
    };
    if !plausible_token(&token) {
        return unknown(lang::choose(lang.as_deref(), None, accept));
    }
    let target = match state.store.session_by_token(&token).await {
        Ok(t) => t,
        Err(e) => return unavailable(&e, lang::choose(lang.as_deref(), None, accept)),
    };
    let Some(target) = target else {
        return unknown(lang::choose(lang.as_deref(), None, accept));
    };
    if target.deleted {
        let t = lang::choose(lang.as_deref(), None, accept);
        let brand = match state.store.find_app(&target.app_id.to_string()).await {
            Ok(Some(app)) => app.name,
            _ => String::new(),
        };
        return ended(t, &brand, Ended::Deleted, None);
    }
    // The pending engine jobs are read before the session: a job seen pending either is
    // still pending or has its result in the session read after it, so an automatic step
    // finished between the two reads is never taken for one that has not started (which
    // would send the person back with the status of before its result).
    let checking = match state.store.checking_steps(target.session_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e, lang::choose(lang.as_deref(), None, accept)),
    };
    let bundle = match state
        .store
        .session_bundle(target.app_id, target.session_id)
        .await
    {
        Ok(Some(b)) => b,
        Ok(None) => return unknown(lang::choose(lang.as_deref(), None, accept)),
        Err(e) => return unavailable(&e, lang::choose(lang.as_deref(), None, accept)),
    };
    let s = &bundle.session;
    let t = lang::choose(lang.as_deref(), s.language.as_deref(), accept);
    let brand = bundle.app_name.as_str();
    let mut embed = Embed::new(&bundle.allowed_domains, s.id, s.status.as_str());
    // Inside a frame (Didit's web SDK), the page announces the end to its parent instead of
    // navigating the frame to the callback.
    let framed = headers
        .get("sec-fetch-dest")
        .is_some_and(|v| v.as_bytes() == b"iframe");
    let just_done = just_done && !framed;
    match screen(s, &bundle.workflow.spec, &bundle.attempts, &checking, false) {
        Screen::Steps(steps) => {
            let resubmitted = s.status == SessionStatus::Resubmitted;
            let keep_lang = lang
                .as_deref()
                .and_then(lang::find)
                .map(|l| format!("?lang={}", l.code))
                .unwrap_or_default();
            let finished = steps
                .iter()
                .all(|s| !matches!(s.state, StepState::ToDo | StepState::Checking));
            let being_checked = steps.iter().any(|s| s.state == StepState::Checking);
            let back = callback_link(s).filter(|_| finished).map(|href| Link {
                href,
                label: Phrase::fill(t.back_to, brand),
            });
            let refresh = back.as_ref().filter(|_| just_done).map(|l| l.href.clone());
            let mut views = Vec::with_capacity(steps.len());
            for step in steps {
                let (state_text, class) = match step.state {
                    StepState::ToDo => (Phrase::plain(t.todo), "todo"),
                    StepState::Done => (Phrase::plain(t.done), "done"),
                    StepState::Checking => (Phrase::plain(t.c.checking), "checking"),
                    StepState::Automatic => (Phrase::plain(t.automatic), "automatic"),
                    StepState::NotAvailable => {
                        (Phrase::fill(t.not_available, brand), "unavailable")
                    }
                };
                let channel =
                    codes::Channel::of(step.feature).filter(|_| step.state == StepState::ToDo);
                let code = if let Some(channel) = channel {
                    let (field, input_type, label, autocomplete, hint) = match channel {
                        codes::Channel::Email => {
                            ("email", "email", t.email_label, "email", t.code_hint)
                        }
                        codes::Channel::Sms => {
                            ("phone", "tel", t.phone_label, "tel", t.code_hint_sms)
                        }
                    };
                    let sent = state
                        .store
                        .person_code(s.id, &step.node_id)
                        .await
                        .ok()
                        .flatten();
                    let base = format!("/session/{token}/steps/{}", step.node_id);
                    Some(CodeForm {
                        send_action: format!("{base}/code{keep_lang}"),
                        verify_action: format!("{base}/verify{keep_lang}"),
                        field,
                        input_type,
                        label,
                        autocomplete,
                        hint,
                        address: sent.as_ref().map_or_else(
                            || s.contact_details[field].as_str().unwrap_or("").to_string(),
                            |c| c.destination.clone(),
                        ),
                        code_sent: sent.is_some(),
                    })
                } else {
                    None
                };
                let capture = if step.state == StepState::ToDo {
                    let config = bundle
                        .workflow
                        .spec
                        .node(&step.node_id)
                        .map(|n| n.config.clone())
                        .unwrap_or_default();
                    let action =
                        format!("/session/{token}/steps/{}/capture{keep_lang}", step.node_id);
                    capture::form(t, step.feature, &config, &s.expected_details, action)
                } else {
                    None
                };
                views.push(StepView {
                    node_id: step.node_id,
                    name: (t.feature_name)(step.feature),
                    state: state_text,
                    class,
                    reason: step.reason,
                    code,
                    capture,
                });
            }
            embed.step = views
                .iter()
                .find(|v| v.class == "todo")
                .map(|v| v.node_id.clone())
                .unwrap_or_default();
            let (nonce, ancestors) = (embed.nonce.clone(), embed.ancestors.clone());
            let view = StepsPage {
                t,
                languages: &lang::ALL,
                asset_version: &ASSET_VERSION,
                brand,
                heading: Phrase::fill(
                    if resubmitted {
                        t.resubmitted_heading
                    } else {
                        t.start_heading
                    },
                    brand,
                ),
                intro: Phrase::plain(if resubmitted {
                    t.resubmitted_intro
                } else {
                    t.start_intro
                }),
                steps: views,
                notice: notice.map(|n| n.text(t, brand)),
                notice_is_problem: notice.is_some_and(codes::Notice::is_problem),
                back,
                checking: being_checked,
                embed: Some(embed),
            };
            let r = html(StatusCode::OK, view.render(), Some(&nonce), &ancestors);
            match refresh {
                Some(to) => redirecting(r, &to),
                // Polled without script: the page asks to be reloaded while engines work.
                None if being_checked => reloading(r, &token, query.as_deref()),
                None => r,
            }
        }
        Screen::Outcome(status) => {
            let (heading, body) = match status {
                SessionStatus::Approved => (t.approved_heading, t.approved_body),
                SessionStatus::Declined => (t.declined_heading, t.declined_body),
                SessionStatus::KycExpired => (t.kyc_expired_heading, t.kyc_expired_body),
                _ => (t.in_review_heading, t.in_review_body),
            };
            let back = callback_link(s).map(|href| Link {
                href,
                label: Phrase::fill(t.back_to, brand),
            });
            let refresh = back.as_ref().filter(|_| just_done).map(|l| l.href.clone());
            embed.outcome = true;
            let mut r = message(
                StatusCode::OK,
                t,
                brand,
                Phrase::fill(heading, brand),
                Phrase::fill(body, brand),
                back,
                Some(embed),
            );
            if let Some(to) = refresh {
                r = redirecting(r, &to);
            }
            r
        }
        Screen::Ended(why) => ended(t, brand, why, Some(embed)),
    }
}

/// The session's `callback` with `verificationSessionId` and `status` added, as Didit's hosted
/// page returns the person.
fn callback_link(s: &Session) -> Option<String> {
    let mut url = url::Url::parse(s.callback.as_deref()?).ok()?;
    url.query_pairs_mut()
        .append_pair("verificationSessionId", &s.id.to_string())
        .append_pair("status", s.status.as_str());
    Some(url.into())
}
