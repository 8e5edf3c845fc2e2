//! An office is given by its id, its name or a unique part of its name,
//! wherever one is asked for: in the store (`forward_request`) and on the
//! command line (`case forward --office`). The offices are the shipped
//! catalogue's.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{Value, json};
use sprechtag::store::{Store, StoreError};
use sprechtag_schemas::{Case, CatalogError, Citizen, Request};

const PASSPHRASE: &str = "Amtsstube-Rathaus-17";

#[test]
fn an_office_is_found_by_id_by_name_or_by_a_part_of_its_name() {
    let catalog = sprechtag::catalog::shipped().expect("catalogue");
    for (query, id) in [
        ("sozialamt", "sozialamt"),
        ("Sozialamt / Wohngeldstelle", "sozialamt"),
        ("Wohngeldstelle", "sozialamt"),
        ("wohngeld", "sozialamt"),
        ("Housing Benefit Office", "sozialamt"),
        ("fischereibehoerde", "jagd-fischereibehoerde"),
        ("Fischereibehörde", "jagd-fischereibehoerde"),
        ("BAföG", "amt-ausbildungsfoerderung"),
        ("  Bürgerbüro  ", "buergerbuero"),
        ("standesamt", "standesamt"),
        // A whole name wins over the names it is a part of.
        ("Elterngeldstelle", "elterngeldstelle"),
    ] {
        let office = catalog
            .find_office(query)
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(office.id, id, "{query}");
    }
}

#[test]
fn a_part_of_several_names_lists_the_candidates_and_an_unknown_name_the_offices() {
    let catalog = sprechtag::catalog::shipped().expect("catalogue");
    match catalog.find_office("amt") {
        Err(CatalogError::AmbiguousOffice { query, candidates }) => {
            assert_eq!(query, "amt");
            assert!(
                candidates.contains(&"sozialamt (Sozialamt / Wohngeldstelle)".to_string()),
                "{candidates:?}"
            );
            assert!(candidates.iter().any(|c| c.starts_with("jugendamt (")));
            assert!(
                !candidates
                    .iter()
                    .any(|c| c.starts_with("elterngeldstelle (")),
                "only offices that fit: {candidates:?}"
            );
        }
        other => panic!("expected several offices, got {other:?}"),
    }
    match catalog.find_office("Finanzamt") {
        Err(CatalogError::NoSuchOffice { known, .. }) => {
            assert_eq!(known.len(), catalog.offices.len());
        }
        other => panic!("expected no office, got {other:?}"),
    }
    assert!(matches!(
        catalog.find_office("  "),
        Err(CatalogError::NoSuchOffice { .. })
    ));
}

fn wohngeld_case(store: &mut Store) -> Case {
    let catalog = store.catalog().clone();
    let mut draft = Case::draft(Citizen {
        surname: "Krüger".into(),
        given_names: "Erika".into(),
        ..Citizen::default()
    });
    draft.requests.push(Request::for_service(
        catalog.service("wohngeld").expect("wohngeld"),
    ));
    store.create_case(draft).expect("case")
}

#[test]
fn the_store_forwards_to_an_office_given_by_part_of_its_name_and_refuses_an_ambiguous_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let mut store = Store::create(dir.path(), PASSPHRASE, catalog).expect("create");
    let case = wohngeld_case(&mut store);
    let request = case.requests[0].id.clone();

    let refused = store.forward_request(&case.id, &request, "amt", None);
    assert!(
        matches!(
            refused,
            Err(StoreError::Catalog(CatalogError::AmbiguousOffice { .. }))
        ),
        "{refused:?}"
    );
    assert!(
        store.case(&case.id).expect("case").requests[0]
            .forwarding
            .is_none(),
        "nothing forwarded"
    );

    let forwarded = store
        .forward_request(&case.id, &request, "Wohngeldstelle", None)
        .expect("forwarded");
    let forwarding = forwarded.requests[0]
        .forwarding
        .as_ref()
        .expect("forwarding");
    assert_eq!(forwarding.office_id, "sozialamt");
}

fn sprechtag(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sprechtag"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("the sprechtag binary can be started")
}

fn ok_json(data_dir: &Path, args: &[&str]) -> Value {
    let output = sprechtag(data_dir, args);
    assert!(
        output.status.success(),
        "sprechtag {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn case_forward_on_the_command_line_takes_a_unique_part_of_an_office_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let draft = tmp.path().join("kruger.json");
    std::fs::write(
        &draft,
        json!({
            "citizen": { "surname": "Krüger", "given_names": "Erika" },
            "requests": [ { "service_id": "wohngeld" } ]
        })
        .to_string(),
    )
    .expect("draft");
    let draft = draft.to_str().expect("UTF-8 path");
    let created = ok_json(&data, &["case", "new", "--json", draft]);
    let number = created["number"].as_str().expect("number").to_string();
    let shown = ok_json(&data, &["case", "show", &number]);
    let request = shown["requests"][0]["id"].as_str().expect("request id");

    // Several offices fit "amt": nothing is forwarded, the candidates are named.
    let output = sprechtag(
        &data,
        &["case", "forward", &number, request, "--office", "amt"],
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "\"amt\" fits",
        "sozialamt (Sozialamt / Wohngeldstelle)",
        "jugendamt (Jugendamt",
        "give more of the name, or the id",
    ] {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    let output = sprechtag(
        &data,
        &["case", "forward", &number, request, "--office", "Finanzamt"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown office \"Finanzamt\"")
            && stderr.contains("buergerbuero (Bürgerbüro"),
        "{stderr}"
    );
    let shown = ok_json(&data, &["case", "show", &number]);
    assert!(shown["requests"][0]["forwarding"].is_null());

    let forwarded = ok_json(
        &data,
        &[
            "case",
            "forward",
            &number,
            request,
            "--office",
            "Wohngeldstelle",
        ],
    );
    assert_eq!(forwarded["forwarding"]["office_id"], "sozialamt");
}
