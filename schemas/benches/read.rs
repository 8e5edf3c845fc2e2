//! Reading cases out of automerge documents: prints figures, asserts only
//! that both ways of reading agree. Run with
//!
//! ```sh
//! cargo bench -p sprechtag-schemas --bench read
//! ```
//!
//! Sixty cases of a day's work (one request, fifteen edits each, as in the
//! sync benchmark), each loaded from its save; then per case: automerge's
//! load, `document::read` (each object read once) and autosurgeon's own
//! field-by-field hydration, for the `CaseSummary` that indexing needs and
//! for the whole `Case`.

use std::hint::black_box;
use std::time::Instant;

use automerge::{ActorId, AutoCommit};
use sprechtag_schemas::{
    Case, CaseStatus, CaseSummary, Catalog, Citizen, DocumentState, Request, document,
};

const CASES: usize = 60;
const ROUNDS: usize = 20;

fn main() {
    let catalog =
        Catalog::from_json(include_str!("../../assets/catalog/services.json")).expect("catalogue");
    let service = catalog.service("personalausweis").expect("known service");
    let saves: Vec<Vec<u8>> = (0..CASES)
        .map(|i| {
            let mut draft = Case::draft(Citizen {
                surname: format!("Muster{i}"),
                given_names: "Anna".into(),
                ..Citizen::default()
            });
            draft.id = format!("case-{i}");
            draft.requests.push(Request::for_service(service));
            let mut doc = document::create(ActorId::random(), &draft, "new").expect("create");
            for edit in 0..15 {
                document::update::<Case, std::convert::Infallible>(&mut doc, "edit", |c| {
                    match edit {
                        0 => c.citizen.phone = "0345 1234".into(),
                        1 => c.citizen.address.street = "Dorfstr. 3".into(),
                        2 => c.citizen.address.postcode = "06108".into(),
                        3 => c.citizen.address.town = "Kleinbrück".into(),
                        4 => c.citizen.needs.large_print = true,
                        5 => c.citizen.consent.given = true,
                        6 => c.requests[0].documents[0].state = DocumentState::Presented,
                        7 => c.requests[0].documents[1].state = DocumentState::Missing,
                        8 => c.notes.update("Bringt das Foto nächste Woche."),
                        9 => c
                            .notes
                            .update("Bringt das Foto nächste Woche. Rückruf vormittags."),
                        10 => c.status = CaseStatus::WaitingForDocuments,
                        11 => c.citizen.needs.hard_of_hearing = true,
                        _ => c.citizen.phone = format!("03456 {i:03}{edit:02}"),
                    }
                    Ok(())
                })
                .expect("write")
                .expect("edit");
            }
            doc.save_nocompress()
        })
        .collect();

    let docs: Vec<AutoCommit> = saves
        .iter()
        .map(|s| document::load(s).expect("load"))
        .collect();
    for doc in &docs {
        let direct: Case = autosurgeon::hydrate(doc).expect("hydrate");
        let read: Case = document::read(doc).expect("read");
        assert_eq!(read, direct, "both ways of reading agree");
    }

    println!(
        "{CASES} cases, {} bytes per save on average, best of {ROUNDS} rounds, per case:",
        saves.iter().map(Vec::len).sum::<usize>() / CASES
    );
    // The summary the sync server sends beside each case, uncompressed.
    // (What it adds to a compressed response depends on how alike the
    // cases are: see the sync bench, part (b).)
    let summary_bytes: usize = docs
        .iter()
        .map(|doc| {
            document::read::<CaseSummary>(doc)
                .expect("read")
                .encode()
                .len()
        })
        .sum();
    println!("summary as sent: {} bytes per case", summary_bytes / CASES);
    print_best("load (automerge)", || {
        for save in &saves {
            black_box(document::load(save).expect("load"));
        }
    });
    print_best("CaseSummary, document::read", || {
        for doc in &docs {
            black_box(document::read::<CaseSummary>(doc).expect("read"));
        }
    });
    print_best("CaseSummary, autosurgeon::hydrate", || {
        for doc in &docs {
            black_box(autosurgeon::hydrate::<_, CaseSummary>(doc).expect("hydrate"));
        }
    });
    print_best("Case, document::read", || {
        for doc in &docs {
            black_box(document::read::<Case>(doc).expect("read"));
        }
    });
    print_best("Case, autosurgeon::hydrate", || {
        for doc in &docs {
            black_box(autosurgeon::hydrate::<_, Case>(doc).expect("hydrate"));
        }
    });
}

fn print_best(label: &str, mut round: impl FnMut()) {
    let best = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            round();
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    println!(
        "  {label:<36} {:>7.1} µs",
        best.as_secs_f64() * 1e6 / CASES as f64
    );
}
