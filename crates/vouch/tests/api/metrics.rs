//! `/metrics`: request latency histograms per route template and status, each job queue's depth
//! and oldest due job, and the store's own figures (SQLite write groups, PostgreSQL pool waits).

use serde_json::json;

use crate::common::TestServer;

/// The value of the first line starting with `series ` (a name with its labels).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn latency_histograms_queues_and_the_store_are_measured() {
    // A receiver that refuses connections: the delivery stays pending, due again later.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/hook")
    };
    let t = TestServer::start_with(|c| {
        c.allow_private_destinations = true;
        c.webhooks.poll_interval = std::time::Duration::from_millis(50);
    })
    .await;
    for _ in 0..3 {
        assert_eq!(t.get("/v3/sessions/").await.0, 200);
    }
    assert_eq!(
        t.get("/v3/session/00000000-0000-4000-8000-000000000000/decision/")
            .await
            .0,
        404
    );
    let (s, b) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "down", "url": closed, "subscribed_events": ["status.updated"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (id, _) = t.session(&["OCR"]).await;
    assert_eq!(t.attempt(&id, "feature_ocr_1", "In Review").await.0, 201);
    let (s, b) = t
        .call(
            reqwest::Method::PATCH,
            &format!("/v3/session/{id}/update-status/"),
            Some(json!({"new_status": "Approved"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // The deliveries were tried, refused, and wait for their retries.
    let mut text = String::new();
    for _ in 0..100 {
        text = t.metrics().await;
        if value(&text, r#"vouch_queue_jobs{queue="webhook_deliveries"}"#) >= 1.0
            && value(&text, r#"vouch_queue_jobs{queue="webhook_fanout"}"#) == 0.0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // One delivery per status change (the attempt's and the decision's), none yet delivered.
    assert!(
        value(&text, r#"vouch_queue_jobs{queue="webhook_deliveries"}"#) >= 2.0,
        "{text}"
    );
    assert_eq!(
        value(&text, r#"vouch_queue_jobs{queue="webhook_fanout"}"#),
        0.0,
        "{text}"
    );
    for queue in [
        "webhook_deliveries",
        "email_jobs",
        "engine_jobs",
        "batch_jobs",
        "import_jobs",
        "webhook_fanout",
    ] {
        let age = value(
            &text,
            &format!(r#"vouch_queue_oldest_due_age_seconds{{queue="{queue}"}}"#),
        );
        assert!(age >= 0.0, "{queue}: {age}");
        value(
            &text,
            &format!(r#"vouch_queue_due_jobs{{queue="{queue}"}}"#),
        );
    }

    // Latency: a histogram per route template and status, cumulative, its count the requests'.
    assert!(
        text.contains("# TYPE vouch_http_request_duration_seconds histogram"),
        "{text}"
    );
    let labels = r#"method="GET",route="/v3/sessions/",status="200""#;
    let count = value(
        &text,
        &format!("vouch_http_request_duration_seconds_count{{{labels}}}"),
    );
    assert_eq!(count, 3.0);
    assert_eq!(
        value(&text, &format!("vouch_http_requests_total{{{labels}}}")),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"vouch_http_request_duration_seconds_bucket{{{labels},le="+Inf"}}"#)
        ),
        3.0
    );
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "vouch_http_request_duration_seconds_bucket{{{labels}"
            ))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        buckets.len() > 5 && buckets.windows(2).all(|w| w[0] <= w[1]),
        "{buckets:?}"
    );
    assert!(
        value(
            &text,
            &format!("vouch_http_request_duration_seconds_sum{{{labels}}}")
        ) > 0.0
    );
    let route = r#"method="GET",route="/v3/session/{id}/decision/",status="404""#;
    assert_eq!(
        value(
            &text,
            &format!("vouch_http_request_duration_seconds_count{{{route}}}")
        ),
        1.0,
        "{text}"
    );

    // The store: its write groups (each change counted once), and PostgreSQL's pool waits.
    let backend = if text.contains("vouch_sqlite_write_group_requests_count") {
        "sqlite"
    } else {
        "postgres"
    };
    let groups = value(
        &text,
        &format!("vouch_{backend}_write_group_requests_count"),
    );
    let requests = value(&text, &format!("vouch_{backend}_write_group_requests_sum"));
    assert!(
        groups >= 1.0 && requests >= groups,
        "{groups} groups, {requests} requests"
    );
    assert_eq!(
        value(
            &text,
            &format!("vouch_{backend}_write_group_requests_bucket{{le=\"+Inf\"}}")
        ),
        groups
    );
    value(&text, &format!("vouch_{backend}_writes_queued"));
    if backend == "postgres" {
        assert!(
            value(&text, "vouch_postgres_pool_wait_seconds_count") >= 5.0,
            "{text}"
        );
        assert!(value(&text, "vouch_postgres_pool_connections") >= 1.0);
        value(&text, "vouch_postgres_pool_idle");
        value(&text, "vouch_postgres_pool_waiting");
    }
}
