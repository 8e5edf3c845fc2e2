//! The store's own thread. The UI sends requests and never waits: replies
//! come back through a channel, and each one asks egui for a repaint. Every
//! save is acknowledged only after its transaction is on disk.

use std::path::PathBuf;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use automerge::ChangeHash;
use rust_i18n::t;
use sprechtag_schemas::{
    Answer, AnswerStatus, Case, Catalog, Feedback, FeedbackKind, IsoDate, Office, OfficeHour,
    OfficeHourSummary, Rating, Service,
};

use super::errors::{print_error_text, store_error_text};
use crate::print::{self, PrintKind};
use crate::store::HistoryEntry;
use crate::store::appointments::AppointmentRow;
use crate::store::statistics::Statistics;

use crate::store::{
    CaseFilter, CasePage, Device, NewFeedback, NewOfficeHour, OfficeHourRow, Passphrase, Store,
    StoreError,
};

#[derive(Debug)]
pub enum Request {
    Unlock {
        passphrase: Passphrase,
    },
    /// Put the backup `file` in place of the (damaged) store, then unlock.
    Restore {
        passphrase: Passphrase,
        file: PathBuf,
    },
    /// The session is locked: is this its passphrase?
    VerifyPassphrase {
        passphrase: Passphrase,
    },
    OfficeHours,
    OpenOfficeHour(NewOfficeHour),
    /// A tour plan: from `start` to `end` (HH:MM).
    PlanOfficeHour {
        new: NewOfficeHour,
        start: String,
        end: String,
    },
    BeginOfficeHour(String),
    CloseOfficeHour(String),
    Summary(String),
    Cases {
        filter: CaseFilter,
        generation: u64,
    },
    LoadCase(String),
    CreateCase {
        draft: Case,
        seq: u64,
    },
    /// `base`: heads of the version the editor's content started from.
    SaveCase {
        case: Case,
        base: Vec<ChangeHash>,
        seq: u64,
    },
    /// Make the PDF, save it in the data dir and open the system's viewer.
    Print {
        kind: PrintKind,
        id: String,
    },
    AppointmentsOn(IsoDate),
    Statistics,
    /// The change history of a case.
    History(String),
    /// Write the committee's CSV into the data dir's exports/ folder.
    ExportStatistics,
    /// The daily backup, if the newest is older than a day: asked for
    /// after unlocking, behind the first lists, so that it never delays them.
    BackupIfDue,
    Rate {
        office_hour_id: String,
        rating: Rating,
    },
    /// Correct a field without its history (a back-office or standalone
    /// device): the case comes back as a new document.
    CorrectCase {
        id: String,
        path: String,
        value: String,
        reason: String,
    },
    /// Erase a case everywhere (a back-office or standalone device).
    EraseCase {
        id: String,
        reason: String,
    },
    /// The knowledge base as it is now (after a sync, or entering the tab).
    Knowledge,
    /// Store a service as edited in the catalogue's edit mode.
    SaveService(Service),
    /// Store an office as edited.
    SaveOffice(Office),
    AddAnswer {
        question: String,
        answer: String,
        services: Vec<String>,
    },
    EditAnswer {
        id: String,
        question: String,
        answer: String,
        services: Vec<String>,
    },
    ReviewAnswer {
        id: String,
        status: AnswerStatus,
    },
    /// Quiet slots for a follow-up appointment.
    ProposeSlots(crate::store::slots::SlotQuery),
    FeedbackList,
    RecordFeedback(NewFeedback),
    ForwardFeedback {
        id: String,
        office: String,
        due: IsoDate,
    },
    CloseFeedback {
        id: String,
        answer: String,
    },
}

