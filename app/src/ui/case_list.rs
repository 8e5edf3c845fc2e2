//! Find any case again: full-text search and filters over the index, a page
//! at a time.

use std::sync::atomic::{AtomicU64, Ordering};

use rust_i18n::t;
use sprechtag_schemas::{CaseStatus, Catalog, IsoDate};

use egui::accesskit::Role;

use super::widgets;
use super::worker::Request;
use crate::store::{CaseFilter, CasePage, CaseRow, CaseSort};

const PAGE: usize = 50;

/// Tags list requests so that a late reply to an older search is ignored.
pub fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the filters offer besides the catalogue's services.
pub struct FilterChoices<'a> {
    /// Office hours as (id, label).
    pub office_hours: &'a [(String, String)],
    pub villages: &'a [String],
    pub caseworkers: &'a [String],
}

#[derive(Default)]
pub struct CaseListView {
    search: String,
    status: Option<CaseStatus>,
    office_hour_id: Option<String>,
    service_id: Option<String>,
    village: Option<String>,
    caseworker: Option<String>,
    overdue: bool,
    sort: CaseSort,
    shown: usize,
    page: CasePage,
    generation: u64,
}

impl CaseListView {
    pub fn refresh(&mut self, outbox: &mut Vec<Request>) {
        self.generation = next_generation();
        outbox.push(Request::Cases {
            filter: CaseFilter {
                search: self.search.clone(),
                status: self.status,
                office_hour_id: self.office_hour_id.clone(),
                service_id: self.service_id.clone(),
                offset: 0,
                limit: self.shown.max(PAGE),
                overdue_on: self.overdue.then(IsoDate::today),
                village: self.village.clone(),
                caseworker: self.caseworker.clone(),
                sort: self.sort,
            },
            generation: self.generation,
        });
    }

    pub fn on_page(&mut self, page: CasePage, generation: u64) {
        if generation == self.generation {
            self.page = page;
        }
    }

    /// Returns the id of a case to open.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        choices: &FilterChoices<'_>,
        focus_search: bool,
        outbox: &mut Vec<Request>,
    ) -> Option<String> {
        let mut open = None;
        let mut changed = false;
        widgets::heading(ui, t!("cases.title"));
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("cases.search"));
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut self.search)
                        .hint_text(t!("cases.search_hint"))
                        .desired_width(280.0),
                )
                .labelled_by(label.id);
            if focus_search {
                search.request_focus();
            }
            changed |= search.changed();

            let status_text_now = self
                .status
                .map_or_else(|| t!("cases.all").into_owned(), status_text);
            widgets::combo_row(ui, &t!("cases.status"), status_text_now, |ui| {
                changed |= ui
                    .selectable_value(&mut self.status, None, t!("cases.all"))
                    .changed();
                for status in CaseStatus::ALL {
                    changed |= ui
                        .selectable_value(&mut self.status, Some(*status), status_text(*status))
                        .changed();
                }
            });
            let office_hour_now = self
                .office_hour_id
                .as_deref()
                .and_then(|id| choices.office_hours.iter().find(|(i, _)| i == id))
                .map_or_else(|| t!("cases.all").into_owned(), |(_, label)| label.clone());
            widgets::combo_row(ui, &t!("cases.office_hour"), office_hour_now, |ui| {
                changed |= ui
                    .selectable_value(&mut self.office_hour_id, None, t!("cases.all"))
                    .changed();
                for (id, label) in choices.office_hours {
                    changed |= ui
                        .selectable_value(&mut self.office_hour_id, Some(id.clone()), label)
                        .changed();
                }
            });
            let service_now = self
                .service_id
                .as_deref()
                .and_then(|id| catalog.service(id))
                .map_or_else(|| t!("cases.all").into_owned(), |s| s.name.de.clone());
            widgets::combo_row(ui, &t!("cases.service"), service_now, |ui| {
                changed |= ui
                    .selectable_value(&mut self.service_id, None, t!("cases.all"))
                    .changed();
                for service in &catalog.services {
                    changed |= ui
                        .selectable_value(
                            &mut self.service_id,
                            Some(service.id.clone()),
                            &service.name.de,
                        )
                        .changed();
                }
            });
            changed |= choice_row(
                ui,
                &t!("cases.village"),
                &mut self.village,
                choices.villages,
            );
            changed |= choice_row(
                ui,
                &t!("cases.caseworker"),
                &mut self.caseworker,
                choices.caseworkers,
            );
            changed |= ui
                .checkbox(&mut self.overdue, t!("cases.overdue"))
                .changed();
            widgets::combo_row(ui, &t!("cases.sort"), sort_text(self.sort), |ui| {
                for sort in [
                    CaseSort::Recent,
                    CaseSort::Number,
                    CaseSort::Name,
                    CaseSort::Due,
                ] {
                    changed |= ui
                        .selectable_value(&mut self.sort, sort, sort_text(sort))
                        .changed();
                }
            });
        });
        if changed {
            self.shown = PAGE;
            self.refresh(outbox);
        }
        let key = if self.page.total_exact {
            "cases.count"
        } else {
            "cases.count_at_least"
        };
        let count = if self.page.total == 0 {
            t!("cases.none_found")
        } else {
            t!(key, shown = self.page.rows.len(), total = self.page.total)
        };
        widgets::message(ui, count);
        ui.separator();
        // Both ways: at the largest text size the columns on the right
        // stay reachable instead of being cut off.
        egui::ScrollArea::both()
            .id_salt("case_list")
            .auto_shrink(false)
            .show(ui, |ui| {
                if !self.page.rows.is_empty() {
                    open = case_table_ui(ui, &t!("cases.title"), &self.page.rows);
                }
                if self.page.has_more(0) && ui.button(t!("cases.more")).clicked() {
                    self.shown = self.page.rows.len() + PAGE;
                    self.refresh(outbox);
                }
            });
        open
    }
}

