//! The two leased queues, through the Store trait only: webhook deliveries (fan-out, claims
//! with per-destination limits and skips, leases, results, the disable rule, the log, resends)
//! and email jobs (claims, leases, retries, results).
use vouch_core::AppId;
use vouch_core::DestinationId;
use vouch_store::DeliveryState;

use crate::fixtures::*;
use vouch_store::{
    AttemptResult, ClaimQuery, DeliveryOutcome, Destination, EmailOutcome, EmailResult, NewEmailJob,
};

fn destination(
    app_id: AppId,
    label: &str,
    events: Option<&[&str]>,
    now: DateTime<Utc>,
) -> Destination {
    Destination {
        id: DestinationId::generate(),
        app_id,
        label: label.into(),
        url: format!("http://127.0.0.1:9/{label}"),
        enabled: true,
        subscribed_events: events.map(|e| e.iter().map(|s| s.to_string()).collect()),
        webhook_version: "v3".into(),
        secret: format!("whsec_{label}"),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    }
}

fn claim_query(now: DateTime<Utc>, per_destination: i64, skip: Vec<DestinationId>) -> ClaimQuery {
    ClaimQuery {
        now,
        lease_until: now + chrono::Duration::seconds(45),
        per_destination,
        skip_destinations: skip,
        limit: 100,
    }
}

fn result(
    d: &vouch_store::ClaimedDelivery,
    outcome: DeliveryOutcome,
    started: DateTime<Utc>,
) -> AttemptResult {
    AttemptResult {
        delivery_id: d.id,
        destination_id: d.destination.id,
        session_id: d.event.session_id,
        attempt: d.attempts + 1,
        url: d.destination.url.clone(),
        request_headers: json!({"webhook-id": d.event.event_id.to_string()}),
        request_body: "{}".into(),
        response_status: (outcome == DeliveryOutcome::Succeeded).then_some(200),
        response_body: Some("ok".into()),
        error: (outcome != DeliveryOutcome::Succeeded).then(|| "refused".to_string()),
        duration_ms: 12,
        started_at: started,
        outcome,
        payload: Some(json!({"event_id": d.event.event_id, "n": 1.5})),
    }
}

/// Three status changes of one session, each announcing one `status.updated` event.
async fn three_events(s: &Arc<dyn Store>, app: &App) -> Session {
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;
    let steps = [
        (SessionStatus::NotStarted, SessionStatus::InProgress),
        (SessionStatus::InProgress, SessionStatus::InReview),
        (SessionStatus::InReview, SessionStatus::Approved),
    ];
    for (i, (from, to)) in steps.into_iter().enumerate() {
        let now = t(20 + i as i64);
        apply(
            s,
            SessionChange {
                status: Some(to),
                reviews: vec![review(from, to, None, now)],
                events: vec![event(to, Some(from))],
                ..change(&sess, sess.version + i as i64, now)
            },
            None,
        )
        .await
        .unwrap();
    }
    sess
}

