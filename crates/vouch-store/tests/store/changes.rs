#![allow(unused_imports)]
use crate::catalog::*;
use crate::fixtures::*;
use crate::idempotency::*;
use crate::sessions::*;
use vouch_core::SessionId;

// --- 5. apply_session_change -------------------------------------------------------------------

pub(crate) async fn stale_changes_write_nothing_and_current_ones_write_everything(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;

    let stale = SessionChange {
        status: Some(SessionStatus::Approved),
        full_name: Some("Ann Smith".into()),
        attempts: vec![attempt(sess.id, 1, t(11))],
        reviews: vec![review(
            SessionStatus::NotStarted,
            SessionStatus::Approved,
            None,
            t(11),
        )],
        events: vec![event(
            SessionStatus::Approved,
            Some(SessionStatus::NotStarted),
        )],
        ..change(&sess, sess.version + 6, t(11))
    };
    let err = apply(s, stale, None).await;
    assert!(matches!(err, Err(StoreError::VersionConflict)), "{err:?}");

    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(bundle.session, sess, "the session is untouched");
    assert!(bundle.attempts.is_empty());
    assert!(bundle.reviews.is_empty());
    assert!(s.reviews(sess.id).await.unwrap().is_empty());
    assert!(s.outbox_events(sess.id).await.unwrap().is_empty());

    // A current change writes the session, attempts, the chained trail and the events.
    let a1 = attempt(sess.id, 1, t(20));
    let e1 = event(SessionStatus::InProgress, Some(SessionStatus::NotStarted));
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::InProgress),
            country: Some("DE".into()),
            full_name: Some("Ann Smith".into()),
            attempts: vec![a1.clone()],
            reviews: vec![
                review(
                    SessionStatus::NotStarted,
                    SessionStatus::InProgress,
                    None,
                    t(20),
                ),
                review(
                    SessionStatus::InProgress,
                    SessionStatus::InProgress,
                    Some("looks ok"),
                    t(20),
                ),
            ],
            events: vec![e1.clone()],
            ..change(&sess, sess.version, t(20))
        },
        None,
    )
    .await
    .unwrap();

    let mid = session(s, &sess).await;
    assert_eq!(mid.status, SessionStatus::InProgress);
    assert_eq!(mid.version, sess.version + 1);
    assert_eq!(mid.updated_at, t(20));

    // Reusing the version just consumed is now stale.
    let again = apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Declined),
            ..change(&sess, sess.version, t(21))
        },
        None,
    )
    .await;
    assert!(
        matches!(again, Err(StoreError::VersionConflict)),
        "{again:?}"
    );

    let a2 = attempt(sess.id, 2, t(30));
    let e2 = event(SessionStatus::Approved, Some(SessionStatus::InProgress));
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Approved),
            attempts: vec![a2.clone()],
            reviews: vec![review(
                SessionStatus::InProgress,
                SessionStatus::Approved,
                None,
                t(30),
            )],
            events: vec![e2.clone()],
            ..change(&mid, mid.version, t(30))
        },
        None,
    )
    .await
    .unwrap();

    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(bundle.session.status, SessionStatus::Approved);
    assert_eq!(bundle.session.version, sess.version + 2);
    assert_eq!(bundle.attempts, vec![a1, a2]);
    let reviews = &bundle.reviews;
    assert_eq!(
        reviews.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(reviews[0].prev_hash, GENESIS_HASH);
    for w in reviews.windows(2) {
        assert_eq!(
            w[1].prev_hash, w[0].hash,
            "row {} links to row {}",
            w[1].seq, w[0].seq
        );
    }
    assert_eq!(reviews[1].comment.as_deref(), Some("looks ok"));
    assert_eq!(reviews, &s.reviews(sess.id).await.unwrap());
    assert_eq!(s.verify_reviews(Some(sess.id)).await.unwrap(), (1, vec![]));
    assert_eq!(s.verify_reviews(None).await.unwrap(), (1, vec![]));

    let events = s.outbox_events(sess.id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.event_id, e.status, e.previous_status, e.dropped))
            .collect::<Vec<_>>(),
        vec![
            (e1.event_id, e1.status, e1.previous_status, false),
            (e2.event_id, e2.status, e2.previous_status, false)
        ]
    );
    assert!(events[0].seq < events[1].seq);
    assert!(events.iter().all(|e| e.app_id == app.id
        && e.session_id == sess.id
        && e.session_kind == WorkflowKind::User));

    // A change that fails half-way (an attempt seq already taken) is rolled back whole: the
    // session's status and version stay as they were.
    let before = session(s, &sess).await;
    let half = apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Declined),
            attempts: vec![attempt(sess.id, 3, t(40)), attempt(sess.id, 1, t(40))],
            reviews: vec![],
            events: vec![event(
                SessionStatus::Declined,
                Some(SessionStatus::Approved),
            )],
            ..change(&before, before.version, t(40))
        },
        None,
    )
    .await;
    assert!(half.is_err(), "a duplicate attempt seq must fail: {half:?}");
    assert_eq!(session(s, &sess).await, before);
    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(
        bundle.attempts.len(),
        2,
        "the attempt with seq 3 was rolled back"
    );
    assert_eq!(s.outbox_events(sess.id).await.unwrap().len(), 2);
}

