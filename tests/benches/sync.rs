//! Sync benchmark: prints figures, asserts nothing beyond sanity. Run with
//!
//! ```sh
//! cargo build --release -p sprechtag-server   # parts (b) and (c) start this binary
//! cargo bench -p sprechtag-e2e --bench sync
//! ```
//!
//! `cargo bench -p sprechtag-e2e` does not build the server binary, and a
//! stale `target/release/sprechtag-server` measures old server code: build
//! it first. The bench prints the binary's path and age.
//!
//! Workloads (the same as in `/work/shared/reference/peers.md`):
//!
//! - (a) a day's work — 60 new cases with 15 edits each — synced by one
//!   laptop, on loopback to an in-process server and through a proxy that
//!   makes the link 256 kbit/s with 150 ms each way;
//! - (b) 1,000 cases of about 30 fields uploaded by one laptop, then
//!   downloaded by a fresh laptop of the same department (server as a
//!   process, so that its peak memory can be read);
//! - (c) N laptops syncing a day's work each at the same moment (threads of
//!   this process, released by a barrier once all data is prepared), five
//!   to a department (each downloads the other four's 240 cases, whatever
//!   N is), and all in one department (every laptop downloads everyone's
//!   cases: the work grows with N²);
//! - (h) a day's work exchanged in the hall between two laptops of one
//!   department (`hall::exchange`, TLS), on loopback and through the same
//!   slow link as (a).
//!
//! In (c) the laptops' data dirs live on tmpfs (`/dev/shm`) when it exists:
//! real laptops have a disk each, while here hundreds of them would queue
//! for one disk's fsyncs and the figure would measure this machine's disk
//! rather than the server. The server's data dir stays on the real disk.
//! The laptops run in this process and share its CPU with the server; the
//! CPU seconds of both sides are printed to show where the time goes.
//!
//! Environment: `SYNC_BENCH_PARTS` (default `a,h,b,c0,c,c1`; `c0` is 50
//! laptops each alone in its department, uploading only, `c1` the
//! one-department variant, `p` the PostgreSQL variant of (c)) and
//! `SYNC_BENCH_N` (default `10,50,200`) and `SYNC_BENCH_N_ONE_DEPARTMENT`
//! (default `10,50`) select what runs. `p` needs `SPRECHTAG_TEST_POSTGRES`
//! (a cluster: `tests/postgres/cluster.sh`) and runs `SYNC_BENCH_PG_N`
//! (default `50,200`) laptops against `SYNC_BENCH_PG_INSTANCES` (default
//! `1,2`) server instances behind a balancer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sprechtag::store::{CaseFilter, Store};
use sprechtag::sync::{Connection, SyncError, SyncReport};
use sprechtag_e2e::proxy::{LinkProfile, Proxy};
use sprechtag_e2e::{
    HallPeer, Laptop, PASSPHRASE, ServerProcess, TestServer, catalog, enrolment_code, free_port,
};
use sprechtag_schemas::{
    Address, Case, Catalog, Citizen, Consent, DocumentState, IsoDate, Needs, Request,
};
use sprechtag_server::storage::Role;

const DAY_CASES: usize = 60;
const DAY_EDITS: usize = 15;
const BIG_CASES: usize = 1_000;
/// Laptops per department in (c): a county's mobile citizen office. More
/// laptops means more departments, so each laptop's work stays the same and
/// the total can grow linearly; `c1` puts everyone into one department.
const LAPTOPS_PER_DEPARTMENT: usize = 5;

fn main() {
    let parts = env_list("SYNC_BENCH_PARTS", "a,h,b,c0,c,c1");
    let spread_ns: Vec<usize> = env_list("SYNC_BENCH_N", "10,50,200")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let one_department_ns: Vec<usize> = env_list("SYNC_BENCH_N_ONE_DEPARTMENT", "10,50")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let wants = |part: &str| parts.iter().any(|p| p == part);
    let mut table = Table::default();

    println!("sync benchmark — {} CPU cores", cores());
    if wants("b") || wants("c0") || wants("c") || wants("c1") || wants("p") {
        check_server_binary();
    }
    if wants("a") {
        days_work_one_laptop(&mut table);
    }
    if wants("h") {
        hall_exchange(&mut table);
    }
    if wants("b") {
        thousand_cases(&mut table);
    }
    if wants("c0") {
        // Every laptop alone in its department: it uploads its day's work
        // and has nothing to download — what a laptop of the peers' sync
        // servers does, which syncs only the documents it holds.
        many_laptops(50, 50, &mut table);
    }
    if wants("c") {
        let mut runs = Vec::new();
        for &n in &spread_ns {
            runs.push(many_laptops(
                n,
                n.div_ceil(LAPTOPS_PER_DEPARTMENT),
                &mut table,
            ));
        }
        linearity(
            &format!("{LAPTOPS_PER_DEPARTMENT} laptops per department"),
            &runs,
        );
    }
    if wants("p") {
        // PostgreSQL: SYNC_BENCH_PG_N laptops, five to a department, against
        // SYNC_BENCH_PG_INSTANCES server instances on one database.
        for instances in env_list("SYNC_BENCH_PG_INSTANCES", "1,2")
            .iter()
            .filter_map(|n| n.parse::<usize>().ok())
        {
            let mut runs = Vec::new();
            for n in env_list("SYNC_BENCH_PG_N", "50,200")
                .iter()
                .filter_map(|n| n.parse::<usize>().ok())
            {
                runs.push(many_laptops_on(
                    Servers::postgres(instances),
                    n,
                    n.div_ceil(LAPTOPS_PER_DEPARTMENT),
                    &mut table,
                ));
            }
            linearity(&format!("PostgreSQL, {instances} instance(s)"), &runs);
        }
    }
    if wants("c1") {
        let mut runs = Vec::new();
        for &n in &one_department_ns {
            runs.push(many_laptops(n, 1, &mut table));
        }
        linearity("one department", &runs);
    }
    table.print();
}