/// Widths of the list's columns (points, so they grow with the text).
const COLUMNS: [f32; 6] = [230.0, 120.0, 250.0, 150.0, 120.0, 160.0];

/// Cases as a table named `name`: a row per case, the case's button named
/// with everything the row shows, so a screen reader hears the whole row on
/// it. Returns the id of the case whose button was pressed.
pub fn case_table_ui(ui: &mut egui::Ui, name: &str, rows: &[CaseRow]) -> Option<String> {
    let mut open = None;
    let today = IsoDate::today();
    let table = egui::UiBuilder::new()
        .accessibility_role(Role::Table)
        .accessibility_label(name);
    ui.scope_builder(table, |ui| {
        let headers = [
            t!("cases.col_case"),
            t!("cases.col_village"),
            t!("cases.col_services"),
            t!("cases.col_status"),
            t!("cases.col_documents"),
            t!("cases.col_due"),
        ];
        table_row_ui(ui, false, |ui, column| {
            widgets::column_header(ui, &headers[column]);
        });
        for (index, row) in rows.iter().enumerate() {
            let documents = documents_text(row);
            let due = row.next_due.map(|due| due_text(due, today));
            table_row_ui(ui, index % 2 == 1, |ui, column| match column {
                0 => {
                    let button = ui.button(format!(
                        "{} · {}, {}",
                        row.number, row.surname, row.given_names
                    ));
                    let name = row_name(row, &documents, due.as_deref());
                    button.widget_info(|| egui::WidgetInfo::labeled(Role::Button, true, &name));
                    if button.clicked() {
                        open = Some(row.id.clone());
                    }
                }
                1 => cell_text(ui, &row.village),
                2 => cell_text(ui, &row.services),
                3 => cell_text(ui, &status_text(row.status)),
                4 => cell_text(ui, &documents),
                _ => match (row.next_due, &due) {
                    (Some(day), Some(text)) if day < today => {
                        widgets::status_badge(ui, false, text);
                    }
                    (_, Some(text)) => cell_text(ui, text),
                    (_, None) => {}
                },
            });
        }
    });
    open
}

/// One row of the table, its cells side by side in their columns.
fn table_row_ui(ui: &mut egui::Ui, striped: bool, mut cell: impl FnMut(&mut egui::Ui, usize)) {
    let fill = if striped {
        ui.visuals().faint_bg_color
    } else {
        egui::Color32::TRANSPARENT
    };
    let row = egui::UiBuilder::new().accessibility_role(Role::Row);
    ui.scope_builder(row, |ui| {
        egui::Frame::new().fill(fill).show(ui, |ui| {
            ui.horizontal_top(|ui| {
                for (column, width) in COLUMNS.iter().enumerate() {
                    let layout = egui::Layout::top_down(egui::Align::Min);
                    ui.allocate_ui_with_layout(egui::vec2(*width, 0.0), layout, |ui| {
                        ui.set_width(*width);
                        cell(ui, column);
                    });
                }
            });
        });
    });
}

fn cell_text(ui: &mut egui::Ui, text: &str) {
    ui.add(egui::Label::new(text).wrap());
}

/// "vollständig", "2 Unterlagen fehlen", "unvollständig".
fn documents_text(row: &CaseRow) -> String {
    if row.complete {
        t!("case.complete").into_owned()
    } else if row.missing_count == 1 {
        t!("case.missing_one").into_owned()
    } else if row.missing_count > 1 {
        t!("case.missing_n", count = row.missing_count).into_owned()
    } else {
        t!("case.incomplete").into_owned()
    }
}

fn due_text(due: IsoDate, today: IsoDate) -> String {
    if due < today {
        format!("{} · {}", due.to_german(), t!("review.overdue"))
    } else {
        due.to_german()
    }
}

/// The whole row in words, for the case's button.
fn row_name(row: &CaseRow, documents: &str, due: Option<&str>) -> String {
    let mut parts = vec![
        format!("{} · {}, {}", row.number, row.surname, row.given_names),
        row.village.clone(),
        row.services.clone(),
        status_text(row.status),
        documents.to_string(),
    ];
    if let Some(due) = due {
        parts.push(t!("cases.due_named", due = due).into_owned());
    }
    parts.retain(|part| !part.is_empty());
    parts.join(", ")
}

/// A drop-down of `choices` with "all" first.
fn choice_row(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut Option<String>,
    choices: &[String],
) -> bool {
    let mut changed = false;
    let now = value
        .clone()
        .unwrap_or_else(|| t!("cases.all").into_owned());
    widgets::combo_row(ui, label, now, |ui| {
        changed |= ui.selectable_value(value, None, t!("cases.all")).changed();
        for choice in choices {
            changed |= ui
                .selectable_value(value, Some(choice.clone()), choice)
                .changed();
        }
    });
    changed
}

fn sort_text(sort: CaseSort) -> String {
    match sort {
        CaseSort::Recent => t!("cases.sort_recent"),
        CaseSort::Number => t!("cases.sort_number"),
        CaseSort::Name => t!("cases.sort_name"),
        CaseSort::Due => t!("cases.sort_due"),
    }
    .into_owned()
}

pub fn status_text(status: CaseStatus) -> String {
    match status {
        CaseStatus::Open => t!("status.open"),
        CaseStatus::WaitingForDocuments => t!("status.waiting_for_documents"),
        CaseStatus::Complete => t!("status.complete"),
        CaseStatus::Forwarded => t!("status.forwarded"),
        CaseStatus::Done => t!("status.done"),
        CaseStatus::Cancelled => t!("status.cancelled"),
    }
    .into_owned()
}
