//! The command line: a contract that tests and scripts rely on. Output is
//! JSON, one object per line for lists; errors go to stderr with a non-zero
//! exit, and a failing command writes nothing.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use sprechtag_schemas::{Case, Catalog, DocumentState, IsoDate, Rating, ReviewState};

use crate::print::{self, PrintKind};
use crate::store::appointments::NewAppointment;
use crate::store::{
    CaseFilter, CaseSort, KnowledgeHit, NewFeedback, NewOfficeHour, Store, StoreError,
};

/// Environment variable that holds the passphrase for scripts and tests.
pub const PASSPHRASE_ENV: &str = "SPRECHTAG_PASSPHRASE";

#[derive(Debug, Parser)]
#[command(
    name = "sprechtag",
    version,
    about = "Mobile citizen office: cases offline, on an encrypted laptop",
    long_about = "Sprechtag: the caseworker's app for mobile citizen offices. Without a \
                  command it opens the desktop app; with one it works on the same encrypted \
                  store from the command line (for scripts). Commands that open the store \
                  read the passphrase from SPRECHTAG_PASSPHRASE or ask for it.",
    after_long_help = "Files:\n  \
        ~/.local/share/sprechtag   the encrypted store, its backups and prints (--data-dir)\n\n\
        Printed receipts and letters are PDF files in large type; the catalogue of services \
        ships with the program and is maintained by the back office."
)]
pub struct Cli {
    /// Folder of the local data (default: the platform's data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the desktop app (the default without a command).
    Gui(GuiArgs),
    /// Office hours ("Sprechtage").
    #[command(subcommand)]
    OfficeHour(OfficeHourCommand),
    /// Cases: one citizen's visit each.
    #[command(subcommand)]
    Case(CaseCommand),
    /// The service catalogue.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Questions and answers of the knowledge base.
    #[command(subcommand)]
    Knowledge(KnowledgeCommand),
    /// Ideas, praise and complaints.
    #[command(subcommand)]
    Feedback(FeedbackCommand),
    /// Print a receipt, an appointment letter or an office hour's report as PDF.
    #[command(subcommand)]
    Print(PrintCommand),
    /// This device: its id and the prefix of its case numbers.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Enrol this device with a sync server, using a one-time code.
    Enrol {
        /// The server's address, e.g. https://sync.musterland.example:8443.
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        /// Allow plain http:// to a server that is not this machine: tokens
        /// and case data then travel readable. Kept for later syncs.
        #[arg(long)]
        allow_insecure_http: bool,
        /// The county's own CA certificate (PEM): the only one trusted for
        /// this server from now on.
        #[arg(long)]
        ca_cert: Option<PathBuf>,
    },
    /// Exchange changes with the server now; exits non-zero unless
    /// everything was exchanged.
    Sync,
    /// Exchange cases with other laptops in the hall, without the server.
    #[command(subcommand)]
    Hall(HallCommand),
    /// Record a citizen's anonymous rating of an office hour (grades 1-6).
    Rate {
        office_hour: String,
        /// "Wie zufrieden sind Sie mit der Beratung?"
        #[arg(long)]
        advice: Option<u8>,
        /// "Waren die Auskünfte verständlich?"
        #[arg(long)]
        clarity: Option<u8>,
        /// "Wie finden Sie Ort und Erreichbarkeit?"
        #[arg(long)]
        place: Option<u8>,
    },
    /// Figures for the committee, as one JSON object.
    Statistics,
    /// Export data for reports and other systems.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Make a new store in an empty data dir (other commands that record
    /// something do so too; none replaces an existing or damaged store).
    Init,
    /// Write an encrypted backup of the store (default: into
    /// DATA_DIR/backups/, where the app keeps its last 7 automatically).
    Backup {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Put a backup in place of the store (default: the newest in
    /// DATA_DIR/backups/). The store there before is moved to
    /// DATA_DIR/quarantine/, never deleted; the next sync sends everything
    /// again and brings back what the server has.
    Restore { file: Option<PathBuf> },
    /// Check the store in full (SQLite integrity check) and list the
    /// backups; exits non-zero if the store is damaged.
    Doctor,
    /// Fill the data dir with realistic German demo data.
    Demo {
        #[arg(long, default_value_t = 40)]
        cases: usize,
    },
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    GenerateDocs {
        /// Gets man/ and completions/.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Default, Args)]
pub struct GuiArgs {
    /// Open this case (id or number) after unlocking.
    #[arg(long, value_name = "CASE")]
    pub open: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OfficeHourCommand {
    /// Open an office hour; prints {"id": ...}.
    Open {
        /// "Village, venue", e.g. "Kleinbrück, Dorfgemeinschaftshaus".
        #[arg(long)]
        place: String,
        /// The venue, if not given after a comma in --place.
        #[arg(long)]
        venue: Option<String>,
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[arg(long)]
        caseworker: String,
    },
    /// Plan an office hour of a tour (back office); it reaches the
    /// caseworkers' laptops by sync. Prints {"id": ...}.
    Plan {
        /// "Village, venue".
        #[arg(long)]
        place: String,
        #[arg(long)]
        venue: Option<String>,
        #[arg(long)]
        date: String,
        /// HH:MM.
        #[arg(long)]
        from: String,
        /// HH:MM.
        #[arg(long)]
        to: String,
        #[arg(long)]
        caseworker: String,
    },
    /// Open a planned office hour for visits, on its day.
    Begin { id: String },
    /// List office hours, one JSON object per line.
    List,
    /// Print one office hour with its current summary.
    Show { id: String },
    /// Close an office hour and print its summary.
    Close { id: String },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Record a case from a JSON file shaped like `case show` without ids.
    New {
        #[arg(long, value_name = "FILE")]
        json: PathBuf,
    },
    /// Print a case as JSON.
    Show { id: String },
    /// Set a field by its dotted path: notes, citizen.phone, status, ...
    Set {
        id: String,
        path: String,
        value: String,
    },
    /// Mark a document: presented, missing, not-applicable or unchecked.
    Check {
        id: String,
        request_id: String,
        document_id: String,
        state: String,
    },
    /// List cases, newest change first, one JSON object per line.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        office_hour: Option<String>,
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        village: Option<String>,
        /// Who recorded the visit.
        #[arg(long)]
        caseworker: Option<String>,
        /// Only cases with a forwarded request past its deadline.
        #[arg(long)]
        overdue: bool,
        /// recent (default), number, name or due.
        #[arg(long, default_value = "recent")]
        sort: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Write the case's automerge document to FILE (readable by you only;
    /// a copy outside the data dir is beyond the reach of erasure).
    Export { id: String, file: PathBuf },
    /// Erase a case on a citizen's request (Art. 17 GDPR): gone from this
    /// device at once, from the server and every laptop with the next
    /// sync, for good. Back-office and admin devices only. Prints the
    /// tombstone (id, number, time).
    Erase {
        id: String,
        /// Why (kept in the server's audit trail; no personal data).
        #[arg(long)]
        reason: String,
    },
    /// The citizen's copy of everything held about them (Art. 15 GDPR):
    /// every case with every field, who changed it, and — from the
    /// server's audit — who received and opened it, as a PDF. Back-office
    /// and admin devices.
    SubjectReport {
        #[arg(long)]
        surname: String,
        /// DD.MM.YYYY or YYYY-MM-DD.
        #[arg(long)]
        birth_date: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Correct a field so that the wrong value is gone from the history
    /// too (Art. 16 GDPR): the case is written anew under its number,
    /// without its history, and the old document erased everywhere.
    /// Back-office and admin devices only. Prints the new id.
    Correct {
        id: String,
        /// The field's dotted path, as for `case set`.
        path: String,
        /// The right value (empty clears it).
        value: String,
        #[arg(long)]
        reason: String,
    },
    /// Merge a case document from FILE into the local data.
    Import { file: PathBuf },
    /// Book a follow-up appointment; prints the appointment.
    Book {
        id: String,
        /// YYYY-MM-DD or DD.MM.YYYY, today or later.
        #[arg(long)]
        date: String,
        /// HH:MM.
        #[arg(long)]
        time: String,
        /// The main office, or any place; defaults to the office hour's place.
        #[arg(long)]
        place: Option<String>,
        #[arg(long)]
        purpose: String,
        /// A later office hour at which the appointment takes place.
        #[arg(long)]
        office_hour: Option<String>,
    },
    /// List the appointments of one day (default: today), by time.
    Appointments {
        #[arg(long)]
        date: Option<String>,
    },
    /// Forward a request to the responsible office with a response deadline
    /// (default: the service's response time in working days).
    Forward {
        id: String,
        request_id: String,
        /// The office: its id, its name, or a part of its name that fits no
        /// other office (`Wohngeldstelle`).
        #[arg(long)]
        office: String,
        /// YYYY-MM-DD or DD.MM.YYYY.
        #[arg(long)]
        due: Option<String>,
        /// What the citizen asks the office (the e-mail says it).
        #[arg(long, default_value = "")]
        question: String,
    },
    /// Record the office's answer to a forwarded request.
    Answer {
        id: String,
        request_id: String,
        #[arg(long)]
        text: String,
        /// The request is settled: it no longer counts as overdue.
        #[arg(long)]
        close: bool,
    },
    /// Review a case: approved, needs-clarification or rejected.
    Review {
        id: String,
        verdict: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Add a comment to the case's thread.
    Comment { id: String, text: String },
    /// The case's change history, oldest first, one JSON object per line.
    History { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every case (or those matching the filters) as one row each.
    Cases {
        /// Only csv for now.
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        village: Option<String>,
        #[arg(long)]
        overdue: bool,
    },
    /// The committee's table: one row per office hour, with visitors,
    /// requests complete at the first visit and the survey's grades.
    Statistics {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrintCommand {
    /// The receipt ("Eingangsbestätigung") of a case.
    Receipt(PrintArgs),
    /// The letter for the case's next appointment.
    Appointment(PrintArgs),
    /// The report ("Tagesprotokoll") of an office hour.
    Report(PrintArgs),
}

#[derive(Debug, Args)]
pub struct PrintArgs {
    /// Case id or number; for `report` the office hour's id.
    pub id: String,
    /// Where to write the PDF (default: the data dir's prints/ folder).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Open the PDF in the system's viewer afterwards.
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// All services, one JSON object per line.
    List,
    /// Services matching TEXT ("ausw" finds Personalausweis).
    Search { text: String },
    /// Make FILE the catalogue: on this laptop at once, and (from the back
    /// office) for everybody with the next sync.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Every answer, proposals and retired ones too, one JSON object per line.
    List,
    /// Services and answers fitting TEXT, best first.
    Search { text: String },
    /// Add a question and its answer (from a caseworker: a proposal).
    Add {
        #[arg(long)]
        question: String,
        #[arg(long)]
        answer: String,
        /// A service it belongs to (catalogue id); repeat for several.
        #[arg(long = "service")]
        services: Vec<String>,
    },
    /// Accept a proposed answer, or confirm that an answer is still right.
    Accept { id: String },
    /// Withdraw an answer: search no longer finds it.
    Retire { id: String },
}

#[derive(Debug, Subcommand)]
pub enum FeedbackCommand {
    /// Record an idea, praise or complaint.
    New {
        /// idea, praise or complaint.
        #[arg(long)]
        kind: String,
        /// waiting, staff, documents, access, schedule or other.
        #[arg(long, default_value = "other")]
        category: String,
        /// What the citizen said.
        #[arg(long)]
        text: String,
        /// The case it concerns (id or number); without it: anonymous.
        #[arg(long)]
        case: Option<String>,
    },
    /// Every entry, newest first, one JSON object per line.
    List,
    /// Send it on to the responsible office with a deadline.
    Forward {
        id: String,
        #[arg(long)]
        office: String,
        /// YYYY-MM-DD or DD.MM.YYYY; default: ten working days.
        #[arg(long)]
        due: Option<String>,
    },
    /// Close it with the answer the citizen was given.
    Close {
        id: String,
        #[arg(long)]
        answer: String,
    },
    /// Erase it here and, with the next sync, everywhere (cannot be
    /// undone; `case erase` takes the entries recorded for a case along).
    Erase {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HallCommand {
    /// Let other laptops of the department exchange with this one; runs
    /// until stopped, prints `{"listening": ADDR}` once ready and one line
    /// per exchange.
    Serve {
        /// Where to listen, e.g. 0.0.0.0:7878 (port 0: any free port).
        #[arg(long, default_value = "0.0.0.0:7878")]
        listen: String,
    },
    /// One full exchange with the laptop serving at PEER (host:port);
    /// exits non-zero unless everything was exchanged.
    Sync {
        #[arg(long)]
        peer: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Print this device's id and case-number prefix.
    Show,
    /// Set the case-number prefix (2-5 letters), unique per device.
    Prefix { prefix: String },
    /// Days prints and exports stay in the data dir (default 7); older
    /// ones are removed whenever the data are opened.
    KeepFiles { days: u32 },
}

/// Runs a parsed command line; `Ok(Some(_))` means: start the GUI.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Option<GuiArgs>> {
    let dir = cli.data_dir.unwrap_or_else(crate::paths::default_data_dir);
    let outcome = match cli.command {
        None => return Ok(Some(GuiArgs::default())),
        Some(Command::Gui(args)) => return Ok(Some(args)),
        Some(Command::GenerateDocs { out }) => {
            use clap::CommandFactory;
            sprechtag_schemas::cli_docs::generate(Cli::command(), &out)
                .with_context(|| format!("cannot write into {}", out.display()))?;
            return Ok(None);
        }
        Some(Command::OfficeHour(command)) => office_hour(&dir, command, out),
        Some(Command::Case(command)) => case(&dir, command, out),
        Some(Command::Export(command)) => export(&dir, command, out),
        Some(Command::Rate {
            office_hour,
            advice,
            clarity,
            place,
        }) => open_store(&dir, false).and_then(|mut store| {
            let rating = Rating {
                advice,
                clarity,
                place,
            };
            let office_hour = store.add_rating(&office_hour, rating)?;
            line(
                out,
                &json!({ "id": office_hour.id, "ratings": office_hour.ratings.len() }),
            )
        }),
        Some(Command::Statistics) => {
            open_store(&dir, false).and_then(|store| line(out, &store.statistics()?))
        }
        Some(Command::Catalog(command)) => catalog(&dir, command, out),
        Some(Command::Knowledge(command)) => knowledge(&dir, command, out),
        Some(Command::Feedback(command)) => feedback(&dir, command, out),
        Some(Command::Print(command)) => print(&dir, command, out),
        Some(Command::Device(command)) => device(&dir, command, out),
        Some(Command::Enrol {
            server,
            code,
            allow_insecure_http,
            ca_cert,
        }) => {
            let ca_cert = ca_cert
                .map(|path| crate::sync::read_ca_cert(&path))
                .transpose()?;
            let settings = crate::sync::HttpSettings {
                allow_insecure_http,
                ca_cert,
            };
            open_store(&dir, true).and_then(|mut store| {
                let enrolment = crate::sync::enrol_with(&mut store, &server, &code, &settings)?;
                line(out, &enrolment)
            })
        }
        Some(Command::Sync) if !Store::exists(&dir) => {
            Err(crate::sync::SyncError::NotEnrolled.into())
        }
        Some(Command::Sync) => open_store(&dir, false).and_then(|mut store| {
            let report = crate::sync::sync_now(&mut store)?;
            line(out, &report)?;
            if !report.complete() {
                bail!(
                    "not everything was exchanged: {} documents still pending, {} refused",
                    report.pending,
                    report.rejected.len()
                );
            }
            Ok(())
        }),
        Some(Command::Hall(command)) => {
            open_store(&dir, false).and_then(|mut store| hall(&mut store, command, out))
        }
        Some(Command::Init) => {
            // Half a store or a damaged one is named as such.
            if crate::store::backup::inspect(&dir)? != crate::store::backup::DirState::Empty {
                bail!("{} already holds Sprechtag data", dir.display());
            }
            open_store(&dir, true).and_then(|store| {
                line(
                    out,
                    &json!({ "created": dir, "device_prefix": store.device().prefix }),
                )
            })
        }
        Some(Command::Backup { out: file }) => open_store(&dir, false).and_then(|store| {
            if store.damage().is_some() {
                bail!(
                    "the store is damaged; a backup of it would be too. Restore the last good \
                     backup instead (sprechtag restore)"
                );
            }
            let made = match file {
                Some(file) => store.backup(&file)?,
                None => store.backup_now()?,
            };
            line(
                out,
                &json!({ "backup": made.path, "created_at": made.header.created_at }),
            )
        }),
        Some(Command::Restore { file }) => {
            let file = match file {
                Some(file) => file,
                None => match crate::store::backup::list_backups(&dir).into_iter().next() {
                    Some(newest) => newest.path,
                    None => bail!(
                        "no backup in {}; name the backup file",
                        dir.join(crate::store::backup::BACKUPS_DIR).display()
                    ),
                },
            };
            let passphrase = passphrase(false)?;
            let restored = crate::store::backup::restore(&dir, &file, &passphrase)?;
            line(out, &restored)
        }
        Some(Command::Doctor) => open_store(&dir, false).and_then(|store| {
            let integrity = store.integrity_check()?;
            let backups: Vec<_> = crate::store::backup::list_backups(&dir)
                .into_iter()
                .map(|b| json!({ "path": b.path, "created_at": b.header.created_at }))
                .collect();
            line(
                out,
                &json!({
                    "integrity": integrity,
                    "opened_read_only": store.damage(),
                    "backups": backups,
                }),
            )?;
            if integrity != "ok" || store.damage().is_some() {
                bail!("the store is damaged: restore a backup (sprechtag restore)");
            }
            Ok(())
        }),
        Some(Command::Demo { cases }) => open_store(&dir, true).and_then(|mut store| {
            let summary = crate::demo::generate(&mut store, cases, rand::random())?;
            line(out, &summary)
        }),
    };
    outcome.map(|()| None)
}

fn office_hour(dir: &Path, command: OfficeHourCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        OfficeHourCommand::Open {
            place,
            venue,
            date,
            caseworker,
        } => {
            let new = new_office_hour(&place, venue, &date, caseworker)?;
            let mut store = open_store(dir, true)?;
            let office_hour = store.open_office_hour(new)?;
            line(out, &json!({ "id": office_hour.id }))
        }
        OfficeHourCommand::Plan {
            place,
            venue,
            date,
            from,
            to,
            caseworker,
        } => {
            let new = new_office_hour(&place, venue, &date, caseworker)?;
            let mut store = open_store(dir, true)?;
            let office_hour = store.plan_office_hour(new, &from, &to)?;
            line(
                out,
                &json!({ "id": office_hour.id, "status": office_hour.status }),
            )
        }
        OfficeHourCommand::Begin { id } => {
            let mut store = open_store(dir, false)?;
            let office_hour = store.begin_office_hour(&id)?;
            line(
                out,
                &json!({ "id": office_hour.id, "status": office_hour.status }),
            )
        }
        OfficeHourCommand::List => {
            let store = open_store(dir, false)?;
            for row in store.office_hours()? {
                line(out, &row)?;
            }
            Ok(())
        }
        OfficeHourCommand::Show { id } => {
            let mut store = open_store(dir, false)?;
            let office_hour = store.office_hour(&id)?;
            let summary = store.office_hour_summary(&id)?;
            line(
                out,
                &json!({ "office_hour": office_hour, "current_summary": summary }),
            )
        }
        OfficeHourCommand::Close { id } => {
            let mut store = open_store(dir, false)?;
            let office_hour = store.close_office_hour(&id)?;
            line(out, &office_hour)?;
            // The day's work is safe in a backup as well.
            let backup = store.backup_now()?;
            line(out, &json!({ "backup": backup.path }))
        }
    }
}

fn case(dir: &Path, command: CaseCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        CaseCommand::New { json } => {
            let text = std::fs::read_to_string(&json)
                .with_context(|| format!("cannot read {}", json.display()))?;
            let draft: Case = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid case", json.display()))?;
            // Check everything that can be checked before anything is
            // created on disk.
            crate::store::validate_case(&draft)?;
            // Without a store yet, against the catalogue it will start
            // with; an existing store checks against its own (the county's).
            if !Store::exists(dir) {
                draft.clone().complete_draft(&*crate::catalog::load(dir)?)?;
            }
            if let (Some(office_hour), false) = (&draft.office_hour_id, Store::exists(dir)) {
                return Err(StoreError::not_found("office hour", office_hour).into());
            }
            let mut store = open_store(dir, true)?;
            let case = store.create_case(draft)?;
            line(out, &json!({ "id": case.id, "number": case.number }))
        }
        CaseCommand::Show { id } => {
            let mut store = open_store(dir, false)?;
            let case = store.case(&id)?;
            store.record_opened(&case.id)?;
            line(out, &case)
        }
        CaseCommand::Set { id, path, value } => {
            let mut store = open_store(dir, false)?;
            let case = store.set_case_field(&id, &path, &value)?;
            line(out, &json!({ "id": case.id, "number": case.number }))
        }
        CaseCommand::Check {
            id,
            request_id,
            document_id,
            state,
        } => {
            let state: DocumentState = state.parse()?;
            let mut store = open_store(dir, false)?;
            let case = store.check_document(&id, &request_id, &document_id, state)?;
            line(
                out,
                &json!({ "id": case.id, "number": case.number, "complete": case.is_complete() }),
            )
        }
        CaseCommand::List {
            search,
            status,
            office_hour,
            service,
            village,
            caseworker,
            overdue,
            sort,
            limit,
            offset,
        } => {
            let sort = match sort.as_str() {
                "recent" => CaseSort::Recent,
                "number" => CaseSort::Number,
                "name" => CaseSort::Name,
                "due" => CaseSort::Due,
                other => bail!("unknown order {other:?}; use recent, number, name or due"),
            };
            let filter = CaseFilter {
                sort,
                search: search.unwrap_or_default(),
                status: status.map(|s| s.parse()).transpose()?,
                office_hour_id: office_hour,
                service_id: service,
                village,
                caseworker,
                overdue_on: overdue.then(IsoDate::today),
                offset,
                limit,
            };
            let store = open_store(dir, false)?;
            for row in store.list_cases(&filter)?.rows {
                line(out, &row)?;
            }
            Ok(())
        }
        CaseCommand::Export { id, file } => {
            let mut store = open_store(dir, false)?;
            let bytes = store.export_case(&id)?;
            crate::fsutil::write_private(&file, &bytes)
                .with_context(|| format!("cannot write {}", file.display()))?;
            line(out, &json!({ "file": file }))
        }
        CaseCommand::Erase { id, reason } => {
            let mut store = open_store(dir, false)?;
            let tombstone = store.erase_case(&id, &reason)?;
            line(out, &tombstone)
        }
        CaseCommand::SubjectReport {
            surname,
            birth_date,
            out: file,
        } => {
            let birth_date: IsoDate = birth_date
                .parse()
                .with_context(|| format!("birth date {birth_date:?}"))?;
            let mut store = open_store(dir, false)?;
            let enrolment = store.require_data_protection_role()?;
            let cases = store.cases_of_citizen(&surname, birth_date)?;
            let mut subjects = Vec::new();
            let mut access_complete = true;
            for case in cases {
                let history = store.case_history(&case.id)?;
                let access = match &enrolment {
                    None => Err("dieses Gerät ist mit keinem Server verbunden".to_string()),
                    Some(_) => {
                        crate::sync::case_access(&store, &case.id).map_err(|e| e.to_string())
                    }
                };
                access_complete &= access.is_ok();
                store.record_opened(&case.id)?;
                subjects.push(crate::print::SubjectCase {
                    case,
                    history,
                    access,
                });
            }
            let name = subjects.first().map_or_else(
                || surname.clone(),
                |s| format!("{} {}", s.case.citizen.given_names, s.case.citizen.surname),
            );
            let made_by =
                enrolment.map_or_else(|| format!("Gerät {}", store.device().prefix), |e| e.user);
            let bytes = crate::print::subject_report(
                name.trim(),
                &birth_date.to_german(),
                &subjects,
                store.catalog(),
                &made_by,
            )?;
            crate::fsutil::write_private(&file, &bytes)
                .with_context(|| format!("cannot write {}", file.display()))?;
            line(
                out,
                &json!({ "file": file, "cases": subjects.len(), "access_complete": access_complete }),
            )
        }
        CaseCommand::Correct {
            id,
            path,
            value,
            reason,
        } => {
            let mut store = open_store(dir, false)?;
            let case = store.correct_case(&id, &path, &value, &reason)?;
            line(out, &json!({ "id": case.id, "number": case.number }))
        }
        CaseCommand::Import { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let doc = sprechtag_schemas::document::load(&bytes)
                .with_context(|| format!("{} is not an automerge document", file.display()))?;
            if sprechtag_schemas::document::DocumentKind::of(&doc)
                != Some(sprechtag_schemas::document::DocumentKind::Case)
            {
                bail!("{} holds no case document", file.display());
            }
            let mut store = open_store(dir, true)?;
            let case = store.import_case(&bytes)?;
            line(out, &json!({ "id": case.id, "number": case.number }))
        }
        CaseCommand::Book {
            id,
            date,
            time,
            place,
            purpose,
            office_hour,
        } => {
            let new = NewAppointment {
                date: date.parse()?,
                time,
                place: place.unwrap_or_default(),
                office_hour_id: office_hour,
                purpose,
            };
            let mut store = open_store(dir, false)?;
            let (case, appointment) = store.book_appointment(&id, new)?;
            line(
                out,
                &json!({ "id": case.id, "number": case.number, "appointment": appointment }),
            )
        }
        CaseCommand::Appointments { date } => {
            let date = match date {
                Some(date) => date.parse()?,
                None => IsoDate::today(),
            };
            let mut store = open_store(dir, false)?;
            for row in store.appointments_on(date)? {
                line(out, &row)?;
            }
            Ok(())
        }
        CaseCommand::Forward {
            id,
            request_id,
            office,
            due,
            question,
        } => {
            let due = due.map(|d| d.parse::<IsoDate>()).transpose()?;
            let mut store = open_store(dir, false)?;
            let case = store.forward_request_asking(&id, &request_id, &office, due, &question)?;
            let forwarding = case
                .requests
                .iter()
                .find(|r| r.id == request_id)
                .and_then(|r| r.forwarding.clone());
            line(
                out,
                &json!({ "id": case.id, "number": case.number, "forwarding": forwarding }),
            )
        }
        CaseCommand::Answer {
            id,
            request_id,
            text,
            close,
        } => {
            let mut store = open_store(dir, false)?;
            let case = store.answer_forwarding(&id, &request_id, &text, close)?;
            line(out, &json!({ "id": case.id, "number": case.number }))
        }
        CaseCommand::Review {
            id,
            verdict,
            comment,
        } => {
            let state: ReviewState = verdict.replace('-', "_").parse()?;
            let mut store = open_store(dir, false)?;
            let case = store.review_case(&id, state, comment.as_deref())?;
            line(
                out,
                &json!({ "id": case.id, "number": case.number, "review": case.review }),
            )
        }
        CaseCommand::Comment { id, text } => {
            let mut store = open_store(dir, false)?;
            let case = store.comment_case(&id, &text)?;
            line(
                out,
                &json!({ "id": case.id, "comments": case.comments.len() }),
            )
        }
        CaseCommand::History { id } => {
            let mut store = open_store(dir, false)?;
            for entry in store.case_history(&id)? {
                line(out, &entry)?;
            }
            Ok(())
        }
    }
}

/// `--place "Village, venue"` (or `--venue`), date and caseworker, checked.
fn new_office_hour(
    place: &str,
    venue: Option<String>,
    date: &str,
    caseworker: String,
) -> Result<NewOfficeHour> {
    let date: IsoDate = date.parse()?;
    let (village, venue_in_place) = match place.split_once(',') {
        Some((village, venue)) => (village.trim().to_string(), venue.trim().to_string()),
        None => (place.trim().to_string(), String::new()),
    };
    let new = NewOfficeHour {
        village,
        venue: venue.unwrap_or(venue_in_place),
        date,
        caseworker,
    };
    if new.village.is_empty() || new.caseworker.trim().is_empty() {
        bail!("--place and --caseworker must not be empty");
    }
    Ok(new)
}

fn export(dir: &Path, command: ExportCommand, out: &mut dyn Write) -> Result<()> {
    let (file, filter) = match command {
        ExportCommand::Cases {
            format,
            out,
            status,
            village,
            overdue,
        } => {
            if format != "csv" {
                bail!("unknown export format {format:?}; supported: csv");
            }
            let filter = CaseFilter {
                status: status.map(|s| s.parse()).transpose()?,
                village,
                overdue_on: overdue.then(IsoDate::today),
                ..CaseFilter::default()
            };
            (out, Some(filter))
        }
        ExportCommand::Statistics { out } => (out, None),
    };
    let store = open_store(dir, false)?;
    // Made in memory first: an error writes nothing.
    let mut csv = Vec::new();
    let rows = match &filter {
        Some(filter) => store.export_cases_csv(filter, &mut csv)?,
        None => store.export_statistics_csv(&mut csv)?,
    };
    crate::fsutil::write_atomically(&file, &csv)
        .with_context(|| format!("cannot write {}", file.display()))?;
    line(out, &json!({ "file": file, "rows": rows }))
}

fn print(dir: &Path, command: PrintCommand, out: &mut dyn Write) -> Result<()> {
    let (kind, args) = match &command {
        PrintCommand::Receipt(args) => (PrintKind::Receipt, args),
        PrintCommand::Appointment(args) => (PrintKind::Appointment, args),
        PrintCommand::Report(args) => (PrintKind::Report, args),
    };
    let mut store = open_store(dir, false)?;
    // Made in memory first: an error writes nothing.
    let print::Printed { name, bytes, .. } = print::make(&mut store, kind, &args.id)?;
    let file = match &args.out {
        Some(file) => {
            print::write_pdf(file, &bytes)?;
            file.clone()
        }
        None => print::save_in_data_dir(dir, kind, &name, &bytes)?,
    };
    if args.open {
        print::open_in_viewer(&file)?;
    }
    line(out, &json!({ "file": file, "bytes": bytes.len() }))
}

fn catalog(dir: &Path, command: CatalogCommand, out: &mut dyn Write) -> Result<()> {
    let services_out = |catalog: &Catalog,
                        services: Vec<&sprechtag_schemas::Service>,
                        out: &mut dyn Write|
     -> Result<()> {
        for service in services {
            let office = catalog.office(&service.office_id);
            line(
                out,
                &json!({
                    "id": service.id,
                    "name": service.name.de,
                    "leika": service.leika,
                    "fee": service.fee.de,
                    "office": office.map(|o| o.name.de.as_str()),
                    "documents": service.documents.iter().map(|d| json!({"id": d.id, "name": d.name.de})).collect::<Vec<_>>(),
                }),
            )?;
        }
        Ok(())
    };
    // The catalogue in use: the county's, once the store holds it.
    let in_use = || -> Result<Arc<Catalog>> {
        if Store::exists(dir) {
            Ok(open_store(dir, false)?.catalog().clone())
        } else {
            Ok(crate::catalog::load(dir)?)
        }
    };
    match command {
        CatalogCommand::List => {
            let catalog = in_use()?;
            services_out(&catalog, catalog.services.iter().collect(), out)
        }
        CatalogCommand::Search { text } => {
            let catalog = in_use()?;
            services_out(&catalog, catalog.search(&text), out)
        }
        CatalogCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            std::fs::create_dir_all(dir)?;
            let mut catalog = crate::catalog::install(dir, &text)?;
            // With a store: the county's catalogue document, which the next
            // sync hands to everybody.
            let shared = if Store::exists(dir) {
                catalog = open_store(dir, false)?.import_catalog(catalog)?;
                true
            } else {
                false
            };
            line(
                out,
                &json!({
                    "version": catalog.version,
                    "services": catalog.services.len(),
                    "shared": shared,
                }),
            )
        }
    }
}

fn answer_json(answer: &sprechtag_schemas::Answer) -> serde_json::Value {
    json!({
        "type": "answer",
        "id": answer.id,
        "question": answer.question,
        "answer": answer.answer,
        "services": answer.service_ids,
        "status": answer.status,
        "written_by": answer.written_by,
        "checked_at": answer.checked_at,
    })
}

fn knowledge(dir: &Path, command: KnowledgeCommand, out: &mut dyn Write) -> Result<()> {
    let mut store = open_store(dir, false)?;
    match command {
        KnowledgeCommand::List => {
            for answer in store.answers()?.iter() {
                line(out, &answer_json(answer))?;
            }
            Ok(())
        }
        KnowledgeCommand::Search { text } => {
            let catalog = store.catalog().clone();
            for hit in store.search_knowledge(&text)? {
                match hit {
                    KnowledgeHit::Answer(answer) => line(out, &answer_json(&answer))?,
                    KnowledgeHit::Service(id) => {
                        if let Some(service) = catalog.service(&id) {
                            line(
                                out,
                                &json!({
                                    "type": "service",
                                    "id": service.id,
                                    "name": service.name.de,
                                    "documents": service
                                        .active_documents()
                                        .map(|d| d.name.de.as_str())
                                        .collect::<Vec<_>>(),
                                }),
                            )?;
                        }
                    }
                }
            }
            Ok(())
        }
        KnowledgeCommand::Add {
            question,
            answer,
            services,
        } => {
            let answer = store.add_answer(&question, &answer, &services)?;
            line(out, &answer_json(&answer))
        }
        KnowledgeCommand::Accept { id } => {
            let answer = store.review_answer(&id, sprechtag_schemas::AnswerStatus::Accepted)?;
            line(out, &answer_json(&answer))
        }
        KnowledgeCommand::Retire { id } => {
            let answer = store.review_answer(&id, sprechtag_schemas::AnswerStatus::Retired)?;
            line(out, &answer_json(&answer))
        }
    }
}

fn feedback(dir: &Path, command: FeedbackCommand, out: &mut dyn Write) -> Result<()> {
    let mut store = open_store(dir, false)?;
    let entry = match command {
        FeedbackCommand::New {
            kind,
            category,
            text,
            case,
        } => store.record_feedback(NewFeedback {
            kind: kind.parse()?,
            category: category.parse()?,
            text,
            case,
        })?,
        FeedbackCommand::List => {
            for entry in store.feedback_list()? {
                line(out, &entry)?;
            }
            return Ok(());
        }
        FeedbackCommand::Forward { id, office, due } => {
            let due = due.map(|d| d.parse::<IsoDate>()).transpose()?;
            store.forward_feedback(&id, &office, due)?
        }
        FeedbackCommand::Close { id, answer } => store.close_feedback(&id, &answer)?,
        FeedbackCommand::Erase { id, reason } => {
            let tombstone = store.erase_feedback(&id, &reason)?;
            return line(out, &json!({ "erased": tombstone.doc_id }));
        }
    };
    line(out, &entry)
}

fn hall(store: &mut Store, command: HallCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        HallCommand::Serve { listen } => {
            let listener = std::net::TcpListener::bind(&listen)
                .with_context(|| format!("cannot listen on {listen}"))?;
            let address = listener.local_addr()?;
            // Announced like the app's hall, so the laptops nearby list it;
            // without mDNS it is reached by its address all the same.
            let _discovery = announce(store, address.port(), out)?;
            line(out, &json!({ "listening": address.to_string() }))?;
            out.flush()?;
            let mut failure = None;
            crate::hall::serve(store, listener, &|| false, &mut |served| {
                let entry = match served {
                    Ok(report) => json!({ "exchanged": report }),
                    Err(e) => json!({ "refused": e.to_string() }),
                };
                if let Err(e) = line(out, &entry).and_then(|()| Ok(out.flush()?)) {
                    failure = Some(e);
                }
            })?;
            failure.map_or(Ok(()), Err)
        }
        HallCommand::Sync { peer } => {
            let report = crate::hall::exchange(store, &peer)?;
            line(out, &report)?;
            if !report.complete() {
                bail!(
                    "not everything was exchanged: {} documents refused",
                    report.refused.len()
                );
            }
            Ok(())
        }
    }
}

/// Announces this laptop on mDNS; says so on `out` if that fails.
fn announce(
    store: &Store,
    port: u16,
    out: &mut dyn Write,
) -> Result<Option<crate::hall::discovery::Discovery>> {
    let Some(identity) = store.hall_identity()? else {
        bail!("this laptop has no certificate for the hall yet: run `sprechtag sync` once");
    };
    let own = identity.own;
    let announced = crate::hall::discovery::Discovery::start().and_then(|mut discovery| {
        discovery.announce(&own.device_id, &own.name, &own.department, port)?;
        Ok(discovery)
    });
    match announced {
        Ok(discovery) => Ok(Some(discovery)),
        Err(e) => {
            line(out, &json!({ "not_announced": e }))?;
            Ok(None)
        }
    }
}

fn device(dir: &Path, command: DeviceCommand, out: &mut dyn Write) -> Result<()> {
    let mut store = open_store(dir, false)?;
    match command {
        DeviceCommand::Prefix { prefix } => store.set_device_prefix(&prefix)?,
        DeviceCommand::KeepFiles { days } => store.set_keep_files_days(days)?,
        DeviceCommand::Show => {}
    }
    let device = store.device();
    line(
        out,
        &json!({
            "id": device.id,
            "prefix": device.prefix,
            "keep_files_days": store.keep_files_days()?,
        }),
    )
}

/// Opens the store in `dir`; creates it when `create` and there is none.
pub fn open_store(dir: &Path, create: bool) -> Result<Store> {
    let catalog: Arc<Catalog> = crate::catalog::load(dir)?;
    let exists = Store::exists(dir);
    if !exists && !create {
        return Err(StoreError::NoStore(dir.to_path_buf()).into());
    }
    let passphrase = passphrase(!exists)?;
    let store = if exists {
        Store::open(dir, &passphrase, catalog)
    } else {
        Store::create(dir, &passphrase, catalog)
    }?;
    if let Some(damage) = store.damage() {
        eprintln!(
            "warning: the store failed its integrity check and is open for reading only \
             ({damage}); restore a backup with `sprechtag restore`"
        );
    }
    Ok(store)
}

fn passphrase(new: bool) -> Result<String> {
    if let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) {
        return Ok(passphrase);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: set {PASSPHRASE_ENV} or run in a terminal");
    }
    let first = rpassword::prompt_password(if new {
        "Neue Passphrase für die lokalen Daten: "
    } else {
        "Passphrase: "
    })?;
    if new {
        let second = rpassword::prompt_password("Passphrase wiederholen: ")?;
        if first != second {
            return Err(anyhow!("the passphrases differ"));
        }
    }
    Ok(first)
}

fn line(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}
