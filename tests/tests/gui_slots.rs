//! The booking form proposes quiet slots: the caseworker picks the days the
//! citizen can come, the form proposes the three least busy times there
//! (a citizen with a carer gets none right after a booking), and choosing
//! one fills in date and time.

use egui::accesskit::Role;
use egui_kittest::kittest::{By, NodeT};
use sprechtag::store::Store;
use sprechtag::store::appointments::NewAppointment;
use sprechtag_e2e::gui::{Gui, Queryable, button_starting_with};
use sprechtag_e2e::{PASSPHRASE, catalog};
use sprechtag_schemas::{Case, Citizen, IsoDate, Request};

fn weekday_de(date: IsoDate) -> &'static str {
    date.weekday_german()
}

#[test]
fn the_booking_form_proposes_quiet_slots_on_the_citizens_days_and_fills_one_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = IsoDate::today().add_working_days(1);
    let number = {
        let mut store = Store::create(dir.path(), PASSPHRASE, catalog()).expect("create");
        // Two others booked at the main office first thing that day.
        for surname in ["Früh", "Frühauf"] {
            let case = store
                .create_case(Case::draft(Citizen {
                    surname: surname.into(),
                    ..Citizen::default()
                }))
                .expect("case");
            store
                .book_appointment(
                    &case.id,
                    NewAppointment {
                        date: day,
                        time: "08:00".into(),
                        place: "Bürgerbüro".into(),
                        office_hour_id: None,
                        purpose: "Unterlagen".into(),
                    },
                )
                .expect("book");
        }
        let mut draft = Case::draft(Citizen {
            surname: "Krüger".into(),
            ..Citizen::default()
        });
        draft.citizen.needs.accompanied_by_carer = true;
        draft.requests.push(Request::for_service(
            catalog().service("personalausweis").expect("service"),
        ));
        store.create_case(draft).expect("case").number
    };
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.open_from_list("krüger", &format!("{number} · Krüger"));
    // The citizen comes with a carer: a short wait is asked for already.
    let short_wait = "Kurze Wartezeit nötig (z. B. mit Begleitperson oder im Rollstuhl)";
    assert_eq!(
        gui.harness
            .get_by_role_and_label(Role::CheckBox, short_wait)
            .accesskit_node()
            .toggled(),
        Some(egui::accesskit::Toggled::True)
    );
    gui.activate(Role::CheckBox, weekday_de(day));
    gui.activate(Role::Button, "Ruhige Termine vorschlagen");
    gui.wait_for("the proposals", |h| {
        h.query_by_label_contains("ruhige Termine – einen wählen")
            .is_some()
    });
    let proposals: Vec<String> = gui
        .harness
        .query_all(By::new().predicate(button_starting_with(weekday_de(day))))
        .filter_map(|node| node.accesskit_node().label())
        .collect();
    assert_eq!(proposals.len(), 3, "{proposals:?}");
    for proposal in &proposals {
        assert!(
            proposal.contains("gebucht: 0"),
            "only free slots: {proposal}"
        );
        for taken in ["08:00", "08:30"] {
            assert!(
                !proposal.contains(&format!("{}, {taken}", day.to_german())),
                "not at or right after the bookings: {proposal}"
            );
        }
    }
    // Choosing one fills in date and time.
    gui.activate(Role::Button, &proposals[0]);
    let date = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Datum (TT.MM.JJJJ)")
        .value()
        .unwrap_or_default();
    let time = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Uhrzeit (HH:MM)")
        .value()
        .unwrap_or_default();
    assert!(
        proposals[0].contains(&format!("{date}, {time} Uhr")),
        "{date} {time} from {}",
        proposals[0]
    );
}
