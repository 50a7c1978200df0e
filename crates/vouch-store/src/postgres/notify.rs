//! LISTEN/NOTIFY: a dedicated connection listens on this schema's channels and wakes the local
//! workers when any node commits outbox events or email jobs. Polling stays the fallback, so a
//! lost listener only delays work; it reconnects by itself.
//!
//! Notifications are sent after commit by one task per node, coalesced: a NOTIFY inside each
//! writing transaction would take PostgreSQL's global notification lock through that
//! transaction's commit flush and serialize every commit (measured: update-status 530/s).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

/// The channel names of one schema.
#[derive(Debug, Clone)]
pub struct Channels {
    pub outbox: String,
    pub email: String,
}

impl Channels {
    pub fn for_schema(schema: &str) -> Self {
        // Channel names are identifiers (at most 63 bytes); the schema keeps tests and
        // deployments sharing one database apart.
        let clean: String = schema
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        Self {
            outbox: format!("vouch_outbox_{clean}"),
            email: format!("vouch_email_{clean}"),
        }
    }
}

/// Runs until the returned handle is aborted.
pub fn spawn_listener(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    channels: Channels,
    outbox: Arc<Notify>,
    email: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match config.connect(tls.clone()).await {
                Ok((client, mut connection)) => {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        let mut messages =
                            futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                        while let Some(m) = messages.next().await {
                            match m {
                                Ok(AsyncMessage::Notification(n)) => {
                                    if tx.send(n.channel().to_string()).is_err() {
                                        break;
                                    }
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(error = %e, "notification connection lost");
                                    break;
                                }
                            }
                        }
                    });
                    let listen = format!(
                        "LISTEN \"{}\"; LISTEN \"{}\"",
                        channels.outbox, channels.email
                    );
                    if let Err(e) = client.batch_execute(&listen).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        backoff = Duration::from_millis(200);
                        // Anything committed while no listener ran is picked up now.
                        outbox.notify_one();
                        email.notify_one();
                        while let Some(channel) = rx.recv().await {
                            if channel == channels.outbox {
                                outbox.notify_one();
                            } else if channel == channels.email {
                                email.notify_one();
                            }
                        }
                    }
                    driver.abort();
                }
                Err(e) => tracing::debug!(error = %e, "cannot connect the listener"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

/// Asks the node's notifier task to tell the other nodes that work was committed.
#[derive(Clone, Default)]
pub struct Notifier {
    inner: Arc<Pending>,
}

#[derive(Default)]
struct Pending {
    outbox: AtomicBool,
    email: AtomicBool,
    wake: Notify,
}

impl Notifier {
    pub fn committed(&self, events: bool, emails: bool) {
        if events {
            self.inner.outbox.store(true, Ordering::Release);
        }
        if emails {
            self.inner.email.store(true, Ordering::Release);
        }
        if events || emails {
            self.inner.wake.notify_one();
        }
    }

    /// Sends one NOTIFY per channel for however many commits asked since the last one, on a
    /// pooled connection outside any transaction. Runs until the handle is aborted.
    pub fn spawn(
        &self,
        pool: deadpool_postgres::Pool,
        channels: Channels,
    ) -> tokio::task::JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            loop {
                inner.wake.notified().await;
                let outbox = inner.outbox.swap(false, Ordering::AcqRel);
                let email = inner.email.swap(false, Ordering::AcqRel);
                let mut sql = String::new();
                if outbox {
                    sql.push_str(&format!("NOTIFY \"{}\";", channels.outbox));
                }
                if email {
                    sql.push_str(&format!("NOTIFY \"{}\";", channels.email));
                }
                if sql.is_empty() {
                    continue;
                }
                let sent = match pool.get().await {
                    Ok(c) => c.batch_execute(&sql).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = sent {
                    // The other nodes' polling picks the work up meanwhile.
                    tracing::debug!(error = %e, "cannot notify the other nodes");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
    }
}
