//! The receipt ("Eingangsbestätigung") a citizen takes home: what was
//! requested, what was handed in, what is still missing as a checklist for
//! the next visit, what happens next, and whom to call.

use sprechtag_schemas::{Case, Catalog, DocumentState, IsoDate, OfficeHour, Request};

use super::layout::{Frame, Layout, Marker, Weight};
use super::{
    BODY_PT, LARGE_PRINT_PT, PrintError, appointment_when, contact_line, contact_office, full_name,
    number_text, status_text,
};

/// The receipt of `case` as PDF bytes. `office_hour` is the visit's office
/// hour (date and place), if the case has one. Body text is 14 pt, 18 pt for
/// a citizen who needs large print.
pub fn receipt(
    case: &Case,
    catalog: &Catalog,
    office_hour: Option<&OfficeHour>,
) -> Result<Vec<u8>, PrintError> {
    let body = if case.citizen.needs.large_print {
        LARGE_PRINT_PT
    } else {
        BODY_PT
    };
    let office = contact_office(Some(case), catalog);
    let frame = Frame {
        issuer: catalog.issuer.de.clone(),
        contact: contact_line(office),
        footer: format!("Eingangsbestätigung · Vorgang {}", case.number),
    };
    let title = format!("Eingangsbestätigung {}", case.number);
    let mut page = Layout::new(&title, &catalog.issuer.de, body, frame)?;

    page.title("Eingangsbestätigung");
    let qr_side = 30.0 * 72.0 / 25.4;
    let top = page.y();
    page.qr_code(&case.number, page.right(), top, qr_side)?;
    let date = office_hour
        .map(|o| o.date)
        .or_else(|| case.created_at.get(..10).and_then(|d| d.parse().ok()))
        .unwrap_or_else(IsoDate::today);
    let place = office_hour
        .map(OfficeHour::place)
        .or_else(|| office.map(|o| o.address.clone()))
        .unwrap_or_default();
    let mut rows = vec![
        ("Name", full_name(&case.citizen)),
        ("Vorgang", number_text(case)),
        ("Datum", date.to_german()),
        ("Ort", place),
    ];
    if let Some(office_hour) = office_hour {
        rows.push(("Beraten von", office_hour.caseworker.clone()));
    }
    let width = page.text_width() - qr_side - body;
    page.key_values_in(&rows, width);
    page.space(body * 0.5);
    let below_qr = top - qr_side - body * 0.5;
    if page.y() > below_qr {
        let gap = page.y() - below_qr;
        page.space(gap);
    }

    requests_section(&mut page, case, catalog);
    documents_sections(&mut page, case);
    next_steps(&mut page, case, catalog);
    if let Some(appointment) = super::next_appointment(case).filter(|a| a.date >= IsoDate::today())
    {
        page.heading("Ihr nächster Termin");
        // Keep the start of the block with its heading and first lines.
        page.ensure(Layout::line_height(body) * 4.0);
        let (start_page, start) = page.frame_start();
        page.paragraph(&appointment_when(appointment), Weight::Bold);
        page.key_values(&[
            ("Ort", appointment.place.clone()),
            ("Worum es geht", appointment.purpose.clone()),
        ]);
        page.frame_since(start_page, start);
    }
    responsible_offices(&mut page, case, catalog);
    page.finish()
}

fn request_status(request: &Request, catalog: &Catalog) -> String {
    if let Some(forwarding) = &request.forwarding {
        let office = catalog
            .office(&forwarding.office_id)
            .map(|o| o.name.de.as_str())
            .unwrap_or("das zuständige Amt");
        return format!("weitergeleitet an {office}");
    }
    if request.is_complete() {
        "alle Unterlagen liegen vor".into()
    } else if request
        .documents
        .iter()
        .any(|d| d.state == DocumentState::Missing)
    {
        "es fehlen noch Unterlagen".into()
    } else {
        "Unterlagen werden noch geprüft".into()
    }
}

fn requests_section(page: &mut Layout, case: &Case, catalog: &Catalog) {
    page.heading("Ihre Anliegen");
    if case.requests.is_empty() {
        page.paragraph("Es ist noch kein Anliegen erfasst.", Weight::Regular);
    }
    for request in &case.requests {
        let text = format!(
            "{}: {}",
            request.service_name,
            request_status(request, catalog)
        );
        page.item(Marker::Bullet, &text, Weight::Regular);
    }
    page.paragraph(
        &format!("Stand Ihres Vorgangs: {}", status_text(case.status)),
        Weight::Regular,
    );
}

