//! Printed documents for the citizen and the office: the receipt
//! ("Eingangsbestätigung") of a visit, the letter for a follow-up
//! appointment, and the report of an office hour ("Tagesprotokoll"). Each is
//! made as PDF bytes in memory (A4, DejaVu Sans embedded, title and author in
//! the metadata); `save_in_data_dir` and `open_in_viewer` hand it to the
//! system for printing.

mod appointment;
mod fonts;
mod layout;
mod qr;
mod receipt;
mod report;
mod subject_report;

use std::path::{Path, PathBuf};

use sprechtag_schemas::{Appointment, Case, CaseStatus, Catalog, IsoDate, Office};

use crate::store::{CaseFilter, Store, StoreError};

pub use appointment::appointment_letter;
pub use receipt::receipt;
pub use report::report;
pub use subject_report::{SubjectCase, subject_report};

/// Body text size of citizens' documents, in points.
pub const BODY_PT: f32 = 14.0;
/// Body text size when the citizen needs large print.
pub const LARGE_PRINT_PT: f32 = 18.0;
/// Folder inside the data dir that holds printed PDFs.
pub const PRINTS_DIR: &str = "prints";
/// Where the app saves exports inside the data dir.
pub const EXPORTS_DIR: &str = "exports";

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("the print font cannot be loaded: {0}")]
    Font(String),
    #[error("the PDF cannot be made: {0}")]
    Pdf(String),
    #[error("case {0} has no appointment; book one first with `sprechtag case book`")]
    NoAppointment(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the PDF viewer for {path}: {message}")]
    Viewer { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which document; names the saved file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintKind {
    Receipt,
    Appointment,
    Report,
}

impl PrintKind {
    /// The German word used in file names.
    pub fn file_stem(self) -> &'static str {
        match self {
            PrintKind::Receipt => "Eingangsbestaetigung",
            PrintKind::Appointment => "Terminbrief",
            PrintKind::Report => "Tagesprotokoll",
        }
    }
}

/// A document made from the store, ready to save.
#[derive(Debug, Clone)]
pub struct Printed {
    pub kind: PrintKind,
    /// Names the saved file: the case number, or the office hour's date and
    /// village.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Makes the document of `kind` for `id` (a case id or number; for a report
/// an office hour id) from the store. Unknown ids and a letter for a case
/// without an appointment are errors; nothing is written.
pub fn make(store: &mut Store, kind: PrintKind, id: &str) -> Result<Printed, PrintError> {
    let catalog = store.catalog().clone();
    let (name, bytes) = match kind {
        PrintKind::Receipt => {
            let case = store.case(id)?;
            let office_hour = match &case.office_hour_id {
                Some(office_hour_id) => Some(store.office_hour(office_hour_id)?),
                None => None,
            };
            let bytes = receipt(&case, &catalog, office_hour.as_ref())?;
            (case.number, bytes)
        }
        PrintKind::Appointment => {
            let case = store.case(id)?;
            let appointment = next_appointment(&case)
                .ok_or_else(|| PrintError::NoAppointment(case.number.clone()))?;
            let bytes = appointment_letter(&case, appointment, &catalog)?;
            (case.number, bytes)
        }
        PrintKind::Report => {
            let office_hour = store.office_hour(id)?;
            let mut filter = CaseFilter {
                office_hour_id: Some(office_hour.id.clone()),
                limit: 1,
                ..CaseFilter::default()
            };
            filter.limit = store.list_cases(&filter)?.total.max(1);
            let rows = store.list_cases(&filter)?.rows;
            let cases = rows
                .iter()
                .map(|row| store.case(&row.id))
                .collect::<Result<Vec<_>, _>>()?;
            let bytes = report(&office_hour, &cases, &catalog)?;
            (
                format!("{}-{}", office_hour.date, office_hour.village),
                bytes,
            )
        }
    };
    Ok(Printed { kind, name, bytes })
}

/// Saves `bytes` as `DATA_DIR/prints/<kind>-<id>.pdf` (replacing an earlier
/// print of the same document) and returns the path. The folder is readable
/// by the owner only: the PDFs are not encrypted and contain names.
pub fn save_in_data_dir(
    store_dir: &Path,
    kind: PrintKind,
    id: &str,
    bytes: &[u8],
) -> Result<PathBuf, PrintError> {
    let dir = store_dir.join(PRINTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| PrintError::Io {
        path: dir.clone(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(
            |source| PrintError::Io {
                path: dir.clone(),
                source,
            },
        )?;
    }
    let path = saved_path(store_dir, kind, id);
    write_pdf(&path, bytes)?;
    Ok(path)
}

/// Where `save_in_data_dir` saves the print of `kind` named `name`.
fn saved_path(store_dir: &Path, kind: PrintKind, name: &str) -> PathBuf {
    let safe_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    store_dir
        .join(PRINTS_DIR)
        .join(format!("{}-{safe_name}.pdf", kind.file_stem()))
}

/// Removes every print saved under `name` (a case number, an office
/// hour's report name), overwritten first. Best effort: returns how many
/// were removed.
pub fn remove_saved(store_dir: &Path, name: &str) -> usize {
    [
        PrintKind::Receipt,
        PrintKind::Appointment,
        PrintKind::Report,
    ]
    .into_iter()
    .map(|kind| saved_path(store_dir, kind, name))
    .filter(|path| crate::fsutil::shred(path).is_ok())
    .count()
}

/// Writes a PDF atomically: the file is either complete or absent.
pub fn write_pdf(path: &Path, bytes: &[u8]) -> Result<(), PrintError> {
    crate::fsutil::write_atomically(path, bytes).map_err(|source| PrintError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens the PDF in the system's viewer (which offers the print dialog)
/// without waiting for it; an error says why it could not be started.
pub fn open_in_viewer(path: &Path) -> Result<(), PrintError> {
    let opener = if cfg!(target_os = "windows") {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| PrintError::Viewer {
            path: path.to_path_buf(),
            message: format!("{opener}: {e}"),
        })?;
    // Reap the opener in the background so it does not linger as a zombie.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The appointment a letter is about: the next one from today on, else the
/// one booked last.
pub fn next_appointment(case: &Case) -> Option<&Appointment> {
    let today = IsoDate::today();
    case.appointments
        .iter()
        .filter(|a| a.date >= today)
        .min_by(|a, b| (a.date, &a.time).cmp(&(b.date, &b.time)))
        .or_else(|| case.appointments.last())
}

/// The office that answers the citizen's questions: the one responsible for
/// the first request, else the first office of the catalogue.
fn contact_office<'a>(case: Option<&Case>, catalog: &'a Catalog) -> Option<&'a Office> {
    case.and_then(|case| {
        case.requests.iter().find_map(|r| {
            catalog
                .service(&r.service_id)
                .and_then(|s| catalog.office(&s.office_id))
        })
    })
    .or_else(|| catalog.offices.first())
}

fn contact_line(office: Option<&Office>) -> String {
    match office {
        Some(office) => format!("Telefon {} · {}", office.phone, office.name.de),
        None => String::new(),
    }
}

/// "KMR-0011 (vorher NVC-0009)": the number, and any the citizen may hold
/// on an earlier receipt.
fn number_text(case: &Case) -> String {
    if case.former_numbers.is_empty() {
        case.number.clone()
    } else {
        format!(
            "{} (vorher {})",
            case.number,
            case.former_numbers.join(", ")
        )
    }
}

/// "Hans Müller" — given names first, as in a letter.
fn full_name(citizen: &sprechtag_schemas::Citizen) -> String {
    format!("{} {}", citizen.given_names.trim(), citizen.surname.trim())
        .trim()
        .to_string()
}

/// A case's status in words a citizen understands.
fn status_text(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Open => "In Bearbeitung",
        CaseStatus::WaitingForDocuments => "Wartet auf Unterlagen",
        CaseStatus::Complete => "Unterlagen vollständig",
        CaseStatus::Forwarded => "An das zuständige Amt weitergeleitet",
        CaseStatus::Done => "Erledigt",
        CaseStatus::Cancelled => "Zurückgezogen",
    }
}

const WEEKDAYS: [&str; 7] = [
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
];

/// "Donnerstag, 03.12.2026".
fn long_date(date: IsoDate) -> String {
    use chrono::Datelike;
    let weekday = WEEKDAYS[date.date().weekday().num_days_from_monday() as usize];
    format!("{weekday}, {}", date.to_german())
}

/// "Donnerstag, 03.12.2026, um 10:00 Uhr".
fn appointment_when(appointment: &Appointment) -> String {
    format!(
        "{}, um {} Uhr",
        long_date(appointment.date),
        appointment.time
    )
}

#[cfg(test)]
mod tests {
    use sprechtag_schemas::{Case, Citizen};

    #[test]
    fn a_bare_case_without_requests_or_office_hour_still_prints() {
        let catalog = crate::catalog::shipped().expect("the shipped catalogue");
        let mut case = Case::draft(Citizen {
            surname: "Öztürk".into(),
            ..Citizen::default()
        });
        case.number = "KMR-0001".into();
        let pdf = super::receipt(&case, &catalog, None).expect("a receipt");
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(super::next_appointment(&case).is_none());
    }
}
