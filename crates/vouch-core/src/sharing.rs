//! Reusable KYC: a finished session shared with another application (`POST …/share/`) as a
//! short-lived signed token bound to that application, and imported there once
//! (`POST /v3/session/import-shared/`) as a fresh session carrying the same step results.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use crate::attempt::{ActorType, Attempt};
use crate::change::{NewEvent, SessionChange, SessionState};
use crate::errors::{FieldErrors, Rejection};
use crate::feature::WorkflowKind;
use crate::ids::{AppId, SessionId};
use crate::review::{ActivityType, NewReview};
use crate::steps::Actor;
use crate::workflow::WorkflowSpec;
use crate::SessionStatus;

/// Bounds and default of `ttl_in_seconds`.
pub const TTL_SECONDS: std::ops::RangeInclusive<i64> = 60..=86_400;
pub const DEFAULT_TTL_SECONDS: i64 = 3600;

/// What a share token says (a JWT's claims, signed HS256 with the server's sharing key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareClaims {
    /// The share's own id: a token is redeemed once.
    pub jti: Uuid,
    pub session_id: SessionId,
    pub session_kind: WorkflowKind,
    pub from_application_id: AppId,
    pub for_application_id: AppId,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of this server (malformed, or a signature that does not match).
    Invalid,
    Expired,
    /// Made for another application than the one redeeming it.
    WrongApplication,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], signing_input: &str) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    m.update(signing_input.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The token for `claims`, signed with `key`.
pub fn sign(claims: &ShareClaims, key: &[u8]) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let input = format!("{header}.{payload}");
    let sig = B64.encode(mac(key, &input));
    format!("{input}.{sig}")
}

/// The claims of `token` if it is this server's, unexpired at `now`, and made for `redeemer`.
pub fn verify(
    token: &str,
    key: &[u8],
    redeemer: AppId,
    now: DateTime<Utc>,
) -> Result<ShareClaims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    let sig = B64.decode(s).map_err(|_| TokenError::Invalid)?;
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    m.update(format!("{h}.{p}").as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
    let claims: ShareClaims = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Invalid)?;
    if claims.exp <= now.timestamp() {
        return Err(TokenError::Expired);
    }
    if claims.for_application_id != redeemer {
        return Err(TokenError::WrongApplication);
    }
    Ok(claims)
}

/// Statuses a session may be shared in.
pub fn shareable(status: SessionStatus) -> bool {
    matches!(
        status,
        SessionStatus::Approved | SessionStatus::Declined | SessionStatus::InReview
    )
}

