//! The reviewer console over real HTTP (both backends): logins, throttling, CSRF, fixation,
//! logout, who may decide, other applications' sessions, stale pages, and a decision that lands
//! in the API's review trail exactly as an API decision does.

use reqwest::StatusCode;
use serde_json::json;
use vouch_core::console::Role;

use crate::common::{new_app, TestServer};
use crate::console_support::*;

#[tokio::test]
async fn a_login_is_a_secure_cookie_and_the_queue_shows_what_waits() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let id = in_review(&t, "customer-42").await;
    let page = send(browser().get(format!("{}/console/", t.base))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location, "/console/login?next=%2Fconsole%2F");

    let a = log_in(&t, "Rita@Acme.example ", PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, "/console/");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(a.set_cookie.contains(attribute), "{}", a.set_cookie);
    }
    let c = a.set_cookie.split(';').next().unwrap().to_string();
    let q = get(&t, "/console/", &c).await;
    assert_eq!(q.status, StatusCode::OK);
    assert!(
        q.body.contains(&format!("/console/sessions/{id}")),
        "{}",
        q.body
    );
    assert!(q.body.contains("customer-42"));
    let found = get(&t, "/console/?q=customer-4", &c).await;
    assert!(found.body.contains("customer-42"));
    let none = get(&t, "/console/?q=nobody", &c).await;
    assert!(!none.body.contains("customer-42"));
    let by_id = get(&t, &format!("/console/?q={id}&status=any"), &c).await;
    assert!(by_id.body.contains("customer-42"));
    let s = get(&t, &format!("/console/sessions/{id}"), &c).await;
    assert_eq!(s.status, StatusCode::OK);
    assert!(s.body.contains("In Review") && s.body.contains("Trail verified"));
    assert!(
        s.body.contains("value=\"decide\""),
        "a reviewer is offered the decision"
    );

    let events = t.store.console_events(10).await.unwrap();
    assert_eq!(events[0].kind, "login");
    assert_eq!(events[0].email, "rita@acme.example");
    assert_eq!(events[0].address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn failed_logins_are_recorded_and_throttled_with_a_clear_message() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    for _ in 0..5 {
        let a = log_in(&t, "rita@acme.example", "wrong password!", None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.body.contains("do not match an account"), "{}", a.body);
    }
    // Locked now, even with the right password.
    let a = log_in(&t, "rita@acme.example", PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert!(a
        .body
        .contains("Too many failed logins. Try again in 15 minutes."));
    assert!(a.set_cookie.is_empty());
    // An unknown account answers as a wrong password does.
    let a = log_in(&t, "nobody@acme.example", PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let kinds: Vec<String> = t
        .store
        .console_events(20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "login_failed").count(), 6);
    assert_eq!(kinds.iter().filter(|k| *k == "login_locked").count(), 1);
}

#[tokio::test]
async fn the_token_changes_at_login_and_logout_ends_it_on_the_server() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let first = cookie(&t, "rita@acme.example").await;
    // Logging in again from the same browser: a new token, and the old one names nothing.
    let again = log_in(&t, "rita@acme.example", PASSWORD, Some(&first)).await;
    let second = again.set_cookie.split(';').next().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        get(&t, "/console/", &first).await.status,
        StatusCode::SEE_OTHER
    );
    let page = get(&t, "/console/", &second).await;
    assert_eq!(page.status, StatusCode::OK);
    // A planted (unknown) token is never adopted.
    let planted = format!("vouch_console={}", "ab".repeat(32));
    let a = log_in(&t, "rita@acme.example", PASSWORD, Some(&planted)).await;
    assert!(!a.set_cookie.contains(&"ab".repeat(32)));

    let token = csrf(&page.body);
    let out = post(&t, "/console/logout", &second, &[("csrf", &token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie.contains("Max-Age=0"));
    // The cookie kept (as a copied one would be) is refused: the login ended on the server.
    assert_eq!(
        get(&t, "/console/", &second).await.status,
        StatusCode::SEE_OTHER
    );

    // Everywhere: every login of the user ends.
    let a = cookie(&t, "rita@acme.example").await;
    let b = cookie(&t, "rita@acme.example").await;
    let token = csrf(&get(&t, "/console/", &a).await.body);
    let out = post(
        &t,
        "/console/logout",
        &a,
        &[("csrf", &token), ("everywhere", "1")],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(get(&t, "/console/", &b).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_console_decision_is_an_api_decision_attributed_to_the_reviewer() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let id = in_review(&t, "customer-7").await;
    let c = cookie(&t, "rita@acme.example").await;
    let page = get(&t, &format!("/console/sessions/{id}"), &c).await;
    let (token, v) = (csrf(&page.body), version(&page.body));
    let path = format!("/console/sessions/{id}/decision");
    let form = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("new_status", "Approved"),
            ("comment", "Document checked by hand."),
        ]
    };
    // No CSRF token, or a wrong one: refused, nothing changed.
    for bad in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let mut f = form(bad);
        f.push(("version", &v));
        let a = post(&t, &path, &c, &f).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
        assert!(a.body.contains("This form has expired"));
    }
    assert_eq!(t.status_of(&id).await, "In Review");

    let a = post(
        &t,
        &path,
        &c,
        &[
            ("csrf", &token),
            ("version", &v),
            ("new_status", "Approved"),
            ("comment", "Document checked by hand."),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, format!("/console/sessions/{id}?decided=1"));
    assert_eq!(t.status_of(&id).await, "Approved");
    let (s, trail) = t.get(&format!("/v3/sessions/{id}/reviews/")).await;
    assert_eq!(s, 200, "{trail}");
    let last = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["new_status"] == "Approved")
        .cloned()
        .unwrap_or_else(|| panic!("{trail}"));
    assert_eq!(last["actor_type"], "CONSOLE_USER", "{last}");
    assert_eq!(last["actor_display"], "rita@acme.example");
    assert_eq!(last["comment"], "Document checked by hand.");
    // Its webhook event is queued as an API decision's is.
    let events = t.store.outbox_events(id.parse().unwrap()).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.status == vouch_core::SessionStatus::Approved),
        "{events:?}"
    );
    let page = get(&t, &format!("/console/sessions/{id}?decided=1"), &c).await;
    assert!(page.body.contains("Decision recorded."));
}

