//! The capture steps' form: the document (type, front, back), the selfie, the proof of address.
//! One multipart `POST` per step. Every file is checked on the server (`vouch_core::media`),
//! sealed under the session's key and stored; the step then goes to its engine in one change
//! with the files' records. A file refused, a form sent twice or from an out-of-date page
//! stores nothing and goes back to the page with its reason.

use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use vouch_core::capture::{submit, Submission};
use vouch_core::engine::{NewMedia, Slot};
use vouch_core::media::{inspect, without_metadata, MediaType, Refusal};
use vouch_core::person::{screen, Screen, StepState};
use vouch_core::{EngineJobId, Feature, MediaId, Rejection};
use vouch_store::SessionBundle;

use super::codes::{back, back_to, same_origin, Notice};
use crate::service::{modify, Failure};
use crate::state::AppState;

/// The document types the page offers, as ICAO 9303 codes them.
pub const DOCUMENT_TYPES: [&str; 4] = ["P", "ID", "DL", "RP"];

/// The types a node allows: its `documents_allowed` config when it names some, else all.
pub fn document_types(config: &Map<String, Value>) -> Vec<&'static str> {
    let allowed: Vec<&str> = config
        .get("documents_allowed")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fit: Vec<&'static str> = DOCUMENT_TYPES
        .into_iter()
        .filter(|t| allowed.is_empty() || allowed.contains(t))
        .collect();
    if fit.is_empty() {
        DOCUMENT_TYPES.to_vec()
    } else {
        fit
    }
}

/// The issuing countries a document may come from (ISO 3166-1 alpha-3): the session's
/// `expected_details.issuing_state` (or `country`) when given, else the node's
/// `countries_allowed`; empty when neither says, and the engine reads it from the document.
pub fn countries(config: &Map<String, Value>, expected: &Value) -> Vec<String> {
    let valid = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase());
    for key in ["issuing_state", "country"] {
        if let Some(c) = expected.get(key).and_then(Value::as_str) {
            let c = c.trim().to_ascii_uppercase();
            if valid(&c) {
                return vec![c];
            }
        }
    }
    let mut out: Vec<String> = config
        .get("countries_allowed")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| valid(c))
                .collect()
        })
        .unwrap_or_default();
    out.dedup();
    out
}

/// The files a feature's form takes, each with the types it accepts; the first is required.
pub fn slots(feature: Feature) -> &'static [(Slot, &'static [MediaType])] {
    match feature {
        Feature::Ocr => &[
            (Slot::Front, MediaType::IMAGES),
            (Slot::Back, MediaType::IMAGES),
        ],
        Feature::Liveness | Feature::FaceMatch => &[(Slot::Selfie, MediaType::IMAGES)],
        Feature::ProofOfAddress => &[(Slot::Document, MediaType::IMAGES_AND_PDF)],
        _ => &[],
    }
}

/// What the form sent.
struct Sent {
    files: Vec<(Slot, axum::body::Bytes)>,
    document_type: Option<String>,
    country: Option<String>,
    submission: Option<EngineJobId>,
}

async fn read_form(mut form: Multipart) -> Result<Sent, Refusal> {
    let mut sent = Sent {
        files: Vec::new(),
        document_type: None,
        country: None,
        submission: None,
    };
    // A body over the route's limit ends here: the file was too large.
    while let Some(field) = form.next_field().await.map_err(|_| Refusal::TooLarge)? {
        let name = field.name().unwrap_or("").to_string();
        if let Some(slot) = Slot::parse(&name) {
            let bytes = field.bytes().await.map_err(|_| Refusal::TooLarge)?;
            // An empty file input is sent as a part with no bytes: nothing chosen.
            if !bytes.is_empty() {
                sent.files.push((slot, bytes));
            }
        } else {
            let text = field.text().await.map_err(|_| Refusal::Damaged)?;
            match name.as_str() {
                "document_type" => sent.document_type = Some(text),
                "country" => sent.country = Some(text),
                "submission" => {
                    sent.submission = text
                        .trim()
                        .parse::<uuid::Uuid>()
                        .ok()
                        .map(EngineJobId::from)
                }
                _ => {}
            }
        }
    }
    Ok(sent)
}

