//! The egui user interface. Views draw and push requests into an outbox that
//! goes to the store worker after the frame; replies arrive through the
//! worker's channel. The UI thread never touches the disk.

mod appointments_view;
mod case_editor;
mod case_list;
mod catalog_view;
mod errors;
mod feedback_view;
mod hall_view;
mod office_hours;
pub mod prefs;
mod review;
mod statistics_view;
mod survey;
mod sync_view;
mod widgets;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use egui::{Key, KeyboardShortcut, Modifiers};
use rust_i18n::t;
use sprechtag_schemas::permissions::{Part, Role};
use sprechtag_schemas::{Case, Catalog, OfficeHourSummary};
use zeroize::Zeroize;

use crate::store::{Device, OfficeHourRow, Passphrase, StoreError};
pub use prefs::Prefs;
use worker::{Reply, Request, Worker};

use crate::hall::worker::{Command as HallCommand, HallStatus, HallWorker};
use crate::sync::worker::{Command as SyncCommand, SyncState, SyncStatus, SyncWorker};

/// Starts the desktop app on the data in `data_dir` (or the default place).
pub fn run(data_dir: Option<PathBuf>, args: crate::cli::GuiArgs) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(crate::paths::default_data_dir);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Sprechtag")
            .with_app_id("sprechtag")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 560.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Sprechtag",
        options,
        Box::new(move |_cc| Ok(Box::new(SprechtagApp::new(dir, args.open)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

const FOCUS_SEARCH: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
const NEW_VISIT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);
const LOCK: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::L);

pub struct SprechtagApp {
    dir: PathBuf,
    prefs: Prefs,
    prefs_dirty: bool,
    worker: Option<Worker>,
    sync: Option<SyncWorker>,
    hall: Option<HallWorker>,
    /// What the hall worker was last told (`Command::Active`).
    hall_active: bool,
    open_on_unlock: Option<String>,
    state: AppState,
    /// The window's title as last sent to the window system.
    title: String,
    /// The last key, click or pointer move: the app locks itself after
    /// `prefs.lock_after_secs` without one.
    last_activity: std::time::Instant,
}

impl std::fmt::Debug for SprechtagApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SprechtagApp")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

enum AppState {
    Locked(UnlockView),
    Unlocked(Box<Session>),
    /// Revoked, and the data deleted on the server's order.
    Wiped,
}

#[derive(Default)]
struct UnlockView {
    /// No store yet: the passphrase is chosen (and repeated).
    first_start: bool,
    passphrase: String,
    repeat: String,
    error: Option<String>,
    busy: bool,
    /// The passphrase field is to take the focus (on start and after a
    /// failed attempt, so that the user can type again at once).
    focus_passphrase: bool,
    /// Locked while at work: the session to go back to once the
    /// passphrase is given again. Nothing of it is shown meanwhile; it
    /// still takes the store's answers, so no save is lost.
    resume: Option<Box<Session>>,
    /// The store is damaged or half there: the newest backup, offered for
    /// a restore with the passphrase typed.
    restore: Option<RestoreOffer>,
}

/// A backup the unlock screen offers to restore.
#[derive(Debug, Clone)]
struct RestoreOffer {
    file: PathBuf,
    /// When it was made, as the button says it ("01.12.2026, 17:05").
    made: String,
}

impl RestoreOffer {
    /// The newest backup in the data dir, if any.
    fn newest(dir: &std::path::Path) -> Option<RestoreOffer> {
        let newest = crate::store::backup::list_backups(dir).into_iter().next()?;
        let made = chrono::DateTime::parse_from_rfc3339(&newest.header.created_at)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%d.%m.%Y, %H:%M")
                    .to_string()
            })
            .unwrap_or(newest.header.created_at);
        Some(RestoreOffer {
            file: newest.path,
            made,
        })
    }
}

/// What the unlock screen asks the worker for.
enum UnlockAction {
    Unlock(Passphrase),
    Restore(Passphrase, PathBuf),
}

/// What the user of this device does, from its enrolment; each screen
/// shows what fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRole {
    /// Records visits; sees forwardings and verdicts and comments on them.
    Caseworker,
    /// Forwards, decides, plans tours (also an administrator's device).
    BackOffice,
    /// Not enrolled anywhere: its own back office, but what only the back
    /// office needs stays folded away so that it does not clutter a visit.
    Standalone,
}

impl DeviceRole {
    /// From the role of the enrolment (`None`: not enrolled).
    pub fn of(role: Option<Role>) -> DeviceRole {
        match role {
            None => DeviceRole::Standalone,
            Some(role) if role.may_change(Part::Review) => DeviceRole::BackOffice,
            Some(_) => DeviceRole::Caseworker,
        }
    }

