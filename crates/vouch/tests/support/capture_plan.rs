//! The capture flows of the browser test: sandbox KYC sessions a person completes through the
//! page (with the fake camera, with the camera refused, without JavaScript), and what must hold
//! afterwards: the decision Approved with its media URLs, the files served, the webhook signed.

use std::path::Path;

use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_core::AppId;
use vouch_store::App;

use crate::common::{new_key, status_json, TestServer};
use crate::receiver::Receiver;

pub struct Captures {
    pub flows: Vec<Value>,
    /// Pages of the shop that embed a session with Didit's web SDK.
    pub embeds: Vec<Value>,
    key: String,
    secret: String,
    sessions: Vec<(String, String)>,
    embedded: String,
    pub receiver: Receiver,
}

fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            ((x + seed) % 251) as u8,
            ((y * 3) % 241) as u8,
            ((x + y + seed) % 239) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// A short video for Chromium's fake camera (YUV4MPEG2, 4:2:0): a lit scene with a moving bar.
fn y4m(w: usize, h: usize, frames: usize) -> Vec<u8> {
    let mut out = format!("YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n").into_bytes();
    for f in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        for y in 0..h {
            for x in 0..w {
                let bar = (x + f * 8) % w < w / 8;
                out.push(if bar { 235 } else { 110 + (y * 80 / h) as u8 });
            }
        }
        out.extend(std::iter::repeat_n(118u8, w * h / 4));
        out.extend(std::iter::repeat_n(138u8, w * h / 4));
    }
    out
}

async fn call(t: &TestServer, key: &str, m: Method, path: &str, body: Option<Value>) -> Value {
    let (s, b) = status_json(t.request(m, path, Some(key), body).await).await;
    assert!((200..300).contains(&s), "{path}: {s} {b}");
    b
}

/// Sessions for each flow, their files and the camera's video written to `dir`; `first_mail` is
/// the number of the first code email these flows will receive in the sink.
pub async fn prepare(
    t: &TestServer,
    dir: &Path,
    sink_dir: &Path,
    shop: &str,
    first_mail: usize,
) -> (Captures, std::path::PathBuf) {
    let shop_url = url::Url::parse(shop).unwrap();
    let shop_origin = shop_url.origin().ascii_serialization();
    let port = shop_url.port().unwrap();
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
    let key = new_key(t.store.as_ref(), &app, Scopes::all(Access::Write), None).await;
    // The shop (127.0.0.1) may embed this application's pages; localhost may not.
    t.store
        .set_app_allowed_domains(app.id, vec![shop_origin])
        .await
        .unwrap();
    let receiver = Receiver::start().await;
    let dest = call(
        t,
        &key,
        Method::POST,
        "/v3/webhook/destinations/",
        Some(json!({"label": "shop", "url": receiver.url})),
    )
    .await;
    let secret = dest["secret_shared_key"].as_str().unwrap().to_string();
    let features: Vec<Value> = ["OCR", "LIVENESS", "FACE_MATCH", "EMAIL_VERIFICATION", "AML"]
        .iter()
        .map(|f| json!({ "feature": f }))
        .collect();
    let wf = call(
        t,
        &key,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "kyc", "features": features})),
    )
    .await;
    let front = dir.join("passport.jpg");
    std::fs::write(&front, jpeg(1600, 1100, 3)).unwrap();
    let selfie = dir.join("selfie.jpg");
    std::fs::write(&selfie, jpeg(900, 1200, 7)).unwrap();
    let camera = dir.join("camera.y4m");
    std::fs::write(&camera, y4m(1280, 720, 8)).unwrap();
    let mut flows = Vec::new();
    let mut sessions = Vec::new();
    for (i, mode) in ["camera", "refused", "nojs"].into_iter().enumerate() {
        let created = call(
            t,
            &key,
            Method::POST,
            "/v3/session/",
            Some(json!({"workflow_id": wf["uuid"], "callback": shop,
                        "contact_details": {"email": format!("person{i}@example.com")}})),
        )
        .await;
        let id = created["session_id"].as_str().unwrap().to_string();
        let path = url::Url::parse(created["url"].as_str().unwrap())
            .unwrap()
            .path()
            .to_string();
        flows.push(json!({
            "name": format!("capture-{mode}"), "mode": mode, "path": path,
            "sink_dir": sink_dir, "mail_number": first_mail + i,
            "front_file": front, "selfie_file": selfie,
            "document_step": "Identity document", "selfie_step": "Selfie video",
            "document_type_label": "Document type", "document_type": "Passport",
            "front_label": "Photo of the front of your document",
            "selfie_label": "A photo of your face",
            "camera_open": "Use the camera", "camera_take": "Take the photo",
            "taken_text": "Photo taken", "refused_text": "The camera is not available",
            "send": "Send", "received_text": "Received", "done_text": "Done",
            "send_code": "Send me a code", "code_label": "Code",
            "callback_prefix": format!("{shop}?verificationSessionId={id}&status=Approved"),
        }));
        sessions.push((id, mode.to_string()));
    }
    // A session embedded in the shop with Didit's web SDK: its email step done in the frame.
    let email_wf = call(
        t,
        &key,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "email", "features": [{"feature": "EMAIL_VERIFICATION"}]})),
    )
    .await;
    let embedded = call(
        t,
        &key,
        Method::POST,
        "/v3/session/",
        Some(json!({"workflow_id": email_wf["uuid"],
                    "contact_details": {"email": "framed@example.com"}})),
    )
    .await;
    let embedded_id = embedded["session_id"].as_str().unwrap().to_string();
    // Laid out by the SDK: the page reports its height (`didit:layout`).
    let session_url = format!(
        "{}{}?sdk_presentation=embedded",
        t.base,
        url::Url::parse(embedded["url"].as_str().unwrap())
            .unwrap()
            .path()
    );
    let q: String = url::form_urlencoded::byte_serialize(session_url.as_bytes()).collect();
    let embeds = vec![
        json!({"name": "embedded-sdk", "allowed": true, "session_id": embedded_id,
               "shop_url": format!("http://127.0.0.1:{port}/embed?url={q}"),
               "sink_dir": sink_dir, "mail_number": first_mail + 3,
               "send_code": "Send me a code", "code_label": "Code"}),
        json!({"name": "embedded-sdk-refused", "allowed": false,
               "shop_url": format!("http://localhost:{port}/embed?url={q}")}),
    ];
    (
        Captures {
            flows,
            embeds,
            key,
            secret,
            sessions,
            embedded: embedded_id,
            receiver,
        },
        camera,
    )
}

