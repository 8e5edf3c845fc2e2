//! E-mail to the offices: a request (or complaint) the back office forwards
//! to an office with an e-mail address is sent there; a reminder goes two
//! working days before the deadline; every morning each department's back
//! office gets one digest of its overdue forwardings.
//!
//! Durable and idempotent: the sync transaction that takes a new
//! forwarding queues its mail (`SyncTransaction::record_forwardings`), each
//! reminder and digest is queued once under its own key, and a mail leaves
//! the queue only when the relay accepted it (or refused it for good). The
//! queue holds no citizen data: a mail's text is written when it is sent,
//! from the document as it is then — an erased case sends nothing.
//!
//! What became of a forwarding's mail is written into the document itself
//! (`forwarding.mail`), by the server's own actor, so that every laptop of
//! the department shows "per E-Mail gesendet am …" or the error. The
//! integrity check lets the server's actors change that field and nothing
//! else, and no device change it.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge, ObjId, ObjType, ReadDoc, Value};
use chrono::{DateTime, NaiveTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::knowledge::{CATALOG_DOCUMENT_ID, shipped_catalog};
use sprechtag_schemas::wire::heads_to_bytes;
use sprechtag_schemas::{
    Case, CaseSummary, Catalog, CatalogDocument, DocumentState, Feedback, Forwarding, IsoDate,
    MailStatus,
};

use crate::audit::{Event, NewEntry};
use crate::config::{Clock, Settings, SmtpSettings, SmtpTls};
use crate::storage::{
    DocumentWrite, ForwardingRecord, MailOutcome, MailPurpose, QueuedMail, Storage, SyncTransaction,
};
use crate::sync::DocCache;

/// Mails tried per look at the queue.
const BATCH: usize = 20;
/// A forwarding never tried for this long was queued before e-mail was set
/// up: not sent.
const STALE: chrono::Duration = chrono::Duration::days(30);
/// The longest wait before a failed mail is tried again.
const MAX_RETRY_SECS: i64 = 60 * 60;

/// The registered part (32 hex digits) of the server's actors: derived
/// from the server's id, the same for every process of one deployment.
pub fn server_actor_prefix(server_id: &str) -> String {
    let hash = Sha256::digest(format!("sprechtag-server-actor:{server_id}"));
    hex::encode(&hash[..16])
}

/// This process's actor: the registered part and 8 random bytes, so that
/// two processes (a restart, or a second instance) never write under the
/// same actor and sequence number.
fn server_actor(server_id: &str) -> ActorId {
    static SUFFIX: OnceLock<[u8; 8]> = OnceLock::new();
    let suffix = SUFFIX.get_or_init(rand::random);
    let mut bytes = hex::decode(server_actor_prefix(server_id)).unwrap_or_default();
    bytes.extend_from_slice(suffix);
    ActorId::from(bytes)
}

/// The forwardings of a document just stored: from a case's summary, or
/// read from an idea, praise or complaint.
pub fn forwardings_in(
    kind: DocumentKind,
    doc_id: &str,
    department: Option<&str>,
    summary: Option<&[u8]>,
    doc: &Automerge,
) -> Vec<ForwardingRecord> {
    let record = |request_id: &str, f: &Forwarding, closed: bool| ForwardingRecord {
        doc_id: doc_id.to_string(),
        request_id: request_id.to_string(),
        kind: kind.as_str().to_string(),
        department: department.map(str::to_string),
        office_id: f.office_id.clone(),
        forwarded_at: f.forwarded_at.clone(),
        due: f.due.to_string(),
        closed,
    };
    match kind {
        DocumentKind::Case => summary
            .and_then(CaseSummary::decode)
            .map(|case| {
                case.requests
                    .iter()
                    .filter_map(|r| {
                        let f = r.forwarding.as_ref()?;
                        Some(record(&r.id, f, f.closed_at.is_some()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        DocumentKind::Feedback => document::read::<Feedback>(doc)
            .ok()
            .and_then(|feedback| {
                let f = feedback.forwarding.as_ref()?;
                Some(vec![record(
                    "",
                    f,
                    f.closed_at.is_some() || feedback.is_closed(),
                )])
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A mail ready to go.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub body: String,
}

/// What to do with a queued mail.
enum Plan {
    Send(Composed),
    /// Nothing to send (the office has no address, the case was answered
    /// or erased, no back-office address): leaves the queue.
    Drop(&'static str),
}

/// Sends what is queued. One per server; `run` until the server stops.
pub struct Mailer {
    storage: Arc<dyn Storage>,
    cache: Arc<DocCache>,
    settings: SmtpSettings,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    backoffice: BTreeMap<String, String>,
    clock: Clock,
    actor: ActorId,
    /// The offices until the county's catalogue document arrives: the
    /// server's `catalog_file`, else the shipped catalogue.
    fallback: Arc<Catalog>,
}

impl Mailer {
    /// The mailer of `settings`, `None` without `[smtp]`.
    pub fn new(
        settings: &Settings,
        storage: Arc<dyn Storage>,
        cache: Arc<DocCache>,
    ) -> anyhow::Result<Option<Mailer>> {
        let Some(smtp) = settings.smtp.clone() else {
            return Ok(None);
        };
        let from: Mailbox = smtp
            .from
            .parse()
            .with_context(|| format!("[smtp] from = {:?} is not an e-mail address", smtp.from))?;
        digest_time(&smtp.digest_at)?;
        let tls_parameters = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(smtp.host.clone());
            if let Some(path) = &smtp.ca_file {
                let pem = std::fs::read(path)
                    .with_context(|| format!("cannot read [smtp] ca_file {}", path.display()))?;
                builder = builder.add_root_certificate(
                    Certificate::from_pem(&pem)
                        .with_context(|| format!("{} is not a PEM certificate", path.display()))?,
                );
            }
            Ok(builder.build_rustls()?)
        };
        let tls = match smtp.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(30)));
        if let Some(user) = &smtp.user {
            let path = smtp
                .password_file
                .as_ref()
                .context("[smtp] user needs password_file")?;
            let password = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read [smtp] password_file {}", path.display()))?;
            let password = password.lines().next().unwrap_or_default().to_string();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let server_id = storage.identity()?.server_id;
        let fallback = match settings.catalog()? {
            Some(catalog) => catalog,
            None => shipped_catalog()?,
        };
        Ok(Some(Mailer {
            fallback: Arc::new(fallback),
            transport: builder.build(),
            from,
            backoffice: settings.backoffice_mail.clone(),
            clock: settings.clock.clone(),
            actor: server_actor(&server_id),
            settings: smtp,
            storage,
            cache,
        }))
    }

    /// Looks at the queue every `poll_secs`, and at once when `wake` is
    /// notified (a sync queued a forwarding).
    pub async fn run(self, wake: Arc<tokio::sync::Notify>) {
        let poll = std::time::Duration::from_secs(self.settings.poll_secs.max(1));
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!("mail: {e:#}");
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = wake.notified() => {}
            }
        }
    }

    /// Queues the reminders and digests due now, then tries every mail
    /// due. Returns how many the relay accepted.
    pub async fn tick(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let (storage, cache, backoffice, digest_at) = (
            self.storage.clone(),
            self.cache.clone(),
            self.backoffice.clone(),
            digest_time(&self.settings.digest_at)?,
        );
        let from = self.from.email.to_string();
        let fallback = self.fallback.clone();
        let planned = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            schedule(storage.as_ref(), &backoffice, digest_at, now)?;
            let due = storage.mail_due(&rfc3339(now), BATCH)?;
            let mut planned = Vec::new();
            if due.is_empty() {
                return Ok(planned);
            }
            // One look for all of them, rolled back when dropped: the
            // writer is held once per round, the catalogue read once.
            let mut tx = storage.begin()?;
            let catalog = catalog(tx.as_mut(), &cache, &fallback)?;
            let context = Outbox {
                cache: &cache,
                backoffice: &backoffice,
                from: &from,
                catalog: &catalog,
            };
            for mail in due {
                let plan = plan(storage.as_ref(), tx.as_mut(), &context, &mail, now)?;
                planned.push((mail, plan));
            }
            Ok(planned)
        })
        .await??;
        let mut sent = 0;
        for (mail, plan) in planned {
            match plan {
                Plan::Drop(why) => {
                    tracing::info!(mail = mail.id, "mail: nothing to send ({why})");
                    self.blocking(move |storage, _, _| {
                        storage.mail_tried(
                            mail.id,
                            &MailOutcome::Failed {
                                error: why.to_string(),
                                retry_at: None,
                            },
                        )?;
                        Ok(())
                    })
                    .await?;
                }
                Plan::Send(composed) => {
                    if self.send(mail, composed, now).await? {
                        sent += 1;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Tries one mail; records the outcome in the queue, the audit trail
    /// and (for a forwarding) the document. Whether it was accepted.
    async fn send(
        &self,
        mail: QueuedMail,
        composed: Composed,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let attempts = mail.attempts + 1;
        let result = match self.message(&composed) {
            Ok(message) => self
                .transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| (e.is_permanent(), e.to_string())),
            Err(e) => Err((true, e.to_string())),
        };
        let outcome = match &result {
            Ok(()) => MailOutcome::Sent(rfc3339(now)),
            Err((permanent, error)) => MailOutcome::Failed {
                error: cut(error),
                retry_at: (!permanent).then(|| rfc3339(now + retry_after(attempts))),
            },
        };
        if let Err((_, error)) = &result {
            tracing::warn!(
                mail = mail.id,
                attempts,
                "mail to {} failed: {error}",
                composed.to
            );
        }
        let status = MailStatus {
            to: composed.to.clone(),
            sent_at: result.is_ok().then(|| rfc3339(now)),
            error: result.as_ref().err().map(|(_, e)| cut(e)),
            attempts,
            given_up: matches!(&result, Err((true, _))),
        };
        let actor = self.actor.clone();
        let accepted = result.is_ok();
        self.blocking(move |storage, cache, _| {
            storage.mail_tried(mail.id, &outcome)?;
            let event = match &outcome {
                MailOutcome::Sent(_) => Some(Event::MailSent),
                MailOutcome::Failed { retry_at: None, .. } => Some(Event::MailRefused),
                MailOutcome::Failed { .. } => None,
            };
            if let Some(event) = event {
                storage.append_audit(
                    NewEntry::new(event)
                        .cases(if mail.doc_id.is_empty() {
                            Vec::new()
                        } else {
                            vec![mail.doc_id.clone()]
                        })
                        .detail(serde_json::json!({
                            "purpose": mail.purpose.as_str(),
                            "to": status.to,
                            "attempts": attempts,
                        })),
                )?;
            }
            // The document shows the forwarding's mail: sent, or the
            // error (written again only when it changes).
            if mail.purpose == MailPurpose::Forwarding
                && (status.sent_at.is_some() || status.error != mail.last_error)
            {
                write_status(
                    storage,
                    cache,
                    actor,
                    &mail.doc_id,
                    &mail.request_id,
                    &status,
                    now,
                )?;
            }
            Ok(())
        })
        .await?;
        Ok(accepted)
    }

    fn message(&self, composed: &Composed) -> anyhow::Result<Message> {
        let to: Mailbox = composed
            .to
            .parse()
            .with_context(|| format!("{:?} is not an e-mail address", composed.to))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(composed.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        if let Some(reply_to) = composed.reply_to.as_deref().and_then(|r| r.parse().ok()) {
            builder = builder.reply_to(reply_to);
        }
        Ok(builder.body(composed.body.clone())?)
    }

    async fn blocking(
        &self,
        work: impl FnOnce(&dyn Storage, &DocCache, ()) -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (storage, cache) = (self.storage.clone(), self.cache.clone());
        tokio::task::spawn_blocking(move || work(storage.as_ref(), &cache, ())).await?
    }
}

/// `HH:MM` as a time of day.
fn digest_time(text: &str) -> anyhow::Result<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .with_context(|| format!("[smtp] digest_at = {text:?}: give a time as HH:MM"))
}

/// How long to wait after the `attempts`th failure: a minute, doubled
/// each time, at most an hour.
fn retry_after(attempts: u32) -> chrono::Duration {
    let secs = 60_i64.saturating_mul(1 << attempts.saturating_sub(1).min(10));
    chrono::Duration::seconds(secs.min(MAX_RETRY_SECS))
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An error as the document keeps it: one line, not too long.
fn cut(error: &str) -> String {
    let line = error.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}

/// Queues the reminders and digests due at `now` (each once: by key).
fn schedule(
    storage: &dyn Storage,
    backoffice: &BTreeMap<String, String>,
    digest_at: NaiveTime,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let local = now.with_timezone(&chrono::Local);
    let today = IsoDate::new(local.date_naive());
    let stamp = rfc3339(now);
    let open = storage.open_forwardings()?;
    for f in &open {
        let Ok(due) = f.due.parse::<IsoDate>() else {
            continue;
        };
        let remind_on = due.sub_working_days(2);
        let forwarded_on = f
            .forwarded_at
            .get(..10)
            .and_then(|d| d.parse::<IsoDate>().ok())
            .unwrap_or(today);
        // Not for a deadline that was that close already when forwarded.
        if today >= remind_on && today <= due && forwarded_on < remind_on {
            let key = format!("reminder:{}:{}:{}", f.doc_id, f.request_id, f.due);
            storage.queue_mail(
                &key,
                MailPurpose::Reminder,
                Some((&f.doc_id, &f.request_id)),
                f.department.as_deref(),
                &stamp,
            )?;
        }
    }
    if local.time() >= digest_at {
        for department in backoffice.keys() {
            let overdue = open.iter().any(|f| {
                f.department.as_deref() == Some(department.as_str())
                    && f.due.parse::<IsoDate>().is_ok_and(|due| due < today)
            });
            if overdue {
                let key = format!("digest:{department}:{today}");
                storage.queue_mail(&key, MailPurpose::Digest, None, Some(department), &stamp)?;
            }
        }
    }
    Ok(())
}

/// What writing a mail needs besides the storage.
struct Outbox<'a> {
    cache: &'a DocCache,
    backoffice: &'a BTreeMap<String, String>,
    /// The sender's address: replies go there when a department has no
    /// back-office address.
    from: &'a str,
    /// The catalogue in use (`catalog`).
    catalog: &'a Catalog,
}

/// The catalogue the server reads offices from: the county's document, or
/// `fallback` until a device uploads it.
fn catalog(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    fallback: &Catalog,
) -> anyhow::Result<Catalog> {
    if let Some(meta) = tx.document_meta(CATALOG_DOCUMENT_ID)?
        && meta.kind == DocumentKind::Catalog.as_str()
    {
        let doc = crate::sync::load(tx, cache, CATALOG_DOCUMENT_ID, meta.seq)?;
        if let Ok(stored) = document::read::<CatalogDocument>(&*doc) {
            return Ok(stored.catalog);
        }
    }
    Ok(fallback.clone())
}

/// What a forwarding's document holds, read for its mail.
enum Subject {
    Case(Box<Case>, String),
    Feedback(Box<Feedback>),
}

impl Subject {
    fn forwarding(&self) -> Option<&Forwarding> {
        match self {
            Subject::Case(case, request_id) => case
                .requests
                .iter()
                .find(|r| &r.id == request_id)?
                .forwarding
                .as_ref(),
            Subject::Feedback(feedback) => feedback.forwarding.as_ref(),
        }
    }
}

fn read_subject(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    doc_id: &str,
    request_id: &str,
) -> anyhow::Result<Option<Subject>> {
    let Some(meta) = tx.document_meta(doc_id)? else {
        return Ok(None);
    };
    let kind = DocumentKind::from_name(&meta.kind);
    let doc = match kind {
        Some(DocumentKind::Case | DocumentKind::Feedback) => {
            crate::sync::load(tx, cache, doc_id, meta.seq)?
        }
        _ => return Ok(None),
    };
    Ok(match kind {
        Some(DocumentKind::Case) => document::read::<Case>(&*doc)
            .ok()
            .map(|case| Subject::Case(Box::new(case), request_id.to_string())),
        _ => document::read::<Feedback>(&*doc)
            .ok()
            .map(|f| Subject::Feedback(Box::new(f))),
    })
}

/// The mail to send for `mail`, written from the documents as they are now.
fn plan(
    storage: &dyn Storage,
    tx: &mut dyn SyncTransaction,
    context: &Outbox<'_>,
    mail: &QueuedMail,
    now: DateTime<Utc>,
) -> anyhow::Result<Plan> {
    let Outbox {
        cache,
        backoffice,
        from,
        catalog,
    } = *context;
    let reply_to = |department: Option<&str>| {
        department
            .and_then(|d| backoffice.get(d))
            .cloned()
            .unwrap_or_else(|| from.to_string())
    };
    if mail.purpose == MailPurpose::Digest {
        let Some(department) = mail.department.as_deref() else {
            return Ok(Plan::Drop("a digest without department"));
        };
        let Some(to) = backoffice.get(department) else {
            return Ok(Plan::Drop("no back-office address for the department"));
        };
        let today = IsoDate::new(now.with_timezone(&chrono::Local).date_naive());
        let mut lines = Vec::new();
        for f in storage.open_forwardings()? {
            let Ok(due) = f.due.parse::<IsoDate>() else {
                continue;
            };
            if f.department.as_deref() != Some(department) || due >= today {
                continue;
            }
            let Some(subject) = read_subject(tx, cache, &f.doc_id, &f.request_id)? else {
                continue;
            };
            lines.push(digest_line(&subject, catalog, &f, due));
        }
        if lines.is_empty() {
            return Ok(Plan::Drop("nothing overdue any more"));
        }
        return Ok(Plan::Send(Composed {
            to: to.clone(),
            reply_to: None,
            subject: format!(
                "Überfällige Weiterleitungen – {department}, Stand {}",
                today.to_german()
            ),
            body: format!(
                "Guten Morgen,\n\n\
                 diese {} Weiterleitungen an Fachstellen sind über ihre Frist \
                 hinaus unbeantwortet:\n\n{}\n\n\
                 Bitte fragen Sie bei den Stellen nach und tragen Sie deren \
                 Antworten in Sprechtag ein.\n\n\
                 -- \nDiese Übersicht verschickt der Sprechtag-Server jeden Morgen.\n",
                lines.len(),
                lines.join("\n")
            ),
        }));
    }
    let Some(subject) = read_subject(tx, cache, &mail.doc_id, &mail.request_id)? else {
        return Ok(Plan::Drop("the document is gone"));
    };
    let Some(forwarding) = subject.forwarding() else {
        return Ok(Plan::Drop("the forwarding was withdrawn"));
    };
    if forwarding.closed_at.is_some() {
        return Ok(Plan::Drop("the office answered already"));
    }
    // Queued while no mail was set up (the mailer tries every mail at once
    // otherwise): an office would get a month-old request out of the blue.
    let forwarded = chrono::DateTime::parse_from_rfc3339(&forwarding.forwarded_at).ok();
    if mail.purpose == MailPurpose::Forwarding
        && mail.attempts == 0
        && forwarded.is_some_and(|at| now.signed_duration_since(at) > STALE)
    {
        return Ok(Plan::Drop("forwarded before e-mail was set up"));
    }
    let Some(office) = catalog.office(&forwarding.office_id) else {
        return Ok(Plan::Drop("the office is not in the catalogue"));
    };
    if office.email.trim().is_empty() {
        return Ok(Plan::Drop("the office has no e-mail address"));
    }
    let department = match &subject {
        Subject::Case(case, _) => case.department.clone(),
        Subject::Feedback(f) => f.department.clone(),
    };
    let reply_to = reply_to(department.as_deref());
    let (subject_line, body) = match mail.purpose {
        MailPurpose::Reminder => reminder_text(&subject, forwarding, catalog, &reply_to),
        _ => forwarding_text(&subject, forwarding, catalog, office, &reply_to),
    };
    Ok(Plan::Send(Composed {
        to: office.email.trim().to_string(),
        reply_to: Some(reply_to),
        subject: subject_line,
        body,
    }))
}

/// "KMR-0042" and "Wohngeld", or "Beschwerde" and its category.
fn reference(subject: &Subject) -> (String, String) {
    match subject {
        Subject::Case(case, request_id) => {
            let service = case
                .requests
                .iter()
                .find(|r| &r.id == request_id)
                .map(|r| r.service_name.clone())
                .unwrap_or_default();
            (case.number.clone(), service)
        }
        Subject::Feedback(f) => (
            format!("{} {}", f.kind.label_de(), short_id(&f.id)),
            f.category.label_de().to_string(),
        ),
    }
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect::<String>().to_uppercase()
}

fn due_text(due: IsoDate) -> String {
    format!("{}, {}", due.weekday_german(), due.to_german())
}

/// The mail that forwards a request or a complaint to its office.
fn forwarding_text(
    subject: &Subject,
    forwarding: &Forwarding,
    catalog: &Catalog,
    office: &sprechtag_schemas::Office,
    reply_to: &str,
) -> (String, String) {
    let (number, what) = reference(subject);
    let due = due_text(forwarding.due);
    let mut body = format!(
        "Guten Tag,\n\n\
         {} bittet Sie, das folgende Anliegen zu beantworten.\n\n\
         Vorgang:      {number}\n",
        catalog.issuer.de
    );
    match subject {
        Subject::Case(case, request_id) => {
            body.push_str(&format!("Leistung:     {what}\n"));
            if !forwarding.question.trim().is_empty() {
                body.push_str(&format!("Anliegen:     {}\n", forwarding.question.trim()));
            }
            body.push_str(&format!("Antwort bis:  {due}\n"));
            if let Some(request) = case.requests.iter().find(|r| &r.id == request_id) {
                let list = |state: DocumentState| {
                    let names: Vec<String> = request
                        .documents
                        .iter()
                        .filter(|d| d.state == state)
                        .map(|d| format!("  - {}", d.name))
                        .collect();
                    if names.is_empty() {
                        "  (keine)".to_string()
                    } else {
                        names.join("\n")
                    }
                };
                body.push_str(&format!(
                    "\nVorgelegte Unterlagen:\n{}\n\nNoch fehlende Unterlagen:\n{}\n",
                    list(DocumentState::Presented),
                    list(DocumentState::Missing)
                ));
                if request
                    .documents
                    .iter()
                    .any(|d| d.state == DocumentState::Unchecked)
                {
                    body.push_str(&format!(
                        "\nNoch nicht geprüft:\n{}\n",
                        list(DocumentState::Unchecked)
                    ));
                }
            }
            body.push('\n');
            if office.share_citizen_contact {
                let citizen = &case.citizen;
                body.push_str(&format!(
                    "Bürgerin/Bürger: {}{}\n",
                    citizen.display_name(),
                    if citizen.phone.trim().is_empty() {
                        String::new()
                    } else {
                        format!(", Telefon {}", citizen.phone.trim())
                    }
                ));
            } else {
                body.push_str(&format!(
                    "Name und Anschrift der Bürgerin oder des Bürgers übermitteln wir \
                     aus Datenschutzgründen nicht; für Rückfragen genügt die \
                     Vorgangsnummer {number}.\n"
                ));
            }
        }
        Subject::Feedback(feedback) => {
            body.push_str(&format!(
                "Art:          {} ({what})\nAntwort bis:  {due}\n\nWortlaut:\n{}\n",
                feedback.kind.label_de(),
                feedback.text.trim()
            ));
        }
    }
    body.push_str(&format!(
        "\nBitte antworten Sie bis {due} auf diese E-Mail; Ihre Antwort geht an \
         {reply_to}. Nennen Sie dabei die Vorgangsnummer {number}.\n\n\
         Mit freundlichen Grüßen\n{}\n\n\
         -- \nVersandt vom Sprechtag-Server des Bürgerservice.\n",
        catalog.issuer.de
    ));
    (
        format!("Weiterleitung {number}: {what} – Antwort bis {due}"),
        body,
    )
}

/// Two working days before the deadline.
fn reminder_text(
    subject: &Subject,
    forwarding: &Forwarding,
    catalog: &Catalog,
    reply_to: &str,
) -> (String, String) {
    let (number, what) = reference(subject);
    let due = due_text(forwarding.due);
    (
        format!("Erinnerung: {number} ({what}) – Antwort bis {due}"),
        format!(
            "Guten Tag,\n\n\
             wir erinnern an unsere Weiterleitung {number} ({what}) vom {}. \
             Die zugesagte Antwortfrist endet am {due}.\n\n\
             Bitte antworten Sie an {reply_to} und nennen Sie die Vorgangsnummer \
             {number}.\n\n\
             Mit freundlichen Grüßen\n{}\n",
            forwarding
                .forwarded_at
                .get(..10)
                .and_then(|d| d.parse::<IsoDate>().ok())
                .map(IsoDate::to_german)
                .unwrap_or_default(),
            catalog.issuer.de
        ),
    )
}

fn digest_line(subject: &Subject, catalog: &Catalog, f: &ForwardingRecord, due: IsoDate) -> String {
    let (number, what) = reference(subject);
    let office = catalog
        .office(&f.office_id)
        .map_or(f.office_id.as_str(), |o| o.name.de.as_str());
    format!("- {number}: {what} – {office} – Frist {}", due.to_german())
}

/// The forwarding object of `request_id` in a case, or of an idea, praise
/// or complaint.
fn forwarding_object(doc: &Automerge, kind: DocumentKind, request_id: &str) -> Option<ObjId> {
    let map_at = |obj: &ObjId, key: &str| match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    };
    match kind {
        DocumentKind::Feedback => map_at(&automerge::ROOT, "forwarding"),
        DocumentKind::Case => {
            let Ok(Some((Value::Object(ObjType::List), requests))) =
                doc.get(automerge::ROOT, "requests")
            else {
                return None;
            };
            (0..doc.length(&requests)).find_map(|index| {
                let Ok(Some((Value::Object(ObjType::Map), request))) = doc.get(&requests, index)
                else {
                    return None;
                };
                let id = match doc.get(&request, "id") {
                    Ok(Some((Value::Scalar(id), _))) => id.as_str().map(str::to_string),
                    _ => None,
                };
                (id.as_deref() == Some(request_id))
                    .then(|| map_at(&request, "forwarding"))
                    .flatten()
            })
        }
        _ => None,
    }
}

/// Writes `status` into the forwarding's `mail`, as the server.
fn write_status(
    storage: &dyn Storage,
    cache: &DocCache,
    actor: ActorId,
    doc_id: &str,
    request_id: &str,
    status: &MailStatus,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = storage.begin()?;
    let Some(meta) = tx.document_meta(doc_id)? else {
        return Ok(());
    };
    let Some(kind) = DocumentKind::from_name(&meta.kind) else {
        return Ok(());
    };
    let mut doc = Automerge::clone(&*crate::sync::load(tx.as_mut(), cache, doc_id, meta.seq)?);
    let before = doc.get_heads();
    let Some(forwarding) = forwarding_object(&doc, kind, request_id) else {
        return Ok(());
    };
    doc.set_actor(actor);
    doc.transact_with::<_, _, autosurgeon::ReconcileError, _>(
        |_| {
            CommitOptions::default()
                .with_message("E-Mail an die Fachstelle".to_string())
                .with_time(now.timestamp())
        },
        |t| autosurgeon::reconcile_prop(t, &forwarding, "mail", Some(status)),
    )
    .map_err(|failure| anyhow::anyhow!("cannot write the mail status: {}", failure.error))?;
    let after = doc.get_heads();
    if after == before {
        return Ok(());
    }
    let summary = crate::sync::checked_shape(&doc, kind, doc_id)
        .map_err(|(_, why)| anyhow::anyhow!("the document with its mail status: {why}"))?;
    let encoded;
    let write = if meta.chunk_count + 1 < crate::sync::COMPACT_AFTER {
        encoded = doc.save_after(&before);
        DocumentWrite::Chunk(&encoded)
    } else {
        encoded = doc.save_nocompress();
        DocumentWrite::Snapshot(&encoded)
    };
    let seq = tx.write_document(
        doc_id,
        kind.as_str(),
        meta.department.as_deref(),
        &heads_to_bytes(&after),
        summary.as_deref(),
        write,
    )?;
    tx.commit()?;
    cache.put(doc_id, seq, Arc::new(doc));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(1).num_seconds(), 60);
        assert_eq!(retry_after(2).num_seconds(), 120);
        assert_eq!(retry_after(3).num_seconds(), 240);
        assert_eq!(retry_after(40).num_seconds(), MAX_RETRY_SECS);
    }

    #[test]
    fn the_servers_actors_share_a_prefix_no_device_has() {
        let prefix = server_actor_prefix("abc");
        assert_eq!(prefix.len(), 32);
        assert!(server_actor("abc").to_hex_string().starts_with(&prefix));
        assert_ne!(prefix, server_actor_prefix("abd"));
    }
}
