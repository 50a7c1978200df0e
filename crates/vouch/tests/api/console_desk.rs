//! The reviewer's desk in the console over real HTTP (both backends): claims and the next
//! session, four-eyes, a step's result and notes, the session's webhooks and emails, and the
//! console in Spanish.

use reqwest::StatusCode;
use serde_json::json;
use vouch_core::console::Role;

use crate::common::TestServer;
use crate::console_support::*;

#[tokio::test]
async fn a_claimed_session_is_decided_by_its_claimant_or_an_admin_and_next_takes_the_oldest() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    user(&t, "sam@acme.example", Role::Reviewer, vec![]).await;
    user(&t, "ada@acme.example", Role::Admin, vec![]).await;
    let first = in_review(&t, "customer-1").await;
    let second = in_review(&t, "customer-2").await;
    let rita = cookie(&t, "rita@acme.example").await;
    let sam = cookie(&t, "sam@acme.example").await;
    let ada = cookie(&t, "ada@acme.example").await;

    // "Next" claims the oldest unclaimed session for whoever asks.
    let token = csrf(&get(&t, "/console/", &rita).await.body);
    let a = post(&t, "/console/next", &rita, &[("csrf", &token)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, format!("/console/sessions/{first}?claimed=1"));
    let sam_token = csrf(&get(&t, "/console/", &sam).await.body);
    let a = post(&t, "/console/next", &sam, &[("csrf", &sam_token)]).await;
    assert_eq!(a.location, format!("/console/sessions/{second}?claimed=1"));
    let a = post(&t, "/console/next", &sam, &[("csrf", &sam_token)]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("Nothing is waiting for review"));

    // The queue shows who holds what, and filters by it.
    let mine = get(&t, "/console/?assignee=me", &rita).await;
    assert!(mine.body.contains("customer-1") && !mine.body.contains("customer-2"));
    let nobody = get(&t, "/console/?assignee=nobody", &rita).await;
    assert!(!nobody.body.contains("customer-1") && !nobody.body.contains("customer-2"));
    assert!(get(&t, "/console/", &rita)
        .await
        .body
        .contains("sam@acme.example"));

    // Sam cannot claim or decide Rita's session; the page says who holds it.
    let page = get(&t, &format!("/console/sessions/{first}"), &sam).await;
    assert!(page.body.contains("Claimed by rita@acme.example until"));
    assert!(!page.body.contains("value=\"decide\""));
    let a = post(
        &t,
        &format!("/console/sessions/{first}/claim"),
        &sam,
        &[("csrf", &sam_token), ("action", "claim")],
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let v = version(
        &get(&t, &format!("/console/sessions/{first}"), &rita)
            .await
            .body,
    );
    let a = post(
        &t,
        &format!("/console/sessions/{first}/decision"),
        &sam,
        &[
            ("csrf", &sam_token),
            ("version", &v),
            ("new_status", "Declined"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a
        .body
        .contains("rita@acme.example has claimed this session"));
    assert_eq!(t.status_of(&first).await, "In Review");

    // An admin assigns it to Sam, who then decides it; the claim ends with the decision.
    let ada_token = csrf(&get(&t, "/console/", &ada).await.body);
    let a = post(
        &t,
        &format!("/console/sessions/{first}/claim"),
        &ada,
        &[
            ("csrf", &ada_token),
            ("action", "assign"),
            ("assignee", "sam@acme.example"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = get(&t, &format!("/console/sessions/{first}"), &rita).await;
    assert!(page.body.contains("Claimed by sam@acme.example"));
    let a = post(
        &t,
        &format!("/console/sessions/{first}/decision"),
        &sam,
        &[
            ("csrf", &sam_token),
            ("version", &v),
            ("new_status", "Declined"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(t.status_of(&first).await, "Declined");
    assert!(t
        .store
        .claims(vec![first.parse().unwrap()], chrono::Utc::now())
        .await
        .unwrap()
        .is_empty());

    // An expired claim is nobody's: Rita claims Sam's second session once his claim has run out.
    let expired = vouch_store::Claim {
        session_id: second.parse().unwrap(),
        user_id: t
            .store
            .console_user("sam@acme.example".into())
            .await
            .unwrap()
            .unwrap()
            .id,
        email: "sam@acme.example".into(),
        claimed_at: chrono::Utc::now() - chrono::Duration::hours(2),
        expires_at: chrono::Utc::now() - chrono::Duration::hours(1),
    };
    t.store.claim_session(expired, true).await.unwrap();
    let a = post(
        &t,
        &format!("/console/sessions/{second}/claim"),
        &rita,
        &[("csrf", &token), ("action", "claim")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = get(&t, &format!("/console/sessions/{second}"), &rita).await;
    assert!(page.body.contains("You have claimed this session until"));
}

#[tokio::test]
async fn under_four_eyes_a_decision_waits_for_a_second_reviewer_and_never_its_author() {
    let t = TestServer::start().await;
    t.store.set_four_eyes(t.app.id, true).await.unwrap();
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    user(&t, "sam@acme.example", Role::Reviewer, vec![]).await;
    let id = in_review(&t, "customer-4").await;
    let rita = cookie(&t, "rita@acme.example").await;
    let sam = cookie(&t, "sam@acme.example").await;
    let page = get(&t, &format!("/console/sessions/{id}"), &rita).await;
    assert!(page.body.contains("Four-eyes review is on"));
    let (token, v) = (csrf(&page.body), version(&page.body));
    let decision = format!("/console/sessions/{id}/decision");
    let a = post(
        &t,
        &decision,
        &rita,
        &[
            ("csrf", &token),
            ("version", &v),
            ("new_status", "Approved"),
            ("comment", "Looks right."),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, format!("/console/sessions/{id}?staged=1"));
    assert_eq!(t.status_of(&id).await, "In Review");
    assert!(get(&t, "/console/", &sam).await.body.contains("Staged"));

    // Its author cannot approve it (refused on the server, whatever the page offers).
    let staged = format!("/console/sessions/{id}/staged");
    let a = post(
        &t,
        &staged,
        &rita,
        &[("csrf", &token), ("action", "approve")],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a
        .body
        .contains("You cannot approve or reject your own decision"));
    assert_eq!(t.status_of(&id).await, "In Review");

    // The second reviewer sends it back with a note; the author sees why.
    let page = get(&t, &format!("/console/sessions/{id}"), &sam).await;
    assert!(page
        .body
        .contains("rita@acme.example decided: Approved — Looks right."));
    let sam_token = csrf(&page.body);
    let a = post(
        &t,
        &staged,
        &sam,
        &[
            ("csrf", &sam_token),
            ("action", "reject"),
            ("note", "Check the expiry date first."),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let page = get(&t, &format!("/console/sessions/{id}"), &rita).await;
    assert!(page
        .body
        .contains("sam@acme.example sent your decision back: Check the expiry date first."));

    // Staged again, and approved by the second reviewer: it takes effect, attributed to both.
    let a = post(
        &t,
        &decision,
        &rita,
        &[
            ("csrf", &token),
            ("version", &v),
            ("new_status", "Approved"),
            ("comment", "Expiry checked."),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = post(
        &t,
        &staged,
        &sam,
        &[("csrf", &sam_token), ("action", "approve")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(t.status_of(&id).await, "Approved");
    let (_, trail) = t.get(&format!("/v3/sessions/{id}/reviews/")).await;
    let row = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["new_status"] == "Approved")
        .cloned()
        .unwrap();
    assert_eq!(row["actor_type"], "CONSOLE_USER");
    assert_eq!(
        row["actor_display"],
        "rita@acme.example, approved by sam@acme.example"
    );
    assert_eq!(row["comment"], "Expiry checked.");
    assert!(t
        .store
        .staged_decisions(vec![id.parse().unwrap()])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_step_result_and_a_note_from_the_console_land_in_the_trail() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let id = in_review(&t, "customer-5").await;
    let c = cookie(&t, "rita@acme.example").await;
    let token = csrf(&get(&t, &format!("/console/sessions/{id}"), &c).await.body);
    let a = post(
        &t,
        &format!("/console/sessions/{id}/steps/feature_ocr_1/status"),
        &c,
        &[
            ("csrf", &token),
            ("new_status", "Declined"),
            ("comment", "Expired document."),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let a = post(
        &t,
        &format!("/console/sessions/{id}/notes"),
        &c,
        &[("csrf", &token), ("comment", "Called the customer.")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    // A blank note is refused with the API's words.
    let a = post(
        &t,
        &format!("/console/sessions/{id}/notes"),
        &c,
        &[("csrf", &token), ("comment", "   ")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body.contains("comment: This field may not be blank."),
        "{}",
        a.body
    );
    let (_, trail) = t.get(&format!("/v3/sessions/{id}/reviews/")).await;
    let rows = trail["results"].as_array().unwrap();
    let by_console: Vec<_> = rows
        .iter()
        .filter(|r| r["actor_type"] == "CONSOLE_USER")
        .collect();
    assert_eq!(by_console.len(), 2, "{trail}");
    assert!(by_console
        .iter()
        .all(|r| r["actor_display"] == "rita@acme.example"));
    assert!(by_console
        .iter()
        .any(|r| r["comment"] == "Called the customer."));
    assert!(by_console
        .iter()
        .any(|r| r["comment"] == "Expired document."));
    let (_, d) = t.get(&format!("/v3/session/{id}/decision/")).await;
    assert_eq!(d["id_verifications"][0]["status"], "Declined", "{d}");
    let page = get(&t, &format!("/console/sessions/{id}?noted=1"), &c).await;
    assert!(page.body.contains("The note is on the trail."));
    assert!(page.body.contains("Called the customer."));
}

#[tokio::test]
async fn the_session_page_lists_its_webhook_deliveries_and_emails() {
    let receiver = crate::common::file_server("ok").await;
    let t = TestServer::start_with(|c| {
        c.allow_private_destinations = true;
        c.webhooks.poll_interval = std::time::Duration::from_millis(50);
    })
    .await;
    let (s, b) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "crm", "url": receiver, "subscribed_events": ["status.updated"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let id = in_review(&t, "customer-6").await;
    let (s, b) = t
        .call(
            reqwest::Method::PATCH,
            &format!("/v3/session/{id}/update-status/"),
            Some(json!({"new_status": "Declined", "send_email": true,
                        "email_address": "person@example.com"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let c = cookie(&t, "rita@acme.example").await;
    let mut page = String::new();
    for _ in 0..100 {
        page = get(&t, &format!("/console/sessions/{id}"), &c).await.body;
        if page.contains("HTTP 200") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        page.contains("Webhook deliveries") && page.contains("HTTP 200"),
        "{page}"
    );
    assert!(page.contains(&receiver));
    assert!(page.contains("person@example.com"), "{page}");
}

#[tokio::test]
async fn the_console_speaks_spanish_when_asked() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let login = send(
        browser()
            .get(format!("{}/console/login", t.base))
            .header("accept-language", "es-ES,es;q=0.9,en;q=0.5"),
    )
    .await;
    assert!(login.body.contains("<html lang=\"es\">"));
    assert!(login
        .body
        .contains("Inicia sesión para revisar verificaciones"));
    let c = cookie(&t, "rita@acme.example").await;
    let q = get(&t, "/console/?lang=es", &c).await;
    assert!(q.body.contains("Verificaciones por revisar"), "{}", q.body);
    let q = get(&t, "/console/", &c).await;
    assert!(q.body.contains("Sessions to review"));
}

#[tokio::test]
async fn the_queue_pages_by_keyset_forward_and_back_with_the_whole_count() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let wf = t.workflow(&["OCR"]).await;
    for i in 0..55 {
        let (s, b) = t
            .post(
                "/v3/session/",
                json!({"workflow_id": wf["uuid"], "vendor_data": format!("p-{i:02}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let id = b["session_id"].as_str().unwrap().to_string();
        assert_eq!(t.attempt(&id, "feature_ocr_1", "In Review").await.0, 201);
    }
    let c = cookie(&t, "rita@acme.example").await;
    let first = get(&t, "/console/", &c).await.body;
    assert!(first.contains("55 sessions"));
    assert!(first.contains(">p-00<") && first.contains(">p-49<") && !first.contains(">p-50<"));
    assert!(!first.contains("rel=\"prev\""));
    let next = link(&first, "next").expect("a next page");
    assert!(next.contains("after="), "{next}");
    let second = get(&t, &next, &c).await.body;
    assert!(
        second.contains("55 sessions"),
        "the count is the whole view's"
    );
    assert!(
        second.contains(">p-50<") && second.contains(">p-54<") && !second.contains(">p-49<"),
        "{next}: {}",
        &second[second.find("<table").unwrap_or(0)..]
    );
    assert!(link(&second, "next").is_none());
    let back = link(&second, "prev").expect("a previous page");
    assert!(back.contains("before="), "{back}");
    let again = get(&t, &back, &c).await.body;
    assert!(again.contains(">p-00<") && again.contains(">p-49<") && !again.contains(">p-50<"));
    assert!(
        link(&again, "prev").is_none(),
        "the first page has no page before it"
    );
}

/// The `href` of the page's link with this `rel`, as a path.
fn link(page: &str, rel: &str) -> Option<String> {
    let at = page.find(&format!("rel=\"{rel}\""))?;
    let start = page[..at].rfind("href=\"")? + 6;
    let end = page[start..].find('"')? + start;
    Some(page[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}
