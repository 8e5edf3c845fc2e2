//! The citizen's copy of what Sprechtag holds about them (Art. 15 GDPR,
//! "Auskunft"): every case with every field, who changed it when (the
//! document's own history) and who received and opened it when (the sync
//! server's audit trail), in plain German.

use sprechtag_schemas::wire::AccessEntry;
use sprechtag_schemas::{Case, Catalog, DocumentState, ReviewState};

use super::layout::{Column, Frame, Layout, Weight};
use super::{PrintError, long_date, status_text};
use crate::store::HistoryEntry;

/// Body size: the citizen reads it, often elderly.
const BODY_PT: f32 = 12.0;

/// One case as the report shows it.
#[derive(Debug, Clone)]
pub struct SubjectCase {
    pub case: Case,
    /// The document's change history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// From the server's audit; `Err`: why it could not be asked.
    pub access: Result<Vec<AccessEntry>, String>,
}

/// The report for the citizen named `name`, born on `birth_date` (German),
/// made by `made_by`.
pub fn subject_report(
    name: &str,
    birth_date: &str,
    cases: &[SubjectCase],
    catalog: &Catalog,
    made_by: &str,
) -> Result<Vec<u8>, PrintError> {
    let frame = Frame {
        issuer: catalog.issuer.de.clone(),
        contact: "Auskunft nach Art. 15 DSGVO".into(),
        footer: format!("Auskunft für {name} · {birth_date}"),
    };
    let mut page = Layout::new("Auskunft nach Art. 15 DSGVO", made_by, BODY_PT, frame)?;
    page.title("Auskunft über Ihre gespeicherten Daten");
    page.key_values(&[
        ("Für", name.to_string()),
        ("Geboren am", birth_date.to_string()),
        (
            "Erstellt am",
            sprechtag_schemas::IsoDate::today().to_german(),
        ),
        ("Erstellt von", made_by.to_string()),
    ]);
    page.space(BODY_PT / 2.0);
    page.paragraph(
        &match cases.len() {
            0 => "Zu Ihrer Person sind bei uns keine Vorgänge gespeichert.".to_string(),
            1 => "Zu Ihrer Person ist bei uns ein Vorgang gespeichert. Auf den folgenden \
                  Seiten steht alles, was wir dazu gespeichert haben, wer es wann geändert \
                  und wer es wann gesehen hat."
                .to_string(),
            n => format!(
                "Zu Ihrer Person sind bei uns {n} Vorgänge gespeichert. Auf den folgenden \
                 Seiten steht alles, was wir dazu gespeichert haben, wer es wann geändert \
                 und wer es wann gesehen hat."
            ),
        },
        Weight::Regular,
    );
    page.space(BODY_PT / 2.0);
    page.paragraph(
        "Zweck: Bearbeitung Ihrer Anliegen beim mobilen Bürgerbüro. Die Daten werden \
         nach Abschluss des Vorgangs für die Dauer der Aufbewahrungsfrist gespeichert \
         und dann gelöscht. Sie können Berichtigung (Art. 16) und Löschung (Art. 17) \
         verlangen.",
        Weight::Regular,
    );
    for subject in cases {
        case_section(&mut page, subject, catalog);
    }
    page.finish()
}

