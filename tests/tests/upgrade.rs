//! Next year's release opens this year's data: the fixture data dirs of
//! every release (`tests/fixtures/<version>/`, made by `make.sh` and never
//! changed) are opened, listed and synced with the current build.

use std::path::{Path, PathBuf};

use sprechtag::store::{CaseFilter, Store};
use sprechtag_e2e::{TestServer, catalog, copy_private};
use sprechtag_server::storage::Role;

const FIXTURE_PASSPHRASE: &str = "fixture-passphrase";
/// Where every fixture laptop was enrolled.
const FIXTURE_SERVER: &str = "127.0.0.1:47913";

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut releases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("laptop").is_dir() && path.join("server").is_dir())
        .collect();
    releases.sort();
    releases
}

fn numbers(store: &Store) -> Vec<String> {
    let mut numbers: Vec<String> = store
        .list_cases(&CaseFilter {
            limit: 10_000,
            ..CaseFilter::default()
        })
        .expect("list")
        .rows
        .into_iter()
        .map(|row| row.number)
        .collect();
    numbers.sort();
    numbers
}

#[test]
fn the_data_of_every_earlier_release_opens_lists_and_syncs() {
    let releases = fixtures();
    assert!(!releases.is_empty(), "at least this release's fixtures");
    for release in releases {
        let name = release.display().to_string();
        let work = tempfile::tempdir().expect("dir");
        let laptop_dir = work.path().join("laptop");
        copy_private(&release.join("laptop"), &laptop_dir);
        let server_dir = tempfile::tempdir().expect("dir");
        copy_private(&release.join("server"), server_dir.path());

        let mut laptop =
            Store::open(&laptop_dir, FIXTURE_PASSPHRASE, catalog()).expect("the laptop opens");
        assert_eq!(laptop.damage(), None, "{name}");
        assert_eq!(laptop.integrity_check().expect("check"), "ok", "{name}");
        let cases = numbers(&laptop);
        assert!(cases.len() >= 10, "{name}: {} cases", cases.len());
        for number in &cases {
            laptop.case(number).expect("every case reads");
        }
        let statistics = laptop.statistics().expect("statistics");
        assert!(
            statistics.ratings > 0,
            "{name}: ratings in the statistics {statistics:?}"
        );
        assert!(
            !laptop.office_hours().expect("office hours").is_empty(),
            "{name}"
        );

        let server = TestServer::start_at(server_dir, FIXTURE_SERVER);
        let mut connection = sprechtag::sync::Connection::default();
        let report = connection
            .sync(&mut laptop)
            .expect("the fixture laptop syncs");
        assert!(report.complete(), "{name}: {report:?}");
        // An edit of an old case is taken.
        laptop
            .set_case_field(&cases[0], "notes", "Nach dem Update bearbeitet.")
            .expect("edit");
        let report = connection.sync(&mut laptop).expect("sync the edit");
        assert!(
            report.complete() && report.uploaded == 1,
            "{name}: {report:?}"
        );
        // A laptop enrolled today receives everything the old one holds.
        let mut fresh = server.laptop("neu", Role::Backoffice, "buergerbuero");
        fresh.sync();
        assert_eq!(numbers(&fresh.store), cases, "{name}");
        assert_eq!(
            fresh.store.case(&cases[0]).expect("case").notes.as_str(),
            "Nach dem Update bearbeitet."
        );
    }
}