/// The source's trail row for a share just made (or, with `imported`, redeemed).
pub fn share_recorded(
    b: &SessionState,
    claims: &ShareClaims,
    imported: Option<SessionId>,
    who: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<SessionChange, Rejection> {
    if imported.is_none() && !shareable(b.session.status) {
        return Err(FieldErrors::single(
            "non_field_errors",
            "Only finished sessions (Approved, Declined or In Review) can be shared.",
        )
        .into());
    }
    let mut change = SessionChange::for_session(&b.session, now);
    change.reviews.push(NewReview {
        uuid: Uuid::now_v7(),
        activity_type: ActivityType::Share,
        actor_type: who.actor_type,
        actor_display: who.display.to_string(),
        previous_status: Some(b.session.status),
        new_status: Some(b.session.status),
        comment: None,
        metadata: json!({
            "action": if imported.is_some() { "imported" } else { "shared" },
            "share_id": claims.jti,
            "for_application_id": claims.for_application_id,
            "expires_at": crate::time::wire(DateTime::from_timestamp(claims.exp, 0).unwrap_or(now)),
            "imported_session_id": imported,
        }),
        created_at: now,
    });
    Ok(change)
}

/// What the receiving side is given of the shared session.
#[derive(Debug, Clone)]
pub struct Shared {
    pub claims: ShareClaims,
    pub status: SessionStatus,
    pub workflow: WorkflowSpec,
    pub attempts: Vec<Attempt>,
    /// Keep the source's decision rather than send the copy to review.
    pub trust_review: bool,
}

/// The imported session's first change: each step's latest result copied onto the receiving
/// workflow's step of the same feature (the n-th of a feature onto the n-th), and the status
/// `In Review` (or the source's, with `trust_review`), with its trail row and event.
pub fn import_into(
    b: &SessionState,
    shared: &Shared,
    now: DateTime<Utc>,
) -> Result<SessionChange, Rejection> {
    let target = &b.workflow.spec;
    if target.kind != shared.claims.session_kind {
        return Err(FieldErrors::single(
            "workflow_id",
            format!(
                "A {} session cannot be imported on a {} workflow.",
                shared.claims.session_kind.as_str(),
                target.kind.as_str()
            ),
        )
        .into());
    }
    let mut seq = b.attempts.iter().map(|a| a.seq).max().unwrap_or(0);
    let mut copied = Vec::new();
    let mut used = Vec::new();
    for node in &shared.workflow.nodes {
        let Some(latest) = shared
            .attempts
            .iter()
            .filter(|a| a.node_id == node.node_id)
            .max_by_key(|a| a.seq)
        else {
            continue;
        };
        let Some(onto) = target
            .nodes
            .iter()
            .find(|n| n.feature == node.feature && !used.contains(&n.node_id))
        else {
            continue;
        };
        used.push(onto.node_id.clone());
        seq += 1;
        copied.push(Attempt {
            id: Uuid::now_v7(),
            session_id: b.session.id,
            seq,
            node_id: onto.node_id.clone(),
            feature: onto.feature,
            status: latest.status,
            data: latest.data.clone(),
            warnings: latest.warnings.clone(),
            actor_type: ActorType::System,
            created_at: now,
        });
    }
    let to = if shared.trust_review {
        shared.status
    } else {
        SessionStatus::InReview
    };
    let from = b.session.status;
    let (country, full_name) = copied
        .iter()
        .find(|a| a.feature == crate::Feature::Ocr)
        .map_or((None, None), |a| {
            crate::steps::ocr_denormalized(a.feature, &a.data)
        });
    let mut change = SessionChange {
        status: Some(to),
        attempts: copied,
        country,
        full_name,
        ..SessionChange::for_session(&b.session, now)
    };
    change.reviews.push(NewReview {
        uuid: Uuid::now_v7(),
        activity_type: ActivityType::Import,
        actor_type: ActorType::System,
        actor_display: "vouch".into(),
        previous_status: Some(from),
        new_status: Some(to),
        comment: None,
        metadata: json!({
            "share_id": shared.claims.jti,
            "from_application_id": shared.claims.from_application_id,
            "from_session_id": shared.claims.session_id,
            "source_status": shared.status,
            "trust_review": shared.trust_review,
            "steps": used,
        }),
        created_at: now,
    });
    change.events.push(NewEvent::status_updated(from, to));
    let attempts: Vec<Attempt> = b
        .attempts
        .iter()
        .cloned()
        .chain(change.attempts.iter().cloned())
        .collect();
    change.set_kyc_expiry(to, target, &attempts, now);
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: DateTime<Utc>) -> ShareClaims {
        ShareClaims {
            jti: Uuid::new_v4(),
            session_id: SessionId::random(),
            session_kind: WorkflowKind::User,
            from_application_id: AppId::random(),
            for_application_id: AppId::random(),
            iat: now.timestamp(),
            exp: now.timestamp() + 3600,
        }
    }

    #[test]
    fn tokens_verify_only_unaltered_unexpired_and_for_their_application() {
        let now = Utc::now();
        let c = claims(now);
        let key = b"the server's sharing key";
        let token = sign(&c, key);
        assert!(token.starts_with("eyJ"), "a JWT: {token}");
        assert_eq!(
            verify(&token, key, c.for_application_id, now),
            Ok(c.clone())
        );
        assert_eq!(
            verify(&token, b"another key", c.for_application_id, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(&token, key, AppId::random(), now),
            Err(TokenError::WrongApplication)
        );
        let later = now + chrono::Duration::seconds(3601);
        assert_eq!(
            verify(&token, key, c.for_application_id, later),
            Err(TokenError::Expired)
        );
        // A payload changed after signing (here: another receiver) no longer verifies.
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut forged = c.clone();
        forged.for_application_id = AppId::random();
        let payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        parts[1] = &payload;
        assert_eq!(
            verify(&parts.join("."), key, forged.for_application_id, now),
            Err(TokenError::Invalid)
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.??.**"] {
            assert_eq!(
                verify(junk, key, c.for_application_id, now),
                Err(TokenError::Invalid)
            );
        }
    }
}
