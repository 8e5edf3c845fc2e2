//! The satisfaction survey, on the caseworker's laptop turned to the
//! citizen: three questions in plain German, school grades as big buttons,
//! nothing else on the screen. The rating is stored with the office hour,
//! never with a case.

use rust_i18n::t;
use sprechtag_schemas::Rating;

use super::widgets;

/// What the survey screen asks the app to do.
pub enum SurveyAction {
    None,
    Submit(Rating),
    /// Back to the caseworker's view (after thanks, or cancelled).
    Close,
}

pub struct Survey {
    pub office_hour_id: String,
    grades: [Option<u8>; 3],
    thanked: bool,
}

const QUESTIONS: [&str; 3] = ["survey.q_advice", "survey.q_clarity", "survey.q_place"];

impl Survey {
    pub fn new(office_hour_id: String) -> Survey {
        Survey {
            office_hour_id,
            grades: [None; 3],
            thanked: false,
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) -> SurveyAction {
        let mut action = SurveyAction::None;
        ui.style_mut().text_styles.iter_mut().for_each(|(_, font)| {
            font.size *= 1.6;
        });
        if self.thanked {
            ui.vertical_centered(|ui| {
                ui.add_space(80.0);
                widgets::heading(ui, t!("survey.thanks"));
                ui.add_space(40.0);
                if ui.button(t!("survey.back")).clicked() {
                    action = SurveyAction::Close;
                }
            });
            return action;
        }
        egui::ScrollArea::vertical()
            .id_salt("survey")
            .show(ui, |ui| {
                widgets::heading(ui, t!("survey.title"));
                ui.label(t!("survey.intro"));
                ui.add_space(16.0);
                for (question, grade) in QUESTIONS.iter().zip(self.grades.iter_mut()) {
                    let question = t!(*question).into_owned();
                    widgets::section(ui, &question);
                    ui.horizontal_wrapped(|ui| {
                        for value in 1..=6_u8 {
                            let text = format!("{value} – {}", grade_word(value));
                            let selected = *grade == Some(value);
                            // Framed like every button, filled when chosen.
                            let button = ui.add(
                                egui::Button::new(&text)
                                    .selected(selected)
                                    .min_size(egui::vec2(150.0, 64.0)),
                            );
                            let name = format!("{question} {text}");
                            button.widget_info(|| {
                                egui::WidgetInfo::selected(
                                    egui::Role::RadioButton,
                                    true,
                                    selected,
                                    &name,
                                )
                            });
                            if button.clicked() {
                                *grade = Some(value);
                            }
                        }
                    });
                    ui.add_space(16.0);
                }
                ui.horizontal(|ui| {
                    let rating = Rating {
                        advice: self.grades[0],
                        clarity: self.grades[1],
                        place: self.grades[2],
                    };
                    let send = ui.add_enabled(
                        rating.is_valid(),
                        egui::Button::new(t!("survey.submit")).min_size(egui::vec2(220.0, 64.0)),
                    );
                    if send.clicked() {
                        action = SurveyAction::Submit(rating);
                        self.thanked = true;
                        self.grades = [None; 3];
                    }
                    if ui.button(t!("survey.cancel")).clicked() {
                        action = SurveyAction::Close;
                    }
                });
            });
        action
    }
}

fn grade_word(grade: u8) -> String {
    match grade {
        1 => t!("survey.grade_1"),
        2 => t!("survey.grade_2"),
        3 => t!("survey.grade_3"),
        4 => t!("survey.grade_4"),
        5 => t!("survey.grade_5"),
        _ => t!("survey.grade_6"),
    }
    .into_owned()
}