    /// Forwards requests, records answers and gives verdicts (as the
    /// permission table says of the enrolled role; a device that is not
    /// enrolled is its own back office).
    pub fn decides(self) -> bool {
        self != DeviceRole::Caseworker
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    OfficeHours,
    Cases,
    Appointments,
    Catalog,
    Feedback,
    Statistics,
    Hall,
    Settings,
}

/// Everything the app shows once unlocked.
struct Session {
    device: Device,
    role: DeviceRole,
    catalog: Arc<Catalog>,
    tab: Tab,
    office_hours: office_hours::OfficeHoursView,
    cases: case_list::CaseListView,
    catalog_view: catalog_view::CatalogView,
    feedback_view: feedback_view::FeedbackView,
    day_list: appointments_view::AppointmentsView,
    editor: Option<case_editor::CaseEditor>,
    /// Editors closed while a save was on its way: they hand over what
    /// was typed meanwhile before they go.
    closing: Vec<case_editor::CaseEditor>,
    /// The window was asked to close while edits were still on their way:
    /// it closes once they are on disk.
    quit_when_saved: bool,
    statistics: statistics_view::StatisticsView,
    /// The laptop is turned to the citizen for the survey.
    survey: Option<survey::Survey>,
    /// A neutral message, e.g. where a PDF was saved.
    info: Option<String>,
    summaries: HashMap<String, OfficeHourSummary>,
    office_hour_rows: Vec<OfficeHourRow>,
    error: Option<String>,
    outbox: Vec<Request>,
    sync_outbox: Vec<SyncCommand>,
    hall_outbox: Vec<HallCommand>,
    hall_status: Option<HallStatus>,
    hall_view: hall_view::HallView,
    sync_status: Option<SyncStatus>,
    /// The session is to go behind the lock screen (the survey ended).
    lock_requested: bool,
    /// The user asked for a sync: its result is spoken when it ends.
    sync_requested: bool,
    /// Results of syncs the user asked for, each spoken as it came.
    sync_announcements: u64,
    enrol_form: sync_view::EnrolForm,
    focus_search: bool,
    /// The store failed its integrity check: read only, a banner says so
    /// and offers the restore.
    damage: Option<String>,
    /// The user chose to restore a backup (from the banner).
    restore_requested: bool,
}

impl SprechtagApp {
    pub fn new(dir: PathBuf, open_on_unlock: Option<String>) -> Self {
        let prefs = Prefs::load(&dir);
        let wiped = crate::store::was_wiped(&dir);
        let locked = UnlockView {
            first_start: !crate::store::Store::exists(&dir),
            focus_passphrase: true,
            ..UnlockView::default()
        };
        SprechtagApp {
            dir,
            prefs,
            prefs_dirty: true,
            worker: None,
            sync: None,
            hall: None,
            hall_active: false,
            open_on_unlock,
            state: if wiped {
                AppState::Wiped
            } else {
                AppState::Locked(locked)
            },
            last_activity: std::time::Instant::now(),
            title: String::new(),
        }
    }

