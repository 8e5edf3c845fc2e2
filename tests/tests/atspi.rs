//! The app as a screen reader meets it: the real binary in its own X
//! server (Xvfb), session bus and AT-SPI bus, driven by a real AT-SPI client
//! (`tests/atspi/visit.py`, Python with pyatspi) that unlocks the store,
//! opens an office hour, records a visit, marks a document and finds the
//! case again through AT-SPI actions alone, checking roles, names, states
//! and spoken announcements. Afterwards the store holds what was recorded.
//!
//! Needs Xvfb, dbus-daemon, at-spi2-core and python3-pyatspi (Debian);
//! `.ci/run` installs them. Without them the test says so and passes —
//! except under CI, where it fails.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sprechtag::store::{CaseFilter, Store};
use sprechtag_e2e::{PASSPHRASE, catalog, workspace_binary};
use sprechtag_schemas::{DocumentState, Role};

const XVFB: &str = "/usr/bin/Xvfb";
const DBUS: &str = "/usr/bin/dbus-daemon";
const BUS_LAUNCHER: &str = "/usr/libexec/at-spi-bus-launcher";
/// Debian's Python: pyatspi comes with it, not with a Python from elsewhere.
const PYTHON: &str = "/usr/bin/python3";

/// An X server, a session bus with the AT-SPI bus launcher, and the
/// environment that points programs at them; all stopped on drop. One at a
/// time: three started at once by parallel tests once left an app that
/// could not open its X display (not reproduced; X servers killed by one
/// test while another's starts share lock files and socket paths).
struct Desktop {
    runtime: tempfile::TempDir,
    display: String,
    processes: Vec<Child>,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static DESKTOPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Desktop {
    fn start() -> Desktop {
        let runtime = tempfile::tempdir().expect("runtime dir");
        let mut desktop = Desktop {
            runtime,
            display: String::new(),
            processes: Vec::new(),
            // A test that failed while holding it poisoned it: go on.
            _one_at_a_time: DESKTOPS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        // -displayfd: Xvfb picks a free display and writes its number.
        let mut xvfb = detached(XVFB)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut line = String::new();
        let stdout = xvfb.stdout.take().expect("Xvfb's stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb's display number");
        desktop.display = format!(":{}", line.trim());
        desktop.processes.push(xvfb);
        let socket = format!("/tmp/.X11-unix/X{}", line.trim());
        wait_until("the X server", || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });

        let bus = desktop.runtime.path().join("bus");
        let daemon = detached(DBUS)
            .args(["--session", "--nofork"])
            .arg(format!("--address=unix:path={}", bus.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a session bus");
        desktop.processes.push(daemon);
        wait_until("the session bus", || bus.exists());
        let launcher = desktop
            .command(BUS_LAUNCHER)
            .arg("--launch-immediately")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the AT-SPI bus launcher");
        desktop.processes.push(launcher);
        desktop
    }

    /// A command that runs on this desktop.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = detached(program);
        command
            .env("DISPLAY", &self.display)
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.runtime.path().join("bus").display()),
            )
            .env_remove("WAYLAND_DISPLAY");
        command
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // Each runs in its own process group: the bus launcher's own bus and
        // registry daemon go with it.
        for child in self.processes.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

/// A command in a process group of its own, so that it can be stopped
/// with everything it starts.
fn detached(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.process_group(0);
    command
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tools_missing() -> Vec<&'static str> {
    let mut missing: Vec<&str> = [XVFB, DBUS, BUS_LAUNCHER, PYTHON]
        .into_iter()
        .filter(|tool| !Path::new(tool).exists())
        .collect();
    let pyatspi = Command::new(PYTHON)
        .args(["-c", "import pyatspi"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !pyatspi {
        missing.push("python3-pyatspi");
    }
    missing
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("atspi")
        .join(name)
}

/// Skips (or, under CI, fails) where no AT-SPI desktop can be started.
fn desktop_available() -> bool {
    let missing = tools_missing();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the AT-SPI test; missing: {missing:?}"
        );
        eprintln!("skipped: no AT-SPI desktop here (missing {missing:?}); .ci/run installs it");
        return false;
    }
    true
}

/// Runs the app on `data` and the AT-SPI client `script` against it (with
/// the passphrase and `args`); panics with both outputs unless the client
/// succeeded.
fn run_client(desktop: &Desktop, data: &Path, script: &Path, args: &[&str]) -> String {
    let mut app = desktop
        .command(workspace_binary("sprechtag"))
        .arg("--data-dir")
        .arg(data)
        // The hall's mDNS on a port of the test's own, not the network's.
        .env(
            "SPRECHTAG_MDNS_PORT",
            sprechtag_e2e::free_port().to_string(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the app");
    let client = desktop
        .command(PYTHON)
        .arg(script)
        .arg(PASSPHRASE)
        .args(args)
        .output()
        .expect("run the AT-SPI client");
    // Killed, not closed: what the app showed as saved is on disk already.
    let _ = app.kill();
    let app_output = app.wait_with_output().expect("the app's output");
    let stdout = String::from_utf8_lossy(&client.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&client.stderr);
    assert!(
        client.status.success(),
        "the AT-SPI client failed:\n{stdout}\n{stderr}\napp: {}",
        String::from_utf8_lossy(&app_output.stderr)
    );
    stdout
}

#[test]
fn a_screen_reader_user_records_a_visit_and_finds_it_again_through_at_spi() {
    if !desktop_available() {
        return;
    }
    let desktop = Desktop::start();
    let laptop = tempfile::tempdir().expect("data dir");
    let data = laptop.path().join("data");
    let mut store = Store::create(&data, PASSPHRASE, catalog()).expect("a store to unlock");
    // A citizen who asks to be erased (the script erases this case).
    let erased = store
        .create_case(sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
            surname: "Bleibtreu".into(),
            given_names: "Konrad".into(),
            ..sprechtag_schemas::Citizen::default()
        }))
        .expect("a case to erase");
    drop(store);

    let stdout = run_client(&desktop, &data, &script("visit.py"), &[]);
    eprintln!("{stdout}");
    drop(desktop);

    let mut store = Store::open(&data, PASSPHRASE, catalog()).expect("open the store");
    let page = store
        .list_cases(&CaseFilter {
            search: "Zwölfmeier".into(),
            ..CaseFilter::default()
        })
        .expect("search");
    assert_eq!(page.total, 1);
    let case = store.case(&page.rows[0].id).expect("the visit");
    assert_eq!(case.citizen.given_names, "Wilhelmine");
    let request = &case.requests[0];
    assert_eq!(request.service_id, "personalausweis");
    let photo = request
        .documents
        .iter()
        .find(|d| d.id == "biometrisches-foto")
        .expect("the photo on the checklist");
    assert_eq!(photo.state, DocumentState::Presented);
    assert!(
        store
            .tombstone(&erased.id)
            .expect("tombstone")
            .is_some_and(|t| t.number == erased.number),
        "the case erased through the screen reader is gone"
    );
}

#[test]
fn a_screen_reader_user_hears_that_the_store_is_damaged_and_restores_the_backup() {
    if !desktop_available() {
        return;
    }
    let desktop = Desktop::start();
    let laptop = tempfile::tempdir().expect("data dir");
    let data = laptop.path().join("data");
    let mut store = Store::create(&data, PASSPHRASE, catalog()).expect("a store");
    for surname in ["Vorher", "Auchvorher"] {
        let mut case = sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
            surname: surname.into(),
            given_names: "Erika".into(),
            ..sprechtag_schemas::Citizen::default()
        });
        case.notes = "Ein Vermerk, der Seiten füllt. ".repeat(40).into();
        store.create_case(case).expect("a case");
    }
    store.backup_now().expect("the app's backup");
    drop(store);
    // A page of the documents goes bad.
    let database = data.join(sprechtag::store::DATABASE_FILE);
    let mut bytes = std::fs::read(&database).expect("read");
    let pages = bytes.len() / 4096;
    let at = (pages - 2) * 4096 + 300;
    bytes[at..at + 64].fill(0x5a);
    std::fs::write(&database, bytes).expect("damage");