// ---------------------------------------------------------------- (a) ----

fn days_work_one_laptop(table: &mut Table) {
    println!("\n== (a) a day's work: {DAY_CASES} new cases × {DAY_EDITS} edits, one laptop ==");
    let server = TestServer::start();

    // Loopback, straight to the in-process server.
    let mut laptop = Laptop::enrolled(
        &server.url,
        &server.enrolment_code("tag-loopback", Role::Caseworker, "tag-loopback"),
    );
    let prepared = Instant::now();
    days_work(&mut laptop, 1);
    println!(
        "prepared in {:.1} s ({} local commits)",
        prepared.elapsed().as_secs_f64(),
        DAY_CASES * (DAY_EDITS + 1)
    );
    let start = Instant::now();
    let report = laptop.sync();
    let wall = start.elapsed();
    println!(
        "(a1) loopback, in-process server: {}",
        describe(&report, wall)
    );
    table.row(
        "Day's work (60 cases × 15 edits), loopback",
        format!(
            "{}, {} up / {} down, {} round trips",
            secs(wall),
            kb(report.bytes_up),
            kb(report.bytes_down),
            report.round_trips
        ),
        "automerge-repo: 91 KB on the wire for a day's edits",
    );
    let start = Instant::now();
    let idle = laptop.sync();
    println!(
        "(a1) reconnect with nothing new: {}",
        describe(&idle, start.elapsed())
    );
    table.row(
        "Reconnect, nothing new (60 cases held)",
        format!(
            "{} B up / {} B down, {} round trip(s)",
            idle.bytes_up, idle.bytes_down, idle.round_trips
        ),
        "both peers: ~194 B per stored document",
    );

    // Through the slow link (another department, so nothing to download).
    let proxy = Proxy::start(&server.url, LinkProfile::slow());
    let mut laptop = Laptop::enrolled(
        &proxy.url,
        &server.enrolment_code("tag-slow", Role::Caseworker, "tag-slow"),
    );
    days_work(&mut laptop, 2);
    let before = proxy.bytes();
    let start = Instant::now();
    let report = laptop.sync();
    let wall = start.elapsed();
    let on_wire = proxy.bytes() - before;
    println!(
        "(a2) slow link (256 kbit/s, 300 ms round trip): {}; {} on the wire incl. HTTP",
        describe(&report, wall),
        kb(usize::try_from(on_wire).unwrap_or(usize::MAX))
    );
    table.row(
        "Day's work, 256 kbit/s + 300 ms RTT",
        format!(
            "{}, {} on the wire, {} round trips",
            secs(wall),
            kb(usize::try_from(on_wire).unwrap_or(usize::MAX)),
            report.round_trips
        ),
        "",
    );
}

// ---------------------------------------------------------------- (h) ----

