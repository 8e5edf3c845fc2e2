//! Statistics for the council committee: charts (egui_plot) for the eye,
//! the same figures as text and tables for screen readers, and the
//! committee's CSV.

use egui_plot::{Bar, BarChart, Plot};
use rust_i18n::t;

use super::widgets;
use super::worker::Request;
use crate::store::statistics::{Count, Statistics};

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
        let grade = |g: Option<f64>| g.map_or_else(|| none.clone(), |g| format!("{g:.1}"));
        ui.label(t!(
            "stats.complete_first_visit",
            share = stats
                .complete_at_first_visit
                .map_or_else(|| none.clone(), |s| format!("{:.0} %", s * 100.0))
        ));
        ui.label(t!(
            "stats.days_to_done",
            days = stats
                .days_to_done_median
                .map_or_else(|| none.clone(), |d| format!("{d:.0}")),
            n = stats.done_cases
        ));
        ui.label(t!(
            "stats.ratings",
            n = stats.ratings,
            advice = grade(stats.rating_averages[0]),
            clarity = grade(stats.rating_averages[1]),
            place = grade(stats.rating_averages[2])
        ));
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.columns(2, |columns| {
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
                chart(
                    &mut columns[0],
                    "visitors",
                    &t!("stats.visitors_per_office_hour"),
                    &recent,
                );
                let services: Vec<Count> = stats.services.iter().take(10).cloned().collect();
                chart(
                    &mut columns[1],
                    "services",
                    &t!("stats.requests_by_service"),
                    &services,
                );
                chart(
                    &mut columns[0],
                    "villages",
                    &t!("stats.visitors_per_village"),
                    &stats.villages,
                );
                office_hour_table(&mut columns[1], stats, &grade);
            });
        });
    }
}

/// A bar chart with its figures below it as text (plots are not read out).
fn chart(ui: &mut egui::Ui, id: &str, title: &str, counts: &[Count]) {
    widgets::section(ui, title);
    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            #[allow(clippy::cast_precision_loss)]
            Bar::new(i as f64, c.count as f64).name(&c.label)
        })
        .collect();
    Plot::new(id)
        .height(180.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_axes([false, true])
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new(title, bars).width(0.7));
        });
    egui::Grid::new((id, "figures"))
        .striped(true)
        .show(ui, |ui| {
            for c in counts {
                ui.label(&c.label);
                ui.label(c.count.to_string());
                ui.end_row();
            }
        });
    ui.add_space(12.0);
}

fn office_hour_table(ui: &mut egui::Ui, stats: &Statistics, grade: &dyn Fn(Option<f64>) -> String) {
    egui::Grid::new("office_hour_figures")
        .striped(true)
        .show(ui, |ui| {
            for header in [
                t!("stats.col_date"),
                t!("stats.col_village"),
                t!("stats.col_visitors"),
                t!("stats.col_complete"),
                t!("stats.col_grades"),
            ] {
                ui.strong(header);
            }
            ui.end_row();
            for o in stats.office_hours.iter().take(20) {
                ui.label(short_date(&o.date));
                ui.label(&o.village);
                ui.label(o.visitors.to_string());
                ui.label(match (o.complete_requests, o.requests) {
                    (Some(c), Some(r)) => format!("{c} / {r}"),
                    _ => t!("stats.none").into_owned(),
                });
                ui.label(format!(
                    "{} / {} / {}",
                    grade(o.rating_averages[0]),
                    grade(o.rating_averages[1]),
                    grade(o.rating_averages[2])
                ));
                ui.end_row();
            }
        });
}

/// "2026-11-20" → "20.11."
fn short_date(iso: &str) -> String {
    match (iso.get(8..10), iso.get(5..7)) {
        (Some(day), Some(month)) => format!("{day}.{month}."),
        _ => iso.to_string(),
    }
}
