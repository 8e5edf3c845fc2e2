//! Statistics for the council committee: charts (egui_plot) for the eye,
//! the same figures as text and tables for screen readers, and the
//! committee's CSV.

use egui::accesskit::Role;
use egui::{Color32, Stroke};
use egui_plot::{Bar, BarChart, Plot};
use rust_i18n::t;

use super::widgets;
use super::worker::Request;
use crate::store::statistics::{Count, OfficeHourFigures, Statistics};

/// Below this width (in points) the charts stand one under the other: at
/// large text two columns leave each too narrow to read.
const TWO_COLUMNS_FROM: f32 = 1000.0;

#[derive(Default)]
pub struct StatisticsView {
    pub statistics: Option<Statistics>,
}

impl StatisticsView {
    pub fn refresh(&mut self, outbox: &mut Vec<Request>) {
        outbox.push(Request::Statistics);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, outbox: &mut Vec<Request>) {
        ui.horizontal(|ui| {
            widgets::heading(ui, t!("stats.title"));
            if ui.button(t!("stats.export")).clicked() {
                outbox.push(Request::ExportStatistics);
            }
        });
        let Some(stats) = &self.statistics else {
            ui.spinner();
            return;
        };
        let none = t!("stats.none").into_owned();
        let grade = |g: Option<f64>| g.map_or_else(|| none.clone(), |g| decimal(g, 1));
        ui.label(t!(
            "stats.complete_first_visit",
            share = stats
                .complete_at_first_visit
                .map_or_else(|| none.clone(), percent)
        ));
        ui.label(t!(
            "stats.days_to_done",
            days = stats
                .days_to_done_median
                .map_or_else(|| none.clone(), |d| decimal(d, 0)),
            n = stats.done_cases
        ));
        ui.label(t!(
            "stats.ratings",
            n = stats.ratings,
            advice = grade(stats.rating_averages[0]),
            clarity = grade(stats.rating_averages[1]),
            place = grade(stats.rating_averages[2])
        ));
        if stats.rating_averages.iter().any(Option::is_none) && stats.ratings > 0 {
            ui.label(t!("stats.ratings_too_few"));
        }
        feedback_table(ui, &stats.feedback);
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("statistics")
            .show(ui, |ui| {
                let recent: Vec<Count> = stats
                    .office_hours
                    .iter()
                    .take(12)
                    .rev()
                    .map(|o| Count {
                        label: format!("{} {}", short_date(&o.date), o.village),
                        count: o.visitors,
                    })
                    .collect();
                let services: Vec<Count> = stats.services.iter().take(10).cloned().collect();
                let charts = [
                    Chart {
                        id: "visitors",
                        title: t!("stats.visitors_per_office_hour").into_owned(),
                        label_header: t!("stats.col_office_hour").into_owned(),
                        count_header: t!("stats.col_visitors").into_owned(),
                        counts: &recent,
                    },
                    Chart {
                        id: "services",
                        title: t!("stats.requests_by_service").into_owned(),
                        label_header: t!("stats.col_service").into_owned(),
                        count_header: t!("stats.col_requests").into_owned(),
                        counts: &services,
                    },
                    Chart {
                        id: "villages",
                        title: t!("stats.visitors_per_village").into_owned(),
                        label_header: t!("stats.col_village").into_owned(),
                        count_header: t!("stats.col_visitors").into_owned(),
                        counts: &stats.villages,
                    },
                ];
                if ui.available_width() >= TWO_COLUMNS_FROM {
                    ui.columns(2, |columns| {
                        for (i, chart) in charts.iter().enumerate() {
                            chart.ui(&mut columns[i % 2]);
                        }
                    });
                } else {
                    for chart in &charts {
                        chart.ui(ui);
                    }
                }
                widgets::section(ui, t!("stats.office_hours_title"));
                if stats.office_hours.is_empty() {
                    ui.label(t!("stats.no_office_hours"));
                } else {
                    // Wider than the window at large text: scroll sideways
                    // rather than cut columns off.
                    egui::ScrollArea::horizontal()
                        .id_salt("office_hour_table")
                        .show(ui, |ui| office_hour_table(ui, &stats.office_hours));
                }
            });
    }
}

struct Chart<'a> {
    id: &'static str,
    title: String,
    label_header: String,
    count_header: String,
    counts: &'a [Count],
}

