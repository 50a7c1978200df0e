//! `PATCH /v3/session/{id}/update-status/` (§4.6): the core decides inside the write.

use std::sync::Arc;
use vouch_core::{AppId, SessionId};

use chrono::Duration;
use serde_json::Value;
use vouch_core::attempt::ActorType;
use vouch_core::email_plan::Mailing;
use vouch_core::update_status::{change, Reviewer};
use vouch_core::Rejection;
use vouch_store::Store;

use super::{fresh, modify, Failure};

pub struct UpdateStatus {
    pub app_id: AppId,
    pub session_id: SessionId,
    /// The body as read; `Err` when it is not JSON (judged after the current status).
    pub body: Result<Value, Rejection>,
    /// `API_KEY` through the API, `CONSOLE_USER` through the console.
    pub actor_type: ActorType,
    pub actor_display: String,
    /// The session version the decision was taken on (the console's page); another one is
    /// `Stale`, nothing written.
    pub expected_version: Option<i64>,
    pub public_url: String,
    pub link_ttl: Duration,
    /// Send emails for sandbox applications too.
    pub send_in_sandbox: bool,
    /// Checks a quoted `email_preview_token` against the email the change would send.
    pub preview_key: Arc<Vec<u8>>,
}

/// Applies the request; `Ok` means answer `200 {"session_id"}` (a same-status no-op included).
pub async fn update_status(store: &dyn Store, u: UpdateStatus) -> Result<(), Failure> {
    let (app_id, session_id) = (u.app_id, u.session_id);
    let done = modify(store, app_id, session_id, None, move |b| {
        if u.expected_version.is_some_and(|v| v != b.session.version) {
            return Err(Rejection::Stale);
        }
        let who = Reviewer {
            actor_type: u.actor_type,
            actor_display: &u.actor_display,
            mailing: Mailing {
                public_url: &u.public_url,
                send_in_sandbox: u.send_in_sandbox,
            },
            link_ttl: u.link_ttl,
            preview_key: &u.preview_key,
        };
        Ok((change(b, u.body.as_ref(), &who, crate::clock::now())?, ()))
    })
    .await?;
    fresh(done)
}