pub(crate) async fn deliveries_are_fanned_out_claimed_with_leases_and_recorded(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let d1 = s
        .create_destination(destination(app.id, "one", Some(&["status.updated"]), t(2)))
        .await
        .unwrap();
    let _other = s
        .create_destination(destination(app.id, "other", Some(&["data.updated"]), t(3)))
        .await
        .unwrap();
    let all = s
        .create_destination(destination(app.id, "all", None, t(4)))
        .await
        .unwrap();
    let sess = three_events(s, &app).await;

    // Each event once per subscribed destination; a second fan-out finds nothing.
    let now = t(100);
    assert_eq!(s.fan_out(now, 100).await.unwrap(), 3);
    assert_eq!(s.fan_out(now, 100).await.unwrap(), 0);
    let (list, n) = s.list_deliveries(app.id, d1.id, all_page()).await.unwrap();
    assert_eq!((list.len(), n), (3, 3));
    assert!(list
        .iter()
        .all(|d| d.state == DeliveryState::Pending && d.attempts == 0));
    assert_eq!(
        s.list_deliveries(app.id, _other.id, all_page())
            .await
            .unwrap()
            .1,
        0
    );
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(now));

    // At most two per destination per claim, oldest first, with what sending needs.
    let first = s
        .claim_deliveries(claim_query(now, 2, vec![]))
        .await
        .unwrap();
    assert_eq!(first.len(), 4);
    for dest in [d1.id, all.id] {
        assert_eq!(first.iter().filter(|c| c.destination.id == dest).count(), 2);
    }
    assert!(first
        .iter()
        .all(|c| c.event.session_id == sess.id && c.attempts == 0));
    assert!(first.iter().all(|c| c.payload.is_none()));
    // Leased deliveries are not claimed again; a skipped destination gives none.
    let second = s
        .claim_deliveries(claim_query(now, 2, vec![all.id]))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].destination.id, d1.id);
    let rest = s
        .claim_deliveries(claim_query(now, 2, vec![]))
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].destination.id, all.id);
    assert!(s
        .claim_deliveries(claim_query(now, 2, vec![]))
        .await
        .unwrap()
        .is_empty());
    // A released delivery (its node stopped before it finished) is claimed again at once.
    assert_eq!(s.release_deliveries(vec![first[0].id]).await.unwrap(), 1);
    let retaken = s
        .claim_deliveries(claim_query(now, 2, vec![]))
        .await
        .unwrap();
    assert_eq!(
        retaken.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first[0].id]
    );
    assert_eq!(s.release_deliveries(vec![]).await.unwrap(), 0);
    // Everything is leased: the next due time is the end of the lease.
    assert_eq!(
        s.next_delivery_due().await.unwrap(),
        Some(now + chrono::Duration::seconds(45))
    );

    // Results: a success, a retry and a failure.
    let d1_claims: Vec<_> = first.iter().filter(|c| c.destination.id == d1.id).collect();
    let retry_at = t(500);
    s.record_attempts(
        vec![
            result(d1_claims[0], DeliveryOutcome::Succeeded, t(101)),
            result(
                d1_claims[1],
                DeliveryOutcome::Retry { at: retry_at },
                t(102),
            ),
            result(&second[0], DeliveryOutcome::Failed, t(103)),
        ],
        chrono::Duration::seconds(110),
        t(110),
    )
    .await
    .unwrap();
    let (ok, log) = s
        .get_delivery(app.id, d1.id, d1_claims[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ok.state.as_str(), ok.attempts, ok.last_status),
        ("succeeded", 1, Some(200))
    );
    assert_eq!(ok.next_attempt_at, None);
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].request_headers["webhook-id"],
        json!(d1_claims[0].event.event_id.to_string())
    );
    assert_eq!(log[0].duration_ms, 12);
    let (retry, _) = s
        .get_delivery(app.id, d1.id, d1_claims[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (retry.state.as_str(), retry.next_attempt_at),
        ("pending", Some(retry_at))
    );
    let (failed, _) = s
        .get_delivery(app.id, d1.id, second[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("refused"));
    // The retry comes back at its time, with the payload first sent and its attempt count.
    let again = s
        .claim_deliveries(claim_query(retry_at, 2, vec![all.id]))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, d1_claims[1].id);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(
        again[0].payload,
        Some(json!({"event_id": d1_claims[1].event.event_id, "n": 1.5}))
    );
    let (attempts, n) = s
        .session_webhook_attempts(app.id, sess.id, all_page())
        .await
        .unwrap();
    assert_eq!((attempts.len(), n), (3, 3));
    assert!(
        attempts
            .windows(2)
            .all(|w| w[0].started_at >= w[1].started_at),
        "newest first"
    );

    // A resend puts a failed delivery back in the queue at once; another app sees nothing.
    let resent = s
        .resend_delivery(app.id, d1.id, second[0].id, t(600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (resent.state.as_str(), resent.next_attempt_at),
        ("pending", Some(t(600)))
    );
    let other_app = make_app(s, "beta", t(0)).await;
    assert!(s
        .resend_delivery(other_app.id, d1.id, second[0].id, t(600))
        .await
        .unwrap()
        .is_none());

    // d1 succeeds again: its failure streak is over.
    s.record_attempts(
        vec![result(&again[0], DeliveryOutcome::Succeeded, t(501))],
        chrono::Duration::seconds(502),
        t(502),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_destination(app.id, d1.id)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        None
    );

    // A batch is folded per destination in the order it happened: a success then a failure
    // means failing since that failure, whatever the destination's earlier streak.
    let d1_failing = |at| async move {
        s.get_destination(app.id, d1.id)
            .await
            .unwrap()
            .unwrap()
            .failing_since
            == Some(at)
    };
    let day = chrono::Duration::days(1);
    let fail = |at| result(&again[0], DeliveryOutcome::Retry { at: t(900) }, at);
    s.record_attempts(vec![fail(t(510))], day, t(511))
        .await
        .unwrap();
    assert!(d1_failing(t(510)).await);
    s.record_attempts(
        vec![
            result(&again[0], DeliveryOutcome::Succeeded, t(520)),
            fail(t(530)),
        ],
        day,
        t(531),
    )
    .await
    .unwrap();
    assert!(
        d1_failing(t(530)).await,
        "the streak restarts at the failure after the success"
    );
    s.record_attempts(vec![fail(t(540))], day, t(541))
        .await
        .unwrap();
    assert!(d1_failing(t(530)).await, "a failure continues the streak");

    // A destination failing since before the cut-off is disabled; its queue fails with it.
    let all_claims: Vec<_> = first
        .iter()
        .filter(|c| c.destination.id == all.id)
        .collect();
    s.record_attempts(
        vec![result(
            all_claims[0],
            DeliveryOutcome::Retry { at: t(900) },
            t(104),
        )],
        chrono::Duration::seconds(595),
        t(700),
    )
    .await
    .unwrap();
    let disabled = s.get_destination(app.id, all.id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.failing_since, Some(t(104)));
    assert!(
        disabled
            .disabled_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("failing continuously since ")),
        "{:?}",
        disabled.disabled_reason
    );
    let (left, _) = s.list_deliveries(app.id, all.id, all_page()).await.unwrap();
    assert!(
        left.iter().all(|d| d.state == DeliveryState::Failed),
        "{left:?}"
    );
    // d1 succeeded before it failed: its streak started at its failure and it stays enabled.
    assert!(
        s.get_destination(app.id, d1.id)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );

    // At start, a lone SQLite node takes back the leases of its crashed run; PostgreSQL nodes
    // leave other nodes' leases to run out.
    let leased = s
        .claim_deliveries(claim_query(t(600), 2, vec![]))
        .await
        .unwrap();
    assert_eq!(leased.len(), 1, "the resent delivery");
    let released = s.release_leases_at_start().await.unwrap();
    match db.backend {
        Backend::Sqlite => {
            assert_eq!(released, 1);
            assert_eq!(
                s.claim_deliveries(claim_query(t(601), 2, vec![]))
                    .await
                    .unwrap()
                    .len(),
                1
            );
        }
        Backend::Postgres => assert_eq!(released, 0),
    }
}

