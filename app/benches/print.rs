//! Printing benchmark: prints figures, asserts nothing. Run with
//! `cargo bench -p sprechtag --bench print` (release build).
//!
//! Target on a 2-core machine: one receipt in under 30 ms. The demo cases
//! come from a throwaway store; the PDFs are made in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sprechtag::store::{CaseFilter, Store};

fn main() {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store =
        Store::create(dir.path(), "benchmark-passphrase", catalog.clone()).expect("store");
    sprechtag::demo::generate(&mut store, 40, 7).expect("demo data");
    let rows = store
        .list_cases(&CaseFilter {
            limit: 100,
            ..CaseFilter::default()
        })
        .expect("cases")
        .rows;
    let cases: Vec<_> = rows
        .iter()
        .map(|r| store.case(&r.id).expect("case"))
        .collect();
    let office_hour_id = cases[0].office_hour_id.clone().expect("office hour");
    let office_hour = store.office_hour(&office_hour_id).expect("office hour");

    // The first document parses the fonts; report it apart from the rest.
    let start = Instant::now();
    let first = sprechtag::print::receipt(&cases[0], &catalog, Some(&office_hour)).expect("pdf");
    println!(
        "first receipt (incl. parsing the fonts): {}",
        ms(start.elapsed())
    );

    let runs = 30;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let case = &cases[i % cases.len()];
        let start = Instant::now();
        let pdf = sprechtag::print::receipt(case, &catalog, Some(&office_hour)).expect("pdf");
        times.push(start.elapsed());
        std::hint::black_box(pdf);
    }
    println!(
        "receipt: median {}   max {}   ({} bytes)",
        ms(median(&mut times)),
        ms(*times.iter().max().expect("runs")),
        first.len()
    );

    let mut times = Vec::with_capacity(10);
    let mut size = 0;
    for _ in 0..10 {
        let start = Instant::now();
        let pdf = sprechtag::print::report(&office_hour, &cases, &catalog).expect("pdf");
        times.push(start.elapsed());
        size = pdf.len();
    }
    println!(
        "report of {} cases: median {}   ({} bytes)",
        cases.len(),
        ms(median(&mut times)),
        size
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