fn hall_exchange(table: &mut Table) {
    println!(
        "\n== (h) a day's work exchanged in the hall: {DAY_CASES} cases × {DAY_EDITS} edits =="
    );
    let server = TestServer::start();
    let laptop = |name: &str| {
        let mut laptop = Laptop::enrolled(
            &server.url,
            &server.enrolment_code(name, Role::Caseworker, "hall"),
        );
        // The certificate for the hall comes with a sync.
        laptop.sync();
        laptop
    };
    for slow in [false, true] {
        let (mut caller, answerer) = (laptop("hall-a"), laptop("hall-b"));
        days_work(&mut caller, if slow { 4 } else { 3 });
        let peer = HallPeer::start(answerer);
        let proxy = slow.then(|| Proxy::start(&peer.address, LinkProfile::slow()));
        let address = proxy.as_ref().map_or(peer.address.clone(), |p| {
            p.url.trim_start_matches("http://").to_string()
        });
        let start = Instant::now();
        let report = sprechtag::hall::exchange(&mut caller.store, &address).expect("exchange");
        let wall = start.elapsed();
        // What the app does every 10 s with nothing new: the digest alone.
        let start = Instant::now();
        let idle = sprechtag::hall::exchange(&mut caller.store, &address).expect("idle");
        let idle_wall = start.elapsed();
        assert_eq!((idle.sent, idle.received), (0, 0), "{idle:?}");
        let (answerer, _) = peer.join();
        assert_eq!(report.sent, DAY_CASES, "{report:?}");
        let mut answerer = answerer;
        assert_eq!(
            answerer.store.hall_offer(None).expect("offer").len(),
            DAY_CASES
        );
        let link = if slow {
            "256 kbit/s + 300 ms RTT"
        } else {
            "loopback"
        };
        let wire = proxy.as_ref().map_or(String::new(), |p| {
            format!(
                ", {} on the wire incl. TLS",
                kb(usize::try_from(p.bytes()).unwrap_or(usize::MAX))
            )
        });
        println!(
            "(h) {link}: {:.2} s, {} up / {} down, {} round trips{wire}",
            wall.as_secs_f64(),
            kb(report.bytes_up),
            kb(report.bytes_down),
            report.round_trips
        );
        table.row(
            &format!("Hall: day's work to a second laptop, {link}"),
            format!(
                "{}, {} up / {} down, {} round trips{wire}",
                secs(wall),
                kb(report.bytes_up),
                kb(report.bytes_down),
                report.round_trips
            ),
            "the server sync of the same work: rows above",
        );
        println!(
            "(h) {link}, nothing new: {:.3} s, {} B up / {} B down, {} round trips",
            idle_wall.as_secs_f64(),
            idle.bytes_up,
            idle.bytes_down,
            idle.round_trips
        );
        table.row(
            &format!("Hall: exchange with nothing new, {link}"),
            format!(
                "{}, {} B up / {} B down (hellos included), {} round trip",
                secs(idle_wall),
                idle.bytes_up,
                idle.bytes_down,
                idle.round_trips
            ),
            "the same whatever the number of documents",
        );
    }
}

/// A day's work: new cases recorded with name and a request, then each
/// edited 15 times — contact data, address, needs, consent, document
/// checks, notes — every edit its own durable local commit.
fn days_work(laptop: &mut Laptop, seed: u64) {
    let catalog = catalog();
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..DAY_CASES {
        let mut draft = Case::draft(Citizen {
            surname: pick(&mut rng, SURNAMES),
            given_names: pick(&mut rng, GIVEN_NAMES),
            ..Citizen::default()
        });
        draft.requests.push(Request::for_service(
            catalog.service("personalausweis").expect("known service"),
        ));
        let case = laptop.store.create_case(draft).expect("create the case");
        let request = &case.requests[0];
        let (request_id, photo, old_id) = (
            request.id.clone(),
            request.documents[1].id.clone(),
            request.documents[0].id.clone(),
        );
        let (town, postcode) = *VILLAGES.choose(&mut rng).expect("villages");
        for e in 0..DAY_EDITS {
            let store = &mut laptop.store;
            let id = case.id.as_str();
            let outcome = match e {
                0 => store.set_case_field(id, "citizen.phone", &phone(&mut rng)),
                1 => store.set_case_field(id, "citizen.birth_date", &birth_date(&mut rng)),
                2 => store.set_case_field(id, "citizen.address.street", &street(&mut rng)),
                3 => store.set_case_field(id, "citizen.address.postcode", postcode),
                4 => store.set_case_field(id, "citizen.address.town", town),
                5 => store.set_case_field(id, "citizen.needs.large_print", "true"),
                6 => store.set_case_field(id, "citizen.consent.given", "true"),
                7 => store.set_case_field(id, "citizen.consent.date", "2025-03-14"),
                8 => store.check_document(id, &request_id, &old_id, DocumentState::Presented),
                9 => store.check_document(id, &request_id, &photo, DocumentState::Missing),
                10 => store.set_case_field(id, "notes", "Bringt das Foto nächste Woche."),
                11 => store.set_case_field(
                    id,
                    "notes",
                    &format!(
                        "Bringt das Foto nächste Woche. Rückruf vormittags unter {}.",
                        phone(&mut rng)
                    ),
                ),
                12 => store.set_case_field(id, "status", "waiting_for_documents"),
                13 => store.set_case_field(id, "citizen.needs.hard_of_hearing", "true"),
                _ => store.set_case_field(id, "citizen.phone", &format!("03456 {i:03}{e:02}")),
            };
            outcome.expect("edit");
        }
    }
}

// ---------------------------------------------------------------- (b) ----

