//! Bytes from a device are plain automerge chunks or nothing: what the app
//! saves passes, compressed or padded bytes do not, and no input panics.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use proptest::prelude::*;
use sprechtag_schemas::document::{ChunkError, check_plain_chunks};

/// A document with enough text that automerge deflates its columns.
fn big_doc() -> AutoCommit {
    let mut doc = AutoCommit::new();
    for i in 0..200 {
        doc.put(
            ROOT,
            format!("key{i}"),
            "Müller-Lüdenscheidt, Hannelore ".repeat(4),
        )
        .expect("put");
    }
    doc.commit();
    doc
}

#[test]
fn what_the_app_saves_passes() {
    let mut doc = big_doc();
    check_plain_chunks(&doc.save_nocompress()).expect("a full save");
    let heads = doc.get_heads();
    doc.put(ROOT, "notes", "Hörgerät").expect("put");
    doc.commit();
    let incremental = doc.save_after(&heads);
    check_plain_chunks(&incremental).expect("changes");
    let mut both = doc.save_nocompress();
    both.extend(&incremental);
    check_plain_chunks(&both).expect("a save followed by changes");
}

#[test]
fn a_compressed_save_is_refused_before_it_is_inflated() {
    let mut doc = big_doc();
    let compressed = doc.save();
    assert!(matches!(
        check_plain_chunks(&compressed),
        Err(ChunkError::DeflatedColumn(_))
    ));
}

#[test]
fn a_compressed_change_is_refused() {
    let mut doc = big_doc();
    let mut change = doc.get_changes(&[]).pop().expect("a change");
    let bytes = change.bytes().to_vec();
    assert_eq!(bytes[8], 2, "automerge compressed this change");
    assert!(matches!(
        check_plain_chunks(&bytes),
        Err(ChunkError::Compressed(0))
    ));
}

#[test]
fn junk_after_a_valid_save_and_cut_off_saves_are_refused() {
    let mut doc = big_doc();
    let mut bytes = doc.save_nocompress();
    let length = bytes.len();
    bytes.extend(b"junk");
    assert_eq!(
        check_plain_chunks(&bytes),
        Err(ChunkError::NotAChunk(length))
    );
    bytes.truncate(length - 10);
    assert!(check_plain_chunks(&bytes).is_err());
    assert!(check_plain_chunks(&[]).is_err());
}

proptest! {
    #[test]
    fn no_bytes_make_the_check_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = check_plain_chunks(&bytes);
    }

    #[test]
    fn a_changed_byte_in_a_save_never_panics(index in 0usize..4096, value in any::<u8>()) {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "surname", "Krüger").expect("put");
        let mut bytes = doc.save_nocompress();
        let index = index % bytes.len();
        bytes[index] = value;
        let _ = check_plain_chunks(&bytes);
    }
}
