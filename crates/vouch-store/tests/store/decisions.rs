//! The one write path with the core's own decisions: `modify_session` runs a core function on
//! the state it loaded inside the write transaction and writes what it returns (or nothing).
#![allow(unused_imports)]
use crate::fixtures::*;
use vouch_core::email_plan::Mailing;
use vouch_core::lifecycle::transition;
use vouch_core::steps::{add_note, override_step, record_attempt, Actor, NewResult, Note};
use vouch_core::update_status::{change as status_change, Reviewer};
use vouch_core::Rejection;
use vouch_core::SessionId;
use vouch_store::{EventType, SessionState};

const MAILING: Mailing<'static> = Mailing {
    public_url: "https://verify.example.com",
    send_in_sandbox: false,
};

fn reviewer() -> Reviewer<'static> {
    Reviewer {
        actor_type: ActorType::ApiKey,
        actor_display: "key ...abcd",
        mailing: MAILING,
        link_ttl: chrono::Duration::days(7),
        preview_key: b"",
    }
}

const WHO: Actor<'static> = Actor {
    actor_type: ActorType::ApiKey,
    display: "key ...abcd",
};

fn ocr_result(status: AttemptStatus) -> NewResult {
    NewResult {
        node_id: "feature_ocr_1".into(),
        status,
        data: json!({"issuing_state": "esp", "first_name": "Ana", "last_name": "Gil"}),
        warnings: json!([]),
        actor: ActorType::ApiKey,
    }
}

async fn decide(
    s: &Arc<dyn Store>,
    sess: &Session,
    f: impl FnOnce(&SessionState) -> Result<Option<SessionChange>, Rejection> + Send + 'static,
) -> Modified {
    s.modify_session(sess.app_id, sess.id, Box::new(f), None)
        .await
        .expect("the store answers")
}

/// What a session has written: version, review rows, events, email jobs.
async fn written(s: &Arc<dyn Store>, sess: &Session) -> (i64, usize, usize, usize) {
    (
        session(s, sess).await.version,
        s.reviews(sess.id).await.unwrap().len(),
        s.outbox_events(sess.id).await.unwrap().len(),
        s.email_jobs(sess.id).await.unwrap().len(),
    )
}

pub(crate) async fn core_decisions_are_written_whole(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;

    // An engine's result: the attempt, the automatic moves it causes and the OCR values.
    let m = decide(s, &sess, |b| {
        record_attempt(
            b,
            &ocr_result(AttemptStatus::Approved),
            Uuid::now_v7(),
            Utc::now(),
        )
        .map(Some)
    })
    .await;
    assert_eq!(m, Modified::Applied);
    let b = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(b.attempts.len(), 1);
    assert_eq!(b.session.status, SessionStatus::Approved);
    let moves: Vec<_> = b
        .reviews
        .iter()
        .map(|r| (r.actor_type, r.previous_status, r.new_status))
        .collect();
    assert_eq!(
        moves,
        [
            (
                ActorType::System,
                Some(SessionStatus::NotStarted),
                Some(SessionStatus::InProgress)
            ),
            (
                ActorType::System,
                Some(SessionStatus::InProgress),
                Some(SessionStatus::Approved)
            ),
        ]
    );
    let listed = s
        .list_sessions(
            app.id,
            &SessionFilter {
                country: Some("ESP".into()),
                ..Default::default()
            },
            all_page(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed.1, 1,
        "the OCR country was stored for the list filter"
    );

    // A reviewer's decline with an email: status, review row, event and email job together.
    let m = decide(s, &sess, |b| {
        status_change(
            b,
            Ok(&json!({"new_status": "Declined", "comment": "blurred",
                      "send_email": true, "email_address": "ana@example.com"})),
            &reviewer(),
            Utc::now(),
        )
    })
    .await;
    assert_eq!(m, Modified::Applied);
    let reviews = s.reviews(sess.id).await.unwrap();
    let last = reviews.last().unwrap();
    assert_eq!(last.actor_type, ActorType::ApiKey);
    assert_eq!(last.new_status, Some(SessionStatus::Declined));
    assert_eq!(last.comment.as_deref(), Some("blurred"));
    let events = s.outbox_events(sess.id).await.unwrap();
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e.event_type, e.previous_status, e.status))
        .collect();
    assert_eq!(
        kinds.last(),
        Some(&(
            EventType::StatusUpdated,
            Some(SessionStatus::Approved),
            SessionStatus::Declined
        ))
    );
    let jobs = s.email_jobs(sess.id).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].recipient.as_deref(), Some("ana@example.com"));
    assert_eq!(
        jobs[0].review_uuid, last.uuid,
        "the email belongs to its row"
    );
    assert_eq!(session(s, &sess).await.status, SessionStatus::Declined);
    let (checked, broken) = s.verify_reviews(Some(sess.id)).await.unwrap();
    assert_eq!((checked, broken.len()), (1, 0), "the chain verifies");

    // The same status again is a no-op: nothing is written.
    let before = written(s, &sess).await;
    let m = decide(s, &sess, |b| {
        status_change(
            b,
            Ok(&json!({"new_status": "Declined"})),
            &reviewer(),
            Utc::now(),
        )
    })
    .await;
    assert_eq!(m, Modified::Unchanged);
    assert_eq!(written(s, &sess).await, before);
}

