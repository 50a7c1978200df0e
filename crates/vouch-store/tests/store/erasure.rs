#![allow(unused_imports)]
use crate::catalog::*;
use crate::changes::*;
use crate::fixtures::*;
use crate::idempotency::*;
use crate::sessions::*;
use vouch_core::SessionId;

// --- 8. deletion -------------------------------------------------------------------------------

pub(crate) async fn deleting_a_session_erases_personal_data_and_keeps_the_chain(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let mut new = new_session(app.id, Some(wf.id), Some("ann"), t(10));
    new.metadata = json!({"email": "ann@example.com"});
    new.callback = Some("https://cb.example".into());
    let sess = create(s, new).await;
    let keep = create(s, new_session(app.id, Some(wf.id), Some("bob"), t(11))).await;

    let change_with_trail = |sess: &Session| SessionChange {
        status: Some(SessionStatus::InReview),
        full_name: Some("Ann Smith".into()),
        attempts: vec![attempt(sess.id, 1, t(20)), attempt(sess.id, 2, t(21))],
        reviews: vec![
            review(
                SessionStatus::NotStarted,
                SessionStatus::InReview,
                None,
                t(20),
            ),
            review(
                SessionStatus::InReview,
                SessionStatus::InReview,
                Some("passport of Ann"),
                t(21),
            ),
        ],
        events: vec![event(
            SessionStatus::InReview,
            Some(SessionStatus::NotStarted),
        )],
        ..change(sess, 1, t(20))
    };
    apply(s, change_with_trail(&sess), None).await.unwrap();
    apply(s, change_with_trail(&keep), None).await.unwrap();

    assert!(s.delete_session(app.id, sess.id, t(100)).await.unwrap());
    assert_eq!(s.get_session(app.id, sess.id).await.unwrap(), None);
    assert!(s.session_bundle(app.id, sess.id).await.unwrap().is_none());
    assert!(
        !s.delete_session(app.id, sess.id, t(101)).await.unwrap(),
        "already gone"
    );
    assert!(!s
        .delete_session(app.id, SessionId::random(), t(101))
        .await
        .unwrap());

    let conn = raw(&db);
    let sid = sess.id.to_string();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM attempts WHERE session_id = ?1",
            &sid
        ),
        2
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM attempts WHERE session_id = ?1 AND CAST(data AS TEXT) = '{}'",
            &sid
        ),
        2,
        "attempt data is erased"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE session_id = ?1",
            &sid
        ),
        2,
        "review rows are kept"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE session_id = ?1
               AND comment IS NULL AND CAST(metadata AS TEXT) = '{}' AND redacted = TRUE",
            &sid
        ),
        2,
        "review comments are erased"
    );
    let row = conn.text_row(
        "SELECT vendor_data, CAST(metadata AS TEXT), callback, full_name FROM sessions WHERE id = ?1",
        &sid,
    );
    let (vendor, metadata, callback, full_name) = (
        row[0].clone(),
        row[1].clone().unwrap_or_default(),
        row[2].clone(),
        row[3].clone(),
    );
    assert_eq!(
        (vendor, metadata.as_str(), callback, full_name),
        (None, "{}", None, None)
    );

    let events = s.outbox_events(sess.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events.iter().all(|e| e.dropped),
        "pending events are dropped"
    );

    assert_eq!(s.verify_reviews(Some(sess.id)).await.unwrap(), (1, vec![]));
    assert_eq!(s.verify_reviews(None).await.unwrap(), (2, vec![]));

    // The other session is untouched.
    let kept = s.session_bundle(app.id, keep.id).await.unwrap().unwrap();
    assert_eq!(kept.session.vendor_data.as_deref(), Some("bob"));
    assert_eq!(kept.attempts[0].data["first_name"], json!("Ann"));
    assert_eq!(kept.reviews[1].comment.as_deref(), Some("passport of Ann"));
    assert!(s
        .outbox_events(keep.id)
        .await
        .unwrap()
        .iter()
        .all(|e| !e.dropped));

    let (listed, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(listed[0].id, keep.id);

    // A deleted session cannot be changed any more.
    let late = apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Approved),
            ..change(&sess, 2, t(200))
        },
        None,
    )
    .await;
    assert_eq!(late.unwrap(), Modified::NotFound);
}

// --- 9. append-only review trail ---------------------------------------------------------------

pub(crate) async fn review_rows_are_append_only_and_tampering_is_detected(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), None, t(10))).await;
    let clean = create(s, new_session(app.id, Some(wf.id), None, t(11))).await;
    for target in [&sess, &clean] {
        apply(
            s,
            SessionChange {
                status: Some(SessionStatus::Approved),
                reviews: vec![
                    review(
                        SessionStatus::NotStarted,
                        SessionStatus::InProgress,
                        None,
                        t(20),
                    ),
                    review(
                        SessionStatus::InProgress,
                        SessionStatus::InReview,
                        Some("hmm"),
                        t(21),
                    ),
                    review(
                        SessionStatus::InReview,
                        SessionStatus::Approved,
                        Some("fine"),
                        t(22),
                    ),
                ],
                ..change(target, 1, t(20))
            },
            None,
        )
        .await
        .unwrap();
    }

    let conn = raw(&db);
    let sid = sess.id.to_string();
    let upd = conn.execute(
        "UPDATE reviews SET comment = 'x' WHERE session_id = ?1",
        &[&sid],
    );
    assert!(upd.is_err(), "UPDATE must be refused by the trigger");
    assert!(
        upd.unwrap_err().to_string().contains("append-only"),
        "refused by the append-only trigger"
    );
    let upd_all = conn.execute("UPDATE reviews SET comment = 'x'", NONE);
    assert!(upd_all.is_err());
    // Even a pretend "redaction" that also rewrites the hash is refused.
    let forge = conn.execute(
        "UPDATE reviews SET comment = NULL, metadata = '{}', redacted = TRUE, hash = 'f00'
         WHERE session_id = ?1",
        &[&sid],
    );
    assert!(forge.is_err(), "a redaction must not change the hash");
    let del = conn.execute("DELETE FROM reviews WHERE session_id = ?1", &[&sid]);
    assert!(del.is_err(), "DELETE must be refused by the trigger");
    assert!(conn.execute("DELETE FROM reviews", NONE).is_err());
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE session_id = ?1",
            &sid
        ),
        3
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE comment = ?1",
            "x"
        ),
        0
    );
    assert_eq!(s.verify_reviews(None).await.unwrap(), (2, vec![]));

    // Simulate tampering by someone able to drop the trigger.
    conn.drop_review_guard();
    let n = conn
        .execute(
            "UPDATE reviews SET comment = 'approved by me' WHERE session_id = ?1 AND seq = 2",
            &[&sid],
        )
        .unwrap();
    assert_eq!(n, 1);

    let (checked, broken) = s.verify_reviews(None).await.unwrap();
    assert_eq!(checked, 2);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0].0, sess.id);
    assert_eq!(broken[0].1.seq, 2);
    let (_, one) = s.verify_reviews(Some(sess.id)).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].1.seq, 2);
    assert_eq!(s.verify_reviews(Some(clean.id)).await.unwrap(), (1, vec![]));

    // Altering a hashed column (not just the personal fields) is also found.
    let csid = clean.id.to_string();
    conn.execute(
        "UPDATE reviews SET new_status = 'Declined' WHERE session_id = ?1 AND seq = 3",
        &[&csid],
    )
    .unwrap();
    let (_, broken) = s.verify_reviews(Some(clean.id)).await.unwrap();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].1.seq, 3);
}
