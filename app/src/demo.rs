//! Realistic German demo data: office hours in villages of a rural county and
//! the visits recorded there, for trying the app, screenshots and benchmarks.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sprechtag_schemas::{
    Address, Case, CaseStatus, Citizen, Consent, DocumentState, Forwarding, IsoDate, Needs, Rating,
    Request,
};

use crate::store::{NewOfficeHour, Result, Store};

const VILLAGES: &[(&str, &str, &str)] = &[
    ("Kleinbrück", "Dorfgemeinschaftshaus", "12351"),
    ("Oberwiesental", "Alte Schule, Raum 2", "12352"),
    ("Hohenfelde", "Gemeindehaus", "12353"),
    ("Niederau", "Seniorentreff Lindenhof", "12354"),
    ("Birkenhain", "Feuerwehrhaus", "12355"),
    ("Grünwald am See", "Bürgerhaus", "12356"),
    ("Altdorf", "Pfarrsaal St. Georg", "12357"),
    ("Mühlbach", "Dorfladen, Hinterzimmer", "12358"),
];
const CASEWORKERS: &[&str] = &[
    "Anna Schäfer",
    "Jürgen Weiß",
    "Leyla Demir",
    "Torsten Krüger",
];
const SURNAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Köhler",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Jäger",
    "Möller",
    "Weiß",
    "Günther",
    "Lorenz",
    "Baumann",
    "Franke",
    "Böhm",
    "Graf",
    "Müller-Lüdenscheidt",
    "Özdemir",
    "Nowak",
    "Kowalski",
];
const GIVEN_NAMES: &[&str] = &[
    "Gertrud",
    "Helmut",
    "Ursula",
    "Manfred",
    "Erika",
    "Günter",
    "Ingrid",
    "Werner",
    "Hannelore",
    "Klaus",
    "Renate",
    "Dieter",
    "Brigitte",
    "Horst",
    "Christa",
    "Jürgen",
    "Monika",
    "Rolf",
    "Waltraud",
    "Heinz",
    "Elfriede",
    "Lothar",
    "Marianne",
    "Siegfried",
    "Anneliese",
    "Ayşe",
    "Lena",
    "Jonas",
    "Fatma",
    "Karl-Heinz",
    "Hans-Jürgen",
    "Maria Theresia",
];
const STREETS: &[&str] = &[
    "Hauptstraße",
    "Dorfstraße",
    "Kirchweg",
    "Lindenallee",
    "Am Anger",
    "Mühlenweg",
    "Schulstraße",
    "Gartenstraße",
    "Feldweg",
    "Bergstraße",
];
const NOTES: &[&str] = &[
    "Kommt mit der Tochter, die beim Ausfüllen hilft.",
    "Bitte laut und deutlich sprechen.",
    "Rückruf am Vormittag erwünscht.",
    "Unterlagen liegen zu Hause, bringt sie zum nächsten Sprechtag.",
    "Hat Fragen zur Gebühr, Auskunft gegeben.",
    "Enkel holt die fehlenden Nachweise ab.",
    "",
    "",
];
/// Services that come up most at mobile office hours, weighted by frequency.
const COMMON_SERVICES: &[&str] = &[
    "personalausweis",
    "personalausweis",
    "personalausweis",
    "schwerbehindertenausweis",
    "schwerbehindertenausweis-verlaengern",
    "wohngeld",
    "wohngeld",
    "wohnsitz-anmelden",
    "meldebescheinigung",
    "fuehrungszeugnis",
    "hund-anmelden",
    "rundfunkbeitrag-befreiung",
    "beglaubigung",
    "reisepass",
    "lebensbescheinigung",
    "blindengeld",
];

#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub office_hours: usize,
    pub cases: usize,
}

/// Adds `cases` cases at office hours of about a dozen visitors each.
pub fn generate(store: &mut Store, cases: usize, seed: u64) -> Result<DemoSummary> {
    let mut rng = StdRng::seed_from_u64(seed);
    let catalog = store.catalog().clone();
    let services: Vec<_> = COMMON_SERVICES
        .iter()
        .filter_map(|id| catalog.service(id))
        .chain(catalog.services.iter())
        .collect();
    let office_hour_count = cases.div_ceil(12).max(1);
    let today = chrono::Local::now().date_naive();
    let mut office_hours = Vec::with_capacity(office_hour_count);
    for i in 0..office_hour_count {
        let (village, venue, _) = VILLAGES[i % VILLAGES.len()];
        let days_back = i64::try_from(office_hour_count - i).unwrap_or(0) * 3;
        let date = today - chrono::Duration::days(days_back);
        let office_hour = store.open_office_hour(NewOfficeHour {
            village: village.into(),
            venue: venue.into(),
            date: IsoDate::new(date),
            caseworker: (*CASEWORKERS.choose(&mut rng).unwrap_or(&"Anna Schäfer")).into(),
        })?;
        office_hours.push((office_hour.id, village, date));
    }
    let mut made = 0;
    while made < cases {
        let batch = (cases - made).min(500);
        let drafts: Vec<Case> = (0..batch)
            .map(|k| {
                let (office_hour_id, village, date) =
                    &office_hours[(made + k) / 12 % office_hours.len()];
                demo_case(&mut rng, &services, office_hour_id, village, *date)
            })
            .collect();
        made += store.create_cases(drafts)?.len();
    }
    // Past office hours are closed, with their summary and the citizens'
    // ratings; the latest stays open.
    for (id, _, _) in office_hours
        .iter()
        .take(office_hours.len().saturating_sub(1))
    {
        store.add_ratings(id, demo_ratings(&mut rng, 12))?;
        store.close_office_hour(id)?;
    }
    Ok(DemoSummary {
        office_hours: office_hour_count,
        cases: made,
    })
}

