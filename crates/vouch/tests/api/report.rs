//! The session report (`GET /v3/session/{id}/generate-pdf/`, also without the slash): a real
//! PDF, read back with `pdftotext` (poppler) as a person's viewer would: the session id, each
//! step's status and data, non-Latin names, the reviewers' comments, every row's hash and the
//! chain's verdict; the captured images embedded only for a key that may read media.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;
use vouch_core::scopes::{Access, Scopes};

use crate::capture::{capture, capture_nodes, page, photo, png, sandbox_key, session, until};
use crate::common::TestServer;

/// The PDF's text, as `pdftotext` reads it; `None` (with the reason printed) where poppler is
/// not installed, except under `CI=true`, where that is a failure.
fn text_of(pdf: &[u8]) -> Option<String> {
    let child = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true" && v != "1"),
                "CI=true and pdftotext (poppler-utils) is missing: {e}"
            );
            eprintln!("skipping the text checks: no pdftotext ({e}); scripts/test.sh installs poppler-utils");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    Some(String::from_utf8(out.stdout).unwrap())
}

async fn pdf(t: &TestServer, key: &str, path: &str) -> Vec<u8> {
    let r = t.request(Method::GET, path, Some(key), None).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    let bytes = r.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"%PDF-"), "{path}");
    bytes
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The images the PDF holds, as poppler's `pdfimages -list` counts them (`None` without poppler).
fn images_in(pdf: &[u8]) -> Option<usize> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdfimages")
        .arg("-list")
        .arg(&path)
        .output()
        .ok()?;
    assert!(out.status.success());
    // Two header lines, then one line per image.
    Some(String::from_utf8_lossy(&out.stdout).lines().skip(2).count())
}

/// Keeps the report's first page as a picture among the test output (target/screenshots/report/).
fn keep_first_page(pdf: &[u8], name: &str) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/report");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.pdf"));
    std::fs::write(&file, pdf).unwrap();
    let _ = Command::new("pdftoppm")
        .args(["-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(dir.join(name))
        .status();
}

#[tokio::test]
async fn the_report_reads_as_the_session_with_its_trail_and_names_in_any_script() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    let (s, b) = t
        .post(
            &format!("/v3/session/{sid}/attempts/"),
            json!({"node_id": "feature_ocr_1", "status": "Approved",
                "data": {"first_name": "Анна", "last_name": "Ἀλεξάνδρου", "document_number": "X1234567",
                         "address": {"city": "Zürich"}},
                "warnings": [{"risk": "LOW", "short_description": "Glare on the photo",
                              "long_description": "The document photo has glare", "log_type": "warning"}]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    t.attempt(&sid, "feature_liveness_1", "Declined").await;
    for i in 0..18 {
        let (s, _) = t
            .post(
                &format!("/v3/sessions/{sid}/reviews/"),
                json!({"comment": format!("Note {i}: called the customer")}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, _) = t
        .call(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(json!({"new_status": "Approved", "comment": "Selfie checked by hand — ok"})),
        )
        .await;
    assert_eq!(s, 200);

    let slashed = pdf(&t, &t.key, &format!("/v3/session/{sid}/generate-pdf/")).await;
    let bare = pdf(&t, &t.key, &format!("/v3/session/{sid}/generate-pdf")).await;
    keep_first_page(&slashed, "trail");
    assert!(bare.len() > 1000 && slashed.len() > 1000);
    let Some(text) = text_of(&slashed) else {
        return;
    };
    for needle in [
        sid.as_str(),
        "Verification report",
        "Approved",
        "Declined",
        "OCR",
        "LIVENESS",
        "Анна",
        "Ἀλεξάνδρου",
        "Zürich",
        "X1234567",
        "Glare on the photo",
        "Note 17: called the customer",
        "Selfie checked by hand — ok",
        "verifies",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} is not in the report:\n{text}"
        );
    }
    // Every review row is there with its hash.
    let (_, trail) = t
        .get(&format!("/v3/sessions/{sid}/reviews/?limit=100"))
        .await;
    let rows = trail["results"].as_array().unwrap();
    assert!(rows.len() >= 20, "{trail}");
    let hashes = text.matches("hash ").count();
    assert!(
        hashes >= rows.len(),
        "{hashes} hashes for {} rows",
        rows.len()
    );

    // Another application, or an unknown session: 404; a key without sessions read: 403.
    let missing = uuid::Uuid::new_v4();
    assert_eq!(
        t.get(&format!("/v3/session/{missing}/generate-pdf/"))
            .await
            .0,
        404
    );
    let none = t
        .key_with(Scopes {
            sessions: Access::None,
            ..Scopes::all(Access::Read)
        })
        .await;
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/{sid}/generate-pdf"),
            Some(&none),
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn captured_images_are_embedded_for_a_key_that_may_read_media() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session(&t, &key, &["OCR", "LIVENESS"]).await;
    let id = created["session_id"].as_str().unwrap();
    let (html, v) = page(&t, &created).await;
    let [ocr, live] = <[String; 2]>::try_from(capture_nodes(&html)).unwrap();
    let (s, _) = capture(
        &t,
        &created,
        &ocr,
        &v,
        &[("document_type", "ID")],
        vec![
            ("front", "front.jpg", "image/jpeg", photo(1600, 1000)),
            ("back", "back.png", "image/png", png(1600, 1000)),
        ],
    )
    .await;
    assert_eq!(s, 303);
    until(&t, &key, id, |d| {
        d["id_verifications"][0]["status"] == "Approved"
    })
    .await;
    let (_, v) = page(&t, &created).await;
    let (s, _) = capture(
        &t,
        &created,
        &live,
        &v,
        &[],
        vec![("selfie", "me.jpg", "image/jpeg", photo(800, 1000))],
    )
    .await;
    assert_eq!(s, 303);
    until(&t, &key, id, |d| d["status"] == "Approved").await;

    let with = pdf(&t, &key, &format!("/v3/session/{id}/generate-pdf/")).await;
    keep_first_page(&with, "with-images");
    if let Some(n) = images_in(&with) {
        assert_eq!(n, 3, "front, back and selfie");
    }
    // The display copies: the EXIF the phone wrote is not in the report.
    assert_eq!(count(&with, b"CameraSerial"), 0);
    let app_key_without_media = {
        let scopes = Scopes {
            media: Access::None,
            ..Scopes::all(Access::Read)
        };
        // The sandbox application's own key, without media.
        let app = t
            .store
            .find_app("Sandbox shop")
            .await
            .unwrap()
            .expect("the sandbox application");
        crate::common::new_key(t.store.as_ref(), &app, scopes, None).await
    };
    let without = pdf(
        &t,
        &app_key_without_media,
        &format!("/v3/session/{id}/generate-pdf"),
    )
    .await;
    if let Some(n) = images_in(&without) {
        assert_eq!(n, 0);
    }
    if let Some(text) = text_of(&without) {
        assert!(text.contains("withheld"), "{text}");
    }
    if let Some(text) = text_of(&with) {
        assert!(text.contains("selfie") && text.contains("front"), "{text}");
    }
}