fn refusal_notice(r: Refusal) -> Notice {
    Notice::Media(r)
}

/// The session of the link and the step, if `node_id` is a capture step still to do.
async fn capture_step(
    state: &AppState,
    token: &str,
    node_id: &str,
) -> Option<(SessionBundle, Vec<String>, Feature)> {
    let target = state.store.session_by_token(token).await.ok()??;
    if target.deleted {
        return None;
    }
    // Pending jobs before the session, as the page reads them (`super::page`).
    let checking = state.store.checking_steps(target.session_id).await.ok()?;
    let bundle = state
        .store
        .session_bundle(target.app_id, target.session_id)
        .await
        .ok()??;
    let Screen::Steps(steps) = screen(
        &bundle.session,
        &bundle.workflow.spec,
        &bundle.attempts,
        &checking,
        false,
    ) else {
        return None;
    };
    let feature = steps
        .iter()
        .find(|s| s.node_id == node_id && s.state == StepState::ToDo)
        .map(|s| s.feature)
        .filter(|f| !slots(*f).is_empty())?;
    Some((bundle, checking, feature))
}

pub async fn post(
    State(state): State<AppState>,
    Path((token, node_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let lang = super::lang_param(query.as_deref());
    let lang = lang.as_deref();
    if !same_origin(&headers, &state.config.public_url) {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    }
    let Some((bundle, checking, feature)) = capture_step(&state, &token, &node_id).await else {
        return back(&token, lang, Some(Notice::Stale), &node_id);
    };
    let limited = state.person_limits.take(
        bundle.session.id,
        super::limits::Kind::Capture,
        std::time::Instant::now(),
    );
    if let Err(wait) = limited {
        return super::too_many(lang, wait);
    }
    let sent = match read_form(form).await {
        Ok(s) => s,
        Err(r) => return back(&token, lang, Some(refusal_notice(r)), &node_id),
    };
    let Some(submission) = sent.submission else {
        return back(&token, lang, Some(Notice::Stale), &node_id);
    };
    let node = bundle
        .workflow
        .spec
        .node(&node_id)
        .expect("a step of the screen");
    let mut fields = Map::new();
    if feature == Feature::Ocr {
        let types = document_types(&node.config);
        let chosen = match sent.document_type.as_deref() {
            Some(t) if types.contains(&t) => t,
            None if types.len() == 1 => types[0],
            _ => return back(&token, lang, Some(Notice::DocumentType), &node_id),
        };
        fields.insert("document_type".into(), chosen.into());
        let allowed = countries(&node.config, &bundle.session.expected_details);
        match sent.country.as_deref().map(str::trim) {
            Some(c) if allowed.iter().any(|a| a == c) => {
                fields.insert("issuing_state".into(), c.into());
            }
            None if allowed.len() == 1 => {
                fields.insert("issuing_state".into(), allowed[0].clone().into());
            }
            None if allowed.is_empty() => {}
            _ => return back(&token, lang, Some(Notice::Country), &node_id),
        }
        if chosen != "P" && !sent.files.iter().any(|(s, _)| *s == Slot::Back) {
            return back(&token, lang, Some(Notice::BackNeeded), &node_id);
        }
    }
    let wanted = slots(feature);
    let required = wanted[0].0;
    if !sent.files.iter().any(|(s, _)| *s == required) {
        return back(&token, lang, Some(refusal_notice(Refusal::Empty)), &node_id);
    }
    // Every file checked before any is stored.
    let mut checked = Vec::new();
    for (slot, bytes) in &sent.files {
        let Some((_, allowed)) = wanted.iter().find(|(s, _)| s == slot) else {
            continue;
        };
        match inspect(bytes, allowed, &state.media.limits) {
            Ok(i) => checked.push((*slot, bytes, i)),
            Err(r) => return back(&token, lang, Some(refusal_notice(r)), &node_id),
        }
    }
    let session_id = bundle.session.id;
    let key = match state.media.session_key(&*state.store, session_id).await {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "the person's files could not be keyed");
            return back(&token, lang, Some(Notice::MediaUnavailable), &node_id);
        }
    };
    let mut media = Vec::with_capacity(checked.len());
    for (slot, bytes, i) in checked {
        let id = MediaId::generate();
        let display = without_metadata(bytes, i.media_type);
        if let Err(e) = state
            .media
            .put(&key, session_id, id, bytes.clone(), display)
            .await
        {
            tracing::warn!(error = %e, "the person's files could not be stored");
            discard(&state, session_id, &media).await;
            return back(&token, lang, Some(Notice::MediaUnavailable), &node_id);
        }
        media.push(NewMedia {
            id,
            node_id: node_id.clone(),
            slot,
            media_type: i.media_type,
            bytes: bytes.len() as i64,
            width: i64::from(i.width),
            height: i64::from(i.height),
            sha256: hex::encode(Sha256::digest(bytes)),
        });
    }
    let submission = Submission {
        node_id: node_id.clone(),
        id: submission,
        media: media.clone(),
        fields,
    };
    let written = modify(
        &*state.store,
        bundle.session.app_id,
        session_id,
        None,
        move |s| {
            Ok((
                Some(submit(s, submission, &checking, crate::clock::now())?),
                (),
            ))
        },
    )
    .await;
    match written {
        Ok(_) => back_to(&token, lang, Some(Notice::Submitted), &node_id, true),
        Err(f) => {
            discard(&state, session_id, &media).await;
            let notice = match f {
                Failure::Rejected(Rejection::Stale | Rejection::NotFound) => Notice::Stale,
                // The form's job exists already: the same form sent twice.
                Failure::Store(vouch_store::StoreError::VersionConflict) => Notice::Stale,
                Failure::Rejected(r) => {
                    tracing::warn!(rejection = ?r, "a capture was refused");
                    Notice::Stale
                }
                Failure::Store(e) => {
                    tracing::warn!(error = %e, "a capture could not be recorded");
                    Notice::MediaUnavailable
                }
            };
            back(&token, lang, Some(notice), &node_id)
        }
    }
}