fn demo_case(
    rng: &mut StdRng,
    services: &[&sprechtag_schemas::Service],
    office_hour_id: &str,
    village: &str,
    date: chrono::NaiveDate,
) -> Case {
    let pick = |rng: &mut StdRng, list: &[&'static str]| -> String {
        list.choose(rng).copied().unwrap_or_default().to_string()
    };
    let birth_year = rng.random_range(1931..1975);
    let birth = chrono::NaiveDate::from_ymd_opt(
        birth_year,
        rng.random_range(1..=12),
        rng.random_range(1..=28),
    );
    let postcode = VILLAGES
        .iter()
        .find(|(v, _, _)| *v == village)
        .map(|(_, _, p)| *p)
        .unwrap_or("12345");
    let mut case = Case::draft(Citizen {
        surname: pick(rng, SURNAMES),
        given_names: pick(rng, GIVEN_NAMES),
        birth_date: birth.map(IsoDate::new),
        address: Address {
            street: format!("{} {}", pick(rng, STREETS), rng.random_range(1..80)),
            postcode: postcode.into(),
            town: village.into(),
        },
        phone: format!(
            "0345{} {}",
            rng.random_range(1..9),
            rng.random_range(10000..99999)
        ),
        needs: Needs {
            large_print: rng.random_bool(0.4),
            hard_of_hearing: rng.random_bool(0.2),
            accompanied_by_carer: rng.random_bool(0.15),
            wheelchair_access: rng.random_bool(0.1),
            ..Needs::default()
        },
        consent: Consent {
            given: true,
            date: Some(IsoDate::new(date)),
        },
    });
    case.office_hour_id = Some(office_hour_id.to_string());
    case.created_at = format!(
        "{date}T{:02}:{:02}:00Z",
        rng.random_range(8..12),
        rng.random_range(0..60)
    );
    case.notes = pick(rng, NOTES).into();
    let request_count = if rng.random_bool(0.3) { 2 } else { 1 };
    for _ in 0..request_count {
        if let Some(service) = services.choose(rng) {
            if case.requests.iter().any(|r| r.service_id == service.id) {
                continue;
            }
            let mut request = Request::for_service(service);
            for document in &mut request.documents {
                document.state = match rng.random_range(0..10) {
                    0..=5 => DocumentState::Presented,
                    6 | 7 => DocumentState::Missing,
                    8 => DocumentState::NotApplicable,
                    _ => DocumentState::Unchecked,
                };
            }
            case.requests.push(request);
        }
    }
    case.status = if case.is_complete() {
        *[
            CaseStatus::Complete,
            CaseStatus::Forwarded,
            CaseStatus::Done,
        ]
        .choose(rng)
        .unwrap_or(&CaseStatus::Complete)
    } else if case.missing_documents().next().is_some() {
        CaseStatus::WaitingForDocuments
    } else {
        CaseStatus::Open
    };
    let visit = IsoDate::new(date);
    if case.status == CaseStatus::Forwarded
        && let Some(request) = case.requests.first_mut()
        && let Some(service) = services.iter().find(|s| s.id == request.service_id)
    {
        request.forwarding = Some(Forwarding {
            office_id: service.office_id.clone(),
            forwarded_at: format!("{date}T14:00:00Z"),
            due: visit.add_working_days(service.response_days),
            answer: String::new(),
            closed_at: None,
            question: String::new(),
            mail: None,
        });
    }
    if case.status == CaseStatus::Done {
        let done = date + chrono::Duration::days(rng.random_range(1..40));
        case.done_at = Some(format!("{done}T10:00:00Z"));
    }
    case
}

/// What a dozen citizens might answer to the survey; grades 1 to 6, mostly good.
fn demo_ratings(rng: &mut StdRng, visitors: usize) -> Vec<Rating> {
    let grade = |rng: &mut StdRng| -> Option<u8> {
        rng.random_bool(0.92)
            .then(|| *[1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 5].choose(rng).unwrap_or(&2))
    };
    let mut ratings = Vec::new();
    for _ in 0..visitors {
        if rng.random_bool(0.6) {
            let rating = Rating {
                advice: grade(rng),
                clarity: grade(rng),
                place: grade(rng),
            };
            if rating.is_valid() {
                ratings.push(rating);
            }
        }
    }
    ratings
}