    /// Draws one frame; the whole UI hangs off this for the window and tests.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.prefs_dirty {
            self.prefs.apply(&ctx);
            self.prefs_dirty = false;
        }
        if matches!(self.state, AppState::Wiped) {
            wiped_ui(ui);
            self.title_ui(&ctx);
            return;
        }
        if self.worker.is_none() {
            let wake = ctx.clone();
            self.worker = Some(Worker::spawn(self.dir.clone(), move || {
                wake.request_repaint()
            }));
        }
        self.receive(&ctx);
        self.close_when_saved(&ctx);
        self.lock_when_idle(&ctx);
        let mut unlock_request = None;
        let mut lock = false;
        match &mut self.state {
            AppState::Locked(view) => match unlock_ui(ui, view) {
                Some(UnlockAction::Unlock(passphrase)) => {
                    unlock_request = Some(if view.resume.is_some() {
                        Request::VerifyPassphrase { passphrase }
                    } else {
                        Request::Unlock { passphrase }
                    });
                }
                Some(UnlockAction::Restore(passphrase, file)) => {
                    unlock_request = Some(Request::Restore { passphrase, file });
                }
                None => {}
            },
            AppState::Unlocked(session) => {
                lock = ui.input_mut(|i| i.consume_shortcut(&LOCK));
                let prefs_changed = session_ui(ui, session, &mut self.prefs);
                lock |= std::mem::take(&mut session.lock_requested);
                if prefs_changed {
                    self.prefs_dirty = true;
                    if let Err(e) = self.prefs.save(&self.dir) {
                        session.error = Some(format!("{}: {e}", t!("settings.not_saved")));
                    }
                }
                if std::mem::take(&mut session.restore_requested) {
                    // Back to the passphrase, with the newest backup offered;
                    // the damaged session goes (it holds nothing unsaved:
                    // nothing could be saved into it).
                    self.sync = None;
                    self.hall = None;
                    self.state = AppState::Locked(UnlockView {
                        focus_passphrase: true,
                        restore: RestoreOffer::newest(&self.dir),
                        error: Some(t!("damaged.no_backup").into_owned())
                            .filter(|_| RestoreOffer::newest(&self.dir).is_none()),
                        ..UnlockView::default()
                    });
                    self.title_ui(&ctx);
                    return;
                }
                let outbox = std::mem::take(&mut session.outbox);
                if let Some(worker) = &self.worker {
                    for request in outbox {
                        worker.send(request);
                    }
                }
                if let Some(sync) = &self.sync {
                    for command in std::mem::take(&mut session.sync_outbox) {
                        sync.send(command);
                    }
                }
                if let Some(hall) = &self.hall {
                    for command in std::mem::take(&mut session.hall_outbox) {
                        hall.send(command);
                    }
                }
            }
            AppState::Wiped => {}
        }
        if let (Some(request), Some(worker)) = (unlock_request, &self.worker) {
            worker.send(request);
        }
        if lock {
            self.lock();
        }
        self.title_ui(&ctx);
    }

    /// Closing the window never drops an edit: while the editor (or one
    /// closed before) still has changes on their way, the close is put off
    /// until they are on disk — or one of them fails and is shown again.
    fn close_when_saved(&mut self, ctx: &egui::Context) {
        let AppState::Unlocked(session) = &mut self.state else {
            return;
        };
        if ctx.input(|i| i.viewport().close_requested()) {
            if !session.close_editor() {
                // An unnamed new visit: the editor asks what to do with it.
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            } else if !session.closing.is_empty() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                session.quit_when_saved = true;
                session.info = Some(t!("app.closing_after_saves").into_owned());
            }
        } else if session.quit_when_saved && session.closing.is_empty() {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    /// "Sprechtag – Fälle": the window's title, and the name screen readers
    /// give the window, say where the user is.
    fn title_ui(&mut self, ctx: &egui::Context) {
        let screen = match &self.state {
            AppState::Locked(view) if view.first_start => t!("title.first_start").into_owned(),
            AppState::Locked(view) if view.resume.is_some() => {
                t!("title.locked_at_work").into_owned()
            }
            AppState::Locked(_) => t!("title.locked").into_owned(),
            AppState::Unlocked(session) => session.screen_name(),
            AppState::Wiped => t!("title.wiped").into_owned(),
        };
        let title = format!("{} – {screen}", t!("app_name"));
        ctx.accesskit_node_builder(egui::accesskit_root_id(), |node| {
            node.set_label(title.clone());
        });
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// The session at work, shown or behind the lock screen.
    fn session_mut(&mut self) -> Option<&mut Session> {
        match &mut self.state {
            AppState::Unlocked(session) => Some(session),
            AppState::Locked(view) => view.resume.as_deref_mut(),
            AppState::Wiped => None,
        }
    }

    /// Shows the lock screen; the session waits behind it.
    fn lock(&mut self) {
        let locked = std::mem::replace(&mut self.state, AppState::Locked(UnlockView::default()));
        match locked {
            AppState::Unlocked(session) => {
                self.state = AppState::Locked(UnlockView {
                    focus_passphrase: true,
                    resume: Some(session),
                    ..UnlockView::default()
                });
            }
            already => self.state = already,
        }
    }

    /// Locks after the configured time without input.
    fn lock_when_idle(&mut self, ctx: &egui::Context) {
        let now = std::time::Instant::now();
        let active = ctx.input(|i| {
            i.events.iter().any(|event| {
                matches!(
                    event,
                    egui::Event::Key { .. }
                        | egui::Event::Text(_)
                        | egui::Event::PointerButton { .. }
                        | egui::Event::PointerMoved(_)
                        | egui::Event::MouseWheel { .. }
                        | egui::Event::Paste(_)
                        | egui::Event::Touch { .. }
                        // A screen reader acting on the app.
                        | egui::Event::AccessKitActionRequest(_)
                )
            })
        });
        if active {
            self.last_activity = now;
        }
        if !matches!(self.state, AppState::Unlocked(_)) {
            return;
        }
        let limit = std::time::Duration::from_secs(self.prefs.lock_after_secs.max(1));
        let idle = now.duration_since(self.last_activity);
        if idle >= limit {
            self.lock();
        } else {
            ctx.request_repaint_after(limit - idle);
        }
    }

    /// The hall is on while its view is shown, or everywhere if the
    /// caseworker chose so; never behind the lock screen.
    fn steer_hall(&mut self) {
        let want = match &self.state {
            AppState::Unlocked(session) => {
                self.prefs.hall_always || (session.tab == Tab::Hall && session.editor.is_none())
            }
            _ => false,
        };
        if let Some(hall) = &self.hall
            && want != self.hall_active
        {
            hall.send(HallCommand::Active(want));
            self.hall_active = want;
        }
    }

    fn receive(&mut self, ctx: &egui::Context) {
        self.steer_hall();
        if let Some(hall) = &self.hall {
            let statuses = hall.received();
            if let (Some(status), Some(session)) = (statuses.into_iter().last(), self.session_mut())
            {
                session.hall_status = Some(status);
            }
        }
        if let Some(sync) = &self.sync {
            // Every status in order: the end of a sync is told by the one
            // that follows "syncing".
            let statuses = sync.received();
            if statuses.iter().any(|s| s.state == SyncState::Wiped) {
                // Nothing of the session stays: not the editor's copy, not
                // the lists, not the store's connections.
                self.state = AppState::Wiped;
                self.sync = None;
                self.hall = None;
                self.worker = None;
                ctx.request_repaint();
                return;
            }
            if let Some(session) = self.session_mut() {
                for status in statuses {
                    session.on_sync_status(status);
                }
            }
        }
        let Some(worker) = &self.worker else { return };
        while let Some(reply) = worker.try_recv() {
            match (&mut self.state, reply) {
                (
                    AppState::Locked(_),
                    Reply::Unlocked {
                        device,
                        role,
                        catalog,
                        sync_store,
                        hall_store,
                        damage,
                        restored,
                    },
                ) => {
                    if let Some(hall_store) = hall_store {
                        let wake = ctx.clone();
                        self.hall = Some(HallWorker::spawn(*hall_store, move || {
                            wake.request_repaint()
                        }));
                        self.hall_active = false;
                    }
                    if let Some(sync_store) = sync_store {
                        let wake = ctx.clone();
                        self.sync = Some(SyncWorker::spawn(*sync_store, move || {
                            wake.request_repaint()
                        }));
                    }
                    let mut session = Session::new(device, DeviceRole::of(role), catalog);
                    if damage.is_none() {
                        // At least one backup a day, after the first lists.
                        session.outbox.push(Request::BackupIfDue);
                    }
                    session.damage = damage;
                    if let Some(restored) = restored {
                        let made = RestoreOffer::newest(&self.dir)
                            .filter(|offer| offer.file == restored.backup)
                            .map_or(restored.created_at.clone(), |offer| offer.made);
                        session.info = Some(
                            t!(
                                "restore.done",
                                date = made,
                                path = restored
                                    .quarantined
                                    .as_ref()
                                    .map_or_else(String::new, |p| p.display().to_string())
                            )
                            .into_owned(),
                        );
                    }
                    if let Some(case) = self.open_on_unlock.take() {
                        session.outbox.push(Request::LoadCase(case));
                    }
                    for request in std::mem::take(&mut session.outbox) {
                        worker.send(request);
                    }
                    self.state = AppState::Unlocked(Box::new(session));
                }
                (AppState::Locked(view), Reply::UnlockFailed(error)) => {
                    view.busy = false;
                    view.passphrase.zeroize();
                    view.repeat.zeroize();
                    view.error = Some(unlock_error_text(&error));
                    view.focus_passphrase = true;
                    // Damage, not the passphrase: the backup is offered.
                    if matches!(
                        error,
                        StoreError::Damaged { .. } | StoreError::Incomplete { .. }
                    ) {
                        view.first_start = false;
                        view.restore = RestoreOffer::newest(&self.dir);
                        if view.restore.is_none() {
                            let text = format!(
                                "{} {}",
                                unlock_error_text(&error),
                                t!("damaged.no_backup")
                            );
                            view.error = Some(text);
                        }
                    }
                }
                (AppState::Locked(view), Reply::PassphraseVerified) => {
                    if let Some(session) = view.resume.take() {
                        self.state = AppState::Unlocked(session);
                        self.last_activity = std::time::Instant::now();
                    }
                }
                (AppState::Unlocked(session), reply) => {
                    session.on_reply(reply);
                    for request in std::mem::take(&mut session.outbox) {
                        worker.send(request);
                    }
                }
                (AppState::Locked(view), reply) => {
                    // Answers to what the session asked before the lock.
                    if let Some(session) = view.resume.as_deref_mut() {
                        session.on_reply(reply);
                        for request in std::mem::take(&mut session.outbox) {
                            worker.send(request);
                        }
                    }
                }
                (AppState::Wiped, _) => {}
            }
        }
    }
}

impl eframe::App for SprechtagApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }
}

