//! The letter for a follow-up appointment: when and where, what it is about,
//! what to bring, and whom to call when the citizen cannot come.

use sprechtag_schemas::{Appointment, Case, Catalog, DocumentState};

use super::layout::{Frame, Layout, Marker, Weight};
use super::{
    BODY_PT, LARGE_PRINT_PT, PrintError, appointment_when, contact_line, contact_office, full_name,
    number_text,
};

/// The letter for `appointment` of `case` as PDF bytes (see
/// [`super::next_appointment`] for which one to print).
pub fn appointment_letter(
    case: &Case,
    appointment: &Appointment,
    catalog: &Catalog,
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
        footer: format!("Terminbrief · Vorgang {}", case.number),
    };
    let title = format!("Ihr Termin – Vorgang {}", case.number);
    let mut page = Layout::new(&title, &catalog.issuer.de, body, frame)?;

    page.title("Ihr Termin");
    let qr_side = 30.0 * 72.0 / 25.4;
    let top = page.y();
    page.qr_code(&case.number, page.right(), top, qr_side)?;
    let rows = [
        ("Name", full_name(&case.citizen)),
        ("Vorgang", number_text(case)),
    ];
    let width = page.text_width() - qr_side - body;
    page.key_values_in(&rows, width);
    page.space(body * 0.5);
    let below_qr = top - qr_side - body * 0.5;
    if page.y() > below_qr {
        let gap = page.y() - below_qr;
        page.space(gap);
    }

    page.paragraph(
        &format!("Guten Tag {},", full_name(&case.citizen)),
        Weight::Regular,
    );
    page.space(body * 0.5);
    page.paragraph(
        "wir haben für Sie diesen Termin vereinbart:",
        Weight::Regular,
    );
    page.space(body);
    page.ensure(Layout::line_height(body * 1.2) * 2.0 + Layout::line_height(body) * 3.0);
    let (start_page, start) = page.frame_start();
    page.paragraph_at(
        0.0,
        &appointment_when(appointment),
        Weight::Bold,
        body * 1.2,
    );
    page.space(body * 0.3);
    page.key_values(&[
        ("Ort", appointment.place.clone()),
        ("Worum es geht", appointment.purpose.clone()),
    ]);
    page.frame_since(start_page, start);

    page.heading("Bitte bringen Sie mit:");
    page.item(Marker::Checkbox, "diesen Brief", Weight::Regular);
    page.item(
        Marker::Checkbox,
        "Ihren Personalausweis oder Reisepass",
        Weight::Regular,
    );
    let mut missing: Vec<&str> = Vec::new();
    for (_, document) in case.missing_documents() {
        if !missing.contains(&document.name.as_str()) {
            missing.push(&document.name);
        }
    }
    for name in missing {
        page.item(Marker::Checkbox, name, Weight::Regular);
    }
    let unchecked = case
        .requests
        .iter()
        .flat_map(|r| &r.documents)
        .any(|d| d.state == DocumentState::Unchecked);
    if unchecked {
        page.paragraph(
            "Wenn Sie unsicher sind, ob Sie weitere Unterlagen brauchen, rufen Sie uns an.",
            Weight::Regular,
        );
    }

    page.heading("Sie können nicht kommen?");
    let call = match office {
        Some(office) => format!(
            "Bitte rufen Sie uns an: {} ({}). Wir vereinbaren dann einen neuen Termin.",
            office.phone, office.name.de
        ),
        None => "Bitte rufen Sie uns an. Wir vereinbaren dann einen neuen Termin.".into(),
    };
    page.paragraph(&call, Weight::Regular);
    page.space(body);
    page.paragraph("Mit freundlichen Grüßen", Weight::Regular);
    page.paragraph(&catalog.issuer.de, Weight::Regular);
    page.finish()
}
