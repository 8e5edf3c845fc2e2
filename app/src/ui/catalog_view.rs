//! The knowledge base: search and read the service catalogue without
//! creating a case.

use rust_i18n::t;
use sprechtag_schemas::Catalog;

use super::widgets;

#[derive(Default)]
pub struct CatalogView {
    query: String,
    selected: Option<String>,
    /// The tab was just entered: the search field takes the focus, since
    /// searching is what the tab is for.
    focus_search: bool,
}

impl CatalogView {
    pub fn entered(&mut self) {
        self.focus_search = true;
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog, language: &str) {
        egui::Panel::left("catalog_list")
            .resizable(false)
            .default_size(320.0)
            .show(ui, |ui| {
                widgets::heading(ui, t!("catalog.title"));
                let label = ui.label(t!("catalog.search"));
                let search = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.query)
                            .hint_text(t!("catalog.search_hint"))
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                if std::mem::take(&mut self.focus_search) {
                    search.request_focus();
                }
                let found = catalog.search(&self.query);
                let query = self.query.trim();
                if found.is_empty() {
                    widgets::message(ui, t!("catalog.none", query = query));
                } else if !query.is_empty() {
                    widgets::message(ui, t!("catalog.found", n = found.len()));
                }
                ui.separator();
                egui::ScrollArea::vertical()
                    .id_salt("catalog_list")
                    .show(ui, |ui| {
                        for service in found {
                            let selected = self.selected.as_deref() == Some(service.id.as_str());
                            if ui
                                .selectable_label(selected, service.name.get(language))
                                .clicked()
                            {
                                self.selected = Some(service.id.clone());
                            }
                        }
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(service) = self.selected.as_deref().and_then(|id| catalog.service(id)) else {
                ui.label(t!("catalog.choose"));
                return;
            };
            egui::ScrollArea::vertical()
                .id_salt("catalog_service")
                .show(ui, |ui| {
                    widgets::heading(ui, service.name.get(language));
                    ui.add_space(4.0);
                    ui.label(service.description.get(language));
                    ui.add_space(8.0);
                    widgets::section(ui, t!("catalog.documents"));
                    for document in &service.documents {
                        ui.label(format!("• {}", document.name.get(language)));
                        if let Some(hint) = &document.hint {
                            ui.label(
                                egui::RichText::new(format!("    {}", hint.get(language)))
                                    .italics(),
                            );
                        }
                    }
                    ui.add_space(8.0);
                    ui.label(format!(
                        "{}: {}",
                        t!("catalog.fee"),
                        service.fee.get(language)
                    ));
                    if let Some(office) = catalog.office(&service.office_id) {
                        ui.label(format!(
                            "{}: {}, {} {}, {}",
                            t!("catalog.office"),
                            office.name.get(language),
                            t!("catalog.phone"),
                            office.phone,
                            office.address
                        ));
                        ui.label(format!(
                            "{}: {}",
                            t!("catalog.opening_hours"),
                            office.opening_hours.get(language)
                        ));
                    }
                    if service.in_person {
                        ui.label(t!("catalog.in_person"));
                    }
                    ui.label(format!(
                        "{}: {}",
                        t!("catalog.leika"),
                        service.leika.as_deref().unwrap_or("–")
                    ));
                });
        });
    }
}
