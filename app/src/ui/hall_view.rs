//! "Im Saal abgleichen": the other laptops of the department in this hall,
//! found on the network or reached by address, and the exchange with them;
//! and the line in the status bar that says with whom this laptop last
//! exchanged.

use rust_i18n::t;

use super::widgets;
use crate::hall::Refusal;
use crate::hall::worker::{Command, HallProblem, HallStatus, PeerRow};

#[derive(Debug, Default)]
pub struct HallView {
    /// The address typed for a laptop that was not found.
    address: String,
}

impl HallView {
    /// Draws the view; returns what the hall worker should do.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        status: Option<&HallStatus>,
        always: &mut bool,
    ) -> Option<Command> {
        let mut command = None;
        egui::ScrollArea::vertical().id_salt("hall").show(ui, |ui| {
            widgets::heading(ui, t!("hall.title"));
            ui.label(t!("hall.explain"));
            ui.add_space(8.0);
            let Some(status) = status else {
                widgets::message(ui, t!("hall.starting"));
                return;
            };
            if status.uncertified {
                widgets::warning_banner(ui, &t!("hall.uncertified"));
                return;
            }
            if let Some(address) = &status.listening {
                ui.label(t!("hall.listening", address = address.as_str()));
            }
            ui.checkbox(always, t!("hall.always"));
            ui.add_space(12.0);
            widgets::section(ui, t!("hall.peers"));
            if status.peers.is_empty() {
                ui.label(t!("hall.none_found"));
            } else {
                if let Some(chosen) = peers_ui(ui, &status.peers, status.busy) {
                    command = Some(chosen);
                }
            }
            ui.add_space(12.0);
            widgets::section(ui, t!("hall.by_address"));
            ui.horizontal_wrapped(|ui| {
                let label = ui.label(t!("hall.address"));
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.address)
                            .hint_text("192.168.1.20:7878")
                            .desired_width(220.0),
                    )
                    .labelled_by(label.id);
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let button = ui.add_enabled(
                    !status.busy && !self.address.trim().is_empty(),
                    egui::Button::new(t!("hall.connect")),
                );
                if (button.clicked() || enter) && !self.address.trim().is_empty() {
                    command = Some(Command::Exchange(self.address.trim().to_string()));
                }
            });
            ui.add_space(12.0);
            if status.busy {
                ui.horizontal(|ui| {
                    ui.add(egui::Spinner::new());
                    widgets::message(ui, t!("hall.busy"));
                });
            } else if let Some(last) = &status.last {
                widgets::message(
                    ui,
                    t!(
                        "hall.last",
                        name = last.name.as_str(),
                        user = last.user.as_str(),
                        time = widgets::local_time(&last.at).as_str()
                    ),
                );
            }
            if let Some(problem) = &status.error {
                widgets::error_banner(ui, &problem_text(problem));
            }
        });
        command
    }
}

/// The laptops as a table: name, user, last exchange, and a button each.
fn peers_ui(ui: &mut egui::Ui, peers: &[PeerRow], busy: bool) -> Option<Command> {
    let mut command = None;
    egui::Grid::new("hall_peers")
        .num_columns(4)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            widgets::column_header(ui, &t!("hall.column_name"));
            widgets::column_header(ui, &t!("hall.column_user"));
            widgets::column_header(ui, &t!("hall.column_last"));
            ui.label("");
            ui.end_row();
            for peer in peers {
                ui.label(&peer.name);
                ui.label(peer.user.as_deref().unwrap_or("–"));
                ui.label(
                    peer.last_exchange
                        .as_deref()
                        .map_or_else(|| t!("hall.never").into_owned(), widgets::local_time),
                );
                match &peer.address {
                    Some(address) => {
                        let button = ui.add_enabled(!busy, egui::Button::new(t!("hall.exchange")));
                        let name = t!("hall.exchange_with", name = peer.name.as_str());
                        button.ctx.accesskit_node_builder(button.id, |node| {
                            node.set_label(name.as_ref());
                        });
                        if button.clicked() {
                            command = Some(Command::Exchange(address.clone()));
                        }
                    }
                    None => {
                        ui.label(t!("hall.not_here"));
                    }
                }
                ui.end_row();
            }
        });
    command
}

/// The status bar's part: with whom this laptop last exchanged in the hall.
pub fn status_ui(ui: &mut egui::Ui, status: Option<&HallStatus>) {
    let Some(last) = status.and_then(|s| s.last.as_ref()) else {
        return;
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(t!(
            "hall.status",
            name = last.name.as_str(),
            user = last.user.as_str(),
            time = widgets::local_time(&last.at).as_str()
        ));
    });
}

fn problem_text(problem: &HallProblem) -> String {
    match problem {
        HallProblem::Unreachable(_) => t!("hall.unreachable"),
        HallProblem::Refused { reason, by_peer } => {
            let why = match reason {
                Refusal::OtherDepartment => t!("hall.reason_department"),
                Refusal::Revoked => t!("hall.reason_revoked"),
                Refusal::Certificate | Refusal::Proof => t!("hall.reason_certificate"),
                Refusal::Uncertified => t!("hall.uncertified"),
                Refusal::Itself => t!("hall.reason_itself"),
                Refusal::Protocol | Refusal::Other => t!("hall.reason_protocol"),
            };
            if *by_peer {
                t!("hall.refused_by_peer", why = why.as_ref())
            } else {
                t!("hall.refused_peer", why = why.as_ref())
            }
        }
        HallProblem::SomeRefused(1) => t!("hall.some_refused_one"),
        HallProblem::SomeRefused(n) => t!("hall.some_refused", n = n),
        HallProblem::Network(detail) => t!("hall.network", detail = detail.as_str()),
        HallProblem::Other(detail) => t!("hall.other", detail = detail.as_str()),
    }
    .into_owned()
}