#[tokio::test]
async fn a_decision_on_a_stale_page_is_refused_showing_what_changed() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let id = in_review(&t, "customer-8").await;
    let c = cookie(&t, "rita@acme.example").await;
    let page = get(&t, &format!("/console/sessions/{id}"), &c).await;
    let (token, v) = (csrf(&page.body), version(&page.body));
    // Meanwhile, someone declines it through the API.
    let (s, b) = t
        .call(
            reqwest::Method::PATCH,
            &format!("/v3/session/{id}/update-status/"),
            Some(json!({"new_status": "Declined"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let a = post(
        &t,
        &format!("/console/sessions/{id}/decision"),
        &c,
        &[
            ("csrf", &token),
            ("version", &v),
            ("new_status", "Approved"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(
        a.body
            .contains("The session changed since this page was shown: it is now Declined."),
        "{}",
        a.body
    );
    assert_eq!(t.status_of(&id).await, "Declined");
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_decide_and_nobody_sees_another_applications_sessions() {
    let t = TestServer::start().await;
    let other = new_app(t.store.as_ref(), "other-app").await;
    user(&t, "vic@acme.example", Role::Viewer, vec![]).await;
    user(&t, "otto@acme.example", Role::Admin, vec![other.id]).await;
    let id = in_review(&t, "customer-9").await;

    let c = cookie(&t, "vic@acme.example").await;
    let page = get(&t, &format!("/console/sessions/{id}"), &c).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("can read sessions but not decide them"));
    assert!(!page.body.contains("value=\"decide\""));
    let token = csrf(&page.body);
    let a = post(
        &t,
        &format!("/console/sessions/{id}/decision"),
        &c,
        &[
            ("csrf", &token),
            ("version", &version_of(&t, &id).await),
            ("new_status", "Approved"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(t.status_of(&id).await, "In Review");

    // An admin of another application only: the session is not there for it.
    let c = cookie(&t, "otto@acme.example").await;
    assert_eq!(
        get(&t, &format!("/console/sessions/{id}"), &c).await.status,
        StatusCode::NOT_FOUND
    );
    let q = get(&t, "/console/?status=any", &c).await;
    assert!(!q.body.contains("customer-9"));
    let token = csrf(&q.body);
    let a = post(
        &t,
        &format!("/console/sessions/{id}/decision"),
        &c,
        &[
            ("csrf", &token),
            ("version", "1"),
            ("new_status", "Approved"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(t.status_of(&id).await, "In Review");
}

async fn version_of(t: &TestServer, id: &str) -> String {
    let s = t
        .store
        .get_session(t.app.id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    s.version.to_string()
}

#[tokio::test]
async fn a_second_factor_needs_the_current_code_once() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Admin, vec![]).await;
    let secret = b"a twenty byte secret";
    let change = vouch_store::UserChange {
        totp_secret: Some(Some(vouch_core::totp::encode_secret(secret))),
        ..Default::default()
    };
    let event =
        vouch_store::ConsoleEvent::new("totp_enabled", "rita@acme.example", chrono::Utc::now());
    t.store
        .update_console_user("rita@acme.example".into(), change, vec![event])
        .await
        .unwrap();
    // The password alone, or with a wrong code, is refused as a wrong password is.
    let a = totp_login(&t, String::new()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a
        .body
        .contains("That email, password and code do not match an account."));
    assert_eq!(
        totp_login(&t, "000000".into()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let code = vouch_core::totp::code(
        secret,
        vouch_core::totp::step_at(chrono::Utc::now().timestamp()),
    );
    let a = totp_login(&t, code.clone()).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(a.set_cookie.starts_with("vouch_console="));
    // The same code again is a replay.
    assert_eq!(totp_login(&t, code).await.status, StatusCode::UNAUTHORIZED);
}

async fn totp_login(t: &TestServer, code: String) -> Answer {
    send(browser().post(format!("{}/console/login", t.base)).form(&[
        ("email", "rita@acme.example"),
        ("password", PASSWORD),
        ("code", code.as_str()),
    ]))
    .await
}

#[tokio::test]
async fn a_login_ends_when_idle_or_too_old_and_pages_carry_their_protections() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let id = t
        .store
        .console_user("rita@acme.example".into())
        .await
        .unwrap()
        .unwrap()
        .id;
    let now = chrono::Utc::now();
    // Logins made in the past, as the store keeps them: one unused for 31 minutes (idle 30 m),
    // one used now but begun 13 hours ago (absolute 12 h), one fresh.
    let mut cookies = Vec::new();
    for (n, created, seen) in [
        (
            1u8,
            now - chrono::Duration::minutes(40),
            now - chrono::Duration::minutes(31),
        ),
        (2, now - chrono::Duration::hours(13), now),
        (
            3,
            now - chrono::Duration::minutes(5),
            now - chrono::Duration::minutes(1),
        ),
    ] {
        let token = hex::encode([n; 32]);
        let login = vouch_store::ConsoleLogin {
            token_hash: <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()).to_vec(),
            user_id: id,
            csrf: "c".repeat(64),
            created_at: created,
            seen_at: seen,
        };
        let event = vouch_store::ConsoleEvent::new("login", "rita@acme.example", created);
        t.store.start_console_login(login, event).await.unwrap();
        cookies.push(format!("vouch_console={token}"));
    }
    assert_eq!(
        get(&t, "/console/", &cookies[0]).await.status,
        StatusCode::SEE_OTHER,
        "idle"
    );
    assert_eq!(
        get(&t, "/console/", &cookies[1]).await.status,
        StatusCode::SEE_OTHER,
        "too old"
    );
    let r = browser()
        .get(format!("{}/console/", t.base))
        .header("cookie", &cookies[2])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = |name: &str| r.headers()[name].to_str().unwrap().to_string();
    let csp = h("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(h("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn failed_logins_from_one_address_lock_every_account_there() {
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    // Twenty failures spread over accounts (none reaches its own limit of five).
    for i in 0..20 {
        let a = log_in(
            &t,
            &format!("guess{}@acme.example", i % 5),
            "wrong password!",
            None,
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let a = log_in(&t, "rita@acme.example", PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert!(a.body.contains("Too many failed logins"));
}
