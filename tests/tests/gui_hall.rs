//! "Im Saal abgleichen" in the desktop app, driven through its
//! accessibility tree (kittest) on a real, certified store: another laptop
//! of the department, announced on the network, is listed by name and
//! exchanged with by its button; one reached by its typed address too; the
//! status bar says with whom and when.

use egui::accesskit::Role;
use sprechtag::store::CaseFilter;
use sprechtag_e2e::gui::{Gui, Queryable};
use sprechtag_e2e::{HallPeer, TestServer};
use sprechtag_schemas::Role as DeviceRole;

#[test]
fn a_laptop_nearby_is_listed_by_name_and_its_cases_arrive_with_one_keypress() {
    // mDNS on a port of this test's own: the machine's responder, or
    // another test, does not answer here.
    let mdns_port = 20_000 + (std::process::id() % 20_000) as u16;
    sprechtag::hall::discovery::use_port(mdns_port);
    let server = TestServer::start();
    let mut field = server.laptop("Laptop A", DeviceRole::Caseworker, "buergerbuero");
    field.sync();
    let mut colleague = server.laptop("Laptop B", DeviceRole::Caseworker, "buergerbuero");
    let brought = colleague.new_case("Brandt", &["wohngeld"]);
    colleague.sync();
    let data_dir = field.data_dir();
    // The data dir stays (its TempDir lives on); the store is closed.
    drop(field.store);
    drop(server);
    // The colleague records one more visit offline, and announces itself.
    let offline = colleague.new_case("Bergmann", &["personalausweis"]);
    let peer = HallPeer::announced(colleague);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Im Saal");
    gui.wait_for("the laptop nearby", |h| {
        h.query_by_role_and_label(Role::Button, "Mit Laptop B abgleichen")
            .is_some()
    });
    gui.activate(Role::Button, "Mit Laptop B abgleichen");
    gui.wait_for("the exchange", |h| {
        h.query_by_label_contains("Zuletzt abgeglichen mit Laptop B (Laptop B-user)")
            .is_some()
    });
    // The status bar says it too, in every view.
    assert!(gui.shows("Im Saal zuletzt: Laptop B (Laptop B-user)"));
    assert!(!gui.shows("nicht ab"), "nothing was refused");
    // The user is known now, in the row of the list.
    assert!(gui.harness.query_by_label("Laptop B-user").is_some());
    drop(gui);
    let (mut colleague, served) = peer.join();
    assert!(served.iter().all(Result::is_ok), "{served:?}");

    // Both cases arrived on this laptop; nothing went the other way that
    // was not there already.
    let mut store = sprechtag::store::Store::open(
        &data_dir,
        sprechtag_e2e::PASSPHRASE,
        sprechtag_e2e::catalog(),
    )
    .expect("open");
    let names: Vec<String> = store
        .list_cases(&CaseFilter::default())
        .expect("list")
        .rows
        .into_iter()
        .map(|row| row.id)
        .collect();
    assert!(names.contains(&brought.id), "{names:?}");
    assert!(names.contains(&offline.id), "{names:?}");
    assert_eq!(
        colleague.store.hall_offer(None).expect("offer"),
        store.hall_offer(None).expect("offer")
    );
}

#[test]
fn a_laptop_reached_by_its_typed_address_exchanges_and_a_wrong_address_is_said_plainly() {
    let server = TestServer::start();
    // Another department than the other test's: their laptops, announced
    // in the same process, do not list each other.
    let mut field = server.laptop("Laptop A", DeviceRole::Caseworker, "ordnungsamt");
    field.sync();
    let mut colleague = server.laptop("Laptop C", DeviceRole::Caseworker, "ordnungsamt");
    colleague.sync();
    colleague.new_case("Claasen", &["wohngeld"]);
    let data_dir = field.data_dir();
    // The data dir stays (its TempDir lives on); the store is closed.
    drop(field.store);
    drop(server);
    let peer = HallPeer::start(colleague);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Im Saal");
    gui.wait_for("the hall to listen", |h| {
        h.query_by_label_contains("Dieses Laptop ist erreichbar unter")
            .is_some()
    });
    // Nobody listens here.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nowhere = nobody.local_addr().expect("address").to_string();
    drop(nobody);
    gui.fill(Role::TextInput, "Adresse (Rechner:Port)", &nowhere);
    gui.activate(Role::Button, "Verbinden und abgleichen");
    gui.wait_for("the plain message", |h| {
        h.query_by_label_contains("Unter dieser Adresse antwortet kein Laptop")
            .is_some()
    });
    gui.fill(Role::TextInput, "Adresse (Rechner:Port)", &peer.address);
    gui.activate(Role::Button, "Verbinden und abgleichen");
    gui.wait_for("the exchange", |h| {
        h.query_by_label_contains("Zuletzt abgeglichen mit Laptop C")
            .is_some()
    });
    assert!(!gui.shows("antwortet kein Laptop"), "the old error is gone");
    // Listed by name and user, and — reached at that address — with its
    // own button, as if it had been found on the network.
    assert!(gui.harness.query_by_label("Laptop C").is_some());
    assert!(gui.harness.query_by_label("Laptop C-user").is_some());
    assert!(!gui.shows("nicht im Netz"));
    gui.activate(Role::Button, "Mit Laptop C abgleichen");
    drop(gui);
    let (_, served) = peer.join();
    // The typed address and the button; more if a round came due.
    assert!(served.len() >= 2, "{served:?}");
    assert!(served.iter().all(Result::is_ok), "{served:?}");
}

/// A colleague's caseworker laptop passes on a verdict it wrote with
/// automerge directly (the app would not let it): the view says that
/// documents were not taken, and the case on this laptop stays as it was.
#[test]
fn a_verdict_a_caseworker_laptop_wrote_is_not_taken_and_the_view_says_so() {
    let server = TestServer::start();
    let mut field = server.laptop("Laptop A", DeviceRole::Caseworker, "sozialamt");
    let mut colleague = server.laptop("Laptop D", DeviceRole::Caseworker, "sozialamt");
    let case = colleague.new_case("Urteilsfrei", &["wohngeld"]);
    colleague.sync();
    field.sync();
    let data_dir = field.data_dir();
    drop(field.store);
    drop(server);
    colleague.forge_verdict(&case.id, "approved", "Laptop D-user");
    let peer = HallPeer::start(colleague);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Im Saal");
    gui.wait_for("the hall to listen", |h| {
        h.query_by_label_contains("Dieses Laptop ist erreichbar unter")
            .is_some()
    });
    gui.fill(Role::TextInput, "Adresse (Rechner:Port)", &peer.address);
    gui.activate(Role::Button, "Verbinden und abgleichen");
    gui.wait_for("the refusal said", |h| {
        h.query_by_label_contains("ein Dokument wurde nicht übernommen")
            .is_some()
    });
    drop(gui);
    let (_, served) = peer.join();
    assert!(served.iter().all(Result::is_ok), "{served:?}");
    let mut store = sprechtag::store::Store::open(
        &data_dir,
        sprechtag_e2e::PASSPHRASE,
        sprechtag_e2e::catalog(),
    )
    .expect("open");
    let on_a = store.case(&case.id).expect("the case");
    assert!(on_a.review.is_none(), "{:?}", on_a.review);
}