fn thousand_cases(table: &mut Table) {
    println!("\n== (b) {BIG_CASES} cases of about 30 fields: one laptop up, a fresh one down ==");
    let server_dir = tempfile::tempdir().expect("server dir");
    let mut server = ServerProcess::start(server_dir.path(), free_port());
    let pid = server.child.id();
    let idle_kib = vm_kib(pid, "VmRSS");
    let mut up = Laptop::enrolled(
        &server.url,
        &enrolment_code(server_dir.path(), "b-up", Role::Caseworker, "buergerbuero"),
    );
    let catalog = catalog();
    let mut rng = StdRng::seed_from_u64(1000);
    let prepared = Instant::now();
    let mut made = 0;
    while made < BIG_CASES {
        let drafts: Vec<Case> = (made..(made + 100).min(BIG_CASES))
            .map(|i| full_case(&mut rng, &catalog, i))
            .collect();
        made += up.store.create_cases(drafts).expect("create cases").len();
    }
    let sample = up
        .store
        .list_cases(&CaseFilter {
            limit: 1,
            ..CaseFilter::default()
        })
        .expect("list")
        .rows[0]
        .id
        .clone();
    let fields =
        leaf_fields(&serde_json::to_value(up.store.case(&sample).expect("case")).expect("json"));
    println!(
        "prepared {made} cases in {:.1} s ({fields} fields in a sample case, document checks included)",
        prepared.elapsed().as_secs_f64()
    );

    let cpu_before = cpu_seconds(pid);
    let start = Instant::now();
    let report = up.sync();
    let up_wall = start.elapsed();
    let up_cpu = cpu_seconds(pid) - cpu_before;
    println!(
        "(b) upload:   {}; server CPU {:.2} s",
        describe(&report, up_wall),
        up_cpu
    );

    let mut down = Laptop::enrolled(
        &server.url,
        &enrolment_code(
            server_dir.path(),
            "b-down",
            Role::Caseworker,
            "buergerbuero",
        ),
    );
    let cpu_before = cpu_seconds(pid);
    let start = Instant::now();
    let down_report = down.sync();
    let down_wall = start.elapsed();
    let down_cpu = cpu_seconds(pid) - cpu_before;
    let received = down
        .store
        .list_cases(&CaseFilter::default())
        .expect("list")
        .total;
    println!(
        "(b) download: {}; server CPU {:.2} s; {received} cases on the fresh laptop",
        describe(&down_report, down_wall),
        down_cpu
    );
    if received != BIG_CASES {
        println!("!! the fresh laptop holds {received} cases, not {BIG_CASES}");
    }
    let peak = vm_kib(pid, "VmHWM");
    println!(
        "(b) server memory: {} idle after start, peak {} (VmHWM)",
        mb(idle_kib),
        mb(peak)
    );
    table.row(
        "1,000 cases up (one laptop)",
        format!(
            "{}, {}",
            secs(up_wall),
            kb(report.bytes_up + report.bytes_down)
        ),
        "automerge-repo 5.4–9.2 s (1.30 MB); samod 3.4–4.8 s",
    );
    table.row(
        "1,000 cases down (fresh laptop)",
        format!(
            "{}, {}",
            secs(down_wall),
            kb(down_report.bytes_up + down_report.bytes_down)
        ),
        "automerge-repo 2.2–4.0 s",
    );
    table.row(
        "Server peak memory, 1,000 cases up + down",
        mb(peak),
        "automerge-repo 240–290 MB; samod 46–54 MB",
    );
    server.kill();
}

/// A complete case as a mobile office hour records it: the citizen with
/// address, phone, needs and consent, two requests with their documents
/// checked, and a note.
fn full_case(rng: &mut StdRng, catalog: &Catalog, i: usize) -> Case {
    let (town, postcode) = *VILLAGES.choose(rng).expect("villages");
    let mut case = Case::draft(Citizen {
        surname: pick(rng, SURNAMES),
        given_names: pick(rng, GIVEN_NAMES),
        birth_date: Some(birth_date(rng).parse::<IsoDate>().expect("a date")),
        address: Address {
            street: street(rng),
            postcode: postcode.into(),
            town: town.into(),
        },
        phone: phone(rng),
        needs: Needs {
            large_print: rng.random_bool(0.4),
            hard_of_hearing: rng.random_bool(0.2),
            visually_impaired: rng.random_bool(0.05),
            accompanied_by_carer: rng.random_bool(0.15),
            wheelchair_access: rng.random_bool(0.1),
            interpreter: rng.random_bool(0.05),
        },
        consent: Consent {
            given: true,
            date: Some("2025-03-14".parse::<IsoDate>().expect("a date")),
        },
    });
    case.created_at = format!(
        "2025-03-14T{:02}:{:02}:00Z",
        8 + i % 4,
        rng.random_range(0..60)
    );
    case.notes = pick(rng, NOTES).into();
    let (first, second) = *SERVICE_PAIRS.choose(rng).expect("pairs");
    for service in [first, second] {
        let mut request = Request::for_service(catalog.service(service).expect("known service"));
        for document in &mut request.documents {
            document.state = match rng.random_range(0..10) {
                0..=6 => DocumentState::Presented,
                7 | 8 => DocumentState::Missing,
                _ => DocumentState::NotApplicable,
            };
        }
        case.requests.push(request);
    }
    case
}

