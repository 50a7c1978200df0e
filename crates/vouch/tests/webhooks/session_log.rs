//! A session's webhook log as Didit documents it: an array of attempts, newest first, one entry
//! read by its uuid, and a resend that answers the new attempt (both path forms).

use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Scopes};

use crate::common::status_json;
use crate::delivery::{destination, recorded, server};
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn the_log_is_an_array_of_attempts_each_readable_and_resendable() {
    let t = server().await;
    let rx = Receiver::start().await;
    // The first delivery fails and is not retried (a 400): the resend is what gets through.
    rx.script(vec![Reply::Status(400)]);
    let d = destination(&t, &rx.url, None).await;
    let (sid, _) = t.session(&["OCR"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await; // In Progress, then Approved
    let path = format!("/v3/session/{sid}/webhooks/");
    let log = recorded(&t, &path, |l| l.as_array().is_some_and(|a| a.len() == 2)).await;
    let entries = log.as_array().unwrap();
    // Newest first. The two events' deliveries may be sent in either order, so whichever was
    // answered first got the 400.
    let at = |e: &Value| {
        chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).unwrap()
    };
    assert!(at(&entries[0]) >= at(&entries[1]), "{log}");
    let failed = entries
        .iter()
        .find(|e| e["response_status"] == 400)
        .expect("the 400");
    let answered = entries
        .iter()
        .find(|e| e["response_status"] == 200)
        .expect("the 200");
    assert_eq!(failed["response_status"], 400);
    assert_eq!(failed["status"], "failed");
    assert_eq!(answered["status"], "success");
    assert_eq!(answered["webhook_type"], "status.updated");
    assert_eq!(answered["request_url"], rx.url.as_str());
    assert!(answered["response_time_ms"].is_i64());
    assert!(answered["created_at"].is_string());
    assert_eq!(answered["destination_id"], d["uuid"]);
    // Headers and body are JSON-encoded strings, the body exactly what was signed and sent.
    let headers: Value =
        serde_json::from_str(answered["request_header"].as_str().unwrap()).unwrap();
    assert!(
        headers
            .to_string()
            .to_lowercase()
            .contains("x-signature-v2"),
        "{headers}"
    );
    let body: Value = serde_json::from_str(answered["request_body"].as_str().unwrap()).unwrap();
    assert_eq!(body["session_id"].as_str(), Some(sid.as_str()));
    assert!(
        ["In Progress", "Approved"].contains(&body["status"].as_str().unwrap()),
        "{body}"
    );

    // One entry by its uuid, with or without the trailing slash; another session's path is 404.
    let uuid = failed["uuid"].as_str().unwrap();
    for p in [
        format!("/v3/session/{sid}/webhook/{uuid}"),
        format!("/v3/session/{sid}/webhook/{uuid}/"),
    ] {
        let (s, one) = t.get(&p).await;
        assert_eq!((s, &one), (200, failed), "{p}");
    }
    let (other, _) = t.session(&["OCR"]).await;
    assert_eq!(
        t.get(&format!("/v3/session/{other}/webhook/{uuid}"))
            .await
            .0,
        404
    );
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        t.get(&format!("/v3/session/{sid}/webhook/{unknown}"))
            .await
            .0,
        404
    );

    // Resending the failed one: the receiver now answers 200; the answer is the new attempt,
    // with the same event id and a fresh signature; the log gains an entry.
    let event_id = body_event_id(failed);
    let (s, resent) = t
        .call(
            Method::POST,
            &format!("/v3/session/{sid}/webhook/{uuid}/resend"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{resent}");
    assert_eq!(
        (
            resent["status"].as_str(),
            resent["response_status"].as_i64()
        ),
        (Some("success"), Some(200))
    );
    assert_ne!(resent["uuid"], failed["uuid"]);
    assert_eq!(body_event_id(&resent), event_id);
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].json["event_id"], event_id.as_str());
    let (_, log) = t.get(&path).await;
    assert_eq!(log.as_array().map(Vec::len), Some(3));
    assert_eq!(log[0]["uuid"], resent["uuid"]);
    let (s, again) = t
        .call(
            Method::POST,
            &format!("/v3/session/{sid}/webhook/{uuid}/resend/"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{again}");

    // Privileges as Didit documents them: reading needs sessions and decisions read; resending
    // needs webhooks write too.
    let webhooks_only = t
        .key_with(Scopes {
            webhooks: Access::Write,
            ..Scopes::all(Access::None)
        })
        .await;
    let reader = t.key_with(Scopes::all(Access::Read)).await;
    for (key, method, p, want) in [
        (&webhooks_only, Method::GET, path.clone(), 403),
        (&reader, Method::GET, path.clone(), 200),
        (
            &reader,
            Method::POST,
            format!("/v3/session/{sid}/webhook/{uuid}/resend"),
            403,
        ),
    ] {
        let (s, b) = status_json(t.request(method.clone(), &p, Some(key), None).await).await;
        assert_eq!(s, want, "{method} {p}: {b}");
    }
    // A session without deliveries has an empty log.
    assert_eq!(
        t.get(&format!("/v3/session/{other}/webhooks/")).await.1,
        json!([])
    );
}

fn body_event_id(entry: &Value) -> String {
    let body: Value = serde_json::from_str(entry["request_body"].as_str().unwrap()).unwrap();
    body["event_id"].as_str().unwrap().to_string()
}
