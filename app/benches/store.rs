//! Store benchmark: prints figures, asserts nothing. Run with
//! `cargo bench -p sprechtag --bench store` (release build). Stores of
//! 10,000 and 100,000 demo cases are built once under the system temp dir
//! and reused by later runs.
//!
//! Targets on a 2-core machine: first page under 300 ms at 100,000 cases,
//! search under 50 ms, a durable edit under 10 ms.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sprechtag::store::{CaseFilter, Store};
use sprechtag_schemas::{CaseStatus, IsoDate};

const PASSPHRASE: &str = "benchmark-passphrase";

fn main() {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    for cases in [10_000, 100_000] {
        let dir = prepare(cases, &catalog);
        println!("\n== {cases} cases ({}) ==", dir.display());

        let start = Instant::now();
        let store = Store::open(&dir, PASSPHRASE, catalog.clone()).expect("open");
        let opened = start.elapsed();
        let page = store
            .list_cases(&CaseFilter::default())
            .expect("first page");
        let first_page = start.elapsed();
        assert_eq!(page.total, cases);
        println!(
            "open (incl. Argon2id key derivation): {}   open + first page of 50: {}",
            ms(opened),
            ms(first_page)
        );
        drop(store);

        let mut store = Store::open(&dir, PASSPHRASE, catalog.clone()).expect("open");
        let number = store
            .list_cases(&CaseFilter {
                limit: 1,
                ..CaseFilter::default()
            })
            .expect("list")
            .rows[0]
            .number
            .clone();
        for query in [
            "Müller",
            "ausw",
            "Kleinbrück",
            number.as_str(),
            "Tochter",
            "wohngeld kleinbr",
            "zu",
            "Sc",
            "be Tochter",
        ] {
            let mut times = Vec::new();
            let mut total = 0;
            let mut exact = true;
            for _ in 0..7 {
                let start = Instant::now();
                let page = store
                    .list_cases(&CaseFilter {
                        search: query.into(),
                        ..CaseFilter::default()
                    })
                    .expect("search");
                times.push(start.elapsed());
                total = page.total;
                exact = page.total_exact;
            }
            times.sort();
            println!(
                "search {query:>18}: median {} max {} ({}{total} matches, first page of 50)",
                ms(times[times.len() / 2]),
                ms(times[times.len() - 1]),
                if exact { "" } else { "counted to " }
            );
        }

        // The back office's review queue: filters without and with search.
        let village = store
            .list_cases(&CaseFilter::default())
            .expect("list")
            .rows
            .iter()
            .map(|r| r.village.clone())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let queues: [(&str, CaseFilter); 4] = [
            (
                "status open",
                CaseFilter {
                    status: Some(CaseStatus::Open),
                    ..CaseFilter::default()
                },
            ),
            (
                "village + status open",
                CaseFilter {
                    status: Some(CaseStatus::Open),
                    village: Some(village.clone()),
                    ..CaseFilter::default()
                },
            ),
            (
                "village + search \"Müller\"",
                CaseFilter {
                    village: Some(village.clone()),
                    search: "Müller".into(),
                    ..CaseFilter::default()
                },
            ),
            (
                "overdue",
                CaseFilter {
                    overdue_on: Some(IsoDate::today()),
                    ..CaseFilter::default()
                },
            ),
        ];
        for (label, filter) in queues {
            let mut times = Vec::new();
            let mut total = 0;
            for _ in 0..7 {
                let start = Instant::now();
                let page = store.list_cases(&filter).expect("queue");
                times.push(start.elapsed());
                total = page.total;
            }
            times.sort();
            println!(
                "review queue {label:>28}: median {} max {} ({total} matches, first page of 50)",
                ms(times[times.len() / 2]),
                ms(times[times.len() - 1])
            );
        }

        let id = store
            .list_cases(&CaseFilter {
                limit: 1,
                ..CaseFilter::default()
            })
            .expect("list")
            .rows[0]
            .id
            .clone();
        let mut times = Vec::new();
        for i in 0..200 {
            let start = Instant::now();
            store
                .set_case_field(&id, "citizen.phone", &format!("03456 {i:05}"))
                .expect("edit");
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "durable edit (one field, fsync'd commit): median {} p95 {} max {}",
            ms(times[100]),
            ms(times[190]),
            ms(times[199])
        );
    }
}

/// A data dir with `cases` demo cases, made once and reused.
fn prepare(cases: usize, catalog: &Arc<sprechtag_schemas::Catalog>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sprechtag-bench-{cases}"));
    let marker = dir.join("complete");
    if marker.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let start = Instant::now();
    let mut store = Store::create(&dir, PASSPHRASE, catalog.clone()).expect("create");
    sprechtag::demo::generate(&mut store, cases, 7).expect("demo data");
    drop(store);
    touch(&marker);
    println!(
        "built {cases} cases in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    dir
}

fn touch(path: &Path) {
    std::fs::write(path, b"").expect("marker");
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
