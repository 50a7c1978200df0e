//! The `http` engine: an outside verification service. Each job is POSTed to
//! `engines.http_url` as JSON signed like a webhook (`X-Signature`: hex HMAC-SHA256 of the body
//! under `engines.http_secret`; `X-Vouch-Job-Id` the job's id, the same on every retry), with
//! signed URLs to the captured originals. A `200` reply carries the result (`status`, `data`,
//! `warnings`, read as strictly as the attempts API reads one); a `202` says the engine reports
//! later through `POST /v3/session/{id}/attempts/` with its own key; anything else is retried.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use vouch_core::engine::parse_reply;
use vouch_core::steps::NewResult;
use vouch_core::MediaId;
use vouch_store::EngineJob;

use crate::config::Config;
use crate::media::{Media, Variant};

pub struct HttpEngine {
    url: String,
    secret: String,
    client: reqwest::Client,
    public_url: String,
    media: Arc<Media>,
}

/// What the engine answered.
pub enum Reply {
    Result(NewResult),
    /// Accepted: its result comes later through the attempts API.
    Later,
}

impl HttpEngine {
    /// The engine of the configuration, if one is configured.
    pub fn from_config(cfg: &Config, media: Arc<Media>) -> anyhow::Result<Option<Self>> {
        let Some(url) = cfg.engines.http_url.clone() else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .timeout(cfg.engines.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Some(Self {
            url,
            secret: cfg.engines.signing_secret()?,
            client,
            public_url: cfg.public_url.clone(),
            media,
        }))
    }

    /// The job as the engine receives it.
    fn body(&self, job: &EngineJob) -> Value {
        let now = crate::clock::now();
        let mut media = Map::new();
        if let Some(Value::Object(ids)) = job.input.get("media") {
            for (slot, id) in ids {
                if let Some(id) = id.as_str().and_then(|s| s.parse::<uuid::Uuid>().ok()) {
                    let url = self.media.url(
                        &self.public_url,
                        MediaId::from_uuid(id),
                        Variant::Original,
                        now,
                    );
                    media.insert(slot.clone(), json!(url));
                }
            }
        }
        json!({
            "job_id": job.id,
            "try": job.attempts + 1,
            "session_id": job.session_id,
            "node_id": job.node_id,
            "feature": job.feature.name(),
            "media": media,
            "fields": job.input.get("fields").cloned().unwrap_or_else(|| json!({})),
            "uses": job.input.get("uses").cloned().unwrap_or_else(|| json!([])),
            "report_to": format!("{}/v3/session/{}/attempts/", self.public_url, job.session_id),
        })
    }

    pub async fn ask(&self, job: &EngineJob) -> Result<Reply, String> {
        let body = self.body(job).to_string();
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.secret.as_bytes()).expect("any key length");
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let r = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-signature", signature)
            .header("x-vouch-job-id", job.id.to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the engine could not be reached: {e}"))?;
        match r.status().as_u16() {
            202 => Ok(Reply::Later),
            200 => {
                let reply: Value = r
                    .json()
                    .await
                    .map_err(|e| format!("the engine's reply is not JSON: {e}"))?;
                parse_reply(&job.node_id, &reply).map(Reply::Result)
            }
            s => Err(format!("the engine answered {s}")),
        }
    }
}