#[derive(Debug)]
pub enum Reply {
    Statistics(Statistics),
    History {
        case_id: String,
        entries: Vec<HistoryEntry>,
    },
    Exported(PathBuf),
    Rated,
    /// The daily backup ran (or was not due); the error if it failed.
    BackedUp(Result<(), String>),
    Unlocked {
        device: Device,
        /// The role of the device's enrolment, if enrolled.
        role: Option<sprechtag_schemas::Role>,
        catalog: std::sync::Arc<Catalog>,
        /// A second connection, for the sync worker; none for a damaged
        /// store (nothing is synced from it).
        sync_store: Option<Box<Store>>,
        /// A third, for the hall worker; none for a damaged store.
        hall_store: Option<Box<Store>>,
        /// The store failed its integrity check: open for reading only.
        damage: Option<String>,
        /// The backup put in place before unlocking.
        restored: Option<crate::store::backup::Restored>,
    },
    UnlockFailed(StoreError),
    /// The passphrase given at the lock screen opens the store.
    PassphraseVerified,
    OfficeHours(Vec<OfficeHourRow>),
    OfficeHourOpened(OfficeHour),
    /// Closed; the backup made then, or why none could be.
    OfficeHourClosed(OfficeHour, Result<PathBuf, String>),
    Summary {
        id: String,
        summary: OfficeHourSummary,
    },
    Cases {
        page: CasePage,
        generation: u64,
    },
    CaseLoaded {
        case: Case,
        heads: Vec<ChangeHash>,
    },
    /// A new case was created or an edit saved: `case` as it is at `base`,
    /// the heads the editor's next save starts from.
    CaseStored {
        case: Case,
        base: Vec<ChangeHash>,
        seq: u64,
    },
    SaveFailed {
        seq: u64,
        error: String,
    },
    Printed {
        path: std::path::PathBuf,
        /// The PDF is saved, but no viewer could be opened.
        viewer_error: Option<String>,
    },
    Appointments {
        date: IsoDate,
        rows: Vec<AppointmentRow>,
    },
    /// The case was written anew without its history.
    Corrected {
        case: Case,
        heads: Vec<ChangeHash>,
    },
    /// The case is erased here, and with the next sync everywhere.
    Erased {
        number: String,
    },
    Knowledge {
        catalog: std::sync::Arc<Catalog>,
        answers: std::sync::Arc<Vec<Answer>>,
        /// What was just stored, to confirm (`None`: only a refresh).
        saved: Option<String>,
    },
    Feedback {
        list: Vec<Feedback>,
        saved: Option<String>,
    },
    Slots(Vec<crate::store::slots::Slot>),
    Failed(String),
}

pub struct Worker {
    requests: Option<Sender<Request>>,
    replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker")
    }
}

impl Worker {
    /// Starts the thread for the data in `dir`; `wake` is called after every reply.
    pub fn spawn(dir: PathBuf, wake: impl Fn() + Send + 'static) -> Worker {
        let (request_tx, request_rx) = channel();
        let (reply_tx, reply_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || serve(dir, request_rx, reply_tx, wake))
            .ok();
        Worker {
            requests: Some(request_tx),
            replies: reply_rx,
            thread,
        }
    }

    pub fn send(&self, request: Request) {
        if let Some(requests) = &self.requests {
            // The thread only ends when this sender is dropped.
            let _ = requests.send(request);
        }
    }

    pub fn try_recv(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }
}

