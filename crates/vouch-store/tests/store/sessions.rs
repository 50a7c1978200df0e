#![allow(unused_imports)]
use crate::catalog::*;
use crate::changes::*;
use crate::fixtures::*;
use crate::idempotency::*;

// --- 4. sessions -------------------------------------------------------------------------------

pub(crate) async fn session_numbers_are_per_application(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let mut numbers = vec![];
    for i in 0..3 {
        let new = new_session(app.id, Some(wf.id), None, t(10 + i));
        let sess = create(s, new.clone()).await;
        assert_eq!(sess.id, new.id);
        assert_eq!(sess.status, SessionStatus::NotStarted);
        assert_eq!(sess.version, 1);
        assert_eq!(sess.kind, WorkflowKind::User);
        assert_eq!(session(s, &sess).await, sess, "stored as returned");
        numbers.push(sess.number);
    }
    assert_eq!(numbers, vec![1, 2, 3]);
    let o = create(s, new_session(other.id, Some(owf.id), None, t(20))).await;
    assert_eq!(o.number, 1, "each application counts its own sessions");
    let next = create(s, new_session(app.id, None, None, t(21))).await;
    assert_eq!(next.number, 4);

    // A session of another application is not visible through this one.
    assert_eq!(s.get_session(other.id, next.id).await.unwrap(), None);
}

pub(crate) async fn unfinished_sessions_are_reused_by_vendor_data(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;

    let mut first_new = new_session(app.id, Some(wf.id), Some("user-1"), t(10));
    first_new.callback = Some("https://a.example/cb".into());
    first_new.callback_method = Some(CallbackMethod::Both);
    first_new.metadata = json!({"a": 1});
    let first = create(s, first_new).await;
    assert_eq!(first.callback_method, Some(CallbackMethod::Both));

    let mut again = new_session(app.id, Some(wf.id), Some("user-1"), t(20));
    again.callback = Some("https://b.example/cb".into());
    again.metadata = json!({"b": 2});
    let reused = create(s, again).await;
    assert_eq!(reused.id, first.id, "the unfinished session is reused");
    assert_eq!(reused.number, first.number);
    assert_eq!(reused.token, first.token);
    assert_eq!(reused.callback.as_deref(), Some("https://b.example/cb"));
    assert_eq!(reused.metadata, json!({"b": 2}));
    assert_eq!(reused.version, first.version + 1);
    let stored = session(s, &first).await;
    assert_eq!(stored, reused, "the update is persisted");
    assert_eq!(stored.updated_at, t(20));
    assert_eq!(stored.created_at, t(10));

    // Another vendor_data gets its own session.
    let other_vd = create(s, new_session(app.id, Some(wf.id), Some("user-2"), t(21))).await;
    assert_ne!(other_vd.id, first.id);

    // Still unfinished (In Progress): reused.
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::InProgress),
            ..change(&stored, stored.version, t(25))
        },
        None,
    )
    .await
    .unwrap();
    let reused2 = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(26))).await;
    assert_eq!(reused2.id, first.id);
    assert_eq!(reused2.status, SessionStatus::InProgress);

    // Once decided it is not reused.
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Approved),
            ..change(&reused2, reused2.version, t(30))
        },
        None,
    )
    .await
    .unwrap();
    let after = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(40))).await;
    assert_ne!(after.id, first.id, "a decided session is not reused");
    assert_eq!(after.status, SessionStatus::NotStarted);
    assert_eq!(after.number, 3);
    assert_eq!(session(s, &first).await.status, SessionStatus::Approved);

    // A new workflow version is a different workflow version: no reuse across it.
    s.update_workflow(WorkflowUpdate {
        settings: Default::default(),
        app_id: app.id,
        id: wf.id,
        label: None,
        status: None,
        is_default: None,
        spec: Some(spec(&["OCR", "LIVENESS"])),
        now: t(50),
    })
    .await
    .unwrap();
    let on_v2 = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(51))).await;
    assert_ne!(on_v2.id, after.id);
    assert_eq!(on_v2.workflow_version, 2);
    let on_v2_again = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(52))).await;
    assert_eq!(on_v2_again.id, on_v2.id);

    let (_, n) = s
        .list_sessions(
            app.id,
            &SessionFilter {
                vendor_data: Some("user-1".into()),
                ..Default::default()
            },
            all_page(),
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
}