fn case_section(page: &mut Layout, subject: &SubjectCase, catalog: &Catalog) {
    let case = &subject.case;
    page.new_page();
    page.heading(&format!("Vorgang {}", case.number));
    let citizen = &case.citizen;
    let address = [
        citizen.address.street.as_str(),
        &format!("{} {}", citizen.address.postcode, citizen.address.town),
    ]
    .iter()
    .map(|s| s.trim())
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    let needs = needs_text(case);
    let mut rows = vec![
        ("Nachname", citizen.surname.clone()),
        ("Vorname(n)", citizen.given_names.clone()),
        (
            "Geburtsdatum",
            citizen
                .birth_date
                .map_or_else(|| "nicht angegeben".into(), |d| d.to_german()),
        ),
        ("Anschrift", or_none(&address)),
        ("Telefon", or_none(&citizen.phone)),
        ("Besondere Bedarfe", or_none(&needs)),
        (
            "Einwilligung",
            match (citizen.consent.given, citizen.consent.date) {
                (true, Some(date)) => format!("erteilt am {}", date.to_german()),
                (true, None) => "erteilt".into(),
                (false, _) => "nicht erteilt".into(),
            },
        ),
        ("Stand", status_text(case.status).to_string()),
        ("Aufgenommen am", day_of(&case.created_at)),
        ("Aufgenommen von", or_none(&case.created_by)),
    ];
    if let Some(done) = &case.done_at {
        rows.push(("Abgeschlossen am", day_of(done)));
    }
    if !case.former_numbers.is_empty() {
        rows.push(("Frühere Nummern", case.former_numbers.join(", ")));
    }
    if let Some(at) = &case.history_deleted_at {
        rows.push((
            "Berichtigt",
            format!("am {}; der Verlauf davor wurde gelöscht", day_of(at)),
        ));
    }
    page.key_values(&rows);

    for request in &case.requests {
        page.heading(&format!("Anliegen: {}", request.service_name));
        let documents: Vec<Vec<String>> = request
            .documents
            .iter()
            .map(|d| {
                vec![
                    d.name.clone(),
                    state_text(d.state).to_string(),
                    d.note.clone(),
                ]
            })
            .collect();
        if !documents.is_empty() {
            page.table(
                &[
                    Column::share("Unterlage", 4.0),
                    Column::share("Stand", 2.0),
                    Column::share("Notiz", 3.0),
                ],
                &documents,
                BODY_PT,
            );
        }
        if let Some(forwarding) = &request.forwarding {
            let office = catalog
                .office(&forwarding.office_id)
                .map_or_else(|| forwarding.office_id.clone(), |o| o.name.de.clone());
            let mut rows = vec![
                ("Weitergeleitet an", office),
                ("am", day_of(&forwarding.forwarded_at)),
                ("Antwort zugesagt bis", forwarding.due.to_german()),
            ];
            if !forwarding.answer.is_empty() {
                rows.push(("Antwort", forwarding.answer.clone()));
            }
            page.key_values(&rows);
        }
    }
    if !case.notes.as_str().trim().is_empty() {
        page.heading("Notizen");
        page.paragraph(case.notes.as_str(), Weight::Regular);
    }
    if !case.appointments.is_empty() {
        page.heading("Termine");
        for appointment in &case.appointments {
            page.paragraph(
                &format!(
                    "{}, {} Uhr, {}: {}",
                    long_date(appointment.date),
                    appointment.time,
                    appointment.place,
                    appointment.purpose
                ),
                Weight::Regular,
            );
        }
    }
    if let Some(review) = &case.review {
        page.heading("Prüfung durch das Backoffice");
        page.paragraph(
            &format!(
                "{} – {} am {}",
                review_text(review.state),
                review.by,
                day_of(&review.at)
            ),
            Weight::Regular,
        );
    }
    if !case.comments.is_empty() {
        page.heading("Anmerkungen");
        for comment in &case.comments {
            page.paragraph(
                &format!(
                    "{} ({}): {}",
                    comment.author,
                    day_of(&comment.at),
                    comment.text
                ),
                Weight::Regular,
            );
        }
    }

    page.heading("Wer hat den Vorgang wann geändert?");
    let changes: Vec<Vec<String>> = subject
        .history
        .iter()
        .map(|e| {
            vec![
                time_of(&e.time),
                if e.by.is_empty() {
                    "ein Gerät".into()
                } else {
                    e.by.clone()
                },
            ]
        })
        .collect();
    if changes.is_empty() {
        page.paragraph("Keine Änderungen verzeichnet.", Weight::Regular);
    } else {
        page.table(
            &[Column::share("Zeitpunkt", 2.6), Column::share("Wer", 5.0)],
            &changes,
            BODY_PT,
        );
    }
    page.heading("Wer hat den Vorgang wann erhalten oder geöffnet?");
    match &subject.access {
        Ok(entries) if entries.is_empty() => {
            page.paragraph("Der Server verzeichnet keine Zugriffe.", Weight::Regular);
        }
        Ok(entries) => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        time_of(&e.at),
                        e.user.clone(),
                        access_text(&e.what).to_string(),
                    ]
                })
                .collect();
            page.table(
                &[
                    Column::share("Zeitpunkt", 2.6),
                    Column::share("Wer", 3.0),
                    Column::share("Was", 4.0),
                ],
                &rows,
                BODY_PT,
            );
        }
        Err(why) => page.paragraph(
            &format!(
                "Die Zugriffe konnten nicht beim Server abgefragt werden ({why}). \
                 Bitte die Auskunft erneut erstellen, sobald das Gerät verbunden ist."
            ),
            Weight::Regular,
        ),
    }
}

fn or_none(text: &str) -> String {
    if text.trim().is_empty() {
        "nicht angegeben".into()
    } else {
        text.trim().to_string()
    }
}

fn needs_text(case: &Case) -> String {
    let needs = &case.citizen.needs;
    [
        (needs.large_print, "Großdruck"),
        (needs.hard_of_hearing, "schwerhörig"),
        (needs.visually_impaired, "sehbehindert"),
        (needs.accompanied_by_carer, "mit Begleitperson"),
        (needs.wheelchair_access, "rollstuhlgerechter Zugang"),
        (needs.interpreter, "Dolmetschung"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, text)| *text)
    .collect::<Vec<_>>()
    .join(", ")
}

/// "2026-12-03T10:15:00Z" → "03.12.2026".
fn day_of(rfc3339: &str) -> String {
    rfc3339
        .get(..10)
        .and_then(|day| day.parse::<sprechtag_schemas::IsoDate>().ok())
        .map_or_else(
            || rfc3339.to_string(),
            sprechtag_schemas::IsoDate::to_german,
        )
}

/// "03.12.2026, 10:15 Uhr" in local time.
fn time_of(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |t| {
            t.with_timezone(&chrono::Local)
                .format("%d.%m.%Y, %H:%M Uhr")
                .to_string()
        },
    )
}

fn state_text(state: DocumentState) -> &'static str {
    match state {
        DocumentState::Presented => "vorgelegt",
        DocumentState::Missing => "fehlt",
        DocumentState::NotApplicable => "entfällt",
        DocumentState::Unchecked => "nicht geprüft",
    }
}

fn review_text(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Approved => "in Ordnung",
        ReviewState::NeedsClarification => "Rückfrage",
        ReviewState::Rejected => "abgelehnt",
    }
}

fn access_text(what: &str) -> &'static str {
    match what {
        "received" => "hat eine Kopie erhalten (Abgleich)",
        "changed" => "hat Änderungen übertragen",
        "opened" => "hat den Vorgang geöffnet",
        "erased" => "hat den Vorgang gelöscht",
        _ => "Zugriff",
    }
}
