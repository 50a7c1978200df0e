//! LISTEN/NOTIFY: a dedicated connection listens on this schema's channels and wakes the local
//! workers when any node commits outbox events or email jobs. Polling stays the fallback, so a
//! lost listener only delays work; it reconnects by itself.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

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
    channels: Channels,
    outbox: Arc<Notify>,
    email: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match config.connect(NoTls).await {
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
