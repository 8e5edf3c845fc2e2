//! Several server instances on one PostgreSQL database behind a load
//! balancer without stickiness: laptops reach any instance on any sync,
//! an instance dies with SIGKILL mid-sync and comes back, and everything
//! converges as with one server. Runs where `SPRECHTAG_TEST_POSTGRES`
//! names a cluster (.ci/run starts one); says "skipped" elsewhere.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sprechtag::store::Store;
use sprechtag::sync::sync_now;
use sprechtag_e2e::balancer::Balancer;
use sprechtag_e2e::{Laptop, ServerProcess, case_numbers, free_port, workspace_binary};
use sprechtag_schemas::{CaseStatus, DocumentState};
use sprechtag_server::storage::test_database::TestDatabase;
use sprechtag_server::storage::{PostgresStorage, Role, Storage};

const DEPARTMENT: &str = "buergerbuero";

/// A one-time code registered in the shared database under the key every
/// instance shares (`server.key`).
fn enrolment_code(storage: &PostgresStorage, key: &[u8], name: &str) -> String {
    sprechtag_e2e::register_device(storage, key, name, Role::Caseworker, DEPARTMENT)
}

/// Syncs until a round exchanges everything (an instance may be down).
fn sync_until_complete(store: &mut Store, what: &str) {
    let started = Instant::now();
    loop {
        match sync_now(store) {
            Ok(report) if report.complete() && report.pending == 0 => return,
            Ok(_) | Err(_) => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: no complete sync within a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_instances_on_one_database_converge_through_a_balancer_and_survive_sigkill() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let storage = PostgresStorage::open(&database.url).expect("the database");
    // Every instance has the same enrolment-code key (server.key).
    let dirs = [
        tempfile::tempdir().expect("dir 1"),
        tempfile::tempdir().expect("dir 2"),
    ];
    let key = sprechtag_server::server_key(dirs[0].path()).expect("key");
    std::fs::copy(
        dirs[0].path().join("server.key"),
        dirs[1].path().join("server.key"),
    )
    .expect("share the key");
    let ports = [free_port(), free_port()];
    let mut instances = [
        ServerProcess::start_postgres(&database.url, dirs[0].path(), ports[0]),
        ServerProcess::start_postgres(&database.url, dirs[1].path(), ports[1]),
    ];
    let _ = rustls::crypto::ring::default_provider().install_default();
    let health: serde_json::Value =
        reqwest::blocking::get(format!("http://127.0.0.1:{}/health", ports[0]))
            .and_then(|r| r.json())
            .expect("health");
    assert_eq!(health["storage"], "postgresql", "{health}");
    assert!(health["schema_version"].as_i64().is_some_and(|v| v >= 1));
    let balancer = Balancer::start(&[instances[0].url.clone(), instances[1].url.clone()]);

    let mut laptops: Vec<Laptop> = ["a", "b", "c"]
        .iter()
        .map(|name| Laptop::enrolled(&balancer.url, &enrolment_code(&storage, &key, name)))
        .collect();
    let case = laptops[0].new_case("Krüger", &["personalausweis", "wohngeld"]);
    for laptop in &mut laptops {
        sync_until_complete(&mut laptop.store, "first round");
    }
    assert!(laptops[2].store.case(&case.id).is_ok(), "c has the case");

    // Offline edits of one case on a and b; new cases on c.
    let r0 = case.requests[0].clone();
    laptops[0]
        .store
        .set_case_field(&case.id, "citizen.phone", "0345 998877")
        .expect("phone");
    laptops[0]
        .store
        .check_document(
            &case.id,
            &r0.id,
            &r0.documents[0].id,
            DocumentState::Presented,
        )
        .expect("check");
    laptops[1]
        .store
        .set_case_field(&case.id, "status", "waiting_for_documents")
        .expect("status");
    laptops[1]
        .store
        .set_case_field(&case.id, "notes", "Rückruf am Dienstag.")
        .expect("notes");
    let mut made_on_c = Vec::new();
    for i in 0..25 {
        made_on_c.push(
            laptops[2]
                .new_case(&format!("Neu{i}"), &["hund-anmelden"])
                .number,
        );
    }

    // c uploads its cases; the instance that holds one of its requests
    // unanswered is killed right then (SIGKILL: no shutdown, no flush), and
    // the balancer shows the request was cut. Should c's sync slip through
    // between two looks, it tries again with more cases.
    let mut c = laptops.pop().expect("c");
    let mut victim = None;
    for attempt in 0..5 {
        if attempt > 0 {
            for i in 0..25 {
                made_on_c.push(
                    c.new_case(&format!("Nochmal{attempt}-{i}"), &["hund-anmelden"])
                        .number,
                );
            }
        }
        let uploading = std::thread::spawn(move || {
            let outcome = sync_now(&mut c.store);
            (c, outcome)
        });
        victim = loop {
            if let Some(index) = balancer
                .upstreams
                .iter()
                .position(|u| u.awaiting.load(Ordering::SeqCst) > 0)
            {
                instances[index].kill();
                break Some(index);
            }
            if uploading.is_finished() {
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let (back, _outcome) = uploading.join().expect("c's sync");
        c = back;
        if victim.is_some() {
            break;
        }
    }
    laptops.push(c);
    let victim = victim.expect("an instance killed while it held one of c's requests");
    let started = Instant::now();
    while balancer.upstreams[victim].cut.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the killed instance's request was answered: the kill did not land mid-request"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Meanwhile the others sync through whatever instance lives.
    sync_until_complete(&mut laptops[0].store, "a while an instance is down");
    sync_until_complete(&mut laptops[1].store, "b while an instance is down");
    instances[victim] =
        ServerProcess::start_postgres(&database.url, dirs[victim].path(), ports[victim]);
    for _ in 0..2 {
        for laptop in &mut laptops {
            sync_until_complete(&mut laptop.store, "after the restart");
        }
    }

    let heads: Vec<Vec<automerge::ChangeHash>> = laptops
        .iter_mut()
        .map(|l| {
            let mut heads = l.store.case_heads(&case.id).expect("heads");
            heads.sort();
            heads
        })
        .collect();
    assert_eq!(heads[0], heads[1], "a and b");
    assert_eq!(heads[1], heads[2], "b and c");
    let on_c = laptops[2].store.case(&case.id).expect("case on c");
    assert_eq!(on_c.citizen.phone, "0345 998877");
    assert_eq!(on_c.status, CaseStatus::WaitingForDocuments);
    assert_eq!(on_c.notes.as_str(), "Rückruf am Dienstag.");
    assert_eq!(
        on_c.requests[0].documents[0].state,
        DocumentState::Presented
    );
    let numbers = case_numbers(&laptops[0].store);
    for number in &made_on_c {
        assert!(numbers.contains(number), "{number} from c reached a");
    }
    assert_eq!(case_numbers(&laptops[1].store), numbers);
    assert_eq!(case_numbers(&laptops[2].store), numbers);
    for laptop in &laptops {
        assert_eq!(laptop.store.pending_count().expect("pending"), 0);
    }
    // Each case stored once, and both instances served.
    let figures = storage.figures().expect("figures");
    assert_eq!(figures.documents as usize, numbers.len(), "{figures:?}");
    for (index, count) in balancer.handed().into_iter().enumerate() {
        assert!(count > 0, "instance {} got no request", index + 1);
    }
}

/// Where the fixture laptop was enrolled (tests/fixtures/*/README.md).
const FIXTURE_SERVER_PORT: u16 = 47913;

#[test]
fn a_sqlite_deployment_moves_to_postgres_and_its_laptop_has_nothing_to_download() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v0.1.0");
    let work = tempfile::tempdir().expect("dir");
    let server_dir = work.path().join("server");
    let laptop_dir = work.path().join("laptop");
    sprechtag_e2e::copy_private(&fixture.join("server"), &server_dir);
    sprechtag_e2e::copy_private(&fixture.join("laptop"), &laptop_dir);
    let migrate = || {
        Command::new(workspace_binary("sprechtag-server"))
            .args(["migrate", "--from-data-dir"])
            .arg(&server_dir)
            .args(["--to", &database.url])
            .arg("--db-key-file")
            .arg(server_dir.join("db.key"))
            .env_remove("SPRECHTAG_SERVER_CONFIG")
            .output()
            .expect("run migrate")
    };
    let output = migrate();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert!(
        report["moved"]["documents"]
            .as_u64()
            .is_some_and(|n| n >= 30),
        "{report}"
    );
    assert!(
        report["moved"]["devices"].as_u64().is_some_and(|n| n >= 1),
        "{report}"
    );
    // A second run would overwrite: refused, nothing changed.
    let again = migrate();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds"), "{stderr}");

    // The same identity and epoch: the laptop does not start over.
    let sqlite = sprechtag_server::storage::SqliteStorage::open_with_key(
        &server_dir,
        Some(
            &sprechtag_server::storage::DatabaseKey::read(&server_dir.join("db.key")).expect("key"),
        ),
    )
    .expect("the old database");
    let postgres = PostgresStorage::open(&database.url).expect("the new database");
    assert_eq!(
        sqlite.identity().expect("id").epoch,
        postgres.identity().expect("id").epoch
    );
    drop(sqlite);
    let _instance = ServerProcess::start_postgres(&database.url, &server_dir, FIXTURE_SERVER_PORT);
    let mut laptop =
        Store::open(&laptop_dir, "fixture-passphrase", sprechtag_e2e::catalog()).expect("laptop");
    let before = case_numbers(&laptop);
    let report = sync_now(&mut laptop).expect("the laptop syncs with the moved server");
    assert!(report.complete(), "{report:?}");
    assert!(!report.started_over, "{report:?}");
    assert_eq!(
        report.downloaded, 0,
        "nothing to download again: {report:?}"
    );
    assert_eq!(case_numbers(&laptop), before);
    // And it carries on: an edit goes up, a new laptop receives every case.
    laptop
        .set_case_field(
            before.iter().next().expect("a case"),
            "notes",
            "Nach dem Umzug.",
        )
        .expect("edit");
    let report = sync_now(&mut laptop).expect("sync the edit");
    assert_eq!(report.uploaded, 1, "{report:?}");
    let key = sprechtag_server::server_key(&server_dir).expect("server key");
    let mut fresh = Laptop::enrolled(
        &format!("http://127.0.0.1:{FIXTURE_SERVER_PORT}"),
        &enrolment_code(&postgres, &key, "neu"),
    );
    fresh.sync();
    assert_eq!(case_numbers(&fresh.store), before);
}
