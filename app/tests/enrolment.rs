//! Enrolment happens on the sync worker's connection while the UI's store
//! worker has its own: what one connection learns, the other must use.

use std::sync::Arc;

use sprechtag::store::{Enrolment, Store};
use sprechtag_schemas::{Case, Citizen};

const PASSPHRASE: &str = "enrolment-passphrase";

/// Regression: the UI's connection kept the prefix it read at unlock, so
/// every case recorded after enrolling in the settings was numbered with
/// the device's old, random prefix until the app was restarted.
#[test]
fn a_case_recorded_on_another_connection_after_enrolment_takes_the_servers_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let mut ui = Store::create(dir.path(), PASSPHRASE, catalog.clone()).expect("create");
    let mut sync = Store::open(dir.path(), PASSPHRASE, catalog).expect("second connection");
    let old_prefix = ui.device().prefix.clone();
    let server_prefix = if old_prefix == "ANS" { "BRK" } else { "ANS" };
    sync.enrol(
        &Enrolment {
            server_url: "http://127.0.0.1:9".into(),
            token: "t".into(),
            device_id: "d".into(),
            user: "Anna Schäfer".into(),
            role: sprechtag_schemas::Role::Caseworker,
            department: "buergerbuero".into(),
            allow_insecure_http: false,
            ca_cert: None,
        },
        server_prefix,
    )
    .expect("enrol");

    let case = ui
        .create_case(Case::draft(Citizen {
            surname: "Krüger".into(),
            ..Citizen::default()
        }))
        .expect("case");
    assert!(
        case.number.starts_with(&format!("{server_prefix}-")),
        "{} after enrolling with {server_prefix}",
        case.number
    );
    assert_eq!(ui.device().prefix, server_prefix);
}
