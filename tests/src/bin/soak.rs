//! Soak test (not part of CI):
//!
//! ```sh
//! cargo run --release -p sprechtag-e2e --bin soak -- --laptops 32 --minutes 10
//! ```
//!
//! Laptops record cases, comment on cases and sync at random, each on its
//! own thread, while the server (a real `sprechtag-server` process on an
//! encrypted database) is killed with SIGKILL at random moments and
//! started again. At the end the killing stops, every laptop syncs until
//! nothing is left, and the run fails unless
//! - every laptop holds every case ever recorded, with the same heads, and
//! - every comment ever written (each a unique token) is in its case on
//!   every laptop — nothing acknowledged, nor anything else, was lost;
//! - the server's memory did not grow from minute 2 to the last minute
//!   (the peak resident size of each minute, across restarts).
//!
//! Prints one JSON object with the figures (kept in the README).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use sprechtag_e2e::{Laptop, ServerProcess, enrolment_code, free_port};
use sprechtag_server::storage::Role;

struct Options {
    laptops: usize,
    minutes: f64,
    seed: u64,
}

fn options() -> Options {
    let mut options = Options {
        laptops: 32,
        minutes: 10.0,
        seed: rand::random(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--laptops" => options.laptops = value.parse().expect("--laptops N"),
            "--minutes" => options.minutes = value.parse().expect("--minutes M"),
            "--seed" => options.seed = value.parse().expect("--seed S"),
            other => panic!("unknown option {other}; use --laptops N --minutes M [--seed S]"),
        }
    }
    options
}

/// The server process and what the soak observed of it.
struct Server {
    process: Mutex<ServerProcess>,
    dir: std::path::PathBuf,
    port: u16,
    kills: AtomicU64,
}