pub(crate) async fn business_sessions_are_stored_with_their_kind(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let user_wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let kyb = make_workflow(s, app.id, &["KYB_REGISTRY", "KYB_DOCUMENTS"], false, t(2)).await;
    assert_eq!(kyb.kind(), WorkflowKind::Business);

    let u = create(
        s,
        new_session(app.id, Some(user_wf.id), Some("acme"), t(10)),
    )
    .await;
    let b = create(s, new_session(app.id, Some(kyb.id), Some("acme"), t(11))).await;
    assert_eq!(b.kind, WorkflowKind::Business);
    assert_ne!(b.id, u.id, "different workflows never share a session");
    assert_eq!(b.number, 2, "both kinds share the application's numbering");
    assert_eq!(session(s, &b).await, b);

    let conn = raw(&db);
    let id = b.id.to_string();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sessions WHERE id = ?1 AND kind = 'business'",
            &id
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sessions WHERE id = ?1 AND kind = 'user'",
            &id
        ),
        0
    );

    // Reuse works for business sessions too.
    let b2 = create(s, new_session(app.id, Some(kyb.id), Some("acme"), t(12))).await;
    assert_eq!(b2.id, b.id);

    // A business change keeps the session's kind.
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::InReview),
            ..change(&b2, b2.version, t(13))
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(session(s, &b).await.status, SessionStatus::InReview);

    let bundle = s.session_bundle(app.id, b.id).await.unwrap().unwrap();
    assert_eq!(*bundle.workflow, kyb);
    assert_eq!(bundle.environment, Environment::Live);

    // Deleting a business session erases it like any other.
    assert!(s.delete_session(app.id, b.id, t(14)).await.unwrap());
    assert_eq!(s.get_session(app.id, b.id).await.unwrap(), None);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sessions WHERE id = ?1 AND kind = 'business' AND deleted_at IS NOT NULL",
            &id
        ),
        1
    );
    assert_eq!(session(s, &u).await.vendor_data.as_deref(), Some("acme"));
}

pub(crate) async fn sessions_need_a_published_workflow_of_their_application(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;

    // No default workflow yet.
    let none = s
        .create_session(new_session(app.id, None, None, t(1)), None)
        .await;
    assert!(matches!(none, Err(StoreError::NotFound(_))), "{none:?}");

    // Another application's workflow is not usable.
    let foreign = make_workflow(s, other.id, &["OCR"], true, t(2)).await;
    let r = s
        .create_session(new_session(app.id, Some(foreign.id), None, t(3)), None)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");

    // A draft is not usable until published; a later draft version leaves sessions on the
    // latest published one.
    let mut draft = workflow_record(app.id, "draft", &["OCR"], true, t(4));
    draft.status = WorkflowStatus::Draft;
    s.create_workflow(draft.clone(), None).await.unwrap();
    let r = s
        .create_session(new_session(app.id, None, None, t(5)), None)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    s.update_workflow(WorkflowUpdate {
        settings: Default::default(),
        app_id: app.id,
        id: draft.id,
        label: None,
        status: Some(WorkflowStatus::Published),
        is_default: None,
        spec: None,
        now: t(6),
    })
    .await
    .unwrap();
    s.update_workflow(WorkflowUpdate {
        settings: Default::default(),
        app_id: app.id,
        id: draft.id,
        label: None,
        status: Some(WorkflowStatus::Draft),
        is_default: None,
        spec: Some(spec(&["OCR", "LIVENESS"])),
        now: t(7),
    })
    .await
    .unwrap();
    let sess = create(s, new_session(app.id, None, None, t(8))).await;
    assert_eq!((sess.workflow_id, sess.workflow_version), (draft.id, 1));

    // Nothing was written by the refused creates: this is the application's first session.
    assert_eq!(sess.number, 1);

    // The workflow's own link lifetime sets the expiry; archiving it refuses new sessions
    // (named, reused by vendor_data, or by default) and keeps the ones it has.
    let mut short = workflow_record(app.id, "short", &["OCR"], true, t(9));
    short.settings.session_expiration_time = Some(600);
    s.create_workflow(short.clone(), None).await.unwrap();
    let on_short = create(s, new_session(app.id, None, Some("v"), t(10))).await;
    assert_eq!(on_short.expires_at, t(10) + chrono::Duration::seconds(600));
    let archived = s
        .archive_workflow(app.id, short.id, t(11))
        .await
        .unwrap()
        .expect("the workflow");
    assert_eq!(
        (archived.archived_at, archived.is_default),
        (Some(t(11)), false)
    );
    assert_eq!(
        s.archive_workflow(other.id, short.id, t(12)).await.unwrap(),
        None
    );
    for named in [Some(short.id), None] {
        let r = s
            .create_session(new_session(app.id, named, Some("v"), t(13)), None)
            .await;
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    }
    assert_eq!(session(s, &on_short).await.workflow_id, short.id);
}

