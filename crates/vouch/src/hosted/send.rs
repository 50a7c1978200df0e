//! Sending a step's one-time code: checking the address, the limits of `vouch_core::otp`,
//! storing the code's hash, and the email (SMTP mailer) or text message (the signed gateway
//! `POST`).

use std::collections::HashMap;

use axum::http::header;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::json;
use sha2::Sha256;
use vouch_core::otp::{self, Challenge, SendRefused};
use vouch_store::SessionBundle;

use super::codes::{code_key, phone_e164, Channel, Notice};
use super::lang::{self, Phrase, Text};
use crate::mail::smtp;
use crate::state::AppState;

/// What asking for a code did.
pub(super) enum Sent {
    Notice(Notice),
    /// A sandbox test number decided the step at once (`silent_match`, `blocked`, …).
    Decided {
        approved: bool,
        destination: String,
        outcome: &'static str,
    },
}

impl From<Notice> for Sent {
    fn from(n: Notice) -> Self {
        Sent::Notice(n)
    }
}

/// In a sandbox application the code is known in advance and nothing needs to be delivered:
/// `000000` for email (still emailed when SMTP is configured) and for phone numbers not
/// registered; a registered test number plays its outcome. `Ok(None)`: not a sandbox session.
async fn sandbox_code(
    state: &AppState,
    bundle: &SessionBundle,
    channel: Channel,
    address: &str,
) -> Result<Option<(Option<String>, bool)>, Sent> {
    use vouch_core::sandbox::{PhoneOutcome, PhonePlay, SANDBOX_CODE};
    if bundle.environment != vouch_core::session::Environment::Sandbox {
        return Ok(None);
    }
    if channel == Channel::Email {
        return Ok(Some((Some(SANDBOX_CODE.to_string()), false)));
    }
    let registered = state
        .store
        .sandbox_phone(bundle.session.app_id, address.to_string())
        .await
        .map_err(|_| Sent::Notice(Notice::CodeSendFailed))?;
    let Some((outcome, code)) = registered else {
        return Ok(Some((Some(SANDBOX_CODE.to_string()), false)));
    };
    let Some(outcome) = PhoneOutcome::parse(&outcome) else {
        return Ok(Some((Some(SANDBOX_CODE.to_string()), false)));
    };
    match outcome.play(code.as_deref()) {
        PhonePlay::Code { code, expired } => Ok(Some((code, expired))),
        PhonePlay::Decided { approved } => Err(Sent::Decided {
            approved,
            destination: address.to_string(),
            outcome: outcome.as_str(),
        }),
    }
}

