//! The SMTP transport built from configuration, and messages built from rendered content.
//! Addresses are parsed into mailboxes, never concatenated into headers.

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};

use crate::config::Config;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// What an email job stores: the rendered content, sent exactly as previewed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub language: String,
    /// The application's sender display name, replacing the configured one.
    #[serde(default)]
    pub from_name: Option<String>,
}

/// The transport, or `None` when no server is configured.
pub fn transport(cfg: &Config) -> anyhow::Result<Option<Transport>> {
    let Some(smtp_url) = cfg.smtp_url() else {
        return Ok(None);
    };
    let mut builder = Transport::from_url(smtp_url)
        .context("smtp_url: expected smtp://[user:pass@]host[:port][?tls=required] or smtps://…")?
        .timeout(Some(cfg.mailer.timeout));
    if let Some(file) = &cfg.smtp_password_file {
        let password = crate::config::read_secret("smtp_password_file", file)?;
        let user = url::Url::parse(smtp_url)
            .map(|u| u.username().to_string())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user, password));
    }
    Ok(Some(builder.build()))
}

/// The configured sender.
pub fn sender(cfg: &Config) -> anyhow::Result<Mailbox> {
    cfg.smtp_from.parse().with_context(|| {
        format!(
            "smtp_from {:?} is not a mailbox like \"Name <address>\"",
            cfg.smtp_from
        )
    })
}

/// Builds the message: one recipient, the stored subject and both parts, a fixed Message-ID.
pub fn message(
    from: &Mailbox,
    recipient: &str,
    message_id: &str,
    r: &Rendered,
) -> Result<Message, String> {
    let to: Mailbox = recipient
        .parse()
        .map_err(|e| format!("recipient {recipient:?} is not an address: {e}"))?;
    let from = match &r.from_name {
        // A name is a display name only: the address stays the configured one.
        Some(name) => Mailbox::new(Some(name.replace(['\r', '\n'], " ")), from.email.clone()),
        None => from.clone(),
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(message_id.to_string()))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(r.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(r.html.clone()),
                ),
        )
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(subject: &str) -> Rendered {
        Rendered {
            subject: subject.into(),
            text: "hello".into(),
            html: "<p>hello</p>".into(),
            language: "en".into(),
            from_name: None,
        }
    }

    #[test]
    fn hostile_values_never_become_headers_or_recipients() {
        let from: Mailbox = "vouch <no-reply@example.com>".parse().unwrap();
        for bad in ["a@b.co\r\nBcc: evil@x.com", "a@b.co, evil@x.com", "evil"] {
            assert!(
                message(&from, bad, "<1@vouch>", &rendered("s")).is_err(),
                "{bad:?}"
            );
        }
        let m = message(
            &from,
            "p@example.com",
            "<1@vouch>",
            &rendered("Hi\r\nBcc: evil@x.com"),
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(
            !raw.lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{raw}"
        );
        assert_eq!(
            raw.matches("\r\nTo: ").count() + usize::from(raw.starts_with("To: ")),
            1
        );
        assert!(raw.contains("Message-ID: <1@vouch>"));
    }
}