// ---------------------------------------------------------------- (c) ----

/// What one run of (c) measured, for the linearity check.
struct Run {
    laptops: usize,
    wall: Duration,
    server_cpu: f64,
    client_cpu: f64,
}

/// Registers a device (name, department) and gives its one-time code.
type CodeIssuer = Box<dyn Fn(&str, &str) -> String>;

/// The server side of (c): one SQLite server, or PostgreSQL instances
/// behind a balancer.
struct Servers {
    url: String,
    pids: Vec<u32>,
    label: String,
    /// A one-time code for a device of a department.
    code: CodeIssuer,
    /// Whatever must live as long as the servers.
    _keep: Vec<Box<dyn std::any::Any>>,
}

impl Servers {
    fn sqlite() -> Servers {
        let server_dir = tempfile::tempdir().expect("server dir");
        let server = ServerProcess::start(server_dir.path(), free_port());
        let dir = server_dir.path().to_path_buf();
        Servers {
            url: server.url.clone(),
            pids: vec![server.child.id()],
            label: String::new(),
            code: Box::new(move |name, department| {
                enrolment_code(&dir, name, Role::Caseworker, department)
            }),
            _keep: vec![Box::new(server), Box::new(server_dir)],
        }
    }

    /// `instances` server processes on one new PostgreSQL database (in the
    /// cluster `SPRECHTAG_TEST_POSTGRES` names), behind a balancer that
    /// hands each connection to a random one.
    fn postgres(instances: usize) -> Servers {
        use sprechtag_server::storage::PostgresStorage;
        let database = sprechtag_server::storage::test_database::TestDatabase::create()
            .expect("SPRECHTAG_TEST_POSTGRES names a cluster (tests/postgres/cluster.sh)");
        let storage = PostgresStorage::open(&database.url).expect("the database");
        let dirs: Vec<tempfile::TempDir> = (0..instances)
            .map(|_| tempfile::tempdir().expect("instance dir"))
            .collect();
        let key = sprechtag_server::server_key(dirs[0].path()).expect("server key");
        for dir in &dirs[1..] {
            std::fs::write(dir.path().join("server.key"), &key).expect("share the key");
        }
        let processes: Vec<ServerProcess> = dirs
            .iter()
            .map(|dir| ServerProcess::start_postgres(&database.url, dir.path(), free_port()))
            .collect();
        let upstreams: Vec<String> = processes.iter().map(|p| p.url.clone()).collect();
        let balancer = sprechtag_e2e::balancer::Balancer::start(&upstreams);
        Servers {
            url: balancer.url.clone(),
            pids: processes.iter().map(|p| p.child.id()).collect(),
            label: format!(
                ", PostgreSQL, {instances} instance{}",
                if instances == 1 { "" } else { "s" }
            ),
            code: Box::new(move |name, department| {
                sprechtag_e2e::register_device(&storage, &key, name, Role::Caseworker, department)
            }),
            _keep: vec![
                Box::new(balancer),
                Box::new(processes),
                Box::new(dirs),
                Box::new(database),
            ],
        }
    }