fn unlock_error_text(error: &StoreError) -> String {
    match error {
        StoreError::WrongPassphrase | StoreError::WeakPassphrase => errors::store_error_text(error),
        other => format!(
            "{}: {}",
            t!("unlock.failed"),
            errors::store_error_text(other)
        ),
    }
}

/// All a wiped device shows.
fn wiped_ui(ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space(60.0);
            widgets::heading(ui, t!("app_name"));
            ui.add_space(8.0);
            widgets::message(ui, t!("app.wiped"));
        });
    });
}

/// The passphrase screen; returns the passphrase when the user submits it.
fn unlock_ui(ui: &mut egui::Ui, view: &mut UnlockView) -> Option<UnlockAction> {
    let first_start = view.first_start;
    let mut submit = None;
    egui::CentralPanel::default().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space(60.0);
            widgets::heading(ui, t!("app_name"));
            ui.add_space(8.0);
            let prompt = if first_start {
                t!("unlock.first_start")
            } else if view.resume.is_some() {
                t!("unlock.locked_at_work")
            } else {
                t!("unlock.prompt")
            };
            widgets::message(ui, prompt);
            ui.add_space(16.0);
            let label = ui.label(t!("unlock.passphrase"));
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut view.passphrase)
                        .password(true)
                        .desired_width(320.0),
                )
                .labelled_by(label.id);
            if std::mem::take(&mut view.focus_passphrase) {
                field.request_focus();
            }
            let enter_in_first = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let mut enter = enter_in_first;
            if first_start {
                let label = ui.label(t!("unlock.repeat"));
                let repeat = ui
                    .add(
                        egui::TextEdit::singleline(&mut view.repeat)
                            .password(true)
                            .desired_width(320.0),
                    )
                    .labelled_by(label.id);
                if enter_in_first {
                    repeat.request_focus();
                }
                enter = repeat.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            }
            ui.add_space(8.0);
            let button_text = if first_start {
                t!("unlock.create")
            } else {
                t!("unlock.open")
            };
            let clicked = ui
                .add_enabled(!view.busy, egui::Button::new(button_text))
                .clicked();
            if (clicked || enter) && !view.busy {
                if first_start && view.passphrase != view.repeat {
                    view.error = Some(t!("unlock.mismatch").into_owned());
                    view.passphrase.clear();
                    view.repeat.clear();
                    view.focus_passphrase = true;
                } else if view.passphrase.is_empty() {
                    view.error = Some(t!("unlock.empty").into_owned());
                    view.focus_passphrase = true;
                } else {
                    view.busy = true;
                    view.error = None;
                    submit = Some(UnlockAction::Unlock(Passphrase::new(
                        view.passphrase.clone(),
                    )));
                }
            }
            if let Some(offer) = view.restore.clone() {
                ui.add_space(12.0);
                widgets::message(ui, t!("restore.prompt"));
                let button = egui::Button::new(t!("restore.button", date = offer.made.as_str()));
                if ui.add_enabled(!view.busy, button).clicked() {
                    if view.passphrase.is_empty() {
                        view.error = Some(t!("unlock.empty").into_owned());
                        view.focus_passphrase = true;
                    } else {
                        view.busy = true;
                        view.error = None;
                        submit = Some(UnlockAction::Restore(
                            Passphrase::new(view.passphrase.clone()),
                            offer.file,
                        ));
                    }
                }
            }
            if view.busy {
                ui.add(egui::Spinner::new());
                widgets::message(ui, t!("unlock.busy"));
            }
            if let Some(error) = &view.error {
                ui.add_space(8.0);
                widgets::error_banner(ui, error);
            }
        });
    });
    submit
}

