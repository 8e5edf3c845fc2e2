//! The report of an office hour ("Tagesprotokoll") for the back office:
//! visitors, each case with its number and status, requests by service,
//! missing documents and the appointments booked. Of the citizens it shows
//! only names and case numbers — no birth dates, addresses or phone numbers.

use std::collections::BTreeMap;

use sprechtag_schemas::{Case, Catalog, OfficeHour, OfficeHourStatus};

use super::layout::{Column, Frame, Layout, Weight};
use super::{PrintError, long_date};
use sprechtag_schemas::CaseStatus;

/// Body size of the report: office staff read it, and 40 cases should fit
/// on a few pages.
const REPORT_PT: f32 = 11.0;

/// The report of `office_hour` with its `cases` as PDF bytes. Visitors and
/// requests by service come from the summary recorded at closing when there
/// is one, else from the cases.
pub fn report(
    office_hour: &OfficeHour,
    cases: &[Case],
    catalog: &Catalog,
) -> Result<Vec<u8>, PrintError> {
    let body = REPORT_PT;
    let mut cases: Vec<&Case> = cases.iter().collect();
    cases.sort_by(|a, b| a.number.cmp(&b.number));
    let place = office_hour.place();
    let frame = Frame {
        issuer: catalog.issuer.de.clone(),
        contact: "Tagesprotokoll – nur für den Dienstgebrauch".into(),
        footer: format!(
            "Tagesprotokoll · {} · {}",
            office_hour.village,
            office_hour.date.to_german()
        ),
    };
    let title = format!(
        "Tagesprotokoll {} {}",
        office_hour.village,
        office_hour.date.to_german()
    );
    let mut page = Layout::new(&title, &office_hour.caseworker, body, frame)?;
    page.title("Tagesprotokoll");

    let (visitors, by_service) = match &office_hour.summary {
        Some(summary) => (
            summary.visitors,
            summary
                .requests_by_service
                .iter()
                .map(|s| (s.service_name.clone(), s.count))
                .collect(),
        ),
        None => (cases.len() as u64, count_services(&cases, catalog)),
    };
    let status = match office_hour.status {
        OfficeHourStatus::Closed => match &office_hour.closed_at {
            Some(at) => format!("geschlossen ({})", closed_time(at)),
            None => "geschlossen".into(),
        },
        OfficeHourStatus::Open => "noch offen".into(),
        OfficeHourStatus::Planned => "geplant".into(),
    };
    let mut rows = vec![
        ("Ort", place),
        ("Datum", long_date(office_hour.date)),
        ("Sachbearbeitung", office_hour.caseworker.clone()),
        ("Stand", status),
        ("Besuche", visitors.to_string()),
    ];
    let appointments: usize = cases.iter().map(|c| c.appointments.len()).sum();
    rows.push(("Termine vereinbart", appointments.to_string()));
    page.key_values(&rows);

    if cases.is_empty() {
        page.heading("Fälle");
        page.paragraph("Keine Besuche.", Weight::Regular);
    } else {
        let rows: Vec<Vec<String>> = cases
            .iter()
            .map(|case| {
                vec![
                    case.number.clone(),
                    case.citizen.display_name(),
                    short_status(case.status).to_string(),
                    case.requests
                        .iter()
                        .map(|r| r.service_name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    case.missing_documents().count().to_string(),
                ]
            })
            .collect();
        page.table_with_heading(
            "Fälle",
            &[
                Column::fit("Vorgang"),
                Column::share("Name", 3.0),
                Column::share("Status", 2.0),
                Column::share("Anliegen", 3.6),
                Column::fit("Fehlt"),
            ],
            &rows,
            body,
        );
    }

    if by_service.is_empty() {
        page.heading("Anliegen nach Leistung");
        page.paragraph("Keine Anliegen.", Weight::Regular);
    } else {
        let rows: Vec<Vec<String>> = by_service
            .iter()
            .map(|(name, count)| vec![name.clone(), count.to_string()])
            .collect();
        page.table_with_heading(
            "Anliegen nach Leistung",
            &[Column::share("Leistung", 5.0), Column::fit("Anzahl")],
            &rows,
            body,
        );
    }

    let missing: Vec<Vec<String>> = cases
        .iter()
        .filter_map(|case| {
            let mut names: Vec<&str> = Vec::new();
            for (_, document) in case.missing_documents() {
                if !names.contains(&document.name.as_str()) {
                    names.push(&document.name);
                }
            }
            (!names.is_empty()).then(|| {
                vec![
                    case.number.clone(),
                    case.citizen.display_name(),
                    names.join("; "),
                ]
            })
        })
        .collect();
    if missing.is_empty() {
        page.heading("Fehlende Unterlagen");
        page.paragraph("Keine – alle Unterlagen liegen vor.", Weight::Regular);
    } else {
        page.table_with_heading(
            "Fehlende Unterlagen",
            &[
                Column::fit("Vorgang"),
                Column::share("Name", 2.5),
                Column::share("Unterlagen", 5.0),
            ],
            &missing,
            body,
        );
    }

    let mut booked: Vec<(&Case, &sprechtag_schemas::Appointment)> = cases
        .iter()
        .flat_map(|c| c.appointments.iter().map(move |a| (*c, a)))
        .collect();
    booked.sort_by(|a, b| (a.1.date, &a.1.time).cmp(&(b.1.date, &b.1.time)));
    if booked.is_empty() {
        page.heading("Vereinbarte Termine");
        page.paragraph("Keine.", Weight::Regular);
    } else {
        let rows: Vec<Vec<String>> = booked
            .iter()
            .map(|(case, appointment)| {
                vec![
                    case.number.clone(),
                    case.citizen.display_name(),
                    format!("{}, {} Uhr", appointment.date.to_german(), appointment.time),
                    appointment.place.clone(),
                    appointment.purpose.clone(),
                ]
            })
            .collect();
        page.table_with_heading(
            "Vereinbarte Termine",
            &[
                Column::fit("Vorgang"),
                Column::share("Name", 2.4),
                Column::fit("Termin"),
                Column::share("Ort", 2.0),
                Column::share("Worum es geht", 2.0),
            ],
            &rows,
            body,
        );
    }
    page.finish()
}

fn count_services(cases: &[&Case], catalog: &Catalog) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for request in cases.iter().flat_map(|c| &c.requests) {
        let name = catalog
            .service(&request.service_id)
            .map(|s| s.name.de.clone())
            .unwrap_or_else(|| request.service_name.clone());
        *counts.entry(name).or_default() += 1;
    }
    let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// "22.11.2026, 16:05 Uhr" from an RFC 3339 time, in local time.
fn closed_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%d.%m.%Y, %H:%M Uhr")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// Status words for the office, shorter than the citizen's.
fn short_status(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Open => "offen",
        CaseStatus::WaitingForDocuments => "wartet auf Unterlagen",
        CaseStatus::Complete => "vollständig",
        CaseStatus::Forwarded => "weitergeleitet",
        CaseStatus::Done => "erledigt",
        CaseStatus::Cancelled => "zurückgezogen",
    }
}