impl Server {
    fn rss_kib(&self) -> Option<u64> {
        let pid = self.process.lock().ok()?.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    fn kill_and_restart(&self) {
        let mut process = self.process.lock().expect("server lock");
        process.kill();
        self.kills.fetch_add(1, Ordering::Relaxed);
        *process = ServerProcess::start(&self.dir, self.port);
    }
}

/// What one laptop did.
#[derive(Default)]
struct Work {
    cases: Vec<String>,
    comments: Vec<(String, String)>,
    syncs_ok: u64,
    syncs_failed: u64,
}

/// `cargo run` builds this binary, not the server's: build it too, in the
/// same profile.
fn build_server() {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let mut command = std::process::Command::new(cargo);
    // With this crate selected too, features resolve as for `cargo run`
    // of it, and nothing is built twice.
    command.args([
        "build",
        "-p",
        "sprechtag-server",
        "-p",
        "sprechtag-e2e",
        "--bin",
        "sprechtag-server",
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let status = command.status().expect("cargo build");
    assert!(status.success(), "building sprechtag-server failed");
}

fn main() {
    let options = options();
    build_server();
    let server_dir = tempfile::tempdir().expect("server dir");
    let port = free_port();
    let server = Arc::new(Server {
        process: Mutex::new(ServerProcess::start(server_dir.path(), port)),
        dir: server_dir.path().to_path_buf(),
        port,
        kills: AtomicU64::new(0),
    });
    let url = format!("http://127.0.0.1:{port}");
    let laptops: Vec<Laptop> = (0..options.laptops)
        .map(|i| {
            let code = enrolment_code(
                server_dir.path(),
                &format!("soak-{i}"),
                Role::Caseworker,
                "buergerbuero",
            );
            Laptop::enrolled(&url, &code)
        })
        .collect();
    // Every case id recorded by any laptop, for the others to comment on.
    let known: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let duration = Duration::from_secs_f64(options.minutes * 60.0);

    // The killer: SIGKILL at random moments, 3 to 20 seconds apart.
    let killer = {
        let (server, stop) = (server.clone(), stop.clone());
        let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed ^ 0x5eed);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let wait = Duration::from_millis(rng.random_range(3_000..20_000));
                let until = Instant::now() + wait;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                if !stop.load(Ordering::Relaxed) {
                    server.kill_and_restart();
                }
            }
        })
    };

    // Peak resident size per minute.
    let memory = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut peaks: BTreeMap<u64, u64> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(rss) = server.rss_kib() {
                    let minute = started.elapsed().as_secs() / 60;
                    let peak = peaks.entry(minute).or_default();
                    *peak = (*peak).max(rss);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            peaks
        })
    };

    let workers: Vec<_> = laptops
        .into_iter()
        .enumerate()
        .map(|(i, mut laptop)| {
            let known = known.clone();
            let seed = options.seed.wrapping_add(i as u64);
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut work = Work::default();
                while started.elapsed() < duration {
                    match rng.random_range(0..10) {
                        0..=2 => {
                            let case = laptop.new_case(&format!("Soak{i}"), &["wohngeld"]);
                            known.lock().expect("known").push(case.id.clone());
                            work.cases.push(case.id);
                        }
                        3..=6 => {
                            let target = {
                                let known = known.lock().expect("known");
                                (!known.is_empty())
                                    .then(|| known[rng.random_range(0..known.len())].clone())
                            };
                            // A case recorded elsewhere arrives with a sync.
                            if let Some(id) = target
                                && laptop.store.case(&id).is_ok()
                            {
                                let token = format!("L{i}-C{}", work.comments.len());
                                laptop
                                    .store
                                    .comment_case(&id, &token)
                                    .expect("a comment is stored");
                                work.comments.push((id, token));
                            }
                        }
                        _ => match laptop.connection.sync(&mut laptop.store) {
                            Ok(_) => work.syncs_ok += 1,
                            Err(_) => work.syncs_failed += 1,
                        },
                    }
                    std::thread::sleep(Duration::from_millis(rng.random_range(20..400)));
                }
                (laptop, work)
            })
        })
        .collect();
    let mut finished: Vec<(Laptop, Work)> = workers
        .into_iter()
        .map(|w| w.join().expect("a laptop thread"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    killer.join().expect("killer");
    let peaks = memory.join().expect("memory");

    // Everyone syncs until nothing is left (twice around: the first
    // laptops meet what the last ones upload).
    for _ in 0..3 {
        for (laptop, _) in &mut finished {
            let mut tries = 0;
            loop {
                match laptop.connection.sync(&mut laptop.store) {
                    Ok(report) if report.complete() => break,
                    outcome => {
                        tries += 1;
                        assert!(tries < 20, "a laptop does not finish its sync: {outcome:?}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        }
    }

    let cases: BTreeSet<String> = finished.iter().flat_map(|(_, w)| w.cases.clone()).collect();
    let comments: Vec<(String, String)> = finished
        .iter()
        .flat_map(|(_, w)| w.comments.clone())
        .collect();
    let mut lost = Vec::new();
    let mut reference: BTreeMap<String, Vec<automerge::ChangeHash>> = BTreeMap::new();
    for (n, (laptop, _)) in finished.iter_mut().enumerate() {
        for id in &cases {
            match (laptop.store.case_heads(id), reference.get(id)) {
                (Ok(mine), None) if n == 0 => {
                    reference.insert(id.clone(), mine);
                }
                (Ok(mine), Some(theirs)) if &mine == theirs => {}
                (mine, theirs) => lost.push(format!(
                    "case {id} on laptop {n}: heads {mine:?}, on the first laptop {theirs:?}"
                )),
            }
        }
    }
    let mut texts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let last = &mut finished.last_mut().expect("a laptop").0;
    for id in &cases {
        if let Ok(case) = last.store.case(id) {
            texts.insert(
                id.clone(),
                case.comments.iter().map(|c| c.text.clone()).collect(),
            );
        }
    }
    for (id, token) in &comments {
        if !texts.get(id).is_some_and(|t| t.contains(token)) {
            lost.push(format!("comment {token} on case {id}"));
        }
    }
    let minute = |m: u64| peaks.get(&m).copied();
    let last_minute = peaks.keys().next_back().copied().unwrap_or(0);
    let early = minute(2).or_else(|| minute(1)).unwrap_or(0);
    let late = minute(last_minute).unwrap_or(0);
    let figures = serde_json::json!({
        "laptops": options.laptops,
        "minutes": options.minutes,
        "seed": options.seed,
        "server_kills": server.kills.load(Ordering::Relaxed),
        "cases": cases.len(),
        "comments": comments.len(),
        "syncs_ok": finished.iter().map(|(_, w)| w.syncs_ok).sum::<u64>(),
        "syncs_failed": finished.iter().map(|(_, w)| w.syncs_failed).sum::<u64>(),
        "lost": lost.len(),
        "server_peak_rss_kib_by_minute": peaks,
    });
    println!("{figures}");
    for what in lost.iter().take(20) {
        eprintln!("LOST: {what}");
    }
    assert!(lost.is_empty(), "{} things lost or diverged", lost.len());
    // Judged from minute 2 on, so only for runs of three minutes or more.
    assert!(
        last_minute < 3 || late <= early + early / 2 + 16 * 1024,
        "server memory grew from {early} KiB (minute 2) to {late} KiB (minute {last_minute})"
    );
    eprintln!("soak passed");
}