fn email(review_uuid: Uuid, recipient: &str, not_sent: Option<&str>) -> NewEmailJob {
    NewEmailJob {
        id: Uuid::now_v7(),
        review_uuid,
        kind: vouch_store::EmailKind::Decision,
        status: SessionStatus::Approved,
        recipient: recipient.into(),
        language: "es".into(),
        payload: json!({"subject": "Aprobado", "text": "¡Hola!", "html": "<p>¡Hola!</p>"}),
        message_id: format!("<{}@vouch>", Uuid::new_v4()),
        not_sent_reason: not_sent.and_then(vouch_store::NotSentReason::parse),
    }
}

pub(crate) async fn email_jobs_are_claimed_with_leases_and_recorded(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;
    let r = review(
        SessionStatus::NotStarted,
        SessionStatus::Approved,
        Some("ok"),
        t(20),
    );
    apply(
        s,
        SessionChange {
            status: Some(SessionStatus::Approved),
            emails: vec![
                email(r.uuid, "ana@example.com", None),
                email(r.uuid, "bo@example.com", Some("sandbox")),
            ],
            reviews: vec![r],
            ..change(&sess, sess.version, t(20))
        },
        None,
    )
    .await
    .unwrap();
    let jobs = s.email_jobs(sess.id).await.unwrap();
    let states: Vec<_> = jobs.iter().map(|j| j.state.as_str()).collect();
    assert_eq!(states, ["pending", "not_sent"]);
    assert_eq!(
        jobs[1].not_sent_reason,
        Some(vouch_store::NotSentReason::Sandbox)
    );
    assert_eq!(s.next_email_due().await.unwrap(), Some(t(20)));
    // `/metrics`: the queue holds one job, due for ten seconds at t(30)…
    let emails = |stats: Vec<vouch_store::stats::QueueStat>| {
        let q = stats.into_iter().find(|q| q.queue == "email_jobs").unwrap();
        (q.pending, q.due, q.oldest_due_age_seconds)
    };
    assert_eq!(emails(s.queue_stats(t(30)).await.unwrap()), (1, 1, 10.0));
    assert_eq!(emails(s.queue_stats(t(15)).await.unwrap()), (1, 0, 0.0));

    // Only the pending job is claimed, once while its lease runs.
    let lease = t(60);
    let claimed = s.claim_email_jobs(t(30), lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // …and, leased, is no longer due.
    assert_eq!(emails(s.queue_stats(t(31)).await.unwrap()), (1, 0, 0.0));
    assert_eq!(claimed[0].recipient.as_deref(), Some("ana@example.com"));
    assert_eq!(claimed[0].payload, jobs[0].payload);
    assert!(s
        .claim_email_jobs(t(31), lease, 10)
        .await
        .unwrap()
        .is_empty());
    // Released (its node stopped while sending), it is claimed again at once.
    assert_eq!(s.release_email_jobs(vec![claimed[0].id]).await.unwrap(), 1);
    assert_eq!(s.claim_email_jobs(t(31), lease, 10).await.unwrap().len(), 1);
    assert_eq!(s.next_email_due().await.unwrap(), Some(lease));

    // A temporary failure comes back at its time; then it is sent.
    let id = claimed[0].id;
    s.record_email_results(
        vec![EmailResult {
            id,
            attempts: 1,
            outcome: EmailOutcome::Retry {
                at: t(90),
                error: "421 try later".into(),
            },
        }],
        t(32),
    )
    .await
    .unwrap();
    assert!(s
        .claim_email_jobs(t(89), t(120), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_email_jobs(t(90), t(120), 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    assert_eq!(again[0].last_error.as_deref(), Some("421 try later"));
    s.record_email_results(
        vec![EmailResult {
            id,
            attempts: 2,
            outcome: EmailOutcome::Sent,
        }],
        t(91),
    )
    .await
    .unwrap();
    let sent = &s.email_jobs(sess.id).await.unwrap()[0];
    assert_eq!(
        (sent.state.as_str(), sent.attempts, sent.sent_at),
        ("sent", 2, Some(t(91)))
    );
    assert_eq!(s.next_email_due().await.unwrap(), None);
    assert_eq!(s.release_email_leases_at_start().await.unwrap(), 0);
}
