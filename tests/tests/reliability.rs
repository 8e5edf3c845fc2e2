//! Reliability: damaged files, restored laptops and servers, hostile
//! numbers on the wire. Each test is named after a defect a reliability
//! review found in an earlier release, and reproduced it first.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use sprechtag::store::{DATABASE_FILE, Store, StoreError};
use sprechtag_e2e::{
    Laptop, PASSPHRASE, Raw, TestServer, case_numbers as numbers, catalog, raw_server_connection,
    server_command, workspace_binary,
};
use sprechtag_schemas::Role;
use sprechtag_schemas::wire::{self, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use sprechtag_server::storage::Storage;

/// Overwrites `len` bytes of `path` at `offset` with a pattern.
fn damage(path: &Path, offset: u64, len: usize) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for damage");
    file.seek(SeekFrom::Start(offset)).expect("seek");
    file.write_all(&vec![0x5a; len]).expect("damage");
    file.sync_all().expect("sync");
}

/// A connection to a server's database with everything in the database
/// file (not the log), and the page number of its devices table — which
/// every request reads.
fn devices_page(server_dir: &Path) -> (rusqlite::Connection, u64) {
    let conn = raw_server_connection(server_dir);
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    let root = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'devices'",
            [],
            |r| r.get(0),
        )
        .expect("devices' page");
    (conn, root)
}

/// `sprechtag --data-dir DIR ARGS` with the test passphrase.
fn app(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(workspace_binary("sprechtag"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("run sprechtag")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A store with a few cases, closed again; its data dir.
fn store_with_cases(root: &Path, count: usize) -> std::path::PathBuf {
    let dir = root.join("data");
    let mut laptop = Store::create(&dir, PASSPHRASE, catalog()).expect("create");
    for i in 0..count {
        let mut case = sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
            surname: format!("Beispiel{i}"),
            given_names: "Erika".into(),
            ..sprechtag_schemas::Citizen::default()
        });
        case.notes = "Ein längerer Vermerk, damit die Datenbank mehrere Seiten hat. "
            .repeat(20)
            .into();
        laptop.create_case(case).expect("create a case");
    }
    drop(laptop);
    dir
}

#[test]
fn a_zero_byte_database_is_an_error_that_names_the_file_not_a_fresh_store() {
    let root = tempfile::tempdir().expect("dir");
    let dir = store_with_cases(root.path(), 2);
    let database = dir.join(DATABASE_FILE);
    std::fs::write(&database, b"").expect("empty the database");
    let key_before = std::fs::read(dir.join("key.json")).expect("key");
    let output = app(&dir, &["case", "list"]);
    assert!(!output.status.success(), "an empty database must not open");
    assert!(
        stderr(&output).contains(&database.display().to_string()),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));
    // Nor does a command that records something make a store over it.
    let output = app(
        &dir,
        &[
            "office-hour",
            "open",
            "--place",
            "Kleinbrück, Saal",
            "--date",
            "2026-12-03",
            "--caseworker",
            "A",
        ],
    );
    assert!(!output.status.success());
    assert_eq!(
        std::fs::read(dir.join("key.json")).expect("key"),
        key_before
    );
    assert_eq!(std::fs::metadata(&database).expect("db").len(), 0);
}

