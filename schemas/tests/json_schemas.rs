//! The JSON Schemas under `schemas/json/` are generated from the Rust types;
//! this test fails when they are stale. `UPDATE_SCHEMAS=1 cargo test` rewrites them.

use std::path::Path;

#[test]
fn checked_in_json_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, generated) in sprechtag_schemas::json_schemas() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &generated).expect("write schema");
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != generated {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale JSON Schemas {stale:?}: run `UPDATE_SCHEMAS=1 cargo test -p sprechtag-schemas --test json_schemas` and commit schemas/json/"
    );
}

#[test]
fn the_shipped_catalogue_is_valid_and_large_enough() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/catalog/services.json");
    let text = std::fs::read_to_string(path).expect("read catalogue");
    let catalog = sprechtag_schemas::Catalog::from_json(&text).expect("valid catalogue");
    assert!(
        catalog.services.len() >= 25,
        "only {} services",
        catalog.services.len()
    );
    // The catalogue also validates against its generated JSON Schema.
    let schema: serde_json::Value = serde_json::from_str(
        &sprechtag_schemas::json_schemas()
            .into_iter()
            .find(|(n, _)| *n == "catalog.schema.json")
            .expect("catalog schema")
            .1,
    )
    .expect("schema json");
    let instance: serde_json::Value = serde_json::from_str(&text).expect("catalogue json");
    let validator = jsonschema::validator_for(&schema).expect("compile schema");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "catalogue violates its schema: {errors:?}"
    );
}
