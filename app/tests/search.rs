//! The case list and its search: most recently changed first, bounded work
//! per page (the count of a broad search stops), short words as prefixes.

use std::sync::Arc;

use sprechtag::store::{COUNT_LIMIT, CaseFilter, Store};
use sprechtag_schemas::{Case, Catalog, Citizen};

const PASSPHRASE: &str = "Leuchtturm-Fischbrötchen-7";

fn catalog() -> Arc<Catalog> {
    Arc::new(sprechtag::catalog::shipped().expect("the shipped catalogue is valid"))
}

fn draft(surname: &str, given_names: &str, notes: &str) -> Case {
    let mut case = Case::draft(Citizen {
        surname: surname.into(),
        given_names: given_names.into(),
        ..Citizen::default()
    });
    case.notes = autosurgeon::Text::with_value(notes);
    case
}

fn search(store: &Store, text: &str) -> Vec<String> {
    store
        .list_cases(&CaseFilter {
            search: text.into(),
            ..CaseFilter::default()
        })
        .expect("the search runs")
        .rows
        .into_iter()
        .map(|r| r.surname)
        .collect()
}

#[test]
fn an_edited_case_moves_to_the_front_of_the_list_and_of_a_search() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::create(dir.path(), PASSPHRASE, catalog()).expect("store");
    let created = store
        .create_cases(vec![
            draft("Albers", "Anna", "Rollator, Treppe meiden"),
            draft("Bauer", "Bernd", "Rollator im Auto"),
            draft("Claasen", "Carla", "Rollator"),
        ])
        .expect("cases");
    assert_eq!(search(&store, "rollator"), ["Claasen", "Bauer", "Albers"]);

    store
        .set_case_field(&created[0].id, "citizen.phone", "0345 112233")
        .expect("an edit");
    assert_eq!(search(&store, "rollator"), ["Albers", "Claasen", "Bauer"]);
    assert_eq!(search(&store, ""), ["Albers", "Claasen", "Bauer"]);

    // The old full-text row is gone: one match per case, not one per edit.
    store
        .set_case_field(&created[1].id, "notes", "Rollator im Auto, Neffe fährt")
        .expect("another edit");
    let page = store
        .list_cases(&CaseFilter {
            search: "rollator".into(),
            ..CaseFilter::default()
        })
        .expect("search");
    assert_eq!((page.total, page.total_exact), (3, true));
    assert_eq!(search(&store, "neffe"), ["Bauer"]);
    assert!(search(&store, "treppe meiden").contains(&"Albers".to_string()));
}

#[test]
fn short_words_match_the_start_of_names_and_numbers_in_any_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::create(dir.path(), PASSPHRASE, catalog()).expect("store");
    store.set_device_prefix("TK").expect("prefix");
    store
        .create_cases(vec![
            draft("Li", "Mei", ""),
            draft("Lindner", "Otto", "Hörgerät"),
            draft("Oberle", "Liese", "Hörgerät"),
            draft("Kowalski", "Jan", "kommt mit Li"),
        ])
        .expect("cases");
    assert_eq!(search(&store, "li"), ["Oberle", "Lindner", "Li"]);
    assert_eq!(search(&store, "LI"), ["Oberle", "Lindner", "Li"]);
    // A short word narrows a full-text search.
    assert_eq!(search(&store, "hörgerät li"), ["Oberle", "Lindner"]);
    assert_eq!(search(&store, "hörgerät ot"), ["Lindner"]);
    // One letter, umlauts folded; the start of a case number.
    assert_eq!(search(&store, "o"), ["Oberle", "Lindner"]);
    assert_eq!(search(&store, "tk").len(), 4);
    assert!(search(&store, "q1").is_empty());
    // Inside a word, two letters find nothing: "in" is not a start.
    assert!(search(&store, "in").is_empty());
}

#[test]
fn a_broad_search_stops_counting_but_pages_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::create(dir.path(), PASSPHRASE, catalog()).expect("store");
    let drafts = (0..COUNT_LIMIT + 20)
        .map(|i| draft("Zimmermann", &format!("Nr {i}"), "Wohngeld"))
        .collect();
    store.create_cases(drafts).expect("cases");
    store
        .create_case(draft("Einzeln", "Erna", "Wohngeld"))
        .expect("one more");

    let first = store
        .list_cases(&CaseFilter {
            search: "zimmermann".into(),
            ..CaseFilter::default()
        })
        .expect("search");
    assert_eq!(first.rows.len(), 50);
    assert_eq!((first.total, first.total_exact), (COUNT_LIMIT, false));
    assert!(first.has_more(0));
    assert_eq!(
        first.rows[0].given_names,
        format!("Nr {}", COUNT_LIMIT + 19)
    );

    // Beyond the counting limit the pages still come, and the last one ends.
    let last = store
        .list_cases(&CaseFilter {
            search: "zimmermann".into(),
            offset: COUNT_LIMIT,
            limit: 50,
            ..CaseFilter::default()
        })
        .expect("a later page");
    assert_eq!(last.rows.len(), 20);
    assert!(last.total_exact);
    assert!(!last.has_more(COUNT_LIMIT));
    assert_eq!(last.rows[19].given_names, "Nr 0");

    // A list without search text counts exactly.
    let all = store.list_cases(&CaseFilter::default()).expect("list");
    assert_eq!((all.total, all.total_exact), (COUNT_LIMIT + 21, true));
    let narrow = store
        .list_cases(&CaseFilter {
            search: "einzeln wohngeld".into(),
            ..CaseFilter::default()
        })
        .expect("search");
    assert_eq!((narrow.total, narrow.total_exact), (1, true));
}

#[test]
fn the_queue_sorts_by_name_number_and_deadline_as_well() {
    use sprechtag::store::CaseSort;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::create(dir.path(), PASSPHRASE, catalog()).expect("store");
    let wohngeld = store
        .catalog()
        .service("wohngeld")
        .expect("service")
        .clone();
    let mut drafts = Vec::new();
    for surname in ["Zander", "albers", "Meier"] {
        let mut case = draft(surname, "Eva", "");
        case.requests
            .push(sprechtag_schemas::Request::for_service(&wohngeld));
        drafts.push(case);
    }
    let created = store.create_cases(drafts).expect("cases");
    for (case, due) in [(&created[0], "2099-03-01"), (&created[2], "2099-01-01")] {
        store
            .forward_request(
                &case.id,
                &case.requests[0].id,
                "sozialamt",
                due.parse().ok(),
            )
            .expect("forward");
    }
    let order = |sort: CaseSort| -> Vec<String> {
        store
            .list_cases(&CaseFilter {
                sort,
                ..CaseFilter::default()
            })
            .expect("list")
            .rows
            .into_iter()
            .map(|r| r.surname)
            .collect()
    };
    assert_eq!(order(CaseSort::Name), ["albers", "Meier", "Zander"]);
    assert_eq!(order(CaseSort::Number), ["Zander", "albers", "Meier"]);
    assert_eq!(order(CaseSort::Due), ["Meier", "Zander", "albers"]);
    assert_eq!(order(CaseSort::Recent), ["Meier", "Zander", "albers"]);
}