#[test]
fn a_database_moved_away_never_makes_a_new_store_or_key_file_and_opens_when_put_back() {
    let root = tempfile::tempdir().expect("dir");
    let dir = store_with_cases(root.path(), 3);
    let database = dir.join(DATABASE_FILE);
    let aside = root.path().join("moved.db");
    std::fs::rename(&database, &aside).expect("move the database away");
    let key_before = std::fs::read(dir.join("key.json")).expect("key");
    for args in [
        &["case", "list"][..],
        &["init"][..],
        &[
            "office-hour",
            "open",
            "--place",
            "A, B",
            "--date",
            "2026-12-03",
            "--caseworker",
            "A",
        ][..],
    ] {
        let output = app(&dir, args);
        assert!(!output.status.success(), "{args:?} must fail");
        assert!(
            stderr(&output).contains(&database.display().to_string()),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(matches!(
        Store::create(&dir, PASSPHRASE, catalog()),
        Err(StoreError::Incomplete { .. })
    ));
    assert_eq!(
        std::fs::read(dir.join("key.json")).expect("key"),
        key_before,
        "key.json kept"
    );
    assert!(!database.exists(), "no new database was made");
    std::fs::rename(&aside, &database).expect("put it back");
    let store = Store::open(&dir, PASSPHRASE, catalog()).expect("the original opens again");
    assert_eq!(numbers(&store).len(), 3);
}

#[test]
fn a_damaged_page_in_the_middle_opens_the_store_read_only_and_says_so() {
    let root = tempfile::tempdir().expect("dir");
    let dir = store_with_cases(root.path(), 40);
    let database = dir.join(DATABASE_FILE);
    let pages = std::fs::metadata(&database).expect("db").len() / 4096;
    assert!(pages > 20, "a store of several pages ({pages})");
    // A page near the end: the cases' documents.
    damage(&database, (pages - 3) * 4096 + 200, 64);
    let mut store = Store::open(&dir, PASSPHRASE, catalog()).expect("opens for reading");
    let report = store
        .damage()
        .expect("the damage is found at opening")
        .to_string();
    assert!(report.contains(&database.display().to_string()), "{report}");
    assert!(
        !numbers(&store).is_empty(),
        "the lists still show what is readable"
    );
    let before = std::fs::read(&database).expect("bytes");
    let refused = store.create_case(sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
        surname: "Neu".into(),
        ..sprechtag_schemas::Citizen::default()
    }));
    assert!(matches!(refused, Err(StoreError::ReadOnly)), "{refused:?}");
    drop(store);
    assert_eq!(
        std::fs::read(&database).expect("bytes"),
        before,
        "nothing written into it"
    );
    // The CLI tells it too, and `doctor` fails.
    let output = app(&dir, &["doctor"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("damaged"), "{}", stderr(&output));
}

#[test]
fn damage_to_the_first_page_or_the_salt_is_not_reported_as_a_wrong_passphrase() {
    let root = tempfile::tempdir().expect("dir");
    let dir = store_with_cases(root.path(), 2);
    let database = dir.join(DATABASE_FILE);
    let original = std::fs::read(&database).expect("bytes");
    damage(&database, 100, 16);
    match Store::open(&dir, PASSPHRASE, catalog()) {
        Err(StoreError::Damaged { path, .. }) => assert_eq!(path, database),
        other => panic!("first page damaged: {other:?}"),
    }
    assert!(matches!(
        Store::open(&dir, "another passphrase", catalog()),
        Err(StoreError::WrongPassphrase)
    ));
    std::fs::write(&database, original).expect("repair");
    let key_file = dir.join("key.json");
    let key = std::fs::read_to_string(&key_file).expect("key");
    let salt = key
        .split("\"salt\": \"")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .expect("a salt")
        .to_string();
    let flipped = format!(
        "{}{}",
        if salt.starts_with('0') { '1' } else { '0' },
        &salt[1..]
    );
    std::fs::write(&key_file, key.replace(&salt, &flipped)).expect("damage the salt");
    match Store::open(&dir, PASSPHRASE, catalog()) {
        Err(StoreError::Damaged { path, detail }) => {
            assert_eq!(path, key_file);
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("salt damaged: {other:?}"),
    }
}

#[test]
fn key_json_values_out_of_range_are_refused_before_any_allocation() {
    let root = tempfile::tempdir().expect("dir");
    let dir = store_with_cases(root.path(), 1);
    let key_file = dir.join("key.json");
    let key = std::fs::read_to_string(&key_file).expect("key");
    for (field, value) in [
        ("memory_kib", "4294967295"),
        ("iterations", "4294967295"),
        ("parallelism", "0"),
    ] {
        let text: String = key
            .lines()
            .map(|line| {
                if line.trim_start().starts_with(&format!("\"{field}\"")) {
                    format!("  \"{field}\": {value},")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&key_file, text).expect("write");
        let started = std::time::Instant::now();
        let output = app(&dir, &["case", "list"]);
        assert!(
            !output.status.success(),
            "{field} = {value} must be refused"
        );
        let message = stderr(&output);
        assert!(
            message.contains(field) && message.contains("key.json"),
            "{message}"
        );
        assert!(
            !message.contains("panicked") && !message.contains("memory allocation"),
            "{message}"
        );
        // Refused at once, not after a derivation of hours.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
    std::fs::write(&key_file, key).expect("restore");
    Store::open(&dir, PASSPHRASE, catalog()).expect("opens with its key file back");
}

#[test]
fn a_restored_laptop_gets_back_everything_the_server_had_and_edits_on() {
    let server = TestServer::start();
    let mut laptop = server.laptop("a", Role::Caseworker, "buergerbuero");
    let first = laptop.new_case("Vorher", &[]);
    laptop.sync();
    let backup = laptop.dir.path().join("vorher.sicherung");
    laptop.store.backup(&backup).expect("backup");
    let after = laptop.new_case("Nachher", &[]);
    laptop
        .store
        .set_case_field(&first.id, "notes", "nach der Sicherung geändert")
        .expect("edit");
    laptop.sync();
    let expected = numbers(&laptop.store);
    // The laptop's disk dies; its backup is restored.
    let dir = laptop.data_dir();
    let Laptop {
        dir: keep, store, ..
    } = laptop;
    drop(store);
    let restored = sprechtag::store::backup::restore(&dir, &backup, PASSPHRASE).expect("restore");
    assert!(
        restored.quarantined.is_some(),
        "the store before is kept aside"
    );
    let mut laptop = Laptop {
        dir: keep,
        store: Store::open(&dir, PASSPHRASE, catalog()).expect("open the restored store"),
        connection: Default::default(),
    };
    assert!(
        !numbers(&laptop.store).contains(&after.number),
        "the backup is older"
    );
    let report = laptop.sync();
    assert!(report.downloaded > 0, "{report:?}");
    assert_eq!(
        numbers(&laptop.store),
        expected,
        "everything the server had is back"
    );
    assert_eq!(
        laptop.store.case(&first.id).expect("case").notes.as_str(),
        "nach der Sicherung geändert"
    );
    // A new edit after the restore must not repeat a change the server
    // holds (same actor, same sequence number): it syncs.
    laptop
        .store
        .set_case_field(&first.id, "notes", "nach der Wiederherstellung")
        .expect("edit");
    laptop.sync();
    let mut other = server.laptop("b", Role::Caseworker, "buergerbuero");
    other.sync();
    assert_eq!(
        other.store.case(&first.id).expect("case").notes.as_str(),
        "nach der Wiederherstellung"
    );
}

#[test]
fn a_server_restored_from_a_backup_converges_with_the_laptops() {
    let server = TestServer::start();
    let mut a = server.laptop("a", Role::Caseworker, "buergerbuero");
    let mut b = server.laptop("b", Role::Caseworker, "buergerbuero");
    let mut stolen = server.laptop("stolen", Role::Caseworker, "buergerbuero");
    a.new_case("Alt", &[]);
    let to_erase = a.new_case("Loeschmich", &[]);
    a.sync();
    b.sync();
    stolen.sync();
    let backup = tempfile::tempdir().expect("backup dir");
    let backup_file = backup.path().join("server.backup");
    let output = server_command(server.dir.path())
        .args(["backup", "--data-dir"])
        .arg(server.dir.path())
        .arg("--out")
        .arg(&backup_file)
        .output()
        .expect("backup");
    assert!(output.status.success(), "{}", stderr(&output));
    // After the backup: cases on both laptops reach the server.
    let lost_a = a.new_case("VerlorenA", &[]);
    a.sync();
    let lost_b = b.new_case("VerlorenB", &[]);
    b.sync();
    // … a laptop is enrolled, one is revoked, a case is erased.
    let mut late = server.laptop("late", Role::Caseworker, "buergerbuero");
    let late_case = late.new_case("Spaet", &[]);
    late.sync();
    let stolen_id = stolen
        .store
        .enrolment()
        .expect("e")
        .expect("enrolled")
        .device_id;
    assert!(
        server
            .storage()
            .revoke_device(&stolen_id, false)
            .expect("revoke")
    );
    let output = server_command(server.dir.path())
        .args(["case", "erase", "--data-dir"])
        .arg(server.dir.path())
        .arg(&to_erase.number)
        .args(["--reason", "Antrag nach Art. 17"])
        .output()
        .expect("erase");
    assert!(output.status.success(), "{}", stderr(&output));
    a.sync();
    b.sync();
    // A restore while the server runs is refused.
    let output = server_command(server.dir.path())
        .args(["restore", "--data-dir"])
        .arg(server.dir.path())
        .arg(&backup_file)
        .output()
        .expect("restore");
    assert!(!output.status.success(), "restore under a running server");
    assert!(stderr(&output).contains("running"), "{}", stderr(&output));
    let server = server.restart_with(|dir| {
        let output = server_command(dir)
            .args(["restore", "--data-dir"])
            .arg(dir)
            .arg(&backup_file)
            .output()
            .expect("restore");
        assert!(output.status.success(), "{}", stderr(&output));
    });
    // What happened after the backup but is not in it: kept.
    let restored = server
        .storage()
        .audit_entries(&sprechtag_server::audit::Filter::default())
        .expect("audit")
        .into_iter()
        .rfind(|e| e.event == "restored")
        .expect("the restore is in the audit trail");
    assert_eq!(
        restored.detail["carried_over"]["devices_added"], 1,
        "{:?}",
        restored.detail
    );
    assert!(
        stolen.connection.sync(&mut stolen.store).is_err(),
        "a device revoked after the backup stays revoked"
    );
    // A case made after the restore, on a, must reach b; the lost ones too.
    let made_after = a.new_case("Danach", &[]);
    let report = a.sync();
    assert!(
        report.started_over,
        "a new epoch makes the laptop start over: {report:?}"
    );
    let report = b.sync();
    assert!(report.started_over, "{report:?}");
    a.sync();
    late.sync();
    let everything = numbers(&a.store);
    for case in [&lost_a, &lost_b, &made_after, &late_case] {
        assert!(everything.contains(&case.number), "{} on a", case.number);
    }
    assert!(
        !everything.contains(&to_erase.number),
        "erased after the backup, erased still"
    );
    assert_eq!(
        numbers(&late.store),
        everything,
        "a laptop enrolled after the backup syncs on"
    );
    assert_eq!(
        numbers(&b.store),
        everything,
        "both laptops hold the same cases"
    );
    // Editing a case the restore had lost is taken again.
    b.store
        .set_case_field(&lost_a.id, "notes", "nach dem Wiederherstellen")
        .expect("edit");
    b.sync();
    a.sync();
    assert_eq!(
        a.store.case(&lost_a.id).expect("case").notes.as_str(),
        "nach dem Wiederherstellen"
    );
    let mut c = server.laptop("c", Role::Caseworker, "buergerbuero");
    c.sync();
    assert_eq!(
        numbers(&c.store),
        everything,
        "a new laptop gets everything"
    );
}

#[test]
fn a_cursor_beyond_the_newest_sequence_number_gets_a_resync_answer_not_a_500() {
    let server = TestServer::start();
    let (raw, mut laptop) = Raw::new(&server);
    laptop.new_case("Eins", &[]);
    laptop.sync();
    for cursor in [
        1_000_000,
        u64::from(u32::MAX) + 7,
        i64::MAX as u64,
        u64::MAX,
    ] {
        let (status, body) = raw.sync(wire::encode(&SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            ..SyncRequest::default()
        }));
        assert_eq!(
            status,
            200,
            "cursor {cursor}: {}",
            String::from_utf8_lossy(&body)
        );
        let response: SyncResponse = wire::decode(&body).expect("a sync response");
        assert!(response.resync, "cursor {cursor}");
        assert_eq!(response.cursor, 0);
        assert!(!response.epoch.is_empty());
    }
    assert!(raw.healthy());
}

#[test]
fn an_empty_or_damaged_server_database_is_refused_at_start_not_served() {
    let server = TestServer::start_plain();
    let (_raw, mut laptop) = Raw::new(&server);
    laptop.new_case("Eins", &[]);
    laptop.sync();
    let dir = server.stop();
    let serve = |dir: &Path| {
        Command::new(workspace_binary("sprechtag-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env_remove("SPRECHTAG_SERVER_DB_KEY_FILE")
            .env_remove("SPRECHTAG_SERVER_CONFIG")
            .output()
            .expect("run the server")
    };
    let database = dir.path().join(sprechtag_server::storage::DATABASE_FILE);
    let (conn, root) = devices_page(dir.path());
    drop(conn);
    let original = std::fs::read(&database).expect("bytes");
    damage(&database, (root - 1) * 4096, 12);
    let output = serve(dir.path());
    assert!(
        !output.status.success(),
        "a damaged database must not be served"
    );
    assert!(
        stderr(&output).contains(&database.display().to_string()),
        "{}",
        stderr(&output)
    );
    std::fs::write(&database, b"").expect("empty it");
    let output = serve(dir.path());
    assert!(
        !output.status.success(),
        "an empty database is no fresh start"
    );
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));
    std::fs::write(&database, original).expect("repair");
}

#[test]
fn a_page_error_during_a_request_marks_health_unhealthy() {
    let server = TestServer::start_plain();
    let (raw, mut laptop) = Raw::new(&server);
    laptop.new_case("Eins", &[]);
    laptop.sync();
    let database = server
        .dir
        .path()
        .join(sprechtag_server::storage::DATABASE_FILE);
    let (conn, root) = devices_page(server.dir.path());
    damage(&database, (root - 1) * 4096, 12);
    // A write by another connection makes the server's connections drop
    // their cached pages and read the damaged one.
    conn.execute(
        "INSERT INTO identity (name, value) VALUES ('test', 'x')",
        [],
    )
    .expect("a harmless write");
    drop(conn);
    let (status, _) = raw.sync(wire::encode(&SyncRequest {
        protocol: PROTOCOL_VERSION,
        ..SyncRequest::default()
    }));
    assert_eq!(status, 503, "a request that meets the damage");
    assert!(!raw.healthy(), "/health is 503 from now on");
}

#[test]
fn a_restore_refuses_while_the_store_is_open_elsewhere() {
    let root = tempfile::tempdir().expect("dir");
    let dir = store_with_cases(root.path(), 1);
    let store = Store::open(&dir, PASSPHRASE, catalog()).expect("open");
    let backup = root.path().join("b.sicherung");
    store.backup(&backup).expect("backup");
    // The app still has it open: nothing may be moved away under it.
    match sprechtag::store::backup::restore(&dir, &backup, PASSPHRASE) {
        Err(StoreError::InUse(path)) => assert_eq!(path, dir),
        other => panic!("restore under an open store: {other:?}"),
    }
    assert!(!dir.join(sprechtag::store::backup::QUARANTINE_DIR).exists());
    drop(store);
    sprechtag::store::backup::restore(&dir, &backup, PASSPHRASE).expect("closed: restored");
}
