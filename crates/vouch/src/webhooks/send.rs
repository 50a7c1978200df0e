//! One delivery attempt: build and sign the payload, POST it, classify the answer.

use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};
use vouch_core::decision_view::{decision_json, DecisionInputs};
use vouch_core::webhook::sign;
use vouch_core::webhook_payload::{at_send_time, payload, EventFacts};
use vouch_store::{AttemptResult, ClaimedDelivery, DeliveryOutcome, Store};

use super::ssrf;
use crate::config::WebhooksConfig;
use vouch_core::delivery::{parse_retry_after, Answer};

pub const USER_AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The payload to send (without `timestamp`): the stored one on retries, else built now.
async fn stored_or_built(
    store: &dyn Store,
    d: &ClaimedDelivery,
    public_url: &str,
) -> Result<Value, String> {
    if let Some(p) = &d.payload {
        return Ok(p.clone());
    }
    let e = &d.event;
    let bundle = store
        .session_bundle(e.app_id, e.session_id)
        .await
        .map_err(|err| format!("cannot load the session: {err}"))?
        .ok_or_else(|| "the session no longer exists".to_string())?;
    let decision = e.status.carries_decision().then(|| {
        decision_json(&DecisionInputs {
            session: &bundle.session,
            environment: bundle.environment,
            workflow: &bundle.workflow.spec,
            attempts: &bundle.attempts,
            reviews: &bundle.reviews,
            public_base_url: public_url,
        })
    });
    Ok(payload(
        &EventFacts {
            event_id: e.event_id,
            webhook_type: e.event_type.as_str(),
            status: e.status,
            previous_status: e.previous_status,
            resubmit_info: e.resubmit_info.as_ref(),
            created_at: e.created_at,
        },
        &bundle.session,
        bundle.environment,
        decision,
    ))
}

pub struct Sender {
    pub client: reqwest::Client,
    pub config: WebhooksConfig,
    pub allow_private: bool,
    pub public_url: String,
}

impl Sender {
    pub async fn attempt(&self, store: &dyn Store, d: ClaimedDelivery) -> AttemptResult {
        let started_at = crate::clock::now();
        let clock = Instant::now();
        let number = d.attempts + 1;
        let dest = &d.destination;
        let mut result = AttemptResult {
            delivery_id: d.id,
            destination_id: dest.id,
            session_id: d.event.session_id,
            attempt: number,
            url: dest.url.clone(),
            request_headers: json!({}),
            request_body: String::new(),
            response_status: None,
            response_body: None,
            error: None,
            duration_ms: 0,
            started_at,
            outcome: DeliveryOutcome::Failed,
            payload: None,
        };
        let stored = match stored_or_built(store, &d, &self.public_url).await {
            Ok(p) => p,
            Err(e) => {
                result.error = Some(e);
                return result;
            }
        };
        let signed = sign(
            &at_send_time(stored.clone(), started_at),
            &dest.secret,
            dest.live_previous_secret(started_at),
            USER_AGENT_VERSION,
        );
        result.payload = d.payload.is_none().then_some(stored);
        result.request_headers = Value::Object(
            signed
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        result.request_body = signed.body.clone();
        let (answer, retry_after) = match ssrf::check_url(&dest.url, self.allow_private) {
            Err(e) => {
                result.error = Some(format!("destination refused: {e}"));
                (Answer::Refused, None)
            }
            Ok(url) => {
                let mut req = self.client.post(url).body(signed.body);
                for (k, v) in &signed.headers {
                    req = req.header(k, v);
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let retry_after = resp
                            .headers()
                            .get(reqwest::header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, crate::clock::now()));
                        result.response_status = Some(status);
                        result.response_body =
                            Some(ssrf::read_capped(resp, self.config.response_body_bytes).await);
                        (Answer::Status(status), retry_after)
                    }
                    Err(e) => {
                        let refused = is_guard_refusal(&e);
                        result.error = Some(error_chain(&e));
                        (
                            if refused {
                                Answer::Refused
                            } else {
                                Answer::Unreachable
                            },
                            None,
                        )
                    }
                }
            }
        };
        result.duration_ms = clock.elapsed().as_millis() as i64;
        result.outcome = DeliveryOutcome::of(
            answer,
            retry_after,
            &self.config.retry_schedule,
            number as usize,
            self.config.jitter,
            rand::rng().random(),
            crate::clock::now(),
        );
        result
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The guard's resolver refusing every address of a host is not worth retrying.
fn is_guard_refusal(e: &reqwest::Error) -> bool {
    ssrf::rejection_of(e).is_some()
}

pub fn timeout(cfg: &WebhooksConfig) -> Duration {
    cfg.timeout
}
