#![allow(unused_imports)]
use crate::catalog::*;
use crate::changes::*;
use crate::fixtures::*;
use crate::idempotency::*;
use vouch_core::WorkflowId;

// --- 11. list filters --------------------------------------------------------------------------

pub(crate) async fn list_sessions_filters_and_pages(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let wf2 = make_workflow(s, app.id, &["LIVENESS"], false, t(1)).await;
    let kyb = make_workflow(s, app.id, &["KYB_REGISTRY"], false, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let mk =
        |wf: WorkflowId, vd: &str, when: &str| new_session(app.id, Some(wf), Some(vd), at(when));
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

    apply(
        s,
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
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Declined),
            country: Some("FR".into()),
            ..change(&s3, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    apply(
        s,
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
        apply(
            s,
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
    let Db {
        _dir, path, store, ..
    } = db;
    drop(store);

    // The file is in WAL mode (set persistently by the store).
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
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

/// The counts a list answers from the session tallies (kind, status, workflow, country, whole
/// days) equal the sessions themselves counted, after creations, status and country changes
/// and deletions, before and after the tallies' differences are folded (PostgreSQL).
pub(crate) async fn list_counts_from_tallies_match_the_sessions(db: Db) {
    let s = &db.store;
    let app = make_app(s, "tallies", t(0)).await;
    let other = make_app(s, "elsewhere", t(0)).await;
    let wfs = [
        make_workflow(s, app.id, &["OCR"], true, t(1)).await.id,
        make_workflow(s, app.id, &["LIVENESS"], false, t(1))
            .await
            .id,
        make_workflow(s, app.id, &["KYB_REGISTRY"], false, t(1))
            .await
            .id,
    ];
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;
    create(
        s,
        new_session(other.id, Some(owf.id), None, at("2024-03-02T01:00:00Z")),
    )
    .await;
    let statuses = [
        SessionStatus::Approved,
        SessionStatus::Declined,
        SessionStatus::InReview,
    ];
    let countries = [None, Some("ESP"), Some("MEX")];
    // What each session is: (kind is business, status, workflow, country, day, live).
    struct Truth {
        business: bool,
        status: SessionStatus,
        wf: WorkflowId,
        country: Option<&'static str>,
        day: u32,
        live: bool,
    }
    let mut truth = Vec::new();
    let mut made = Vec::new();
    for i in 0..36u32 {
        let wf = wfs[(i % 3) as usize];
        let day = 1 + i % 5;
        let when = format!("2024-03-{day:02}T{:02}:30:00Z", i % 24);
        let session = create(s, new_session(app.id, Some(wf), None, at(&when))).await;
        truth.push(Truth {
            business: i % 3 == 2,
            status: session.status,
            wf,
            country: None,
            day,
            live: true,
        });
        made.push(session);
    }
    let check = |truth: &Vec<Truth>| {
        let mut cases: Vec<(SessionFilter, usize)> = Vec::new();
        let kinds = [
            (None, Some(false)),
            (Some(KindFilter::Business), Some(true)),
            (Some(KindFilter::All), None),
        ];
        let status_sets: Vec<Vec<SessionStatus>> = vec![
            vec![],
            vec![SessionStatus::Approved],
            vec![SessionStatus::Approved, SessionStatus::Declined],
            // A status named twice counts (and lists) its sessions once.
            vec![
                SessionStatus::InReview,
                SessionStatus::Approved,
                SessionStatus::InReview,
            ],
            vec![SessionStatus::NotStarted],
        ];
        for (kind, business) in kinds {
            for st in &status_sets {
                for wf in [None, Some(wfs[0]), Some(wfs[2])] {
                    for country in [None, Some("ESP")] {
                        let n = truth
                            .iter()
                            .filter(|t| {
                                t.live
                                    && business.is_none_or(|b| b == t.business)
                                    && (st.is_empty() || st.contains(&t.status))
                                    && wf.is_none_or(|w| w == t.wf)
                                    && country.is_none_or(|c| Some(c) == t.country)
                            })
                            .count();
                        cases.push((
                            SessionFilter {
                                kind,
                                statuses: st.clone(),
                                workflow_ids: wf.into_iter().collect(),
                                country: country.map(String::from),
                                ..Default::default()
                            },
                            n,
                        ));
                    }
                }
                for (from, to) in [(Some(2), Some(3)), (None, Some(1)), (Some(4), None)] {
                    let n = truth
                        .iter()
                        .filter(|t| {
                            t.live
                                && business.is_none_or(|b| b == t.business)
                                && (st.is_empty() || st.contains(&t.status))
                                && from.is_none_or(|d| t.day >= d)
                                && to.is_none_or(|d| t.day <= d)
                        })
                        .count();
                    let date = |d: u32| chrono::NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
                    cases.push((
                        SessionFilter {
                            kind,
                            statuses: st.clone(),
                            date_from: from.map(date),
                            date_to: to.map(date),
                            ..Default::default()
                        },
                        n,
                    ));
                }
            }
        }
        cases
    };
    let verify = |cases: Vec<(SessionFilter, usize)>, when: &'static str| {
        let s = s.clone();
        async move {
            for (f, want) in cases {
                let (rows, n) = s.list_sessions(app.id, &f, all_page()).await.unwrap();
                assert_eq!(n as usize, want, "{when}: count of {f:?}");
                assert_eq!(rows.len(), want, "{when}: rows of {f:?}");
            }
        }
    };
    verify(check(&truth), "created").await;

    // Changes: statuses, countries, some twice; then deletions.
    for (i, session) in made.iter().enumerate() {
        let status = statuses[i % 3];
        let country = countries[(i / 3) % 3];
        apply(
            s,
            SessionChange {
                status: Some(status),
                country: country.map(String::from),
                ..change(session, 1, t(100))
            },
            None,
        )
        .await
        .unwrap();
        truth[i].status = status;
        truth[i].country = country;
    }
    verify(check(&truth), "changed").await;
    assert_eq!(
        s.fold_tallies().await.unwrap() > 0,
        matches!(db.backend, Backend::Postgres),
        "only PostgreSQL keeps differences to fold"
    );
    verify(check(&truth), "folded").await;
    for (i, session) in made.iter().enumerate().filter(|(i, _)| i % 4 == 1) {
        apply(
            s,
            SessionChange {
                status: Some(SessionStatus::Approved),
                ..change(session, 2, t(200))
            },
            None,
        )
        .await
        .unwrap();
        truth[i].status = SessionStatus::Approved;
    }
    for (i, session) in made.iter().enumerate().filter(|(i, _)| i % 5 == 0) {
        assert!(s.delete_session(app.id, session.id, t(300)).await.unwrap());
        truth[i].live = false;
    }
    verify(check(&truth), "changed again and deleted").await;
    s.fold_tallies().await.unwrap();
    verify(check(&truth), "folded again").await;

    // The counts are the tallies' (a tally changed by hand shows in the count), and a filter
    // they cannot answer (here a vendor_data) is counted from the sessions.
    let approved = SessionFilter {
        statuses: vec![SessionStatus::Approved],
        ..Default::default()
    };
    let (_, before) = s
        .list_sessions(app.id, &approved, all_page())
        .await
        .unwrap();
    let conn = raw(&db);
    let app_text = app.id.uuid().to_string();
    let changed = conn
        .execute(
            "UPDATE session_tallies SET n = n + 100 WHERE app_id = ?1 AND kind = 'user' AND status = 'Approved' AND workflow_id IN (SELECT workflow_id FROM session_tallies WHERE app_id = ?1 AND kind = 'user' AND status = 'Approved' AND n > 0 LIMIT 1)",
            &[&app_text],
        )
        .unwrap();
    assert!(changed >= 1);
    let (_, after) = s
        .list_sessions(app.id, &approved, all_page())
        .await
        .unwrap();
    assert_eq!(after, before + 100 * changed as i64);
    if matches!(db.backend, Backend::Postgres) {
        // A change from a connection whose search_path is elsewhere (an operator's psql) is
        // tallied too: the trigger keeps its own schema.
        let declined = SessionFilter {
            statuses: vec![SessionStatus::Declined],
            ..Default::default()
        };
        let (_, was_declined) = s
            .list_sessions(app.id, &declined, all_page())
            .await
            .unwrap();
        assert!(was_declined > 0);
        let c = vouch_store::testing::connect(&db.url).await.unwrap();
        let schema: String = c
            .query_one("SELECT current_schema()", &[])
            .await
            .unwrap()
            .get(0);
        c.batch_execute(&format!(
            "SET search_path TO public; UPDATE \"{schema}\".sessions SET status = 'Approved' \
             WHERE app_id = '{app_text}' AND kind = 'user' AND status = 'Declined' AND deleted_at IS NULL"
        ))
        .await
        .unwrap();
        assert_eq!(
            s.list_sessions(app.id, &declined, all_page())
                .await
                .unwrap()
                .1,
            0
        );
        let (_, approved_now) = s
            .list_sessions(app.id, &approved, all_page())
            .await
            .unwrap();
        assert_eq!(approved_now, after + was_declined);
    }
    let vendor = SessionFilter {
        vendor_data: Some("nobody".into()),
        ..approved
    };
    assert_eq!(
        s.list_sessions(app.id, &vendor, all_page())
            .await
            .unwrap()
            .1,
        0
    );
}