impl Chart<'_> {
    /// A bar chart, named by its title for screen readers, with its figures
    /// below it as a table (a plot is not read out).
    fn ui(&self, ui: &mut egui::Ui) {
        widgets::section(ui, &self.title);
        if self.counts.is_empty() {
            ui.label(t!("stats.no_data"));
            ui.add_space(12.0);
            return;
        }
        let color = bar_color(ui);
        let bars: Vec<Bar> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                #[allow(clippy::cast_precision_loss)]
                Bar::new(i as f64, c.count as f64)
                    .name(&c.label)
                    .fill(color)
                    .stroke(Stroke::new(1.0, color))
            })
            .collect();
        let plot = Plot::new(self.id)
            .height(180.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .show_axes([false, true])
            .show(ui, |plot| {
                plot.bar_chart(BarChart::new(&self.title, bars).width(0.7));
            });
        let description = t!("stats.chart_description", n = self.counts.len()).into_owned();
        plot.response
            .ctx
            .accesskit_node_builder(plot.response.id, |node| {
                node.set_role(Role::Image);
                node.set_label(self.title.clone());
                node.set_description(description);
            });
        table(ui, (self.id, "figures"), &self.title, |ui| {
            column_header(ui, &self.label_header);
            column_header(ui, &self.count_header);
            ui.end_row();
            for c in self.counts {
                ui.label(&c.label);
                ui.label(c.count.to_string());
                ui.end_row();
            }
        });
        ui.add_space(12.0);
    }
}

/// Bars that stand out on the light theme and on high contrast's black.
fn bar_color(ui: &egui::Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(120, 200, 255)
    } else {
        Color32::from_rgb(0, 90, 170)
    }
}

/// A striped grid that screen readers know as a table named `name`.
fn table(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    name: &str,
    rows: impl FnOnce(&mut egui::Ui),
) {
    let builder = egui::UiBuilder::new()
        .accessibility_role(Role::Table)
        .accessibility_label(name);
    ui.scope_builder(builder, |ui| {
        egui::Grid::new(id).striped(true).show(ui, rows);
    });
}

/// A column's heading: bold, and a column header for screen readers, who
/// then name the column when moving through its cells.
fn column_header(ui: &mut egui::Ui, text: &str) {
    let response = ui.strong(text);
    response.ctx.accesskit_node_builder(response.id, |node| {
        node.set_role(Role::ColumnHeader);
        node.set_label(text.to_string());
    });
}

fn office_hour_table(ui: &mut egui::Ui, office_hours: &[OfficeHourFigures]) {
    let name = t!("stats.office_hours_title").into_owned();
    table(ui, "office_hour_figures", &name, |ui| {
        for header in [
            t!("stats.col_date"),
            t!("stats.col_village"),
            t!("stats.col_visitors"),
            t!("stats.col_complete"),
            t!("stats.col_ratings"),
        ] {
            column_header(ui, &header);
        }
        ui.end_row();
        for o in office_hours.iter().take(20) {
            ui.label(short_date(&o.date));
            ui.label(&o.village);
            ui.label(o.visitors.to_string());
            ui.label(match (o.complete_requests, o.requests) {
                (Some(c), Some(r)) => t!("stats.n_of_m", n = c, m = r).into_owned(),
                _ => t!("stats.none").into_owned(),
            });
            ui.label(o.ratings.to_string());
            ui.end_row();
        }
    });
}

/// `value` with `places` decimals and the language's decimal separator:
/// "2,0" in German, "2.0" in English.
fn decimal(value: f64, places: usize) -> String {
    format!("{value:.places$}").replace('.', &t!("number.decimal_separator"))
}

/// A share (0 to 1) as a whole percentage: "45 %" in German, "45%" in English.
fn percent(share: f64) -> String {
    t!("number.percent", n = decimal(share * 100.0, 0)).into_owned()
}

/// "2026-11-20" → "20.11."
fn short_date(iso: &str) -> String {
    match (iso.get(8..10), iso.get(5..7)) {
        (Some(day), Some(month)) => format!("{day}.{month}."),
        _ => iso.to_string(),
    }
}

/// Ideas, praise and complaints by month and topic, beside the grades.
fn feedback_table(ui: &mut egui::Ui, counts: &[crate::store::FeedbackCount]) {
    widgets::section(ui, t!("stats.feedback_title"));
    if counts.is_empty() {
        ui.label(t!("stats.feedback_none"));
        return;
    }
    egui::Grid::new("feedback_counts")
        .striped(true)
        .show(ui, |ui| {
            widgets::column_header(ui, &t!("stats.col_month"));
            widgets::column_header(ui, &t!("feedback.kind"));
            widgets::column_header(ui, &t!("feedback.category"));
            widgets::column_header(ui, &t!("stats.col_count"));
            ui.end_row();
            for row in counts.iter().take(12) {
                let month = row
                    .month
                    .split_once('-')
                    .map_or_else(|| row.month.clone(), |(y, m)| format!("{m}/{y}"));
                ui.label(month);
                ui.label(super::worker::kind_label(row.kind));
                ui.label(super::feedback_view::category_label(row.category));
                ui.label(row.count.to_string());
                ui.end_row();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_german_take_a_decimal_comma() {
        // German is what the app starts in; no test in this binary
        // switches the language.
        rust_i18n::set_locale("de");
        assert_eq!(decimal(2.0, 1), "2,0");
        assert_eq!(decimal(1.5, 1), "1,5");
        assert_eq!(decimal(3.0, 0), "3");
        assert_eq!(percent(0.454), "45 %");
    }
}
