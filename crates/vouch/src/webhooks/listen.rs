//! `vouch webhooks listen`: a local receiver that prints deliveries and checks their signatures,
//! so an integration can be tried end to end.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use vouch_core::webhook::{hmac_hex, simple_message, standard_signature};

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Checks the three vouch signatures and the Standard Webhooks one; answers a line per check.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Vec<(String, bool)> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let s = |k: &str| {
        json.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let ts: i64 = header(headers, "x-timestamp").parse().unwrap_or(0);
    let simple = simple_message(ts, &s("session_id"), &s("status"), &s("webhook_type"));
    let standard = standard_signature(
        secret,
        header(headers, "webhook-id"),
        header(headers, "webhook-timestamp").parse().unwrap_or(0),
        &String::from_utf8_lossy(body),
    );
    vec![
        (
            "X-Signature".into(),
            header(headers, "x-signature") == hmac_hex(secret, body),
        ),
        (
            "X-Signature-V2".into(),
            header(headers, "x-signature-v2") == hmac_hex(secret, body),
        ),
        (
            "X-Signature-Simple".into(),
            header(headers, "x-signature-simple") == hmac_hex(secret, simple.as_bytes()),
        ),
        (
            "webhook-signature".into(),
            header(headers, "webhook-signature")
                .split(' ')
                .any(|sig| sig == standard),
        ),
    ]
}

async fn receive(
    State(secret): State<Arc<Option<String>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let pretty = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    println!(
        "--- delivery {} ({})",
        header(&headers, "webhook-id"),
        header(&headers, "x-timestamp")
    );
    println!("{pretty}");
    match secret.as_deref() {
        Some(secret) => {
            let checks = verify(secret, &headers, &body);
            for (name, ok) in &checks {
                println!("{name}: {}", if *ok { "valid" } else { "INVALID" });
            }
            if checks.iter().all(|(_, ok)| *ok) {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        }
        None => StatusCode::OK,
    }
}

/// Serves `POST /` (any path) on `listen` until interrupted.
pub async fn run(listen: &str, secret: Option<String>) -> anyhow::Result<()> {
    let app = Router::new()
        .fallback(post(receive))
        .with_state(Arc::new(secret));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!(
        "listening for webhooks on http://{} (run vouch with VOUCH_ALLOW_PRIVATE_DESTINATIONS=true to deliver here)",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