impl Session {
    fn new(device: Device, role: DeviceRole, catalog: Arc<Catalog>) -> Session {
        let mut session = Session {
            device,
            role,
            catalog,
            tab: Tab::OfficeHours,
            office_hours: office_hours::OfficeHoursView::default(),
            cases: case_list::CaseListView::default(),
            catalog_view: catalog_view::CatalogView::default(),
            feedback_view: feedback_view::FeedbackView::default(),
            day_list: appointments_view::AppointmentsView::default(),
            editor: None,
            closing: Vec::new(),
            quit_when_saved: false,
            statistics: statistics_view::StatisticsView::default(),
            survey: None,
            info: None,
            summaries: HashMap::new(),
            office_hour_rows: Vec::new(),
            error: None,
            outbox: Vec::new(),
            sync_outbox: Vec::new(),
            hall_outbox: Vec::new(),
            hall_status: None,
            hall_view: hall_view::HallView::default(),
            sync_status: None,
            lock_requested: false,
            sync_requested: false,
            sync_announcements: 0,
            enrol_form: sync_view::EnrolForm::default(),
            focus_search: false,
            damage: None,
            restore_requested: false,
        };
        session.outbox.push(Request::OfficeHours);
        session.cases.refresh(&mut session.outbox);
        // The county's knowledge base, if it arrived since the last start.
        session.outbox.push(Request::Knowledge);
        session
    }

    fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Unlocked { .. } | Reply::UnlockFailed(_) | Reply::PassphraseVerified => {}
            Reply::OfficeHours(rows) => {
                self.office_hour_rows = rows;
                self.office_hours.refresh_visitors(&mut self.outbox);
            }
            Reply::OfficeHourOpened(office_hour) => {
                self.office_hours.opened(&office_hour);
                self.outbox.push(Request::OfficeHours);
            }
            Reply::OfficeHourClosed(office_hour, backup) => {
                if let Err(why) = backup {
                    self.error = Some(t!("backup.failed", detail = why).into_owned());
                }
                if let Some(summary) = office_hour.summary.clone() {
                    self.summaries.insert(office_hour.id.clone(), summary);
                }
                self.outbox.push(Request::OfficeHours);
            }
            Reply::Summary { id, summary } => {
                self.summaries.insert(id, summary);
            }
            Reply::Statistics(statistics) => self.statistics.statistics = Some(statistics),
            Reply::History { case_id, entries } => {
                if let Some(editor) = &mut self.editor
                    && editor.case.id == case_id
                {
                    editor.show_history(entries);
                }
            }
            Reply::Exported(path) => {
                self.info = Some(t!("stats.saved", path = path.display().to_string()).into_owned());
            }
            Reply::BackedUp(Err(why)) => {
                self.error = Some(t!("backup.daily_failed", detail = why).into_owned());
            }
            Reply::BackedUp(Ok(())) => {}
            Reply::Rated => {
                if self.tab == Tab::Statistics {
                    self.statistics.refresh(&mut self.outbox);
                }
            }
            Reply::Cases { page, generation } => {
                if generation == self.office_hours.visitors_generation() {
                    self.office_hours.visitors = page;
                } else {
                    self.cases.on_page(page, generation);
                }
            }
            Reply::CaseLoaded { case, heads } => {
                self.open_editor(case_editor::CaseEditor::stored(case, heads));
            }
            Reply::CaseStored { case, base, seq } => {
                if let Some(editor) = self.editor.as_mut().filter(|e| e.awaits(seq)) {
                    editor.on_stored(case, base, seq, &mut self.outbox);
                } else if let Some(index) = self.closing.iter().position(|e| e.awaits(seq)) {
                    let editor = &mut self.closing[index];
                    editor.on_stored(case, base, seq, &mut self.outbox);
                    if !editor.close(&mut self.outbox) {
                        self.closing.swap_remove(index);
                    }
                }
                self.after_case_change();
            }
            Reply::SaveFailed { seq, error } => {
                if let Some(editor) = self.editor.as_mut().filter(|e| e.awaits(seq)) {
                    editor.on_failed(seq, error);
                } else if let Some(index) = self.closing.iter().position(|e| e.awaits(seq)) {
                    // Closed, but not saved: back on screen with its error,
                    // and the window stays open until the user decides.
                    let mut editor = self.closing.swap_remove(index);
                    editor.on_failed(seq, error);
                    self.error = Some(
                        t!("editor.reopened_not_saved", case = case_title(&editor.case))
                            .into_owned(),
                    );
                    self.quit_when_saved = false;
                    if let Some(editor) = self.open_editor(editor) {
                        // Another new visit asks first; this one waits.
                        self.closing.push(editor);
                    }
                }
            }
            Reply::Printed { path, viewer_error } => {
                self.info = Some(match viewer_error {
                    None => t!("print.saved", path = path.display().to_string()).into_owned(),
                    Some(error) => t!(
                        "print.saved_no_viewer",
                        path = path.display().to_string(),
                        error = error
                    )
                    .into_owned(),
                });
            }
            Reply::Appointments { date, rows } => {
                if date == self.day_list.date {
                    self.day_list.rows = rows;
                }
            }
            Reply::Corrected { case, heads } => {
                self.info = Some(t!("correct.done", number = case.number.as_str()).into_owned());
                self.open_editor(case_editor::CaseEditor::stored(case, heads));
                self.after_case_change();
            }
            Reply::Erased { number } => {
                self.info = Some(t!("erase.done", number = number).into_owned());
                self.after_case_change();
            }
            Reply::Knowledge {
                catalog,
                answers,
                saved,
            } => {
                self.catalog = catalog;
                self.catalog_view.on_knowledge(answers, saved);
            }
            Reply::Feedback { list, saved } => self.feedback_view.on_list(list, saved),
            Reply::Slots(slots) => {
                if let Some(editor) = &mut self.editor {
                    editor.on_slots(slots);
                }
            }
            Reply::Failed(error) => self.error = Some(error),
        }
    }

    fn on_sync_status(&mut self, status: SyncStatus) {
        let finished = self.sync_status.as_ref().is_some_and(|old| {
            old.state == SyncState::Syncing && status.state != SyncState::Syncing
        });
        self.enrol_form.on_status(&status);
        // Enrolment gives the device the server's prefix: the top bar and
        // the settings show it at once.
        if !status.prefix.is_empty() {
            self.device.prefix.clone_from(&status.prefix);
        }
        self.role = DeviceRole::of(status.role);
        self.sync_status = Some(status);
        if finished && std::mem::take(&mut self.sync_requested) {
            self.sync_announcements += 1;
        }
        if finished {
            // Sync may have brought cases and office hours from elsewhere,
            // and the knowledge base.
            self.after_case_change();
            self.outbox.push(Request::Knowledge);
            if self.tab == Tab::Feedback {
                self.feedback_view.refresh(&mut self.outbox);
            }
        }
    }

    /// Opens `editor` unless the open one may not close yet (it asks the
    /// user first); then `editor` is handed back.
    fn open_editor(&mut self, editor: case_editor::CaseEditor) -> Option<case_editor::CaseEditor> {
        if self.close_editor() {
            self.editor = Some(editor);
            None
        } else {
            Some(editor)
        }
    }

    /// Closes the editor; what it has not saved yet is saved in the
    /// background. False when it may not close yet: an unnamed new visit
    /// asks whether to discard it.
    fn close_editor(&mut self) -> bool {
        let Some(editor) = &mut self.editor else {
            return true;
        };
        if !editor.may_close() {
            return false;
        }
        if let Some(mut editor) = self.editor.take()
            && editor.close(&mut self.outbox)
        {
            self.closing.push(editor);
        }
        true
    }

    fn open_tab(&mut self, tab: Tab) {
        if !self.close_editor() {
            return;
        }
        self.tab = tab;
        match tab {
            Tab::Cases => self.cases.refresh(&mut self.outbox),
            Tab::Appointments => self.day_list.refresh(&mut self.outbox),
            Tab::Statistics => self.statistics.refresh(&mut self.outbox),
            Tab::Catalog => {
                self.catalog_view.entered();
                self.outbox.push(Request::Knowledge);
            }
            Tab::Feedback => self.feedback_view.refresh(&mut self.outbox),
            Tab::OfficeHours | Tab::Hall | Tab::Settings => {}
        }
    }

    /// What the window's title says after "Sprechtag – ".
    fn screen_name(&self) -> String {
        if self.survey.is_some() {
            return t!("survey.title").into_owned();
        }
        match &self.editor {
            Some(editor) if editor.case.number.is_empty() => t!("editor.new_visit").into_owned(),
            Some(editor) => t!("title.case", case = case_title(&editor.case)).into_owned(),
            None => self.tab.label(),
        }
    }

    /// Lists that show cases are refreshed after every stored change.
    fn after_case_change(&mut self) {
        self.cases.refresh(&mut self.outbox);
        self.outbox.push(Request::OfficeHours);
        if self.tab == Tab::Appointments {
            self.day_list.refresh(&mut self.outbox);
        }
    }
}

/// The unlocked app; returns whether the display preferences changed.
fn session_ui(ui: &mut egui::Ui, session: &mut Session, prefs: &mut Prefs) -> bool {
    shortcuts_ui(ui, session);
    if let Some(survey) = &mut session.survey {
        // Nothing of the caseworker's screen while the citizen holds the laptop.
        let mut action = survey::SurveyAction::None;
        egui::CentralPanel::default().show(ui, |ui| action = survey.ui(ui));
        match action {
            survey::SurveyAction::None => {}
            survey::SurveyAction::Submit(rating) => session.outbox.push(Request::Rate {
                office_hour_id: survey.office_hour_id.clone(),
                rating,
            }),
            // The laptop goes back to the caseworker only with the
            // passphrase: nothing of the work is shown to the citizen.
            survey::SurveyAction::Close => {
                session.survey = None;
                session.lock_requested = true;
            }
        }
        return false;
    }
    egui::Panel::top("top_bar").show(ui, |ui| tab_bar_ui(ui, session));
    if session.damage.is_some() {
        egui::Panel::top("damage_bar").show(ui, |ui| {
            widgets::error_banner(ui, &t!("damaged.banner"));
            if ui.button(t!("restore.open")).clicked() {
                session.restore_requested = true;
            }
        });
    }
    message_bars_ui(ui, session);
    let mut prefs_changed = false;
    egui::CentralPanel::default().show(ui, |ui| {
        if session.editor.is_some() {
            editor_ui(ui, session);
        } else {
            prefs_changed = tab_ui(ui, session, prefs);
        }
    });
    prefs_changed
}