pub(crate) async fn core_rejections_write_nothing(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR", "LIVENESS"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;
    let before = written(s, &sess).await;

    // Not under review: the current status is checked before the body, even a malformed one.
    let m = decide(s, &sess, |b| {
        let bad = Rejection::Malformed("JSON parse error".into());
        status_change(b, Err(&bad), &reviewer(), Utc::now())
    })
    .await;
    assert_eq!(m, Modified::Rejected(Rejection::WrongCurrentStatus));

    // A node outside the workflow.
    let m = decide(s, &sess, |b| {
        let r = NewResult {
            node_id: "feature_nfc_9".into(),
            ..ocr_result(AttemptStatus::Approved)
        };
        record_attempt(b, &r, Uuid::now_v7(), Utc::now()).map(Some)
    })
    .await;
    assert!(
        matches!(m, Modified::Rejected(Rejection::Fields(_))),
        "{m:?}"
    );

    // A step override of a step that does not exist, and a note without a comment.
    let m = decide(s, &sess, |b| {
        let o = Ok(vouch_core::steps::StepOverride {
            new_status: AttemptStatus::Declined,
            comment: None,
        });
        override_step(b, "feature_nfc_9", o, WHO, Utc::now()).map(|(c, _)| Some(c))
    })
    .await;
    assert_eq!(m, Modified::Rejected(Rejection::NotFound));
    let m = decide(s, &sess, |b| {
        let note = vouch_core::steps::parse_note(&json!({"comment": " "}));
        add_note(b, note, Uuid::now_v7(), WHO, Utc::now()).map(Some)
    })
    .await;
    assert!(
        matches!(m, Modified::Rejected(Rejection::Fields(_))),
        "{m:?}"
    );

    assert_eq!(
        written(s, &sess).await,
        before,
        "no rejection wrote anything"
    );
    let gone = s
        .modify_session(app.id, SessionId::random(), Box::new(|_| Ok(None)), None)
        .await
        .unwrap();
    assert_eq!(gone, Modified::NotFound);
}

pub(crate) async fn concurrent_decisions_each_see_the_previous_one(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;
    let m = decide(s, &sess, |b| {
        record_attempt(
            b,
            &ocr_result(AttemptStatus::Declined),
            Uuid::now_v7(),
            Utc::now(),
        )
        .map(Some)
    })
    .await;
    assert_eq!(m, Modified::Applied);
    let start = written(s, &sess).await;

    // Each flip reads the status the previous one wrote; notes land between them.
    const N: usize = 24;
    let mut set = JoinSet::new();
    for i in 0..N {
        let st = s.clone();
        let target = sess.clone();
        set.spawn(async move {
            decide(&st, &target, move |b| {
                if i % 3 == 0 {
                    let note = Ok(Note {
                        comment: Some(format!("note {i}")),
                        new_status: None,
                    });
                    return add_note(b, note, Uuid::now_v7(), WHO, Utc::now()).map(Some);
                }
                let to = if b.session.status == SessionStatus::Approved {
                    "Declined"
                } else {
                    "Approved"
                };
                status_change(b, Ok(&json!({ "new_status": to })), &reviewer(), Utc::now())
            })
            .await
        });
    }
    for m in set.join_all().await {
        assert_eq!(m, Modified::Applied);
    }
    let (version, reviews, events, _) = written(s, &sess).await;
    assert_eq!(
        version,
        start.0 + N as i64,
        "every decision wrote one version"
    );
    assert_eq!(reviews, start.1 + N);
    assert_eq!(events, start.2 + N - N / 3, "one event per status change");
    let rows = s.reviews(sess.id).await.unwrap();
    let moves: Vec<_> = rows
        .iter()
        .filter(|r| r.new_status != r.previous_status && r.new_status.is_some())
        .collect();
    for pair in moves.windows(2) {
        assert_eq!(
            pair[1].previous_status, pair[0].new_status,
            "each change started from the status the one before it wrote"
        );
    }
    let (_, broken) = s.verify_reviews(Some(sess.id)).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
}

pub(crate) async fn lifecycle_moves_are_decided_again_in_the_transaction(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;
    let scanned = sess.version;

    // The session changed after the scan: the move is dropped, nothing is written.
    let m = decide(s, &sess, |b| {
        let note = Ok(Note {
            comment: Some("called the customer".into()),
            new_status: None,
        });
        add_note(b, note, Uuid::now_v7(), WHO, Utc::now()).map(Some)
    })
    .await;
    assert_eq!(m, Modified::Applied);
    let before = written(s, &sess).await;
    let m = decide(s, &sess, move |b| {
        Ok(transition(b, scanned, SessionStatus::Expired, Utc::now()))
    })
    .await;
    assert_eq!(m, Modified::Unchanged);
    assert_eq!(written(s, &sess).await, before);

    // Scanned at the current version: a SYSTEM row and its event.
    let current = session(s, &sess).await.version;
    let m = decide(s, &sess, move |b| {
        Ok(transition(b, current, SessionStatus::Expired, Utc::now()))
    })
    .await;
    assert_eq!(m, Modified::Applied);
    assert_eq!(session(s, &sess).await.status, SessionStatus::Expired);
    let last = s.reviews(sess.id).await.unwrap().pop().unwrap();
    assert_eq!(last.actor_type, ActorType::System);
    assert_eq!(last.new_status, Some(SessionStatus::Expired));
    let e = s.outbox_events(sess.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (e.event_type, e.previous_status, e.status),
        (
            EventType::StatusUpdated,
            Some(SessionStatus::NotStarted),
            SessionStatus::Expired
        )
    );
}