pub(super) async fn send_code(
    state: &AppState,
    bundle: &SessionBundle,
    channel: Channel,
    node_id: &str,
    form: &HashMap<String, String>,
    lang: Option<&str>,
) -> Sent {
    let s = &bundle.session;
    let address = match channel {
        Channel::Email => {
            let a = form.get("email").map(|e| e.trim()).unwrap_or("");
            if a.len() > 254 || !vouch_core::contact::is_valid_email(a) {
                return Notice::EmailInvalid.into();
            }
            a.to_string()
        }
        Channel::Sms => match phone_e164(form.get("phone").map(String::as_str).unwrap_or("")) {
            Some(p) => p,
            None => return Notice::PhoneInvalid.into(),
        },
    };
    let address = address.as_str();
    let sandbox = match sandbox_code(state, bundle, channel, address).await {
        Ok(s) => s,
        Err(sent) => return sent,
    };
    let transport = match channel {
        Channel::Email => match smtp::transport(&state.config) {
            Ok(Some(t)) => Some(t),
            // A sandbox code is known in advance: nothing has to reach the person.
            Ok(None) if sandbox.is_some() => None,
            Ok(None) => return Notice::EmailUnavailable.into(),
            Err(e) => {
                tracing::warn!(error = %e, "the person's page cannot build the SMTP transport");
                return Notice::EmailUnavailable.into();
            }
        },
        Channel::Sms if sandbox.is_some() => None,
        Channel::Sms if state.config.sms.gateway_url.is_none() => {
            return Notice::SmsUnavailable.into()
        }
        Channel::Sms => None,
    };
    let now = crate::clock::now();
    let existing = match state.store.person_code(s.id, node_id).await {
        Ok(c) => c,
        Err(_) => return Notice::CodeSendFailed.into(),
    };
    let sends = match otp::may_send(existing.as_ref(), now) {
        Ok(n) => n,
        Err(SendRefused::Wait(_)) => return Notice::CodeWait.into(),
        Err(SendRefused::NoMoreSends) => return Notice::CodeNoMoreSends.into(),
    };
    let (code, code_hash, sent_at) = match &sandbox {
        None => {
            let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
            let hash = otp::hash(&code_key(state), s.id, node_id, &code);
            (code, hash, now)
        }
        Some((fixed, expired)) => {
            let hash = match fixed {
                Some(c) => otp::hash(&code_key(state), s.id, node_id, c),
                None => otp::ANY_CODE.to_string(),
            };
            // An `expired` test number's code is past its time when it is checked.
            let at = if *expired {
                now - otp::valid_for() - chrono::Duration::seconds(1)
            } else {
                now
            };
            (fixed.clone().unwrap_or_default(), hash, at)
        }
    };
    let challenge = Challenge {
        session_id: s.id,
        node_id: node_id.to_string(),
        destination: address.to_string(),
        code_hash,
        sent_at,
        tries: 0,
        sends,
    };
    let sends_before = existing.as_ref().map_or(0, |c| c.sends);
    match state.store.put_person_code(challenge, sends_before).await {
        Ok(true) => {}
        Ok(false) => return Notice::CodeWait.into(),
        Err(_) => return Notice::CodeSendFailed.into(),
    }
    let t = lang::choose(lang, s.language.as_deref(), None);
    let brand = bundle.app_name.as_str();
    let Some(transport) = transport else {
        if sandbox.is_some() {
            // Simulated: the sandbox's codes are documented, nothing is delivered.
            return Notice::CodeSent.into();
        }
        return send_sms(state, bundle, t, node_id, address, &code)
            .await
            .into();
    };
    let text = Phrase::fill(t.code_body, brand)
        .text()
        .replace("{code}", &code);
    let rendered = smtp::Rendered {
        subject: Phrase::fill(t.code_subject, brand).text(),
        html: format!(
            "<!doctype html><html lang=\"{}\" dir=\"{}\"><body><p>{}</p></body></html>",
            t.code,
            t.dir.as_str(),
            vouch_core::email::escape_html(&text)
        ),
        text,
        language: t.code.to_string(),
        from_name: bundle.email_sender_name.clone(),
    };
    let from = match smtp::sender(&state.config) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "the person's page has no sender address");
            return Notice::EmailUnavailable.into();
        }
    };
    let message_id = format!("<code-{}@vouch>", uuid::Uuid::now_v7());
    let message = match smtp::message(&from, address, &message_id, &rendered) {
        Ok(m) => m,
        Err(_) => return Notice::EmailInvalid.into(),
    };
    use lettre::AsyncTransport;
    match transport.send(message).await {
        Ok(_) => Notice::CodeSent.into(),
        Err(e) => {
            tracing::warn!(error = %e, "sending a one-time code failed");
            Notice::CodeSendFailed.into()
        }
    }
}

/// The code as a text message through the gateway: a signed JSON `POST`, like a webhook.
async fn send_sms(
    state: &AppState,
    bundle: &SessionBundle,
    t: &Text,
    node_id: &str,
    to: &str,
    code: &str,
) -> Notice {
    let Some(url) = &state.config.sms.gateway_url else {
        return Notice::SmsUnavailable;
    };
    let secret = match state.config.sms.signing_secret() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "the SMS gateway's secret cannot be read");
            return Notice::SmsUnavailable;
        }
    };
    let message = Phrase::fill(t.sms_body, &bundle.app_name)
        .text()
        .replace("{code}", code);
    let body = json!({
        "to": to,
        "message": message,
        "code": code,
        "language": t.code,
        "session_id": bundle.session.id,
        "node_id": node_id,
    })
    .to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let client = match reqwest::Client::builder()
        .timeout(state.config.sms.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(_) => return Notice::CodeSendFailed,
    };
    let sent = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-signature", signature)
        .header("x-timestamp", crate::clock::now().timestamp().to_string())
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Notice::CodeSent,
        Ok(r) => {
            tracing::warn!(
                status = r.status().as_u16(),
                "the SMS gateway refused a code"
            );
            Notice::CodeSendFailed
        }
        Err(e) => {
            tracing::warn!(error = %e, "the SMS gateway could not be reached");
            Notice::CodeSendFailed
        }
    }
}