fn shortcuts_ui(ui: &mut egui::Ui, session: &mut Session) {
    if ui.input_mut(|i| i.consume_shortcut(&FOCUS_SEARCH)) && session.close_editor() {
        session.tab = Tab::Cases;
        session.focus_search = true;
    }
    if ui.input_mut(|i| i.consume_shortcut(&NEW_VISIT))
        && let Some(id) = session
            .office_hours
            .open_selected(&session.office_hour_rows)
    {
        session.open_editor(case_editor::CaseEditor::draft(Some(id)));
    }
}

impl Tab {
    const ALL: [Tab; 8] = [
        Tab::OfficeHours,
        Tab::Cases,
        Tab::Appointments,
        Tab::Catalog,
        Tab::Feedback,
        Tab::Statistics,
        Tab::Hall,
        Tab::Settings,
    ];

    fn label(self) -> String {
        match self {
            Tab::OfficeHours => t!("tab.office_hours"),
            Tab::Cases => t!("tab.cases"),
            Tab::Appointments => t!("tab.appointments"),
            Tab::Catalog => t!("tab.catalog"),
            Tab::Feedback => t!("tab.feedback"),
            Tab::Statistics => t!("tab.statistics"),
            Tab::Hall => t!("tab.hall"),
            Tab::Settings => t!("tab.settings"),
        }
        .into_owned()
    }
}

/// The tabs, a tab list for screen readers, and the device's prefix.
fn tab_bar_ui(ui: &mut egui::Ui, session: &mut Session) {
    ui.horizontal_wrapped(|ui| {
        ui.strong(t!("app_name"));
        ui.separator();
        let tabs = egui::UiBuilder::new()
            .accessibility_role(egui::accesskit::Role::TabList)
            .accessibility_label(t!("tab.list"));
        ui.scope_builder(tabs, |ui| {
            ui.horizontal(|ui| {
                for tab in Tab::ALL {
                    let selected = session.tab == tab && session.editor.is_none();
                    let response = ui.selectable_label(selected, tab.label());
                    widgets::tab(&response, selected);
                    if response.clicked() {
                        session.open_tab(tab);
                    }
                }
            });
        });
        ui.separator();
        ui.label(t!("device.prefix", prefix = session.device.prefix.as_str()));
        ui.separator();
        if ui.button(t!("lock.button")).clicked() {
            session.lock_requested = true;
        }
    });
}

/// Sync status, a neutral message and an error, each in its bar at the bottom.
fn message_bars_ui(ui: &mut egui::Ui, session: &mut Session) {
    egui::Panel::bottom("sync_bar").show(ui, |ui| {
        if session.damage.is_some() {
            widgets::message(ui, t!("sync.off_damaged"));
            return;
        }
        let announcement = session.sync_announcements;
        if sync_view::status_ui(ui, session.sync_status.as_ref(), announcement) {
            session.sync_requested = true;
            session.sync_outbox.push(SyncCommand::SyncNow);
        }
        hall_view::status_ui(ui, session.hall_status.as_ref());
    });
    if let Some(info) = session.info.clone() {
        egui::Panel::bottom("info_bar").show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                widgets::message(ui, info);
                if ui.button(t!("common.dismiss")).clicked() {
                    session.info = None;
                }
            });
        });
    }
    if let Some(error) = session.error.clone() {
        egui::Panel::bottom("error_bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                widgets::error_banner(ui, &error);
                if ui.button(t!("common.dismiss")).clicked() {
                    session.error = None;
                }
            });
        });
    }
}

fn editor_ui(ui: &mut egui::Ui, session: &mut Session) {
    let Some(editor) = &mut session.editor else {
        return;
    };
    let office_hour = editor.case.office_hour_id.as_deref().and_then(|id| {
        session
            .office_hour_rows
            .iter()
            .find(|row| row.id == id)
            .map(OfficeHourRow::label)
    });
    let today = sprechtag_schemas::IsoDate::today().to_string();
    let upcoming: Vec<OfficeHourRow> = session
        .office_hour_rows
        .iter()
        .filter(|row| {
            row.date >= today && row.status != sprechtag_schemas::OfficeHourStatus::Closed
        })
        .cloned()
        .collect();
    let action = editor.ui(
        ui,
        &session.catalog,
        office_hour.as_deref(),
        &upcoming,
        session.role,
        &mut session.outbox,
    );
    match action {
        case_editor::EditorAction::None => {}
        case_editor::EditorAction::Close => {
            session.close_editor();
        }
        case_editor::EditorAction::Print(kind) => {
            let id = editor.case.id.clone();
            session.outbox.push(Request::Print { kind, id });
        }
        case_editor::EditorAction::Correct {
            path,
            value,
            reason,
        } => {
            // The corrected case comes back as a new document.
            let id = editor.case.id.clone();
            session.editor = None;
            session.outbox.push(Request::CorrectCase {
                id,
                path,
                value,
                reason,
            });
        }
        case_editor::EditorAction::Erase(reason) => {
            // What was typed in it goes with the case.
            let id = editor.case.id.clone();
            session.editor = None;
            session.outbox.push(Request::EraseCase { id, reason });
        }
    }
}

