//! Documents arrive from other devices and from files: corrupt bytes must give
//! an error, never a panic.

use automerge::ActorId;
use proptest::prelude::*;
use sprechtag_schemas::document;
use sprechtag_schemas::{Case, Citizen};

fn saved_case() -> Vec<u8> {
    let mut case = Case::draft(Citizen {
        surname: "Özdemir".into(),
        ..Citizen::default()
    });
    case.id = "c1".into();
    let mut doc = document::create(ActorId::random(), &case, "new").expect("create");
    doc.save()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = document::load(&bytes);
    }

    #[test]
    fn mutated_documents_load_or_fail_cleanly(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let mut bytes = saved_case();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        let end = cut.index(bytes.len() + 1);
        if let Ok(doc) = document::load(&bytes[..end]) {
            let _ = document::read::<Case>(&doc);
        }
    }
}

#[test]
fn a_valid_document_round_trips_through_save_and_load() {
    let doc = document::load(&saved_case()).expect("load");
    let case: Case = document::read(&doc).expect("read");
    assert_eq!(case.citizen.surname, "Özdemir");
}