/// Files stored for a submission that was not recorded.
async fn discard(state: &AppState, session_id: vouch_core::SessionId, media: &[NewMedia]) {
    for m in media {
        state.media.discard(session_id, m.id).await;
    }
}

/// One file input of a capture form.
pub struct FileField {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub accept: String,
    /// `capture`: the back camera for documents, the front one for faces.
    pub camera: &'static str,
    pub required: bool,
}

/// A capture step's form, as the page shows it.
pub struct CaptureForm {
    pub action: String,
    /// The form's id, sent back so that the same form sent twice is refused.
    pub submission: EngineJobId,
    /// The document types offered (code, name); one alone is sent without a choice.
    pub document_types: Vec<(&'static str, &'static str)>,
    /// The issuing countries offered; one alone is sent without a choice, none asks nothing.
    pub countries: Vec<String>,
    pub files: Vec<FileField>,
}

pub fn form(
    t: &super::lang::Text,
    feature: Feature,
    config: &Map<String, Value>,
    expected: &Value,
    action: String,
) -> Option<CaptureForm> {
    let c = &t.c;
    let files = slots(feature)
        .iter()
        .enumerate()
        .map(|(i, (slot, types))| {
            let (label, hint, camera) = match slot {
                Slot::Front => (c.front_label, c.file_hint, "environment"),
                Slot::Back => (c.back_label, c.back_hint, "environment"),
                Slot::Selfie => (c.selfie_label, c.selfie_hint, "user"),
                Slot::Document => (c.poa_label, c.poa_hint, "environment"),
            };
            FileField {
                name: slot.as_str(),
                label,
                hint,
                accept: MediaType::accept(types),
                camera,
                required: i == 0,
            }
        })
        .collect::<Vec<_>>();
    if files.is_empty() {
        return None;
    }
    let document_types = if feature == Feature::Ocr {
        document_types(config)
            .into_iter()
            .map(|code| (code, c.document(code)))
            .collect()
    } else {
        Vec::new()
    };
    let countries = if feature == Feature::Ocr {
        countries(config, expected)
    } else {
        Vec::new()
    };
    Some(CaptureForm {
        action,
        submission: EngineJobId::random(),
        document_types,
        countries,
        files,
    })
}
