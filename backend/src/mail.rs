//! Outgoing mail: SMTP when `CONSENTRY_SMTP_URL` is set, otherwise `.eml` files in the data
//! directory's outbox (the embedded default). Mail content never reaches the logs.

use crate::{
    metrics::Metrics,
    schema::{
        consents::Language,
        ids::{EventId, RegistrationId},
    },
};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
};
use uuid::Uuid;

/// A message to one person about one event.
pub struct Mail {
    pub event_id: EventId,
    /// The registration the mail is about, so that an erasure can remove it from the outbox.
    pub registration_id: Option<RegistrationId>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<MailAttachment>,
}

pub struct MailAttachment {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

enum Transport {
    /// `.eml` files under `DIR/<event id>/`, named `<registration id>.<mail id>.eml`, so that an
    /// event's mails go with its purge and an attendee's with their erasure.
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    metrics: Option<Arc<Metrics>>,
}

impl Mailer {
    /// Write mails as files under `dir`.
    pub fn outbox(dir: PathBuf, from: &str) -> anyhow::Result<Self> {
        Ok(Self {
            from: from
                .parse()
                .context("CONSENTRY_MAIL_FROM is not a mailbox")?,
            transport: Transport::Outbox(dir),
            metrics: None,
        })
    }

    /// Send through the SMTP server at `url`: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`.
    pub fn smtp(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("CONSENTRY_SMTP_URL is not a valid SMTP URL")?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        Ok(Self {
            from: from
                .parse()
                .context("CONSENTRY_MAIL_FROM is not a mailbox")?,
            transport: Transport::Smtp(transport),
            metrics: None,
        })
    }

    /// Count sent and failed mails in `metrics`.
    #[must_use]
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    pub fn outbox_dir(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    fn message(&self, mail: Mail) -> anyhow::Result<Message> {
        let to: Mailbox = mail.to.parse().context("recipient is not a mailbox")?;
        let mut body = MultiPart::mixed().singlepart(SinglePart::plain(mail.text));
        for a in mail.attachments {
            body = body.singlepart(
                Attachment::new(a.filename).body(a.bytes, ContentType::parse(a.content_type)?),
            );
        }
        Ok(Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(body)?)
    }

    /// Send `mail`. The error says what failed, never to whom or what.
    pub async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let sent = self.deliver(mail).await;
        if let Some(metrics) = &self.metrics {
            metrics.mail(sent.is_ok());
        }
        sent
    }

    async fn deliver(&self, mail: Mail) -> anyhow::Result<()> {
        let event_id = mail.event_id;
        let about = mail
            .registration_id
            .map_or_else(|| "event".to_owned(), |id| id.to_string());
        let message = self.message(mail)?;
        match &self.transport {
            Transport::Outbox(dir) => {
                let dir = event_dir(dir, event_id);
                let path = dir.join(format!("{about}.{}.eml", Uuid::now_v7()));
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_private(&dir, &path, &bytes))
                    .await
                    .context("outbox writer stopped")??;
            }
            Transport::Smtp(transport) => {
                transport.send(message).await.map_err(|e| {
                    anyhow::anyhow!("SMTP delivery failed: {}", smtp_error_kind(&e))
                })?;
            }
        }
        Ok(())
    }

    /// Send `mail` where its failure is not the caller's failure (the registration, correction or
    /// change it is about stands): a failure is logged as `what` not sent, with the registration
    /// id and the error's kind, never the recipient or content. Returns whether it went out.
    pub async fn send_or_log(&self, mail: Mail, what: &str) -> bool {
        let registration_id = mail.registration_id;
        match self.send(mail).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(?registration_id, error = %e, "{what} not sent");
                false
            }
        }
    }

    /// Remove from the outbox every mail about `registration_id`. Mail already handed to an SMTP
    /// server is out of reach.
    pub async fn forget(
        &self,
        event_id: EventId,
        registration_id: RegistrationId,
    ) -> anyhow::Result<()> {
        let Transport::Outbox(dir) = &self.transport else {
            return Ok(());
        };
        let prefix = format!("{registration_id}.");
        let Some(mut entries) = read_dir_if_any(&event_dir(dir, event_id)).await? else {
            return Ok(());
        };
        while let Some(entry) = entries.next_entry().await? {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                tokio::fs::remove_file(entry.path()).await?;
            }
        }
        Ok(())
    }
}

/// A month's name as a mail in `language` writes it: the dates in mails are words, the same in
/// every mail client.
pub fn month_name(month: time::Month, language: Language) -> &'static str {
    const ENGLISH: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DUTCH: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let names = match language {
        Language::En => &ENGLISH,
        Language::Nl => &DUTCH,
    };
    names[usize::from(u8::from(month)) - 1]
}

/// The outbox folder of one event's mails.
fn event_dir(outbox: &Path, event_id: EventId) -> PathBuf {
    outbox.join(event_id.to_string())
}

/// The entries of `dir`; `None` when it does not exist (nothing was ever written there).
async fn read_dir_if_any(dir: &Path) -> std::io::Result<Option<tokio::fs::ReadDir>> {
    match tokio::fs::read_dir(dir).await {
        Ok(entries) => Ok(Some(entries)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Remove every mail about `event_id` from the outbox at `outbox`.
pub async fn remove_event_mails(outbox: &Path, event_id: EventId) -> std::io::Result<()> {
    match tokio::fs::remove_dir_all(event_dir(outbox, event_id)).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The events that have mails in the outbox at `outbox`.
pub async fn events_with_mails(outbox: &Path) -> std::io::Result<Vec<EventId>> {
    let Some(mut entries) = read_dir_if_any(outbox).await? else {
        return Ok(Vec::new());
    };
    let mut events = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<EventId>().ok())
        {
            events.push(id);
        }
    }
    Ok(events)
}

/// The kind of an SMTP failure without the server's text, which can quote the recipient.
fn smtp_error_kind(e: &lettre::transport::smtp::Error) -> &'static str {
    if e.is_permanent() {
        "permanent rejection"
    } else if e.is_transient() {
        "temporary rejection"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_tls() {
        "TLS error"
    } else {
        "connection or protocol error"
    }
}

fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir).context("cannot create the outbox directory")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).context("cannot create an outbox file")?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_keeps_each_events_mail_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::outbox(
            dir.path().to_path_buf(),
            "Consentry <no-reply@consentry.example>",
        )
        .unwrap();
        let event_id = EventId::new();
        mailer
            .send(Mail {
                event_id,
                registration_id: None,
                to: "ada@example.org".into(),
                subject: "Hello".into(),
                text: "Body text".into(),
                attachments: vec![MailAttachment {
                    filename: "badge.png".into(),
                    content_type: "image/png",
                    bytes: vec![1, 2, 3],
                }],
            })
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join(event_id.to_string()))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1);
        let path = files[0].as_ref().unwrap().path();
        let eml = std::fs::read_to_string(&path).unwrap();
        assert!(eml.contains("To: ada@example.org"));
        assert!(eml.contains("badge.png"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_bad_sender_is_a_configuration_error() {
        assert!(Mailer::outbox(PathBuf::from("x"), "not a mailbox").is_err());
        assert!(Mailer::smtp("http://nope", "a@b.example").is_err());
    }
}
