//! The back office works on what the field recorded: a caseworker laptop
//! records cases offline and syncs; a back-office device forwards a request
//! with a deadline and asks for clarification; the caseworker's laptop sees
//! both after its next sync, and the history names both devices.

use sprechtag::store::CaseFilter;
use sprechtag_e2e::TestServer;
use sprechtag_schemas::{CaseStatus, DocumentState, IsoDate, ReviewState};
use sprechtag_server::storage::Role;

#[test]
fn the_back_office_forwards_and_asks_and_the_caseworker_sees_it_after_sync() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", Role::Caseworker, "buergeramt");
    let mut office = server.laptop("backoffice-1", Role::Backoffice, "buergeramt");

    // Offline in the village hall.
    let case = field.new_case("Krüger", &["wohngeld", "personalausweis"]);
    let other = field.new_case("Lorenz", &["hund-anmelden"]);
    let wohngeld = case.requests[0].clone();
    field
        .store
        .check_document(
            &case.id,
            &wohngeld.id,
            &wohngeld.documents[0].id,
            DocumentState::Missing,
        )
        .expect("a document is missing");
    field.sync();

    // The back office.
    office.sync();
    let queue = office
        .store
        .list_cases(&CaseFilter::default())
        .expect("the review queue");
    assert_eq!(queue.total, 2);
    let due: IsoDate = IsoDate::today().add_working_days(10);
    office
        .store
        .forward_request(&case.id, &wohngeld.id, "sozialamt", Some(due))
        .expect("forward");
    office
        .store
        .review_case(
            &case.id,
            ReviewState::NeedsClarification,
            Some("Bitte Mietvertrag nachreichen"),
        )
        .expect("review");
    // Not overdue today; overdue the day after the deadline.
    let overdue = |store: &sprechtag::store::Store, day: IsoDate| {
        store
            .list_cases(&CaseFilter {
                overdue_on: Some(day),
                ..CaseFilter::default()
            })
            .expect("overdue list")
            .rows
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert!(overdue(&office.store, IsoDate::today()).is_empty());
    assert_eq!(
        overdue(&office.store, due.add_working_days(1)),
        std::slice::from_ref(&case.id)
    );
    office.sync();

    // Meanwhile the caseworker edited the case too; both edits stay.
    field
        .store
        .set_case_field(&case.id, "citizen.phone", "03456 7788")
        .expect("an edit in the field");
    field.sync();
    office.sync();

    for store in [&mut field.store, &mut office.store] {
        let seen = store.case(&case.id).expect("the case");
        let forwarding = seen.requests[0].forwarding.as_ref().expect("forwarded");
        assert_eq!(forwarding.office_id, "sozialamt");
        assert_eq!(forwarding.due, due);
        assert_eq!(seen.status, CaseStatus::Forwarded);
        assert_eq!(
            seen.review.as_ref().map(|r| r.state),
            Some(ReviewState::NeedsClarification)
        );
        assert_eq!(seen.comments.len(), 1);
        assert_eq!(seen.comments[0].text, "Bitte Mietvertrag nachreichen");
        assert_eq!(seen.citizen.phone, "03456 7788");
        // The index of each device knows the deadline as well.
        assert_eq!(
            overdue(store, due.add_working_days(1)),
            std::slice::from_ref(&case.id)
        );
    }
    assert_eq!(
        field.store.case_heads(&case.id).expect("heads"),
        office.store.case_heads(&case.id).expect("heads")
    );

    // The history lists the changes of both devices, by name.
    let history = field.store.case_history(&case.id).expect("history");
    let by_field: Vec<_> = history
        .iter()
        .filter(|e| e.by.starts_with("laptop-kleinbrueck"))
        .collect();
    let by_office: Vec<_> = history
        .iter()
        .filter(|e| e.by.starts_with("backoffice-1"))
        .collect();
    assert!(
        by_field
            .iter()
            .any(|e| e.changed.iter().any(|p| p == "citizen.phone")),
        "{history:#?}"
    );
    assert!(
        by_office.iter().any(|e| e
            .changed
            .iter()
            .any(|p| p.starts_with("requests.0.forwarding"))),
        "{history:#?}"
    );
    assert!(
        by_office
            .iter()
            .any(|e| e.changed.iter().any(|p| p == "review")),
        "{history:#?}"
    );
    assert_ne!(by_field[0].actor, by_office[0].actor);
    // The untouched case stays as recorded.
    assert!(
        office.store.case(&other.id).expect("other").requests[0]
            .forwarding
            .is_none()
    );
}

/// A tour planned in the back office reaches the caseworker's laptop; the
/// caseworker books a follow-up into it and opens it on the day.
#[test]
fn a_tour_planned_in_the_back_office_reaches_the_laptop_and_takes_bookings() {
    use sprechtag::store::NewOfficeHour;
    use sprechtag::store::appointments::NewAppointment;
    use sprechtag_schemas::OfficeHourStatus;

    let server = TestServer::start();
    let mut field = server.laptop("laptop-1", Role::Caseworker, "buergeramt");
    let mut office = server.laptop("backoffice-1", Role::Backoffice, "buergeramt");
    let mut elsewhere = server.laptop("laptop-other", Role::Caseworker, "ordnungsamt");
    let in_two_weeks = IsoDate::today().add_working_days(10);
    let planned = office
        .store
        .plan_office_hour(
            NewOfficeHour {
                village: "Oberwiesental".into(),
                venue: "Alte Schule".into(),
                date: in_two_weeks,
                caseworker: "Anna Schäfer".into(),
            },
            "9:00",
            "12:30",
        )
        .expect("plan");
    assert!(
        office
            .store
            .plan_office_hour(
                NewOfficeHour {
                    village: "Oberwiesental".into(),
                    venue: String::new(),
                    date: in_two_weeks,
                    caseworker: "Anna Schäfer".into(),
                },
                "12:00",
                "09:00",
            )
            .is_err(),
        "an office hour that ends before it starts is refused"
    );
    office.sync();
    field.sync();
    elsewhere.sync();

    let rows = field.store.office_hours().expect("office hours");
    let row = rows
        .iter()
        .find(|r| r.id == planned.id)
        .expect("the planned office hour on the laptop");
    assert_eq!(row.status, OfficeHourStatus::Planned);
    assert_eq!(row.start_time.as_deref(), Some("09:00"));
    assert_eq!(row.end_time.as_deref(), Some("12:30"));
    assert!(
        elsewhere
            .store
            .office_hours()
            .expect("office hours")
            .iter()
            .all(|r| r.id != planned.id),
        "another department's laptop does not get the tour"
    );

    let case = field.new_case("Krüger", &["wohngeld"]);
    let (_, booked) = field
        .store
        .book_appointment(
            &case.id,
            NewAppointment {
                date: in_two_weeks,
                time: "10:15".into(),
                place: String::new(),
                office_hour_id: Some(planned.id.clone()),
                purpose: "Mietvertrag vorlegen".into(),
            },
        )
        .expect("a follow-up at the planned office hour");
    assert!(booked.place.contains("Oberwiesental"), "{booked:?}");
    let opened = field.store.begin_office_hour(&planned.id).expect("begin");
    assert_eq!(opened.status, OfficeHourStatus::Open);
    field.sync();
    office.sync();
    let seen = office.store.office_hour(&planned.id).expect("office hour");
    assert_eq!(seen.status, OfficeHourStatus::Open);
    let case = office.store.case(&case.id).expect("case");
    assert_eq!(
        case.appointments[0].office_hour_id.as_deref(),
        Some(planned.id.as_str())
    );
}