// --- resubmission info ------------------------------------------------------------------------

pub(crate) fn resubmit_info(after_seq: i64) -> ResubmitInfo {
    ResubmitInfo {
        nodes: vec!["feature_ocr_1".into(), "feature_liveness_1".into()],
        steps: vec![
            ResubmitStep {
                node_id: "feature_ocr_1".into(),
                feature: Feature::Ocr,
                reason: "blurry".into(),
            },
            ResubmitStep {
                node_id: "feature_liveness_1".into(),
                feature: Feature::Liveness,
                reason: "no face".into(),
            },
        ],
        requested_at: t(50),
        after_seq,
    }
}

pub(crate) fn step_attempt(
    session_id: SessionId,
    seq: i64,
    node_id: &str,
    feature: Feature,
    status: AttemptStatus,
) -> Attempt {
    Attempt {
        node_id: node_id.into(),
        feature,
        status,
        ..attempt(session_id, seq, t(40 + seq))
    }
}

/// A declined OCR + LIVENESS session, then sent back for both steps after attempt 2.
pub(crate) async fn resubmitted_session(s: &Arc<dyn Store>) -> (App, WorkflowRecord, Session) {
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR", "LIVENESS"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), None, t(10))).await;
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Declined),
            attempts: vec![
                step_attempt(
                    sess.id,
                    1,
                    "feature_ocr_1",
                    Feature::Ocr,
                    AttemptStatus::Approved,
                ),
                step_attempt(
                    sess.id,
                    2,
                    "feature_liveness_1",
                    Feature::Liveness,
                    AttemptStatus::Declined,
                ),
            ],
            ..change(&sess, 1, t(42))
        },
        None,
    )
    .await
    .unwrap();
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Resubmitted),
            resubmit_info: Some(Some(resubmit_info(2))),
            events: vec![
                event(SessionStatus::Resubmitted, Some(SessionStatus::Declined)),
                event(SessionStatus::Declined, None),
            ],
            ..change(&sess, 2, t(50))
        },
        None,
    )
    .await
    .unwrap();
    (app, wf, sess)
}

pub(crate) async fn resubmit_info_is_stored_announced_and_cleared(db: Db) {
    let s = &db.store;
    let (app, _, sess) = resubmitted_session(s).await;

    let stored = session(s, &sess).await;
    assert_eq!(stored.status, SessionStatus::Resubmitted);
    let info = stored
        .resubmit_info
        .clone()
        .expect("resubmit_info is stored");
    let want = resubmit_info(2);
    assert_eq!(
        (&info.nodes, &info.steps, info.requested_at),
        (&want.nodes, &want.steps, want.requested_at)
    );

    // Only the Resubmitted event carries the info.
    let events = s.outbox_events(sess.id).await.unwrap();
    assert_eq!(events.len(), 2);
    let carried = events[0].resubmit_info.as_ref().expect("carried");
    assert_eq!(
        carried["nodes"],
        json!(["feature_ocr_1", "feature_liveness_1"])
    );
    assert_eq!(events[1].resubmit_info, None);

    // A change that does not mention it leaves it; `Some(None)` clears it.
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Resubmitted),
            ..change(&stored, stored.version, t(60))
        },
        None,
    )
    .await
    .unwrap();
    let kept = session(s, &sess).await;
    assert!(kept.resubmit_info.is_some());
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Approved),
            resubmit_info: Some(None),
            ..change(&kept, kept.version, t(70))
        },
        None,
    )
    .await
    .unwrap();
    let cleared = s.get_session(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(cleared.resubmit_info, None);
    assert_eq!(cleared.status, SessionStatus::Approved);
}