impl Drop for Worker {
    /// Closing the window waits until every queued save is on disk.
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(dir: PathBuf, requests: Receiver<Request>, replies: Sender<Reply>, wake: impl Fn()) {
    let mut store: Option<Store> = None;
    // Ends when the UI drops its sender, after the requests already queued.
    while let Ok(request) = requests.recv() {
        let reply = handle(&dir, &mut store, request);
        if replies.send(reply).is_err() {
            return;
        }
        wake();
    }
}

fn handle(dir: &std::path::Path, store: &mut Option<Store>, request: Request) -> Reply {
    if let Request::Unlock { passphrase } = request {
        return unlock(dir, store, passphrase.as_str(), None);
    }
    if let Request::Restore { passphrase, file } = request {
        // The damaged store's connection goes first; its files are moved
        // aside, not deleted.
        *store = None;
        return match crate::store::backup::restore(dir, &file, passphrase.as_str()) {
            Ok(restored) => unlock(dir, store, passphrase.as_str(), Some(restored)),
            Err(e) => Reply::UnlockFailed(e),
        };
    }
    let Some(store) = store.as_mut() else {
        return Reply::Failed("locked".into());
    };
    let failed = |e: StoreError| Reply::Failed(store_error_text(&e));
    match request {
        Request::Unlock { .. } | Request::Restore { .. } => {
            Reply::Failed("already unlocked".into())
        }
        Request::VerifyPassphrase { passphrase } => {
            // Opening the store a second time checks the passphrase the
            // way the first opening did (Argon2id, then SQLCipher).
            match Store::open(dir, passphrase.as_str(), store.catalog().clone()) {
                Ok(_) => Reply::PassphraseVerified,
                Err(e) => Reply::UnlockFailed(e),
            }
        }
        Request::OfficeHours => store.office_hours().map_or_else(failed, Reply::OfficeHours),
        Request::OpenOfficeHour(new) => store
            .open_office_hour(new)
            .map_or_else(failed, Reply::OfficeHourOpened),
        Request::PlanOfficeHour { new, start, end } => store
            .plan_office_hour(new, &start, &end)
            .map_or_else(failed, Reply::OfficeHourOpened),
        Request::BeginOfficeHour(id) => store
            .begin_office_hour(&id)
            .map_or_else(failed, Reply::OfficeHourOpened),
        Request::CloseOfficeHour(id) => match store.close_office_hour(&id) {
            // The day's work is kept in a backup as well.
            Ok(office_hour) => Reply::OfficeHourClosed(
                office_hour,
                store
                    .backup_now()
                    .map(|made| made.path)
                    .map_err(|e| store_error_text(&e)),
            ),
            Err(e) => failed(e),
        },
        Request::Summary(id) => store
            .office_hour_summary(&id)
            .map_or_else(failed, |summary| Reply::Summary { id, summary }),
        Request::Cases { filter, generation } => store
            .list_cases(&filter)
            .map_or_else(failed, |page| Reply::Cases { page, generation }),
        Request::LoadCase(id) => match store
            .case_with_heads(&id)
            .and_then(|(case, heads)| store.record_opened(&case.id).map(|()| (case, heads)))
        {
            Ok((case, heads)) => Reply::CaseLoaded { case, heads },
            Err(e) => failed(e),
        },
        Request::CreateCase { draft, seq } => match store.create_case_with_heads(draft) {
            Ok((case, base)) => Reply::CaseStored { case, base, seq },
            Err(e) => Reply::SaveFailed {
                seq,
                error: store_error_text(&e),
            },
        },
        Request::Print { kind, id } => print_and_open(store, kind, &id),
        Request::AppointmentsOn(date) => store
            .appointments_on(date)
            .map_or_else(failed, |rows| Reply::Appointments { date, rows }),
        Request::Statistics => store.statistics().map_or_else(failed, Reply::Statistics),
        Request::History(case_id) => store
            .case_history(&case_id)
            .map_or_else(failed, |entries| Reply::History { case_id, entries }),
        Request::ExportStatistics => export_statistics(store),
        Request::BackupIfDue => Reply::BackedUp(
            store
                .backup_if_due()
                .map(|_| ())
                .map_err(|e| store_error_text(&e)),
        ),
        Request::Rate {
            office_hour_id,
            rating,
        } => store
            .add_rating(&office_hour_id, rating)
            .map_or_else(failed, |_| Reply::Rated),
        Request::CorrectCase {
            id,
            path,
            value,
            reason,
        } => match store
            .correct_case(&id, &path, &value, &reason)
            .and_then(|case| store.case_with_heads(&case.id))
        {
            Ok((case, heads)) => Reply::Corrected { case, heads },
            Err(e) => Reply::Failed(store_error_text(&e)),
        },
        Request::EraseCase { id, reason } => match store.erase_case(&id, &reason) {
            Ok(tombstone) => Reply::Erased {
                number: tombstone.number,
            },
            Err(e) => Reply::Failed(store_error_text(&e)),
        },
        Request::SaveCase { case, base, seq } => match store.save_case(&base, case) {
            Ok((case, base)) => Reply::CaseStored { case, base, seq },
            Err(e) => Reply::SaveFailed {
                seq,
                error: store_error_text(&e),
            },
        },
        Request::Knowledge => knowledge(store, Ok(None)),
        Request::SaveService(service) => {
            let saved = store
                .save_service(service)
                .map(|s| Some(t!("catalog.saved_service", service = s.name.de).into_owned()));
            knowledge(store, saved)
        }
        Request::SaveOffice(office) => {
            let saved = store
                .save_office(office)
                .map(|o| Some(t!("catalog.saved_office", office = o.name.de).into_owned()));
            knowledge(store, saved)
        }
        Request::AddAnswer {
            question,
            answer,
            services,
        } => {
            let saved = store.add_answer(&question, &answer, &services).map(|a| {
                Some(if a.status == AnswerStatus::Proposed {
                    t!("catalog.proposed").into_owned()
                } else {
                    t!("catalog.saved_answer").into_owned()
                })
            });
            knowledge(store, saved)
        }
        Request::EditAnswer {
            id,
            question,
            answer,
            services,
        } => {
            let saved = store
                .edit_answer(&id, &question, &answer, &services)
                .map(|_| Some(t!("catalog.saved_answer").into_owned()));
            knowledge(store, saved)
        }
        Request::ReviewAnswer { id, status } => {
            let saved = store.review_answer(&id, status).map(|_| {
                Some(match status {
                    AnswerStatus::Accepted => t!("catalog.accepted").into_owned(),
                    AnswerStatus::Retired => t!("catalog.retired").into_owned(),
                    AnswerStatus::Proposed => t!("catalog.saved_answer").into_owned(),
                })
            });
            knowledge(store, saved)
        }
        Request::ProposeSlots(query) => store
            .propose_slots(&query)
            .map_or_else(failed, Reply::Slots),
        Request::FeedbackList => feedback(store, Ok(None)),
        Request::RecordFeedback(new) => {
            let saved = store
                .record_feedback(new)
                .map(|f| Some(t!("feedback.recorded", kind = kind_label(f.kind)).into_owned()));
            feedback(store, saved)
        }
        Request::ForwardFeedback { id, office, due } => {
            let saved = store
                .forward_feedback(&id, &office, Some(due))
                .map(|_| Some(t!("feedback.forwarded").into_owned()));
            feedback(store, saved)
        }
        Request::CloseFeedback { id, answer } => {
            let saved = store
                .close_feedback(&id, &answer)
                .map(|_| Some(t!("feedback.closed").into_owned()));
            feedback(store, saved)
        }
    }
}

/// The knowledge base as it is now, with what was saved; or the error.
fn knowledge(store: &mut Store, saved: Result<Option<String>, StoreError>) -> Reply {
    let saved = match saved {
        Ok(saved) => saved,
        Err(e) => return Reply::Failed(store_error_text(&e)),
    };
    let answers = store.refresh_knowledge().and_then(|()| store.answers());
    match answers {
        Ok(answers) => Reply::Knowledge {
            catalog: store.catalog().clone(),
            answers,
            saved,
        },
        Err(e) => Reply::Failed(store_error_text(&e)),
    }
}

fn feedback(store: &mut Store, saved: Result<Option<String>, StoreError>) -> Reply {
    let saved = match saved {
        Ok(saved) => saved,
        Err(e) => return Reply::Failed(store_error_text(&e)),
    };
    match store.feedback_list() {
        Ok(list) => Reply::Feedback { list, saved },
        Err(e) => Reply::Failed(store_error_text(&e)),
    }
}

/// "Idee", "Lob", "Beschwerde" in the language shown.
pub fn kind_label(kind: FeedbackKind) -> String {
    match kind {
        FeedbackKind::Idea => t!("feedback.idea"),
        FeedbackKind::Praise => t!("feedback.praise"),
        FeedbackKind::Complaint => t!("feedback.complaint"),
    }
    .into_owned()
}

fn export_statistics(store: &Store) -> Reply {
    let folder = store.dir().join(print::EXPORTS_DIR);
    let path = folder.join(format!("statistik-{}.csv", IsoDate::today()));
    let mut csv = Vec::new();
    let written = store.export_statistics_csv(&mut csv).and_then(|_| {
        std::fs::create_dir_all(&folder)
            .and_then(|()| crate::fsutil::write_atomically(&path, &csv))
            .map_err(|e| StoreError::io(&path, e))
    });
    match written {
        Ok(()) => Reply::Exported(path),
        Err(e) => Reply::Failed(store_error_text(&e)),
    }
}

fn print_and_open(store: &mut Store, kind: PrintKind, id: &str) -> Reply {
    let printed = match print::make(store, kind, id) {
        Ok(printed) => printed,
        Err(e) => return Reply::Failed(print_error_text(&e)),
    };
    match print::save_in_data_dir(store.dir(), kind, &printed.name, &printed.bytes) {
        Ok(path) => {
            let viewer_error = print::open_in_viewer(&path).err().map(|e| e.to_string());
            Reply::Printed { path, viewer_error }
        }
        Err(e) => Reply::Failed(print_error_text(&e)),
    }
}

fn unlock(
    dir: &std::path::Path,
    store: &mut Option<Store>,
    passphrase: &str,
    restored: Option<crate::store::backup::Restored>,
) -> Reply {
    let catalog = match crate::catalog::load(dir) {
        Ok(catalog) => catalog,
        Err(e) => return Reply::UnlockFailed(StoreError::Catalog(e)),
    };
    let opened = if Store::exists(dir) {
        Store::open(dir, passphrase, catalog.clone())
    } else {
        Store::create(dir, passphrase, catalog.clone())
    };
    let opened = opened.and_then(|first| {
        if first.damage().is_some() {
            return Ok((first, None));
        }
        let second = Store::open(dir, passphrase, catalog.clone())?;
        Ok((first, Some(Box::new(second))))
    });
    match opened {
        Ok((opened, sync_store)) => {
            // Without it the app works, only not in the hall.
            let hall_store = sync_store
                .as_ref()
                .and_then(|store| store.open_again().ok())
                .map(Box::new);
            let device = opened.device().clone();
            let role = opened.enrolment().ok().flatten().map(|e| e.role);
            let damage = opened.damage().map(str::to_string);
            *store = Some(opened);
            Reply::Unlocked {
                device,
                role,
                catalog,
                sync_store,
                hall_store,
                damage,
                restored,
            }
        }
        Err(e) => Reply::UnlockFailed(e),
    }
}