/// Document names in the given state, each once, with its note.
fn documents(case: &Case, state: DocumentState) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, document) in case
        .requests
        .iter()
        .flat_map(|r| r.documents.iter().map(move |d| (r, d)))
        .filter(|(_, d)| d.state == state)
    {
        let name = if document.note.trim().is_empty() {
            document.name.clone()
        } else {
            format!("{} ({})", document.name, document.note.trim())
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn documents_sections(page: &mut Layout, case: &Case) {
    page.heading("Das haben Sie abgegeben");
    let presented = documents(case, DocumentState::Presented);
    if presented.is_empty() {
        page.paragraph("Noch keine Unterlagen.", Weight::Regular);
    }
    for name in presented {
        page.item(Marker::Bullet, &name, Weight::Regular);
    }
    let missing = documents(case, DocumentState::Missing);
    if !missing.is_empty() {
        page.heading("Das fehlt noch – bitte bringen Sie mit:");
        for name in missing {
            page.item(Marker::Checkbox, &name, Weight::Regular);
        }
    }
    let unchecked = documents(case, DocumentState::Unchecked);
    if !unchecked.is_empty() {
        page.heading("Noch offen – wir sagen Ihnen, ob Sie das brauchen:");
        for name in unchecked {
            page.item(Marker::Bullet, &name, Weight::Regular);
        }
    }
}

fn next_steps(page: &mut Layout, case: &Case, catalog: &Catalog) {
    page.heading("So geht es weiter");
    let office = contact_office(Some(case), catalog);
    let has_appointment = super::next_appointment(case).is_some_and(|a| a.date >= IsoDate::today());
    let mut steps = Vec::new();
    if case.missing_documents().next().is_some() {
        steps.push(match (has_appointment, office) {
            (true, _) => "Bringen Sie die fehlenden Unterlagen zu Ihrem nächsten Termin mit.".into(),
            (false, Some(office)) => format!(
                "Bringen Sie die fehlenden Unterlagen zum nächsten Sprechtag mit oder schicken Sie sie an: {}, {}.",
                office.name.de, office.address
            ),
            (false, None) => "Bringen Sie die fehlenden Unterlagen zum nächsten Sprechtag mit.".into(),
        });
    }
    for request in &case.requests {
        let Some(service) = catalog.service(&request.service_id) else {
            continue;
        };
        let service_office = catalog.office(&service.office_id);
        if request.forwarding.is_some() {
            steps.push(format!(
                "„{}“: Wir haben Ihr Anliegen weitergeleitet. Sie bekommen von dort Nachricht.",
                request.service_name
            ));
        } else if service.in_person
            && let Some(service_office) = service_office
        {
            steps.push(format!(
                "„{}“: Dafür müssen Sie einmal persönlich kommen: {}, {}.",
                request.service_name, service_office.name.de, service_office.address
            ));
        }
        steps.push(format!(
            "Gebühr für „{}“: {}",
            request.service_name, service.fee.de
        ));
    }
    if case.is_complete() && case.requests.iter().all(|r| r.forwarding.is_none()) {
        steps.push(
            "Ihre Unterlagen sind vollständig. Wir bearbeiten Ihr Anliegen und melden uns bei Ihnen."
                .into(),
        );
    }
    if let Some(office) = office {
        steps.push(format!(
            "Fragen? Rufen Sie uns an: {}. Nennen Sie bitte Ihre Vorgangsnummer {}.",
            office.phone, case.number
        ));
    }
    for step in steps {
        page.item(Marker::Bullet, &step, Weight::Regular);
    }
}

fn responsible_offices(page: &mut Layout, case: &Case, catalog: &Catalog) {
    let mut offices = Vec::new();
    for request in &case.requests {
        if let Some(office) = catalog
            .service(&request.service_id)
            .and_then(|s| catalog.office(&s.office_id))
            && !offices
                .iter()
                .any(|o: &&sprechtag_schemas::Office| o.id == office.id)
        {
            offices.push(office);
        }
    }
    if offices.is_empty() {
        return;
    }
    page.heading("Zuständig");
    for office in offices {
        let rows = [
            ("Amt", office.name.de.clone()),
            ("Adresse", office.address.clone()),
            ("Telefon", office.phone.clone()),
            ("Geöffnet", office.opening_hours.de.clone()),
        ];
        page.key_values(&rows);
        page.space(page.body * 0.5);
    }
}
