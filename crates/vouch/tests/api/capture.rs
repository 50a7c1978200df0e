//! The capture steps of the person's page over HTTP: files as a browser without script sends
//! them (multipart forms), checked, sealed on disk, handed to the engines, and served back only
//! through signed URLs. Real images, encoded by the `image` crate.

use std::time::Duration;

use chrono::Utc;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_core::AppId;
use vouch_store::App;

use crate::common::{new_key, status_json, TestServer};

/// A real JPEG photo of `w` × `h` with an EXIF segment (a GPS position and a serial number)
/// inserted after its start marker, as a phone writes one.
pub(crate) fn photo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&img)
        .unwrap();
    let exif = b"Exif\0\0GPSLatitude=48.8584;CameraSerial=SN-998877";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(exif);
    let mut out = jpeg[..2].to_vec();
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x % 200) as u8, 90, 160]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A URL vouch made (on its `public_url`) as this test server serves it.
fn local(t: &TestServer, url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}{}?{}", t.base, u.path(), u.query().unwrap_or(""))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A sandbox application of the test server, with a full key (media included).
pub(crate) async fn sandbox_key(t: &TestServer) -> String {
    let app = t
        .store
        .create_app(App {
            id: AppId::random(),
            name: "Sandbox shop".into(),
            mode: Environment::Sandbox,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    new_key(t.store.as_ref(), &app, Scopes::all(Access::Write), None).await
}

pub(crate) async fn call(
    t: &TestServer,
    key: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (s, b) = status_json(t.request(m, path, Some(key), body).await).await;
    assert!((200..300).contains(&s), "{path}: {s} {b}");
    b
}

/// A session of a new workflow of the key's application; answers the create body.
pub(crate) async fn session(t: &TestServer, key: &str, features: &[&str]) -> Value {
    session_on(t, key, features, json!({})).await
}

/// As `session`, with extra create fields.
pub(crate) async fn session_on(
    t: &TestServer,
    key: &str,
    features: &[&str],
    extra: Value,
) -> Value {
    let features: Vec<Value> = features.iter().map(|f| json!({ "feature": f })).collect();
    let wf = call(
        t,
        key,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "kyc", "features": features})),
    )
    .await;
    let mut body = json!({"workflow_id": wf["uuid"], "callback": "https://shop.example/done"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    call(t, key, Method::POST, "/v3/session/", Some(body)).await
}

pub(crate) fn path_of(created: &Value) -> String {
    url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string()
}

/// The page, and the version its capture forms carry.
pub(crate) async fn page(t: &TestServer, created: &Value) -> (String, String) {
    let html = t
        .client
        .get(format!("{}{}", t.base, path_of(created)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v = html
        .split("name=\"submission\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string();
    (html, v)
}

/// The nodes of the page's capture forms, in the page's order.
pub(crate) fn capture_nodes(html: &str) -> Vec<String> {
    html.split("/steps/")
        .skip(1)
        .filter_map(|rest| rest.split_once("/capture").map(|(n, _)| n.to_string()))
        .filter(|n| !n.contains('/') && !n.contains('"'))
        .collect()
}

/// Posts a capture form as the page's browser does; answers the status and the `notice`.
pub(crate) async fn capture(
    t: &TestServer,
    created: &Value,
    node_id: &str,
    version: &str,
    fields: &[(&str, &str)],
    files: Vec<(&str, &str, &str, Vec<u8>)>,
) -> (u16, String) {
    let mut form = Form::new().text("submission", version.to_string());
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for (name, file_name, mime, bytes) in files {
        form = form.part(
            name.to_string(),
            Part::bytes(bytes)
                .file_name(file_name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let r = t
        .client
        .post(format!(
            "{}{}/steps/{node_id}/capture",
            t.base,
            path_of(created)
        ))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let notice = url::Url::parse(&format!("http://x{location}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "notice")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    (status, notice)
}

/// Polls the decision until `done` holds (engines run on the job runner).
pub(crate) async fn until(
    t: &TestServer,
    key: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    until_for(t, key, id, Duration::from_secs(10), done).await
}

pub(crate) async fn until_for(
    t: &TestServer,
    key: &str,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/v3/session/{id}/decision/");
    for _ in 0..limit.as_millis() / 50 {
        let d = call(t, key, Method::GET, &path, None).await;
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the engines did not finish: {}",
        call(t, key, Method::GET, &path, None).await
    );
}

pub(crate) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_sandbox_session_is_captured_sealed_checked_and_served_through_signed_urls() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session(&t, &key, &["OCR", "LIVENESS", "FACE_MATCH", "AML"]).await;
    let id = created["session_id"].as_str().unwrap();
    let (html, v) = page(&t, &created).await;
    let [ocr, live] = <[String; 2]>::try_from(capture_nodes(&html)).unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    assert!(html.contains("capture=\"environment\"") && html.contains("capture=\"user\""));
    assert!(html.contains("accept=\"image/jpeg,image/png,image/webp\""));
    let front = photo(1600, 1000);
    let (s, notice) = capture(
        &t,
        &created,
        &ocr,
        &v,
        &[("document_type", "ID")],
        vec![
            ("front", "front.jpg", "image/jpeg", front.clone()),
            ("back", "back.png", "image/png", png(1600, 1000)),
        ],
    )
    .await;
    assert_eq!((s, notice.as_str()), (303, "submitted"));
    let d = until(&t, &key, id, |d| {
        d["id_verifications"][0]["status"] == "Approved"
    })
    .await;
    assert_eq!(
        d["status"], "In Progress",
        "the first submission started it"
    );
    let ocr_entry = &d["id_verifications"][0];
    assert_eq!(ocr_entry["document_number"], "L898902C3");
    assert_eq!(
        ocr_entry["checks"],
        json!(["sandbox outcome: nothing was verified"])
    );
    assert_eq!(ocr_entry["document_type"], "ID");

    // The selfie: the last step of the person, so the face match and the screening follow.
    let (html, v) = page(&t, &created).await;
    assert!(
        !html.contains(&format!("steps/{ocr}/capture")),
        "the document is done"
    );
    let (s, notice) = capture(
        &t,
        &created,
        &live,
        &v,
        &[],
        vec![("selfie", "me.jpg", "image/jpeg", photo(800, 1000))],
    )
    .await;
    assert_eq!((s, notice.as_str()), (303, "submitted"));
    let d = until(&t, &key, id, |d| d["status"] == "Approved").await;
    for array in ["liveness_checks", "face_matches", "aml_screenings"] {
        assert_eq!(d[array][0]["status"], "Approved", "{array}: {d}");
    }

    // Signed URLs, to the copy without metadata.
    let public = d["id_verifications"][0]["front_image"].as_str().unwrap();
    assert!(
        public.starts_with("http://127.0.0.1:8080/media/"),
        "{public}"
    );
    let url = local(&t, public);
    assert!(d["id_verifications"][0]["back_image"].is_string());
    assert!(d["id_verifications"][0]["portrait_image"].is_null());
    assert!(d["liveness_checks"][0]["reference_image"].is_string());
    assert_eq!(d["face_matches"][0]["source_image"].as_str(), Some(public));
    assert!(d["face_matches"][0]["target_image"].is_string());
    let r = t.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let served = r.bytes().await.unwrap();
    assert!(contains(&front, b"GPSLatitude"));
    assert!(!contains(&served, b"GPSLatitude") && !contains(&served, b"SN-998877"));
    assert_eq!(
        served.len(),
        front.len() - (b"Exif\0\0GPSLatitude=48.8584;CameraSerial=SN-998877".len() + 4)
    );
    let mut tampered = url.clone();
    tampered.pop();
    tampered.push(if url.ends_with('0') { '1' } else { '0' });
    assert_eq!(t.client.get(&tampered).send().await.unwrap().status(), 403);

    // A key without the media scope sees the fields, empty.
    let no_media = new_key(
        t.store.as_ref(),
        &t.store.find_app("Sandbox shop").await.unwrap().unwrap(),
        Scopes {
            media: Access::None,
            ..Scopes::all(Access::Read)
        },
        None,
    )
    .await;
    let d2 = call(
        &t,
        &no_media,
        Method::GET,
        &format!("/v3/session/{id}/decision/"),
        None,
    )
    .await;
    assert!(d2["id_verifications"][0]["front_image"].is_null(), "{d2}");
    assert!(d2["liveness_checks"][0]["reference_image"].is_null());

    // On disk: sealed, unreadable without the key.
    let files = files_under(&t.dir.path().join("media"));
    assert_eq!(files.len(), 6, "two copies of three files: {files:?}");
    for f in &files {
        let b = std::fs::read(f).unwrap();
        assert!(b.starts_with(b"VMF1"), "{f:?}");
        assert!(!contains(&b, b"GPSLatitude") && !contains(&b, b"JFIF") && !contains(&b, b"IHDR"));
    }

    // Erased: the key, the records and the files go; the URL answers 404.
    let r = t
        .request(
            Method::DELETE,
            &format!("/v3/session/{id}/delete/"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    assert!(files_under(&t.dir.path().join("media")).is_empty());
    assert_eq!(t.client.get(&url).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_live_application_hands_the_captured_step_to_a_reviewer() {
    let t = TestServer::start().await;
    let created = session(&t, &t.key, &["PROOF_OF_ADDRESS"]).await;
    let id = created["session_id"].as_str().unwrap();
    let (html, v) = page(&t, &created).await;
    assert!(html.contains("accept=\"image/jpeg,image/png,image/webp,application/pdf\""));
    let poa = capture_nodes(&html).remove(0);
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        .to_vec();
    let (s, notice) = capture(
        &t,
        &created,
        &poa,
        &v,
        &[],
        vec![("document", "bill.pdf", "application/pdf", pdf)],
    )
    .await;
    assert_eq!((s, notice.as_str()), (303, "submitted"));
    let d = until(&t, &t.key, id, |d| d["status"] == "In Review").await;
    let entry = &d["poa_verifications"][0];
    assert_eq!(entry["status"], "In Review");
    assert_eq!(entry["checks"], json!([]));
    assert_eq!(entry["warnings"][0]["risk"], "MANUAL_REVIEW_REQUIRED");
    let url = local(&t, entry["poa_document"].as_str().unwrap());
    let r = t.client.get(&url).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );
}

#[tokio::test]
async fn a_signed_url_stops_working_at_its_expiry() {
    let t = TestServer::start_with(|c| c.media.url_ttl = Duration::from_secs(1)).await;
    let key = sandbox_key(&t).await;
    let created = session(&t, &key, &["LIVENESS"]).await;
    let id = created["session_id"].as_str().unwrap();
    let (html, v) = page(&t, &created).await;
    let live = capture_nodes(&html).remove(0);
    let (_, notice) = capture(
        &t,
        &created,
        &live,
        &v,
        &[],
        vec![("selfie", "me.jpg", "image/jpeg", photo(800, 800))],
    )
    .await;
    assert_eq!(notice, "submitted");
    let d = until(&t, &key, id, |d| {
        d["liveness_checks"][0]["reference_image"].is_string()
    })
    .await;
    let url = local(
        &t,
        d["liveness_checks"][0]["reference_image"].as_str().unwrap(),
    );
    assert_eq!(t.client.get(&url).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(t.client.get(&url).send().await.unwrap().status(), 403);
}
