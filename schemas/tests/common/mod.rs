//! Helpers shared by the integration tests of the schemas crate.

use automerge::AutoCommit;
use sprechtag_schemas::{Case, Catalog, document};

pub fn catalog() -> Catalog {
    let text = include_str!("../../../assets/catalog/services.json");
    Catalog::from_json(text).expect("catalogue")
}

/// Edits the case in `doc` as one change.
pub fn edit(doc: &mut AutoCommit, f: impl FnOnce(&mut Case)) {
    document::update::<Case, std::convert::Infallible>(doc, "edit", |c| {
        f(c);
        Ok(())
    })
    .expect("write")
    .expect("edit");
}