pub(crate) async fn a_link_names_its_session_even_once_deleted(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let a = create(s, new_session(app.id, Some(wf.id), Some("ann"), t(10))).await;
    let b = create(s, new_session(app.id, Some(wf.id), Some("bob"), t(11))).await;
    let target = |sess: &Session, deleted| vouch_store::LinkTarget {
        app_id: app.id,
        session_id: sess.id,
        deleted,
    };
    assert_eq!(
        s.session_by_token(&a.token).await.unwrap(),
        Some(target(&a, false))
    );
    assert_eq!(
        s.session_by_token(&b.token).await.unwrap(),
        Some(target(&b, false))
    );
    assert_eq!(s.session_by_token("no-such-token").await.unwrap(), None);
    assert_eq!(s.session_by_token("").await.unwrap(), None);
    assert!(s.delete_session(app.id, a.id, t(20)).await.unwrap());
    assert_eq!(
        s.session_by_token(&a.token).await.unwrap(),
        Some(target(&a, true)),
        "a deleted session's link is known to have ended"
    );
}

pub(crate) async fn one_time_codes_are_counted_replaced_and_erased(db: Db) {
    use vouch_core::otp::Challenge;
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["EMAIL_VERIFICATION"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("ann"), t(10))).await;
    let node = "feature_email_verification_1";
    let code = |hash: &str, at, sends| Challenge {
        session_id: sess.id,
        node_id: node.into(),
        destination: "ann@example.com".into(),
        code_hash: hash.into(),
        sent_at: at,
        tries: 0,
        sends,
    };
    assert_eq!(s.person_code(sess.id, node).await.unwrap(), None);
    assert!(s.put_person_code(code("h1", t(20), 1), 0).await.unwrap());
    assert!(
        !s.put_person_code(code("h1b", t(20), 1), 0).await.unwrap(),
        "a second first send loses the race"
    );
    assert_eq!(
        s.person_code(sess.id, node).await.unwrap(),
        Some(code("h1", t(20), 1))
    );
    for want in 1..=3 {
        assert_eq!(
            s.take_code_try(sess.id, node, t(20), 3).await.unwrap(),
            Some(want)
        );
    }
    assert_eq!(
        s.take_code_try(sess.id, node, t(20), 3).await.unwrap(),
        None,
        "no fourth try"
    );
    // A resend replaces the code and its tries, once; a try against the old code counts nothing.
    assert!(s.put_person_code(code("h2", t(60), 2), 1).await.unwrap());
    assert!(!s.put_person_code(code("h3", t(90), 3), 1).await.unwrap());
    assert_eq!(
        s.take_code_try(sess.id, node, t(20), 3).await.unwrap(),
        None
    );
    assert_eq!(
        s.take_code_try(sess.id, node, t(60), 3).await.unwrap(),
        Some(1)
    );
    let stored = s.person_code(sess.id, node).await.unwrap().unwrap();
    assert_eq!(
        (stored.code_hash.as_str(), stored.tries, stored.sends),
        ("h2", 1, 2)
    );
    assert!(s.delete_session(app.id, sess.id, t(100)).await.unwrap());
    assert_eq!(
        s.person_code(sess.id, node).await.unwrap(),
        None,
        "erased with the session"
    );
}
