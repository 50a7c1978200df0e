//! The mailer: claims queued email jobs with a lease, sends them over SMTP outside any
//! transaction, and records the outcome. Temporary failures are retried on a schedule; permanent
//! ones are recorded as failed. A crash leaves leased jobs that are sent after restart
//! (at-least-once, one Message-ID per job).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lettre::AsyncTransport;
use vouch_store::{EmailJob, EmailOutcome, EmailResult, Store};

use super::smtp::{message, sender, transport, Rendered, Transport};
use crate::config::{Config, MailerConfig};
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
                reason: "smtp_not_configured".into(),
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
        match transport.send(msg).await {
            Ok(_) => EmailOutcome::Sent,
            Err(e) if e.is_permanent() => EmailOutcome::Failed {
                error: format!("refused by the mail server: {e}"),
            },
            Err(e) => {
                let tries = job.attempts as usize + 1;
                match self.cfg.retry_schedule_seconds.get(tries) {
                    Some(delay) => EmailOutcome::Retry {
                        at: Utc::now() + chrono::Duration::seconds(*delay as i64),
                        error: format!("{e}"),
                    },
                    None => EmailOutcome::Failed {
                        error: format!("gave up after {tries} tries: {e}"),
                    },
                }
            }
        }
    }
}

pub fn spawn(
    store: Arc<dyn Store>,
    cfg: &Config,
    metrics: Arc<Metrics>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mailer = Arc::new(Mailer {
        transport: transport(cfg)?,
        from: sender(cfg)?,
        cfg: cfg.mailer.clone(),
    });
    if mailer.transport.is_none() {
        tracing::warn!("no smtp_url configured: emails will be recorded as not sent");
    }
    let wake = store.email_signal();
    Ok(tokio::spawn(async move {
        if let Err(e) = store.release_email_leases_at_start().await {
            tracing::warn!(error = %e, "cannot release earlier email leases");
        }
        let poll = Duration::from_millis(mailer.cfg.poll_interval_ms.max(10));
        loop {
            let now = Utc::now();
            let lease = chrono::Duration::seconds(mailer.cfg.timeout_seconds as i64 * 2 + 30);
            let jobs = match store
                .claim_email_jobs(now, now + lease, mailer.cfg.batch)
                .await
            {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming email jobs failed");
                    Vec::new()
                }
            };
            let full = jobs.len() as i64 >= mailer.cfg.batch;
            // Sent concurrently; each outcome is recorded as soon as it is known, so a crash
            // resends only the emails that were in flight.
            let mut sending = tokio::task::JoinSet::new();
            for job in jobs {
                let (mailer, store, metrics) = (mailer.clone(), store.clone(), metrics.clone());
                sending.spawn(async move {
                    let outcome = mailer.send(&job).await;
                    metrics.observe_email(match &outcome {
                        EmailOutcome::Sent => "sent",
                        EmailOutcome::Retry { .. } => "retry",
                        EmailOutcome::Failed { .. } => "failed",
                        EmailOutcome::NotSent { .. } => "not_sent",
                    });
                    let result = EmailResult {
                        id: job.id,
                        attempts: job.attempts + 1,
                        outcome,
                    };
                    // On failure the lease runs out and the job is tried again: at-least-once.
                    if let Err(e) = store.record_email_results(vec![result], Utc::now()).await {
                        tracing::warn!(error = %e, "recording an email result failed");
                    }
                });
            }
            while sending.join_next().await.is_some() {}
            if full {
                continue;
            }
            let due = match store.next_email_due().await {
                Ok(Some(t)) => (t - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(poll),
                _ => poll,
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(due.max(Duration::from_millis(5))) => {}
            }
        }
    }))
}