    /// Peak resident memory of each server process.
    fn peaks(&self) -> String {
        self.pids
            .iter()
            .map(|pid| mb(vm_kib(*pid, "VmHWM")))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn many_laptops(n: usize, departments: usize, table: &mut Table) -> Run {
    many_laptops_on(Servers::sqlite(), n, departments, table)
}

fn many_laptops_on(servers: Servers, n: usize, departments: usize, table: &mut Table) -> Run {
    let layout = if departments == 1 {
        "all in one department".to_string()
    } else if departments == n {
        "each alone in its department (upload only)".to_string()
    } else {
        format!("{} to a department", n.div_ceil(departments))
    };
    let label = &servers.label;
    println!("\n== (c) {n} laptops sync a day's work each at once, {layout}{label} ==");
    let pids = servers.pids.clone();

    // Prepare every laptop before the clock starts.
    let prepared = Instant::now();
    let codes: Vec<(String, usize)> = (0..n)
        .map(|i| {
            let department = i % departments;
            let code = (servers.code)(&format!("laptop-{i}"), &format!("amt-{department}"));
            (code, department)
        })
        .collect();
    let laptops = prepare_laptops(&servers.url, &codes);
    let departments_of: Vec<usize> = codes.iter().map(|(_, d)| *d).collect();
    println!(
        "prepared {n} laptops × {DAY_CASES} cases × {DAY_EDITS} edits in {:.1} s (laptop dirs in {})",
        prepared.elapsed().as_secs_f64(),
        laptop_root().display()
    );
    let idle: Vec<String> = pids.iter().map(|pid| mb(vm_kib(*pid, "VmRSS"))).collect();

    let (laptops, first) = sync_all_at_once(laptops, &pids);
    first.print("first sync (the timed one)");
    let peak_first = servers.peaks();
    let (laptops, second) = sync_all_at_once(laptops, &pids);
    second.print("catch-up (everyone syncs again at once)");
    println!(
        "server memory: {} after preparation, peak {} during the first sync, {} overall (VmHWM)",
        idle.join(" + "),
        peak_first,
        servers.peaks()
    );

    // Sanity: every laptop holds its department's cases.
    let mut wrong = 0;
    for (laptop, department) in laptops.iter().zip(&departments_of) {
        let expected = departments_of.iter().filter(|d| *d == department).count() * DAY_CASES;
        let held = laptop
            .store
            .list_cases(&CaseFilter::default())
            .expect("list")
            .total;
        if held != expected {
            wrong += 1;
        }
    }
    let per_department = n.div_ceil(departments);
    println!(
        "converged: {} ({} laptops per department; each should hold {} cases){}",
        if wrong == 0 { "yes" } else { "NO" },
        per_department,
        per_department * DAY_CASES,
        if wrong == 0 {
            String::new()
        } else {
            format!(" — {wrong} laptops hold a different number")
        }
    );
    if departments == 1 {
        println!(
            "note: in one department every laptop downloads everyone's cases: {} case downloads \
             in all, growing with N²",
            n * (n - 1) * DAY_CASES
        );
    }
    let database_cpu = if first.database_cpu > 0.0 {
        format!(
            ", PostgreSQL CPU {:.0} ms per laptop",
            first.database_cpu * 1000.0 / n as f64
        )
    } else {
        String::new()
    };
    table.row(
        &format!("{n} laptops at once, {layout}{label}"),
        format!(
            "{} total, p95 {} per laptop, server CPU {:.0} ms per laptop{database_cpu}, server peak {}",
            secs(first.wall),
            secs(first.p95),
            first.server_cpu * 1000.0 / n as f64,
            peak_first
        ),
        if label.is_empty() { peer_for(n) } else { "" },
    );
    drop(laptops);
    drop(servers);
    Run {
        laptops: n,
        wall: first.wall,
        server_cpu: first.server_cpu,
        client_cpu: first.client_cpu,
    }
}

fn peer_for(n: usize) -> &'static str {
    match n {
        10 => "automerge-repo 8–10 s (350–460 MB); samod 2.3–2.7 s (40–46 MB)",
        50 => "automerge-repo 40 s (700 MB); samod stalled. Target < 4 s, < 140 MB",
        100..=200 => "automerge-repo crashed at 100; samod 130 s at 30",
        _ => "",
    }
}

/// Creates, enrols and fills the laptops on as many threads as there are
/// cores.
fn prepare_laptops(server_url: &str, codes: &[(String, usize)]) -> Vec<Laptop> {
    let workers = cores();
    let mut slots: Vec<Option<Laptop>> = (0..codes.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunk = codes.len().div_ceil(workers).max(1);
        for (w, (slot_chunk, code_chunk)) in
            slots.chunks_mut(chunk).zip(codes.chunks(chunk)).enumerate()
        {
            scope.spawn(move || {
                for (k, (slot, (code, _))) in slot_chunk.iter_mut().zip(code_chunk).enumerate() {
                    let mut laptop = fast_laptop(server_url, code);
                    days_work(&mut laptop, (w * chunk + k) as u64 + 100);
                    *slot = Some(laptop);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every laptop prepared"))
        .collect()
}

/// An enrolled laptop whose data dir is on tmpfs where there is one.
fn fast_laptop(server_url: &str, code: &str) -> Laptop {
    let dir = tempfile::tempdir_in(laptop_root()).expect("laptop dir");
    let mut store =
        Store::create(&dir.path().join("data"), PASSPHRASE, catalog()).expect("create the store");
    let enrolment = sprechtag::sync::enrol(&mut store, server_url, code).expect("enrol");
    // As the app's sync worker: its client is made once, when it starts.
    let mut connection = Connection::default();
    connection.client_for(&enrolment).expect("an HTTP client");
    Laptop {
        dir,
        store,
        connection,
    }
}

fn laptop_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// What one simultaneous sync of all laptops measured.
struct Round {
    wall: Duration,
    p50: Duration,
    p95: Duration,
    max: Duration,
    bytes_up: usize,
    bytes_down: usize,
    round_trips: usize,
    downloaded: usize,
    from_summaries: usize,
    retries: u32,
    errors: Vec<String>,
    server_cpu: f64,
    client_cpu: f64,
    /// CPU of PostgreSQL's processes (0 without).
    database_cpu: f64,
}

impl Round {
    fn print(&self, label: &str) {
        println!(
            "{label}: total {}, per laptop p50 {} p95 {} max {}; {} up, {} down, {} round trips, \
             {} cases downloaded ({} indexed from summaries), {} retries; server CPU {:.1} s, \
             laptops' CPU {:.1} s",
            secs(self.wall),
            secs(self.p50),
            secs(self.p95),
            secs(self.max),
            kb(self.bytes_up),
            kb(self.bytes_down),
            self.round_trips,
            self.downloaded,
            self.from_summaries,
            self.retries,
            self.server_cpu,
            self.client_cpu
        );
        if !self.errors.is_empty() {
            println!(
                "!! {} syncs failed, e.g. {}",
                self.errors.len(),
                self.errors[0]
            );
        }
    }
}

/// Releases every laptop's sync at the same moment and waits for all.
fn sync_all_at_once(laptops: Vec<Laptop>, server_pids: &[u32]) -> (Vec<Laptop>, Round) {
    let server_cpu_now = || server_pids.iter().map(|pid| cpu_seconds(*pid)).sum::<f64>();
    let barrier = Arc::new(Barrier::new(laptops.len() + 1));
    let threads: Vec<_> = laptops
        .into_iter()
        .map(|mut laptop| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                let outcome: Result<SyncReport, SyncError> =
                    laptop.connection.sync(&mut laptop.store);
                (laptop, start.elapsed(), outcome)
            })
        })
        .collect();
    let server_cpu = server_cpu_now();
    let client_cpu = cpu_seconds(std::process::id());
    let database_cpu = postgres_cpu_seconds();
    barrier.wait();
    let start = Instant::now();
    let mut laptops = Vec::new();
    let mut times = Vec::new();
    let mut round = Round {
        wall: Duration::ZERO,
        p50: Duration::ZERO,
        p95: Duration::ZERO,
        max: Duration::ZERO,
        bytes_up: 0,
        bytes_down: 0,
        round_trips: 0,
        downloaded: 0,
        from_summaries: 0,
        retries: 0,
        errors: Vec::new(),
        server_cpu: 0.0,
        client_cpu: 0.0,
        database_cpu: 0.0,
    };
    for thread in threads {
        let (laptop, took, outcome) = thread.join().expect("sync thread");
        times.push(took);
        match outcome {
            Ok(report) => {
                round.bytes_up += report.bytes_up;
                round.bytes_down += report.bytes_down;
                round.round_trips += report.round_trips;
                round.downloaded += report.downloaded;
                round.from_summaries += report.from_summaries;
                round.retries += report.retries;
                if !report.complete() {
                    round.errors.push(format!("incomplete: {report:?}"));
                }
            }
            Err(e) => round.errors.push(e.to_string()),
        }
        laptops.push(laptop);
    }
    round.wall = start.elapsed();
    round.server_cpu = server_cpu_now() - server_cpu;
    round.client_cpu = cpu_seconds(std::process::id()) - client_cpu;
    round.database_cpu = postgres_cpu_seconds() - database_cpu;
    times.sort();
    round.p50 = percentile(&times, 50);
    round.p95 = percentile(&times, 95);
    round.max = times.last().copied().unwrap_or_default();
    (laptops, round)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn linearity(label: &str, runs: &[Run]) {
    if runs.len() < 2 {
        return;
    }
    println!("\n-- growth with N ({label}) --");
    let base = &runs[0];
    for run in runs {
        let n = run.laptops as f64;
        println!(
            "N = {:>3}: {:>7.1} ms wall per laptop, {:>6.1} ms server CPU per laptop, \
             {:>6.1} ms laptops' CPU per laptop",
            run.laptops,
            run.wall.as_secs_f64() * 1000.0 / n,
            run.server_cpu * 1000.0 / n,
            run.client_cpu * 1000.0 / n
        );
    }
    let last = &runs[runs.len() - 1];
    let n_factor = last.laptops as f64 / base.laptops as f64;
    let wall_factor = last.wall.as_secs_f64() / base.wall.as_secs_f64().max(1e-9);
    let cpu_factor =
        (last.server_cpu + last.client_cpu) / (base.server_cpu + base.client_cpu).max(1e-9);
    let verdict = |factor: f64| {
        if factor <= n_factor * 1.25 {
            "linear or better"
        } else {
            "faster than linear"
        }
    };
    println!(
        "N ×{n_factor:.0} ({} → {}): total wall ×{wall_factor:.1} ({}), total CPU ×{cpu_factor:.1} ({})",
        base.laptops,
        last.laptops,
        verdict(wall_factor),
        verdict(cpu_factor)
    );
}

// ------------------------------------------------------------ helpers ----

fn check_server_binary() {
    let exe = std::env::current_exe().expect("bench binary path");
    let Some(dir) = exe.parent().and_then(Path::parent) else {
        return;
    };
    let server = dir.join("sprechtag-server");
    match std::fs::metadata(&server).and_then(|m| m.modified()) {
        Ok(modified) => {
            let age = modified.elapsed().unwrap_or_default();
            println!(
                "server binary: {} (built {:.0} min ago; run `cargo build --release -p \
                 sprechtag-server` if the server changed since)",
                server.display(),
                age.as_secs_f64() / 60.0
            );
        }
        Err(_) => {
            eprintln!(
                "{} is missing: run `cargo build --release -p sprechtag-server` first",
                server.display()
            );
            std::process::exit(2);
        }
    }
}

/// A line of /proc/PID/status in KiB (VmHWM: peak resident memory).
fn vm_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of a process so far (all its threads).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; fields count from after its ')'.
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0 // USER_HZ is 100 on Linux
}

/// CPU seconds of every PostgreSQL process on this machine (the cluster's
/// backends come and go with connections; those that ended are missed).
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn describe(report: &SyncReport, wall: Duration) -> String {
    format!(
        "{} wall, {} up, {} down, {} round trips, {} uploaded, {} downloaded ({} from \
         summaries)",
        secs(wall),
        kb(report.bytes_up),
        kb(report.bytes_down),
        report.round_trips,
        report.uploaded,
        report.downloaded,
        report.from_summaries
    )
}

fn leaf_fields(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => map.values().map(leaf_fields).sum(),
        serde_json::Value::Array(items) => items.iter().map(leaf_fields).sum(),
        _ => 1,
    }
}

fn secs(duration: Duration) -> String {
    let s = duration.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn kb(bytes: usize) -> String {
    if bytes >= 1_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} KB", bytes as f64 / 1e3)
    }
}

fn mb(kib: u64) -> String {
    format!("{:.0} MB", kib as f64 * 1024.0 / 1e6)
}

/// The summary for the README.
#[derive(Default)]
struct Table {
    rows: Vec<(String, String, String)>,
}

impl Table {
    fn row(&mut self, workload: &str, measured: impl Into<String>, peers: &str) {
        self.rows
            .push((workload.to_string(), measured.into(), peers.to_string()));
    }