/// What must hold once the browser finished: each session Approved with its files reachable
/// through the decision's signed URLs, and its Approved webhook received and signed.
pub async fn check(t: &TestServer, c: &Captures) -> Vec<String> {
    let mut failures = Vec::new();
    for (id, mode) in &c.sessions {
        let d = call(
            t,
            &c.key,
            Method::GET,
            &format!("/v3/session/{id}/decision/"),
            None,
        )
        .await;
        if d["status"] != "Approved" {
            failures.push(format!("{mode}: the session is {}", d["status"]));
            continue;
        }
        for (array, field) in [
            ("id_verifications", "front_image"),
            ("liveness_checks", "reference_image"),
            ("face_matches", "target_image"),
        ] {
            let Some(url) = d[array][0][field].as_str() else {
                failures.push(format!(
                    "{mode}: {array}[0].{field} is {}",
                    d[array][0][field]
                ));
                continue;
            };
            let u = url::Url::parse(url).unwrap();
            let local = format!("{}{}?{}", t.base, u.path(), u.query().unwrap_or(""));
            let r = t.client.get(&local).send().await.unwrap();
            let ok = r.status() == 200
                && r.headers()["content-type"] == "image/jpeg"
                && r.bytes().await.unwrap().starts_with(&[0xFF, 0xD8]);
            if !ok {
                failures.push(format!("{mode}: {field} does not serve the JPEG"));
            }
        }
        let approved = c
            .receiver
            .received()
            .into_iter()
            .find(|r| r.json["session_id"] == id.as_str() && r.json["status"] == "Approved");
        match approved {
            None => failures.push(format!("{mode}: no Approved webhook")),
            Some(r) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(c.secret.as_bytes()).unwrap();
                mac.update(&r.body);
                if r.header("x-signature") != hex::encode(mac.finalize().into_bytes()) {
                    failures.push(format!("{mode}: the webhook's signature does not verify"));
                }
                if r.json["environment"] != "sandbox" {
                    failures.push(format!(
                        "{mode}: webhook environment {}",
                        r.json["environment"]
                    ));
                }
            }
        }
    }
    let (s, d) = status_json(
        t.request(
            Method::GET,
            &format!("/v3/session/{}/decision/", c.embedded),
            Some(&c.key),
            None,
        )
        .await,
    )
    .await;
    if s != 200 || d["status"] != "Approved" {
        failures.push(format!("embedded: the session is {}", d["status"]));
    }
    failures
}

/// The shop's page that embeds a session with Didit's web SDK (served from the test's npm
/// packages), recording the SDK's events and results for the browser test to read.
pub const EMBED_PAGE: &str = r#"<!doctype html><html><head><title>shop</title></head><body>
<h1>Shop</h1><script src="/sdk.js"></script><script>
window.events = []; window.results = [];
const sdk = DiditSDK.DiditSdk.shared;
sdk.onEvent = (e) => window.events.push(e);
sdk.onComplete = (r) => window.results.push(r);
sdk.startVerification({ url: new URLSearchParams(location.search).get('url'),
  configuration: { loggingEnabled: true, showExitConfirmation: false } });
</script></body></html>"#;