pub(crate) async fn resubmission_boundary_survives_storage(db: Db) {
    let s = &db.store;
    let (app, wf, sess) = resubmitted_session(s).await;

    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    let info = bundle.session.resubmit_info.clone().expect("stored");
    assert_eq!(info.after_seq, 2, "the resubmission boundary must be kept");

    // The consequence: the person redoes OCR only; LIVENESS (also reopened) has no new attempt
    // yet, so the session must keep waiting instead of being decided from the old attempt.
    let mut attempts = bundle.attempts.clone();
    attempts.push(step_attempt(
        sess.id,
        3,
        "feature_ocr_1",
        Feature::Ocr,
        AttemptStatus::Approved,
    ));
    let steps = transitions_after_attempt(
        bundle.session.status,
        &wf.spec,
        &attempts,
        bundle.session.resubmit_info.as_ref(),
    );
    assert!(steps.is_empty(), "decided too early: {steps:?}");
}

// --- 6. group isolation ------------------------------------------------------------------------

pub(crate) async fn concurrent_changes_are_isolated_within_a_group(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;

    const CALLS: usize = 200;
    let n_sessions = (0..CALLS).filter(|i| i % 3 != 0).count();

    // Create the sessions concurrently, then move each to version 2.
    let mut set = JoinSet::new();
    for i in 0..n_sessions {
        let st = s.clone();
        let new = new_session(app.id, Some(wf.id), Some(&format!("vd-{i}")), t(10));
        set.spawn(async move { create(&st, new).await });
    }
    let mut sessions: Vec<Session> = set.join_all().await;
    sessions.sort_by_key(|x| x.number);
    let numbers: HashSet<i64> = sessions.iter().map(|x| x.number).collect();
    assert_eq!(
        numbers,
        (1..=n_sessions as i64).collect(),
        "numbers are unique and dense"
    );

    let mut set = JoinSet::new();
    for sess in &sessions {
        let st = s.clone();
        let c = SessionChange {
            status: Some(SessionStatus::InProgress),
            reviews: vec![review(
                SessionStatus::NotStarted,
                SessionStatus::InProgress,
                None,
                t(20),
            )],
            ..change(sess, 1, t(20))
        };
        set.spawn(async move { apply(&st, c, None).await });
    }
    for r in set.join_all().await {
        r.expect("prelude change");
    }

    // Now fire 200 changes: valid ones expect version 2, stale ones (every third) expect 1 and
    // target sessions that also receive a valid change, with the same attempt seq.
    struct Call {
        stale: bool,
        session: Session,
        change: SessionChange,
    }
    let mut calls = Vec::with_capacity(CALLS);
    let mut next_valid = 0;
    for i in 0..CALLS {
        let stale = i % 3 == 0;
        let target = if stale {
            sessions[(i / 3) * 2 % n_sessions].clone()
        } else {
            next_valid += 1;
            sessions[next_valid - 1].clone()
        };
        let c = SessionChange {
            status: Some(if stale {
                SessionStatus::Declined
            } else {
                SessionStatus::Approved
            }),
            full_name: Some(format!("name-{i}")),
            attempts: vec![attempt(target.id, 1, t(30))],
            reviews: vec![review(
                SessionStatus::InProgress,
                SessionStatus::Approved,
                None,
                t(30),
            )],
            events: vec![event(
                SessionStatus::Approved,
                Some(SessionStatus::InProgress),
            )],
            ..change(&target, if stale { 1 } else { 2 }, t(30))
        };
        calls.push(Call {
            stale,
            session: target,
            change: c,
        });
    }
    assert_eq!(next_valid, n_sessions);

    let mut set = JoinSet::new();
    for (i, call) in calls.iter().enumerate() {
        let st = s.clone();
        let c = call.change.clone();
        set.spawn(async move { (i, apply(&st, c, None).await) });
    }
    let results = set.join_all().await;
    assert_eq!(results.len(), CALLS);
    for (i, r) in &results {
        let call = &calls[*i];
        if call.stale {
            assert!(
                matches!(r, Err(StoreError::VersionConflict)),
                "stale call {i} must conflict, got {r:?}"
            );
        } else {
            assert!(
                matches!(r, Ok(Modified::Applied)),
                "valid call {i} must succeed, got {r:?}"
            );
        }
    }

    let conn = raw(&db);
    for call in &calls {
        let c = &call.change;
        let sid = call.session.id.to_string();
        let attempt_id = c.attempts[0].id.to_string();
        let review_id = c.reviews[0].uuid.to_string();
        let event_id = c.events[0].event_id.to_string();
        let expected = if call.stale { 0 } else { 1 };
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM attempts WHERE id = ?1",
                &attempt_id
            ),
            expected,
            "attempt of a {} call",
            if call.stale { "stale" } else { "valid" }
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM reviews WHERE uuid = ?1",
                &review_id
            ),
            expected
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM outbox_events WHERE event_id = ?1",
                &event_id
            ),
            expected
        );
        if !call.stale {
            let now = s
                .get_session(app.id, call.session.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(now.status, SessionStatus::Approved, "session {sid}");
            assert_eq!(now.version, 3, "session {sid}");
            assert_eq!(
                count(
                    &conn,
                    "SELECT COUNT(*) FROM reviews WHERE session_id = ?1",
                    &sid
                ),
                2
            );
        }
    }
    let rows = |table: &str| -> i64 { conn.count(&format!("SELECT COUNT(*) FROM {table}"), "") };
    assert_eq!(rows("attempts"), n_sessions as i64);
    assert_eq!(rows("outbox_events"), n_sessions as i64);
    assert_eq!(rows("reviews"), 2 * n_sessions as i64);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sessions WHERE status = ?1",
            "Declined"
        ),
        0
    );
    assert_eq!(s.verify_reviews(None).await.unwrap(), (n_sessions, vec![]));
    let groups = s
        .store_stats()
        .write_groups
        .expect("both backends group writes");
    assert!(
        groups.count() > groups.cumulative[0],
        "some of 200 changes at once shared a transaction: {groups:?}"
    );
}