    fn print(&self) {
        println!("\n| Workload | Sprechtag (this machine) | Peers (peers.md) |");
        println!("|---|---|---|");
        for (workload, measured, peers) in &self.rows {
            println!("| {workload} | {measured} | {peers} |");
        }
    }
}

// --------------------------------------------------------------- data ----

fn pick(rng: &mut StdRng, list: &[&str]) -> String {
    list.choose(rng).copied().unwrap_or_default().to_string()
}

fn phone(rng: &mut StdRng) -> String {
    format!(
        "0345{} {}",
        rng.random_range(1..9),
        rng.random_range(10000..99999)
    )
}

fn birth_date(rng: &mut StdRng) -> String {
    format!(
        "{}-{:02}-{:02}",
        rng.random_range(1931..1975),
        rng.random_range(1..=12),
        rng.random_range(1..=28)
    )
}

fn street(rng: &mut StdRng) -> String {
    format!("{} {}", pick(rng, STREETS), rng.random_range(1..80))
}

const VILLAGES: &[(&str, &str)] = &[
    ("Kleinbrück", "12351"),
    ("Oberwiesental", "12352"),
    ("Hohenfelde", "12353"),
    ("Niederau", "12354"),
    ("Birkenhain", "12355"),
    ("Grünwald am See", "12356"),
    ("Altdorf", "12357"),
    ("Mühlbach", "12358"),
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
    "Zimmermann",
    "Krüger",
    "Hartmann",
    "Köhler",
    "Jäger",
    "Möller",
    "Weiß",
    "Günther",
    "Böhm",
    "Müller-Lüdenscheidt",
    "Özdemir",
    "Nowak",
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
    "Jürgen",
    "Monika",
    "Waltraud",
    "Elfriede",
    "Ayşe",
    "Karl-Heinz",
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
];
/// Two requests that come up together at mobile office hours.
const SERVICE_PAIRS: &[(&str, &str)] = &[
    ("personalausweis", "meldebescheinigung"),
    ("wohngeld", "rundfunkbeitrag-befreiung"),
    ("schwerbehindertenausweis", "parkausweis-behinderung"),
    ("reisepass", "personalausweis"),
    ("lebensbescheinigung", "beglaubigung"),
    ("hund-anmelden", "wohnsitz-anmelden"),
    ("blindengeld", "schwerbehindertenausweis-verlaengern"),
    ("fuehrungszeugnis", "beglaubigung"),
];
