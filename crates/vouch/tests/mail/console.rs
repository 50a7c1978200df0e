//! A reviewer resubmits one step from the console with a reason and an email previewed first;
//! the email the real SMTP server receives is the one previewed.

use reqwest::StatusCode;
use vouch_core::console::Role;

use crate::console_support::{cookie, csrf, get, post, user, version};
use crate::sending::{reviewable, server, settled};
use crate::sink::{decoded, Sink};

/// The text of the element with this id on a page.
fn element(page: &str, id: &str) -> String {
    let at = page.find(&format!("id=\"{id}\"")).unwrap();
    let from = page[at..].find('>').unwrap() + at + 1;
    let to = page[from..].find('<').unwrap() + from;
    page[from..to].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmission_from_the_console_sends_the_email_it_previewed() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    let sid = reviewable(&t).await;
    let c = cookie(&t, "rita@acme.example").await;
    let page = get(&t, &format!("/console/sessions/{sid}"), &c).await;
    let (token, v) = (csrf(&page.body), version(&page.body));
    let path = format!("/console/sessions/{sid}/decision");
    let mut form = vec![
        ("csrf", token.as_str()),
        ("version", v.as_str()),
        ("new_status", "Resubmitted"),
        ("resubmit", "feature_ocr_1"),
        ("reason_feature_ocr_1", "The photo is blurred."),
        ("reason_feature_liveness_1", ""),
        ("comment", "Blurred document."),
        ("send_email", "1"),
        ("email_address", "person@example.com"),
        ("email_language", "es"),
    ];
    let mut preview = form.clone();
    preview.push(("action", "preview"));
    let shown = post(&t, &path, &c, &preview).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let subject = element(&shown.body, "preview-subject");
    let text = element(&shown.body, "preview-text");
    assert!(text.contains("The photo is blurred."), "{text}");
    assert!(shown.body.contains("person@example.com"));
    // Nothing happened yet, and the form kept what was chosen.
    assert_eq!(t.status_of(&sid).await, "In Review");
    assert!(shown.body.contains("value=\"The photo is blurred.\""));
    assert!(smtp.messages().is_empty());

    let at = shown
        .body
        .find("name=\"email_preview_token\" value=\"")
        .unwrap()
        + 34;
    let preview_token = shown.body[at..].split('"').next().unwrap().to_string();
    form.push(("email_preview_token", &preview_token));
    form.push(("action", "decide"));
    let done = post(&t, &path, &c, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(t.status_of(&sid).await, "Resubmitted");
    let sent = settled(&t, &sid).await;
    assert_eq!(sent["state"], "sent", "{sent}");
    let raw = smtp.wait_for(1).await.remove(0);
    let body = decoded(&raw);
    assert!(body.contains("The photo is blurred."), "{body}");
    assert!(raw.contains("person@example.com"));
    // The text sent is the text previewed, line for line.
    assert!(!subject.is_empty());
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| l.len() > 20 && !l.contains('&'))
    {
        assert!(
            body.contains(line),
            "previewed but not sent: {line:?}\n{body}"
        );
    }

    // A preview token for other steps is refused: what is sent is what was previewed.
    let sid = reviewable(&t).await;
    let page = get(&t, &format!("/console/sessions/{sid}"), &c).await;
    let v = version(&page.body);
    let wrong = vec![
        ("csrf", token.as_str()),
        ("version", v.as_str()),
        ("new_status", "Resubmitted"),
        ("resubmit", "feature_liveness_1"),
        ("send_email", "1"),
        ("email_address", "person@example.com"),
        ("email_preview_token", preview_token.as_str()),
        ("action", "decide"),
    ];
    let refused = post(&t, &format!("/console/sessions/{sid}/decision"), &c, &wrong).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("The decision was refused: The email preview"),
        "{}",
        refused.body
    );
    assert_eq!(t.status_of(&sid).await, "In Review");
}