    let stdout = run_client(&desktop, &data, &script("restore.py"), &[]);
    eprintln!("{stdout}");
    drop(desktop);
    let store = Store::open(&data, PASSPHRASE, catalog()).expect("the restored store");
    assert_eq!(store.damage(), None);
    assert_eq!(store.integrity_check().expect("check"), "ok");
}

#[test]
fn a_screen_reader_user_exchanges_with_a_colleagues_laptop_in_the_hall() {
    if !desktop_available() {
        return;
    }
    let server = sprechtag_e2e::TestServer::start();
    let mut own = server.laptop("Laptop A", Role::Caseworker, "buergerbuero");
    own.sync();
    let mut colleague = server.laptop("Laptop B", Role::Caseworker, "buergerbuero");
    colleague.sync();
    let case = colleague.new_case("Saalgast", &["wohngeld"]);
    // The hall needs no server.
    drop(server);
    let data = own.data_dir();
    let sprechtag_e2e::Laptop {
        dir: _own_dir,
        store,
        ..
    } = own;
    drop(store);
    let peer = sprechtag_e2e::HallPeer::start(colleague);

    let desktop = Desktop::start();
    let stdout = run_client(
        &desktop,
        &data,
        &script("hall.py"),
        &[&peer.address, "Laptop B", "Saalgast"],
    );
    eprintln!("{stdout}");
    drop(desktop);
    let (_, served) = peer.join();
    assert!(served.first().is_some_and(Result::is_ok), "{served:?}");

    let mut store = Store::open(&data, PASSPHRASE, catalog()).expect("open the store");
    assert_eq!(
        store
            .case(&case.id)
            .expect("the colleague's case")
            .citizen
            .surname,
        "Saalgast"
    );
}
