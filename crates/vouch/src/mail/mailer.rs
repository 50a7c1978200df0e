//! The email queue for the job runner (`crate::jobs`): jobs are sent over SMTP outside any
//! transaction and their outcomes recorded. Temporary failures are retried on a schedule;
//! permanent ones are recorded as failed. A crash leaves leased jobs that are sent after restart
//! (at least once, one Message-ID per job).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::AsyncTransport;
use tokio::sync::{watch, Notify};
use uuid::Uuid;
use vouch_store::{EmailJob, EmailOutcome, EmailResult, NotSentReason, Store, StoreResult};

use super::smtp::{message, sender, transport, Rendered, Transport};
use crate::config::{Config, MailerConfig};
use crate::jobs::{self, Limits, Queue};
use crate::metrics::Metrics;

struct Mailer {
    transport: Option<Transport>,
    from: lettre::message::Mailbox,
    cfg: MailerConfig,
}

impl Mailer {
    async fn send(&self, job: &EmailJob) -> EmailOutcome {
        let Some(transport) = &self.transport else {
            tracing::warn!(job = %job.id, "email not sent: no SMTP server is configured (smtp_url)");
            return EmailOutcome::NotSent {
                reason: NotSentReason::SmtpNotConfigured,
            };
        };
        let Some(recipient) = &job.recipient else {
            return EmailOutcome::Failed {
                error: "no recipient".into(),
            };
        };
        let rendered: Rendered = match serde_json::from_value(job.payload.clone()) {
            Ok(r) => r,
            Err(e) => {
                return EmailOutcome::Failed {
                    error: format!("unreadable email content: {e}"),
                }
            }
        };
        let msg = match message(&self.from, recipient, &job.message_id, &rendered) {
            Ok(m) => m,
            Err(e) => return EmailOutcome::Failed { error: e },
        };
        // The transport's own timeout bounds each read and write; this bounds the conversation,
        // so a server that answers a byte at a time cannot hold the job past `mailer.timeout`.
        let sent = match tokio::time::timeout(self.cfg.timeout, transport.send(msg)).await {
            Ok(sent) => sent.map_err(|e| (e.is_permanent(), e.to_string())),
            Err(_) => Err((
                false,
                format!(
                    "no answer within mailer.timeout ({} ms)",
                    self.cfg.timeout.as_millis()
                ),
            )),
        };
        match sent {
            Ok(_) => EmailOutcome::Sent,
            Err((true, e)) => EmailOutcome::Failed {
                error: format!("refused by the mail server: {e}"),
            },
            Err((false, e)) => {
                let tries = job.attempts as usize + 1;
                match self.cfg.retry_schedule.get(tries) {
                    Some(delay) => EmailOutcome::Retry {
                        at: crate::clock::now()
                            + chrono::Duration::from_std(*delay).unwrap_or(chrono::Duration::MAX),
                        error: e,
                    },
                    None => EmailOutcome::Failed {
                        error: format!("gave up after {tries} tries: {e}"),
                    },
                }
            }
        }
    }
}

struct Emails {
    store: Arc<dyn Store>,
    mailer: Mailer,
    metrics: Arc<Metrics>,
}

#[async_trait]
impl Queue for Emails {
    type Job = EmailJob;
    type Outcome = EmailResult;
    type Id = Uuid;
    type Lane = ();

    fn name(&self) -> &'static str {
        "emails"
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        _skip_lanes: Vec<()>,
    ) -> StoreResult<Vec<EmailJob>> {
        self.store.claim_email_jobs(now, lease_until, limit).await
    }

    fn id(&self, job: &EmailJob) -> Uuid {
        job.id
    }

    async fn run(&self, job: EmailJob) -> EmailResult {
        let outcome = self.mailer.send(&job).await;
        self.metrics.observe_email(match &outcome {
            EmailOutcome::Sent => "sent",
            EmailOutcome::Retry { .. } => "retry",
            EmailOutcome::Failed { .. } => "failed",
            EmailOutcome::NotSent { .. } => "not_sent",
        });
        EmailResult {
            id: job.id,
            attempts: job.attempts + 1,
            outcome,
        }
    }

    async fn record(&self, results: Vec<EmailResult>) -> StoreResult<()> {
        self.store
            .record_email_results(results, crate::clock::now())
            .await
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.store.next_email_due().await
    }

    async fn release(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        self.store.release_email_jobs(ids).await
    }

    async fn release_at_start(&self) -> StoreResult<usize> {
        self.store.release_email_leases_at_start().await
    }

    fn wake(&self) -> Arc<Notify> {
        self.store.email_signal()
    }
}

pub fn spawn(
    store: Arc<dyn Store>,
    cfg: &Config,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mailer = Mailer {
        transport: transport(cfg)?,
        from: sender(cfg)?,
        cfg: cfg.mailer.clone(),
    };
    if mailer.transport.is_none() {
        tracing::warn!("no smtp_url configured: emails will be recorded as not sent");
    }
    let m = &cfg.mailer;
    let limits = Limits {
        batch: m.batch,
        // The emails of one round are sent concurrently.
        max_in_flight: m.batch.max(1) as usize,
        per_lane: 1,
        lease: m.timeout * 2 + Duration::from_secs(30),
        poll: m.poll_interval.max(Duration::from_millis(10)),
        grace: cfg.workers.shutdown_grace,
    };
    let queue = Emails {
        store,
        mailer,
        metrics,
    };
    Ok(jobs::spawn(Arc::new(queue), limits, stop))
}
