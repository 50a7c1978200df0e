//! What the capture steps refuse: each bad file with its own answer and nothing stored, a form
//! sent twice or from another site, a flood of forms on one session, a document type or country
//! the step does not take.

use reqwest::multipart::Form;
use reqwest::Method;
use serde_json::json;

use crate::capture::{
    call, capture, capture_nodes, files_under, page, path_of, photo, png, sandbox_key, session,
    session_on, until,
};
use crate::common::TestServer;

#[tokio::test]
async fn each_bad_file_gets_its_own_answer_and_stores_nothing() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session(&t, &key, &["OCR", "LIVENESS"]).await;
    let id = created["session_id"].as_str().unwrap();
    let (html, v) = page(&t, &created).await;
    let [ocr, live] = <[String; 2]>::try_from(capture_nodes(&html)).unwrap();

    let good = photo(1200, 800);
    let mut truncated = good.clone();
    truncated.truncate(good.len() * 2 / 3);
    // A real JPEG whose frame header claims 20,000 × 20,000 pixels.
    let mut huge = photo(640, 480);
    let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    huge[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
    let mut sixteen_mib = good.clone();
    sixteen_mib.resize(16 * 1024 * 1024, 0);
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#
            .to_vec();
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    let doc =
        |bytes: Vec<u8>, name: &'static str, mime: &'static str| vec![("front", name, mime, bytes)];
    for (node_id, fields, files, want) in [
        (
            &ocr,
            vec![("document_type", "P")],
            doc(truncated, "id.jpg", "image/jpeg"),
            "media_damaged",
        ),
        (
            &ocr,
            vec![("document_type", "P")],
            doc(huge, "id.jpg", "image/jpeg"),
            "media_too_many_pixels",
        ),
        (
            &ocr,
            vec![("document_type", "P")],
            doc(sixteen_mib, "id.jpg", "image/jpeg"),
            "media_too_large",
        ),
        (
            &ocr,
            vec![("document_type", "P")],
            doc(svg, "id.svg", "image/svg+xml"),
            "media_unsupported",
        ),
        (
            &ocr,
            vec![("document_type", "P")],
            doc(photo(200, 150), "id.jpg", "image/jpeg"),
            "media_too_small",
        ),
        (&ocr, vec![("document_type", "P")], vec![], "media_empty"),
        (
            &ocr,
            vec![("document_type", "ID")],
            doc(good.clone(), "id.jpg", "image/jpeg"),
            "back_needed",
        ),
        (
            &ocr,
            vec![("document_type", "XX")],
            doc(good.clone(), "id.jpg", "image/jpeg"),
            "document_type",
        ),
        (
            &live,
            vec![],
            vec![("selfie", "me.pdf", "application/pdf", pdf)],
            "media_wrong_kind",
        ),
    ] {
        let (s, notice) = capture(&t, &created, node_id, &v, &fields, files).await;
        assert_eq!((s, notice.as_str()), (303, want));
    }
    assert!(t
        .store
        .session_media(id.parse().unwrap())
        .await
        .unwrap()
        .is_empty());
    assert!(files_under(&t.dir.path().join("media")).is_empty());
    assert_eq!(
        call(
            &t,
            &key,
            Method::GET,
            &format!("/v3/session/{id}/decision/"),
            None
        )
        .await["status"],
        "Not Started"
    );

    // A PNG named like a JPEG is stored as what its bytes are.
    let renamed = vec![("front", "passport.jpg", "image/jpeg", png(1200, 800))];
    let (s, notice) = capture(
        &t,
        &created,
        &ocr,
        &v,
        &[("document_type", "P")],
        renamed.clone(),
    )
    .await;
    assert_eq!((s, notice.as_str()), (303, "submitted"));
    let stored = t.store.session_media(id.parse().unwrap()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].media_type.mime(), "image/png");
    // The same form again: refused, nothing more stored.
    let (s, notice) = capture(&t, &created, &ocr, &v, &[("document_type", "P")], renamed).await;
    assert_eq!((s, notice.as_str()), (303, "stale"));
    assert_eq!(
        t.store
            .session_media(id.parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(files_under(&t.dir.path().join("media")).len(), 2);
    // From another site: refused outright.
    let r = t
        .client
        .post(format!(
            "{}{}/steps/{live}/capture",
            t.base,
            path_of(&created)
        ))
        .header("sec-fetch-site", "cross-site")
        .multipart(Form::new().text("submission", v.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_flood_of_forms_on_one_session_is_refused_with_429() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session(&t, &key, &["LIVENESS"]).await;
    let other = session(&t, &key, &["LIVENESS"]).await;
    let (html, v) = page(&t, &created).await;
    let live = capture_nodes(&html).remove(0);
    for _ in 0..20 {
        let (s, notice) = capture(&t, &created, &live, &v, &[], vec![]).await;
        assert_eq!((s, notice.as_str()), (303, "media_empty"));
    }
    let r = t
        .client
        .post(format!(
            "{}{}/steps/{live}/capture?lang=es",
            t.base,
            path_of(&created)
        ))
        .header("sec-fetch-site", "same-origin")
        .multipart(Form::new().text("submission", v.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    let body = r.text().await.unwrap();
    assert!(body.contains("Demasiados intentos"), "{body}");
    // Another session is not held back.
    let (html, v) = page(&t, &other).await;
    let n = capture_nodes(&html).remove(0);
    assert_eq!(capture(&t, &other, &n, &v, &[], vec![]).await.0, 303);
}

#[tokio::test]
async fn the_issuing_country_comes_from_the_expected_details_or_the_nodes_list() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    // Known from the session: nothing to ask, and the result carries it.
    let known = session_on(
        &t,
        &key,
        &["OCR"],
        json!({"expected_details": {"issuing_state": "esp"}}),
    )
    .await;
    let (html, v) = page(&t, &known).await;
    assert!(
        html.contains(r#"<input type="hidden" name="country" value="ESP">"#),
        "{html}"
    );
    let ocr = capture_nodes(&html).remove(0);
    let (_, notice) = capture(
        &t,
        &known,
        &ocr,
        &v,
        &[("document_type", "P")],
        vec![("front", "p.jpg", "image/jpeg", photo(1200, 800))],
    )
    .await;
    assert_eq!(notice, "submitted");
    let id = known["session_id"].as_str().unwrap();
    let d = until(&t, &key, id, |d| {
        d["id_verifications"][0]["status"] == "Approved"
    })
    .await;
    assert_eq!(d["id_verifications"][0]["issuing_state"], "ESP");
    // A choice among the node's countries; one outside them is refused.
    let wf = call(
        &t,
        &key,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "c",
        "features": [{"feature": "OCR", "config": {"countries_allowed": ["FRA", "DEU"]}}]})),
    )
    .await;
    let choose = call(
        &t,
        &key,
        Method::POST,
        "/v3/session/",
        Some(json!({"workflow_id": wf["uuid"]})),
    )
    .await;
    let (html, v) = page(&t, &choose).await;
    assert!(
        html.contains("Country that issued the document")
            && html.contains(r#"<option value="DEU">"#),
        "{html}"
    );
    let ocr = capture_nodes(&html).remove(0);
    let (_, notice) = capture(
        &t,
        &choose,
        &ocr,
        &v,
        &[("document_type", "P"), ("country", "ESP")],
        vec![("front", "p.jpg", "image/jpeg", photo(1200, 800))],
    )
    .await;
    assert_eq!(notice, "country");
    let (_, notice) = capture(
        &t,
        &choose,
        &ocr,
        &v,
        &[("document_type", "P"), ("country", "DEU")],
        vec![("front", "p.jpg", "image/jpeg", photo(1200, 800))],
    )
    .await;
    assert_eq!(notice, "submitted");
}
