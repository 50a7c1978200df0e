//! Pieces every status change writes: the review row, the `status.updated` event, the KYC
//! expiry of an approval.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::attempt::Attempt;
use vouch_core::lifecycle::kyc_expires_at;
use vouch_core::review::NewReview;
use vouch_core::workflow::WorkflowSpec;
use vouch_core::SessionStatus;
use vouch_store::{NewEvent, SessionChange};

pub fn status_event(from: SessionStatus, to: SessionStatus) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "status.updated".into(),
        status: to,
        previous_status: Some(from),
    }
}

/// A `data.updated` event: the session's data changed outside the flow (a result recorded on a
/// session that already has a decision keeps the status but changes the decision object).
pub fn push_data_updated_if_decided(
    change: &mut SessionChange,
    status: SessionStatus,
    moved: bool,
) {
    let in_flow = matches!(
        status,
        SessionStatus::NotStarted | SessionStatus::InProgress | SessionStatus::Resubmitted
    );
    if !moved && !in_flow {
        change.events.push(NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "data.updated".into(),
            status,
            previous_status: Some(status),
        });
    }
}

/// Adds an automatic change from `from` to `to`: a SYSTEM review row and its event.
pub fn push_system_transition(
    change: &mut SessionChange,
    from: SessionStatus,
    to: SessionStatus,
    now: DateTime<Utc>,
) {
    change.reviews.push(NewReview::system_status_change(
        Uuid::now_v7(),
        from,
        to,
        now,
    ));
    change.events.push(status_event(from, to));
}

/// Sets or clears the KYC expiry to match the session's final status.
pub fn set_kyc_expiry(
    change: &mut SessionChange,
    to: SessionStatus,
    workflow: &WorkflowSpec,
    attempts: &[Attempt],
    now: DateTime<Utc>,
) {
    change.kyc_expires_at = Some(if to == SessionStatus::Approved {
        kyc_expires_at(workflow, attempts, now)
    } else {
        None
    });
}