/// The open tab; returns whether the display preferences changed.
fn tab_ui(ui: &mut egui::Ui, session: &mut Session, prefs: &mut Prefs) -> bool {
    match session.tab {
        Tab::OfficeHours => {
            let action = session.office_hours.ui(
                ui,
                &session.office_hour_rows,
                &session.summaries,
                session.role.decides(),
                &mut session.outbox,
            );
            match action {
                office_hours::Action::None => {}
                office_hours::Action::NewVisit(id) => {
                    session.open_editor(case_editor::CaseEditor::draft(Some(id)));
                }
                office_hours::Action::OpenCase(id) => {
                    session.outbox.push(Request::LoadCase(id));
                }
                office_hours::Action::Survey(id) => {
                    session.survey = Some(survey::Survey::new(id));
                }
                office_hours::Action::PrintReport(id) => {
                    session.outbox.push(Request::Print {
                        kind: crate::print::PrintKind::Report,
                        id,
                    });
                }
            }
        }
        Tab::Cases => cases_tab_ui(ui, session),
        Tab::Appointments => {
            if let Some(id) = session.day_list.ui(ui, &mut session.outbox) {
                session.outbox.push(Request::LoadCase(id));
            }
        }
        Tab::Catalog => {
            let rights = catalog_view::Rights {
                maintain: session.role.decides(),
            };
            session.catalog_view.ui(
                ui,
                &session.catalog,
                &prefs.language,
                rights,
                &mut session.outbox,
            );
        }
        Tab::Feedback => {
            let decides = session.role.decides();
            session
                .feedback_view
                .ui(ui, &session.catalog, decides, &mut session.outbox);
        }
        Tab::Statistics => session.statistics.ui(ui, &mut session.outbox),
        Tab::Hall => {
            let always = prefs.hall_always;
            if let Some(command) =
                session
                    .hall_view
                    .ui(ui, session.hall_status.as_ref(), &mut prefs.hall_always)
            {
                session.hall_outbox.push(command);
            }
            return always != prefs.hall_always;
        }
        Tab::Settings => {
            // At large text in a small window the enrolment form lies
            // below the window's edge.
            return egui::ScrollArea::vertical()
                .id_salt("settings")
                .show(ui, |ui| {
                    let changed = settings_ui(ui, prefs, &session.device);
                    ui.add_space(16.0);
                    if let Some(command) = session.enrol_form.ui(ui, session.sync_status.as_ref()) {
                        session.sync_outbox.push(command);
                    }
                    changed
                })
                .inner;
        }
    }
    false
}

fn cases_tab_ui(ui: &mut egui::Ui, session: &mut Session) {
    let focus = std::mem::take(&mut session.focus_search);
    let labels: Vec<(String, String)> = session
        .office_hour_rows
        .iter()
        .map(|row| (row.id.clone(), row.label()))
        .collect();
    let distinct = |field: fn(&OfficeHourRow) -> &String| {
        let mut values: Vec<String> = session
            .office_hour_rows
            .iter()
            .map(field)
            .cloned()
            .collect();
        values.sort();
        values.dedup();
        values
    };
    let villages = distinct(|row| &row.village);
    let caseworkers = distinct(|row| &row.caseworker);
    let choices = case_list::FilterChoices {
        office_hours: &labels,
        villages: &villages,
        caseworkers: &caseworkers,
    };
    if let Some(id) = session
        .cases
        .ui(ui, &session.catalog, &choices, focus, &mut session.outbox)
    {
        session.outbox.push(Request::LoadCase(id));
    }
}

fn settings_ui(ui: &mut egui::Ui, prefs: &mut Prefs, device: &Device) -> bool {
    let before = prefs.clone();
    widgets::heading(ui, t!("settings.title"));
    ui.add_space(8.0);
    ui.checkbox(&mut prefs.large_text, t!("settings.large_text"));
    ui.checkbox(&mut prefs.high_contrast, t!("settings.high_contrast"));
    ui.horizontal_wrapped(|ui| {
        let minutes = |secs: u64| t!("settings.minutes", n = secs / 60).into_owned();
        widgets::combo_row(
            ui,
            &t!("settings.lock_after"),
            minutes(prefs.lock_after_secs),
            |ui| {
                for choice in [1, 2, 5, 10, 15, 30] {
                    ui.selectable_value(
                        &mut prefs.lock_after_secs,
                        choice * 60,
                        minutes(choice * 60),
                    );
                }
            },
        );
    });
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        ui.label(t!("settings.language"));
        ui.radio_value(&mut prefs.language, "de".to_string(), "Deutsch");
        ui.radio_value(&mut prefs.language, "en".to_string(), "English");
    });
    ui.add_space(16.0);
    ui.label(t!(
        "settings.device",
        id = device.id.to_string(),
        prefix = device.prefix.as_str()
    ));
    ui.label(t!("settings.shortcuts"));
    *prefs != before
}

/// Case shown in the editor, as it reads in lists.
pub(crate) fn case_title(case: &Case) -> String {
    let name = case.citizen.display_name();
    if case.number.is_empty() {
        name
    } else {
        format!("{} · {name}", case.number)
    }
}
