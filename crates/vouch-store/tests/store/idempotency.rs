#![allow(unused_imports)]
use crate::catalog::*;
use crate::changes::*;
use crate::fixtures::*;
use crate::sessions::*;
use vouch_core::AppId;

// --- 7. idempotency ----------------------------------------------------------------------------

pub(crate) fn idem_key(app_id: AppId, fingerprint: &str, now: DateTime<Utc>) -> IdemKey {
    IdemKey {
        app_id,
        key: "create-once".into(),
        fingerprint: fingerprint.into(),
        now,
    }
}

pub(crate) fn session_idem(key: IdemKey) -> Idem<Session> {
    Idem {
        key,
        status_code: 201,
        render: Box::new(|s: &Session| json!({"session_id": s.id, "session_number": s.number})),
    }
}

pub(crate) async fn idempotent_creates_replay_and_conflict(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let first_new = new_session(app.id, Some(wf.id), None, t(10));
    let first = s
        .create_session(
            first_new.clone(),
            Some(session_idem(idem_key(app.id, "a", t(10)))),
        )
        .await
        .unwrap();
    let first = fresh(first);
    assert_eq!(first.id, first_new.id);
    let body = json!({"session_id": first.id, "session_number": first.number});

    let second = s
        .create_session(
            new_session(app.id, Some(wf.id), None, t(20)),
            Some(session_idem(idem_key(app.id, "a", t(20)))),
        )
        .await
        .unwrap();
    assert_eq!(
        second,
        Written::Replayed {
            status_code: 201,
            body: body.clone()
        }
    );
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1, "a replay creates nothing");

    assert_eq!(
        s.idempotent_response(&idem_key(app.id, "a", t(30)), t(30))
            .await
            .unwrap(),
        Some(Written::Replayed {
            status_code: 201,
            body: body.clone()
        })
    );

    let conflict = s
        .create_session(
            new_session(app.id, Some(wf.id), None, t(40)),
            Some(session_idem(idem_key(app.id, "b", t(40)))),
        )
        .await;
    assert!(
        matches!(conflict, Err(StoreError::IdempotencyConflict)),
        "{conflict:?}"
    );
    let lookup = s
        .idempotent_response(&idem_key(app.id, "b", t(40)), t(40))
        .await;
    assert!(
        matches!(lookup, Err(StoreError::IdempotencyConflict)),
        "{lookup:?}"
    );
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1);

    // Keys are scoped to their application.
    let elsewhere = s
        .create_session(
            new_session(other.id, Some(owf.id), None, t(50)),
            Some(session_idem(idem_key(other.id, "b", t(50)))),
        )
        .await
        .unwrap();
    assert!(matches!(elsewhere, Written::Fresh(_)));

    // After the 24-hour window the key is free again.
    let later = t(10) + chrono::Duration::hours(25);
    let renewed = s
        .create_session(
            new_session(app.id, Some(wf.id), None, later),
            Some(session_idem(idem_key(app.id, "b", later))),
        )
        .await
        .unwrap();
    assert!(matches!(renewed, Written::Fresh(_)), "{renewed:?}");
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 2);
}

pub(crate) async fn concurrent_idempotent_creates_write_once(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;

    let mut set = JoinSet::new();
    for i in 0..16 {
        let st = s.clone();
        let new = new_session(app.id, Some(wf.id), None, t(10 + i));
        let idem = session_idem(idem_key(app.id, "a", t(10 + i)));
        set.spawn(async move { st.create_session(new, Some(idem)).await.unwrap() });
    }
    let results = set.join_all().await;
    let fresh: Vec<&Session> = results
        .iter()
        .filter_map(|w| match w {
            Written::Fresh(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(fresh.len(), 1, "exactly one request does the work");
    let body = json!({"session_id": fresh[0].id, "session_number": 1});
    for w in &results {
        if let Written::Replayed {
            status_code,
            body: b,
        } = w
        {
            assert_eq!((*status_code, b), (201, &body));
        }
    }
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

pub(crate) async fn idempotent_changes_apply_once(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), None, t(10))).await;
    let idem = |fp: &str| Idem::<()> {
        key: IdemKey {
            app_id: app.id,
            key: "decide".into(),
            fingerprint: fp.into(),
            now: t(20),
        },
        status_code: 200,
        render: Box::new(|_: &()| json!({"ok": true})),
    };
    let c = SessionChange {
        status: Some(SessionStatus::Approved),
        reviews: vec![review(
            SessionStatus::NotStarted,
            SessionStatus::Approved,
            None,
            t(20),
        )],
        events: vec![event(
            SessionStatus::Approved,
            Some(SessionStatus::NotStarted),
        )],
        ..change(&sess, 1, t(20))
    };
    assert_eq!(
        apply(s, c.clone(), Some(idem("a"))).await.unwrap(),
        Modified::Applied
    );
    // The same request again is replayed, not re-checked against the (now newer) version.
    let mut again = c.clone();
    again.reviews = vec![review(
        SessionStatus::NotStarted,
        SessionStatus::Approved,
        None,
        t(20),
    )];
    again.events = vec![event(
        SessionStatus::Approved,
        Some(SessionStatus::NotStarted),
    )];
    assert_eq!(
        apply(s, again, Some(idem("a"))).await.unwrap(),
        Modified::Replayed {
            status_code: 200,
            body: json!({"ok": true})
        }
    );
    assert_eq!(s.reviews(sess.id).await.unwrap().len(), 1);
    assert_eq!(s.outbox_events(sess.id).await.unwrap().len(), 1);
    assert_eq!(session(s, &sess).await.version, 2);

    // A failed change records no key: the same key may be used again.
    let failed = apply(
        s,
        change(&sess, 99, t(21)),
        Some(Idem::<()> {
            key: IdemKey {
                key: "later".into(),
                ..idem("x").key
            },
            status_code: 200,
            render: Box::new(|_: &()| json!({})),
        }),
    )
    .await;
    assert!(
        matches!(failed, Err(StoreError::VersionConflict)),
        "{failed:?}"
    );
    let lookup = s
        .idempotent_response(
            &IdemKey {
                app_id: app.id,
                key: "later".into(),
                fingerprint: "x".into(),
                now: t(22),
            },
            t(22),
        )
        .await
        .unwrap();
    assert_eq!(lookup, None);
}
