//! A laptop whose clock is far off says so in its status bar, in words a
//! screen reader reads. Its own test binary: the clock correction is
//! process-wide (one app per laptop), and a year of it would move every
//! other test's dates.

use sprechtag::store::Store;
use sprechtag_e2e::gui::{Gui, Queryable};
use sprechtag_e2e::{PASSPHRASE, catalog, enrol_offline};

#[test]
fn a_clock_358_days_behind_the_servers_is_told_in_the_status_bar() {
    let root = tempfile::tempdir().expect("dir");
    let data = root.path().join("data");
    let mut store = Store::create(&data, PASSPHRASE, catalog()).expect("a store");
    enrol_offline(&mut store, sprechtag_schemas::Role::Caseworker);
    // What the last sync measured: the server's clock 358 days ahead.
    store
        .record_clock_offset(358 * 24 * 3600 * 1000)
        .expect("record the offset");
    drop(store);
    let mut gui = Gui::new(&data);
    gui.unlock();
    gui.wait_for("the clock warning", |h| {
        h.query_by_label_contains("Die Uhr dieses Laptops geht 358 Tage nach")
            .is_some()
    });
    // Dates follow the server's clock meanwhile.
    let today = sprechtag_schemas::IsoDate::today();
    let laptop_today = sprechtag_schemas::IsoDate::new(chrono::Local::now().date_naive());
    assert!(
        today > laptop_today,
        "{today} is the server's day, not {laptop_today}"
    );
}
