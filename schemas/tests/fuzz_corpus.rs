//! Replays the checked-in corpus of the fuzz targets (`tests/fuzz/corpus/`)
//! on stable with every test run: what once was found, or covered, stays
//! harmless.

use std::path::Path;

/// A fuzz target's body: any bytes in, no panic out.
type Body = fn(&[u8]);

#[test]
fn the_fuzz_corpus_replays_without_a_finding() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz/corpus");
    let targets: [(&str, Body); 4] = [
        ("sync_request", sprechtag_schemas::fuzz::sync_request),
        ("document", sprechtag_schemas::fuzz::document),
        ("case_summary", sprechtag_schemas::fuzz::case_summary),
        ("key_file", sprechtag_schemas::fuzz::key_file),
    ];
    for (target, run) in targets {
        let dir = corpus.join(target);
        let inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|entry| entry.path())
            .collect();
        assert!(
            inputs.iter().any(|p| p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))),
            "{target}: its seeds are checked in"
        );
        for input in inputs {
            let bytes = std::fs::read(&input).expect("read an input");
            run(&bytes);
        }
    }
}
