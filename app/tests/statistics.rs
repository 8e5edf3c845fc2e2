//! The committee's figures from real store operations: completeness at the
//! first visit is taken when the office hour closes and does not change when
//! documents arrive later; days from visit to done; visitors and services.

use std::sync::Arc;

use sprechtag::store::{NewOfficeHour, Store};
use sprechtag_schemas::{Case, Citizen, DocumentState, IsoDate, Request};

const PASSPHRASE: &str = "Leuchtturm-Fischbrötchen-7";

#[test]
fn completeness_is_counted_at_the_first_visit_and_days_to_done_from_the_visit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let mut store = Store::create(dir.path(), PASSPHRASE, catalog.clone()).expect("store");
    let office_hour = store
        .open_office_hour(NewOfficeHour {
            village: "Kleinbrück".into(),
            venue: "DGH".into(),
            date: IsoDate::today(),
            caseworker: "Anna Schäfer".into(),
        })
        .expect("office hour");
    let visit = |surname: &str, service: &str, state: DocumentState, days_ago: i64| {
        let mut case = Case::draft(Citizen {
            surname: surname.into(),
            ..Citizen::default()
        });
        case.office_hour_id = Some(office_hour.id.clone());
        case.created_at = (chrono::Utc::now() - chrono::Duration::days(days_ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut request = Request::for_service(catalog.service(service).expect("service"));
        for document in &mut request.documents {
            document.state = state;
        }
        case.requests.push(request);
        case
    };
    let created = store
        .create_cases(vec![
            visit("Albers", "wohngeld", DocumentState::Presented, 4),
            visit("Bauer", "personalausweis", DocumentState::Missing, 0),
        ])
        .expect("cases");
    store.close_office_hour(&office_hour.id).expect("close");

    // Documents brought later do not make the first visit complete.
    let late = &created[1];
    for document in &late.requests[0].documents {
        store
            .check_document(
                &late.id,
                &late.requests[0].id,
                &document.id,
                DocumentState::Presented,
            )
            .expect("brought later");
    }
    store
        .set_case_field(&created[0].id, "status", "done")
        .expect("done");

    let statistics = store.statistics().expect("statistics");
    assert_eq!(statistics.complete_at_first_visit, Some(0.5));
    let days = statistics.days_to_done_median.expect("one done case");
    assert!((3.9..4.1).contains(&days), "{days}");
    assert_eq!(statistics.done_cases, 1);
    assert_eq!(statistics.villages[0].label, "Kleinbrück");
    assert_eq!(statistics.villages[0].count, 2);
    assert_eq!(statistics.services.len(), 2);
    let figures = &statistics.office_hours[0];
    assert_eq!(
        (
            figures.visitors,
            figures.requests,
            figures.complete_requests
        ),
        (2, Some(2), Some(1))
    );

    // Reopened, the case is no longer done and leaves the figure.
    store
        .set_case_field(&created[0].id, "status", "open")
        .expect("reopened");
    assert_eq!(store.statistics().expect("statistics").done_cases, 0);
}