/// A change the database itself refuses (its attempt's id is taken) among changes sent
/// together: it alone is undone and answered, every other one stands.
pub(crate) async fn a_refused_change_falls_alone_in_its_group(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    const N: usize = 60;
    let mut sessions = Vec::new();
    for i in 0..N {
        sessions.push(
            create(
                s,
                new_session(app.id, Some(wf.id), Some(&format!("r-{i}")), t(10)),
            )
            .await,
        );
    }
    let taken = attempt(sessions[0].id, 1, t(20));
    let first = SessionChange {
        attempts: vec![taken.clone()],
        ..change(&sessions[0], 1, t(20))
    };
    apply(s, first, None).await.expect("the first attempt");

    let barrier = Arc::new(tokio::sync::Barrier::new(N - 1));
    let mut set = JoinSet::new();
    for (i, sess) in sessions.iter().enumerate().skip(1) {
        let mut a = attempt(sess.id, 1, t(30));
        if i % 7 == 0 {
            a.id = taken.id;
        }
        let c = SessionChange {
            status: Some(SessionStatus::InProgress),
            attempts: vec![a],
            reviews: vec![review(
                SessionStatus::NotStarted,
                SessionStatus::InProgress,
                None,
                t(30),
            )],
            ..change(sess, 1, t(30))
        };
        let (st, b) = (s.clone(), barrier.clone());
        set.spawn(async move {
            b.wait().await;
            (i, apply(&st, c, None).await)
        });
    }
    for (i, r) in set.join_all().await {
        let sess = &sessions[i];
        let now = s.get_session(app.id, sess.id).await.unwrap().unwrap();
        let reviews = s.reviews(sess.id).await.unwrap().len();
        if i % 7 == 0 {
            assert!(
                matches!(r, Err(StoreError::VersionConflict)),
                "call {i}: {r:?}"
            );
            assert_eq!(
                (now.version, now.status, reviews),
                (1, SessionStatus::NotStarted, 0)
            );
        } else {
            assert!(matches!(r, Ok(Modified::Applied)), "call {i}: {r:?}");
            assert_eq!(
                (now.version, now.status, reviews),
                (2, SessionStatus::InProgress, 1)
            );
        }
    }
    assert_eq!(s.verify_reviews(None).await.unwrap().1, vec![]);
}

/// On tables never analyzed (a server without autovacuum, a fresh deployment), the change's
/// UPDATE is still served by the primary key: a condition a partial index also states would let
/// the planner scan that index whole for every change. (SQLite plans by its indexes alone.)
pub(crate) async fn a_change_is_planned_on_the_primary_key_without_statistics(db: Db) {
    if !matches!(db.backend, Backend::Postgres) {
        return;
    }
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let mut sessions = Vec::new();
    for i in 0..20 {
        sessions.push(
            create(
                s,
                new_session(app.id, Some(wf.id), Some(&format!("p-{i}")), t(10)),
            )
            .await,
        );
    }
    let update = vouch_store::queries::changes::statements(
        change(&sessions[7], 1, t(20)),
        (0, vouch_core::review::GENESIS_HASH.to_string()),
    )
    .remove(0);
    let client = vouch_store::testing::connect(&db.url).await.unwrap();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        update.params.iter().map(|p| p as _).collect();
    let plan: Vec<String> = client
        .query(&format!("EXPLAIN {}", update.sql), &params)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("sessions_pkey"), "{plan}");
}
