#![allow(unused_imports)]
use crate::catalog::*;
use crate::changes::*;
use crate::fixtures::*;
use crate::idempotency::*;

// --- 4. sessions -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn session_numbers_are_per_application() {
    let db = open();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn unfinished_sessions_are_reused_by_vendor_data() {
    let db = open();
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
    s.apply_session_change(
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
    s.apply_session_change(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn business_sessions_live_in_their_own_table() {
    let db = open();
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

    let conn = raw(&db.path);
    let id = b.id.to_string();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM business_sessions WHERE id = ?1",
            &id
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM user_sessions WHERE id = ?1",
            &id
        ),
        0
    );

    // Reuse works for business sessions too.
    let b2 = create(s, new_session(app.id, Some(kyb.id), Some("acme"), t(12))).await;
    assert_eq!(b2.id, b.id);

    // A business change goes to the business table.
    s.apply_session_change(
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

    // Deleting a business session works on the business table.
    assert!(s.delete_session(app.id, b.id, t(14)).await.unwrap());
    assert_eq!(s.get_session(app.id, b.id).await.unwrap(), None);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM business_sessions WHERE id = ?1 AND deleted_at IS NOT NULL",
            &id
        ),
        1
    );
    assert_eq!(session(s, &u).await.vendor_data.as_deref(), Some("acme"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn sessions_need_a_published_workflow_of_their_application() {
    let db = open();
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
}

// --- 11. list filters --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn list_sessions_filters_and_pages() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let wf2 = make_workflow(s, app.id, &["LIVENESS"], false, t(1)).await;
    let kyb = make_workflow(s, app.id, &["KYB_REGISTRY"], false, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let mk = |wf: Uuid, vd: &str, when: &str| new_session(app.id, Some(wf), Some(vd), at(when));
    let s1 = create(s, mk(wf.id, "alice-1", "2024-03-01T10:00:00Z")).await;
    let s2 = create(s, mk(wf.id, "alice-2", "2024-03-02T00:00:00Z")).await;
    let s3 = create(s, mk(wf2.id, "carol", "2024-03-03T23:59:59.999999Z")).await;
    let s4 = create(s, mk(kyb.id, "acme", "2024-03-02T12:00:00Z")).await;
    let s5 = create(s, mk(wf.id, "al_x", "2024-03-04T00:00:00Z")).await;
    let s6 = create(s, mk(wf.id, "alice-3", "2024-03-02T08:00:00Z")).await;
    let _foreign = create(
        s,
        new_session(
            other.id,
            Some(owf.id),
            Some("alice-9"),
            at("2024-03-02T01:00:00Z"),
        ),
    )
    .await;
    assert_eq!(
        [s1.number, s2.number, s3.number, s4.number, s5.number, s6.number],
        [1, 2, 3, 4, 5, 6]
    );

    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            country: Some("DE".into()),
            full_name: Some("Bob Stone".into()),
            ..change(&s2, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Declined),
            country: Some("FR".into()),
            ..change(&s3, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            ..change(&s4, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    assert!(s.delete_session(app.id, s6.id, t(200)).await.unwrap());

    let list = |f: SessionFilter, page: Page| {
        let s = s.clone();
        async move {
            let (rows, n) = s.list_sessions(app.id, &f, page).await.unwrap();
            (rows.iter().map(|r| r.number).collect::<Vec<_>>(), n)
        }
    };
    let p = all_page();

    // Default: live user sessions of this application, newest first.
    assert_eq!(
        list(SessionFilter::default(), p).await,
        (vec![5, 3, 2, 1], 4)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::User),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5, 3, 2, 1], 4)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::Business),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![4], 1)
    );
    let (rows, n) = s
        .list_sessions(
            app.id,
            &SessionFilter {
                kind: Some(KindFilter::All),
                ..Default::default()
            },
            p,
        )
        .await
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(rows[1].kind, WorkflowKind::Business);
    assert_eq!(rows[1], session(s, &s4).await);
    assert!(rows
        .iter()
        .filter(|r| r.number != 4)
        .all(|r| r.kind == WorkflowKind::User));

    // Statuses.
    assert_eq!(
        list(
            SessionFilter {
                statuses: vec![SessionStatus::Approved, SessionStatus::Declined],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![3, 2], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::All),
                statuses: vec![SessionStatus::Approved],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![4, 2], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                statuses: vec![SessionStatus::NotStarted],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5, 1], 2)
    );

    // vendor_data (exact), workflow, country.
    assert_eq!(
        list(
            SessionFilter {
                vendor_data: Some("carol".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![3], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                vendor_data: Some("alice".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0)
    );
    assert_eq!(
        list(
            SessionFilter {
                vendor_data: Some("alice-3".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0),
        "deleted sessions are not listed"
    );
    assert_eq!(
        list(
            SessionFilter {
                workflow_ids: vec![wf2.id],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![3], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                country: Some("DE".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2], 1)
    );

    // Dates (inclusive days on created_at).
    let day = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
    assert_eq!(
        list(
            SessionFilter {
                date_from: Some(day(2)),
                date_to: Some(day(2)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::All),
                date_from: Some(day(2)),
                date_to: Some(day(3)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![4, 3, 2], 3)
    );
    assert_eq!(
        list(
            SessionFilter {
                date_from: Some(day(3)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5, 3], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                date_to: Some(day(1)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![1], 1)
    );

    // Search: a prefix of vendor_data or of the name read from the document; LIKE wildcards in
    // the query are literal.
    assert_eq!(
        list(
            SessionFilter {
                search: Some("ali".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2, 1], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("Bob".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("Stone".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0),
        "a prefix, not a substring"
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("al_".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("%".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0)
    );

    // Combined filters.
    assert_eq!(
        list(
            SessionFilter {
                search: Some("alice".into()),
                statuses: vec![SessionStatus::NotStarted],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![1], 1)
    );

    // Pagination: the count is the total, the page is a slice.
    let all = SessionFilter {
        kind: Some(KindFilter::All),
        ..Default::default()
    };
    assert_eq!(
        list(
            all.clone(),
            Page {
                limit: 2,
                offset: 0
            }
        )
        .await,
        (vec![5, 4], 5)
    );
    assert_eq!(
        list(
            all.clone(),
            Page {
                limit: 2,
                offset: 2
            }
        )
        .await,
        (vec![3, 2], 5)
    );
    assert_eq!(
        list(
            all.clone(),
            Page {
                limit: 2,
                offset: 4
            }
        )
        .await,
        (vec![1], 5)
    );
    assert_eq!(
        list(
            all,
            Page {
                limit: 2,
                offset: 10
            }
        )
        .await,
        (vec![], 5)
    );
}

#[test]
pub(crate) fn database_urls_name_files() {
    use vouch_store::sqlite::path_from_url;
    assert_eq!(
        path_from_url("sqlite://data/vouch.db"),
        Some(PathBuf::from("data/vouch.db"))
    );
    assert_eq!(
        path_from_url("sqlite:vouch.db"),
        Some(PathBuf::from("vouch.db"))
    );
    assert_eq!(
        path_from_url("sqlite:///var/lib/vouch.db"),
        Some(PathBuf::from("/var/lib/vouch.db"))
    );
    assert_eq!(
        path_from_url("sqlite://vouch.db?mode=rwc"),
        Some(PathBuf::from("vouch.db"))
    );
    assert_eq!(path_from_url("sqlite://"), None);
    assert_eq!(path_from_url("postgres://localhost/vouch"), None);
}

// --- 10. durability ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn data_survives_closing_and_reopening() {
    let db = open();
    let app;
    let wf;
    let sess;
    let key_hash = [7u8; 32];
    {
        let s = &db.store;
        app = make_app(s, "alpha", t(0)).await;
        s.create_key(key(app.id, key_hash, t(1))).await.unwrap();
        wf = make_workflow(s, app.id, &["OCR"], true, t(2)).await;
        sess = create(s, new_session(app.id, Some(wf.id), Some("ann"), t(10))).await;
        s.apply_session_change(
            SessionChange {
                status: Some(SessionStatus::Approved),
                attempts: vec![attempt(sess.id, 1, t(20))],
                reviews: vec![review(
                    SessionStatus::NotStarted,
                    SessionStatus::Approved,
                    Some("ok"),
                    t(20),
                )],
                events: vec![event(
                    SessionStatus::Approved,
                    Some(SessionStatus::NotStarted),
                )],
                ..change(&sess, 1, t(20))
            },
            None,
        )
        .await
        .unwrap();
    }
    let Db { _dir, path, store } = db;
    drop(store);

    // The file is in WAL mode (set persistently by the store).
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    let s = open_at(&path);
    s.ping().await.unwrap();
    assert_eq!(s.find_app("alpha").await.unwrap(), Some(app.clone()));
    assert_eq!(s.keys_by_hash_prefix([7; 8]).await.unwrap().len(), 1);
    assert_eq!(
        s.get_workflow(app.id, wf.id).await.unwrap(),
        Some(wf.clone())
    );
    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(bundle.session.status, SessionStatus::Approved);
    assert_eq!(bundle.session.version, 2);
    assert_eq!(bundle.attempts.len(), 1);
    assert_eq!(bundle.reviews.len(), 1);
    assert_eq!(bundle.reviews[0].comment.as_deref(), Some("ok"));
    assert_eq!(s.outbox_events(sess.id).await.unwrap().len(), 1);
    assert_eq!(s.verify_reviews(None).await.unwrap(), (1, vec![]));

    // The session counter continues, and the migration did not run twice.
    let next = create(&s, new_session(app.id, None, None, t(30))).await;
    assert_eq!(next.number, 2);
    drop(s);
    assert_eq!(SqliteStore::migrate_file(&path).unwrap(), 0);
    let s = open_at(&path);
    assert!(s.get_session(app.id, next.id).await.unwrap().is_some());
}
