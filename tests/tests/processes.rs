//! The real programs, as an administrator and caseworkers use them: a
//! `sprechtag-server serve` process, devices enrolled and revoked with
//! `sprechtag-server device …`, and two laptops that are nothing but
//! `sprechtag` CLI processes on their own data dirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sprechtag_e2e::{ServerProcess, free_port, workspace_binary};
use tempfile::TempDir;

const PASSPHRASE: &str = "Dorfgemeinschaftshaus-7";
const DEPARTMENT: &str = "buergerbuero";

fn describe(program: &str, args: &[&str], output: &Output) -> String {
    format!(
        "{program} {args:?}\n  status: {}\n  stdout: {}\n  stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json_line(program: &str, args: &[&str], line: &str) -> Value {
    let value: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{program} {args:?}: {line:?} is no JSON: {e}"));
    assert!(value.is_object(), "{program} {args:?} printed {value}");
    value
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// The server's data dir, and the `sprechtag-server device …` commands on it.
struct Admin {
    dir: TempDir,
}

impl Admin {
    /// An encrypted server's data dir (its key beside the data).
    fn new() -> Admin {
        let dir = tempfile::tempdir().expect("server dir");
        sprechtag_e2e::test_key_file(dir.path());
        Admin { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        sprechtag_e2e::server_command(self.dir.path())
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .output()
            .expect("sprechtag-server can be started")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "expected success: {}",
            describe("sprechtag-server", args, &output)
        );
        String::from_utf8(output.stdout).expect("stdout is UTF-8")
    }

    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "expected failure: {}",
            describe("sprechtag-server", args, &output)
        );
        String::from_utf8(output.stderr).expect("stderr is UTF-8")
    }

    /// `device enrol`: returns the printed `{"code", "device_id", ...}`.
    fn enrol(&self, name: &str, user: &str) -> Value {
        let args = [
            "device",
            "enrol",
            "--name",
            name,
            "--user",
            user,
            "--role",
            "caseworker",
            "--department",
            DEPARTMENT,
        ];
        let stdout = self.ok(&args);
        let printed = json_line("sprechtag-server", &args, stdout.trim());
        let code = str_at(&printed, "/code");
        assert!(
            code.len() == 9 && code.as_bytes()[4] == b'-',
            "a code a person can type: {printed}"
        );
        assert!(!str_at(&printed, "/device_id").is_empty(), "{printed}");
        printed
    }

    fn devices(&self) -> Vec<Value> {
        let args = ["device", "list"];
        self.ok(&args)
            .lines()
            .map(|line| json_line("sprechtag-server", &args, line))
            .collect()
    }

    fn device(&self, id: &str) -> Value {
        self.devices()
            .into_iter()
            .find(|d| d["id"] == id)
            .unwrap_or_else(|| panic!("device {id} is not listed"))
    }

    fn serve(&self) -> ServerProcess {
        ServerProcess::start(self.dir.path(), free_port())
    }
}

/// A laptop that is only ever driven through the `sprechtag` CLI.
struct CliLaptop {
    tmp: TempDir,
}

impl CliLaptop {
    fn new() -> CliLaptop {
        CliLaptop {
            tmp: tempfile::tempdir().expect("laptop dir"),
        }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(workspace_binary("sprechtag"))
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
            .env_remove("SPRECHTAG_CA_CERT")
            .output()
            .expect("sprechtag can be started")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "expected success: {}",
            describe("sprechtag", args, &output)
        );
        String::from_utf8(output.stdout).expect("stdout is UTF-8")
    }

    fn ok_json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        json_line("sprechtag", args, stdout.trim())
    }

    /// Runs a command that must fail; returns its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "expected failure: {}",
            describe("sprechtag", args, &output)
        );
        let stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
        assert!(
            !stderr.trim().is_empty(),
            "a failing command explains itself on stderr: sprechtag {args:?}"
        );
        stderr
    }

    fn enrol(&self, server: &ServerProcess, code: &str) -> Value {
        self.ok_json(&["enrol", "--server", &server.url, "--code", code])
    }

    /// `sprechtag sync` must exit 0; returns its report.
    fn sync(&self) -> Value {
        let report = self.ok_json(&["sync"]);
        assert_eq!(report["pending"], 0, "{report}");
        assert_eq!(report["rejected"], json!([]), "{report}");
        report
    }

    fn open_office_hour(&self) -> String {
        let printed = self.ok_json(&[
            "office-hour",
            "open",
            "--place",
            "Kleinbrück, Dorfgemeinschaftshaus",
            "--date",
            "2026-11-22",
            "--caseworker",
            "Anna Schäfer",
        ]);
        str_at(&printed, "/id").to_string()
    }

    /// `case new --json`: returns the new case's id.
    fn new_case(&self, draft: &Value) -> String {
        let file = self.tmp.path().join("case.json");
        std::fs::write(&file, draft.to_string()).expect("write the draft");
        let printed = self.ok_json(&["case", "new", "--json", path_str(&file)]);
        str_at(&printed, "/id").to_string()
    }

    fn set(&self, id: &str, path: &str, value: &str) {
        self.ok_json(&["case", "set", id, path, value]);
    }

    fn show(&self, id: &str) -> Value {
        self.ok_json(&["case", "show", id])
    }
}

fn draft(office_hour_id: &str, surname: &str) -> Value {
    json!({
        "office_hour_id": office_hour_id,
        "citizen": {
            "surname": surname,
            "given_names": "Wilhelmine",
            "birth_date": "1941-03-07"
        },
        "notes": "Kommt mit Tochter.",
        "requests": [
            { "service_id": "personalausweis" },
            { "service_id": "wohngeld" }
        ]
    })
}

#[test]
fn device_enrol_prints_a_code_and_device_list_shows_each_device_with_its_last_sync() {
    let admin = Admin::new();
    let first = admin.enrol("Laptop 1", "a.schaefer");
    let second = admin.enrol("Laptop 2", "b.mueller");
    assert_ne!(first["code"], second["code"]);
    assert_ne!(first["device_id"], second["device_id"]);
    assert_ne!(
        first["prefix"], second["prefix"],
        "unique case-number prefixes"
    );

    let devices = admin.devices();
    assert_eq!(devices.len(), 2, "{devices:?}");
    for (printed, name, user) in [
        (&first, "Laptop 1", "a.schaefer"),
        (&second, "Laptop 2", "b.mueller"),
    ] {
        let id = str_at(printed, "/device_id");
        let listed = admin.device(id);
        assert_eq!(listed["name"], name, "{listed}");
        assert_eq!(listed["user"], user, "{listed}");
        assert_eq!(listed["role"], "caseworker", "{listed}");
        assert_eq!(listed["department"], DEPARTMENT, "{listed}");
        assert!(
            listed.get("last_seen").is_some_and(Value::is_null),
            "never seen yet: {listed}"
        );
    }

    // The first laptop enrols and syncs; only its device has been seen.
    let server = admin.serve();
    let laptop = CliLaptop::new();
    laptop.enrol(&server, str_at(&first, "/code"));
    laptop.sync();
    let seen = admin.device(str_at(&first, "/device_id"));
    assert!(
        seen["last_seen"].as_str().is_some_and(|t| !t.is_empty()),
        "a synced device has a last-seen time: {seen}"
    );
    let unseen = admin.device(str_at(&second, "/device_id"));
    assert!(unseen["last_seen"].is_null(), "{unseen}");
}

#[test]
fn device_enrol_with_an_unknown_role_fails_and_registers_nothing() {
    let admin = Admin::new();
    let stderr = admin.fails(&[
        "device",
        "enrol",
        "--name",
        "Laptop 9",
        "--user",
        "x",
        "--role",
        "chef",
        "--department",
        DEPARTMENT,
    ]);
    assert!(stderr.contains("role"), "{stderr}");
    assert!(admin.devices().is_empty());
    let stderr = admin.fails(&["device", "revoke", "no-such-device"]);
    assert!(stderr.contains("no-such-device"), "{stderr}");
}

#[test]
fn two_cli_laptops_editing_one_case_offline_converge_through_a_server_process() {
    let admin = Admin::new();
    let server = admin.serve();
    let code_a = admin.enrol("Laptop A", "a.schaefer");
    let code_b = admin.enrol("Laptop B", "b.mueller");
    let a = CliLaptop::new();
    let b = CliLaptop::new();
    let enrolled = a.enrol(&server, str_at(&code_a, "/code"));
    assert_eq!(enrolled["device_id"], code_a["device_id"], "{enrolled}");
    assert!(
        enrolled.get("token").is_none(),
        "the token is never printed: {enrolled}"
    );
    b.enrol(&server, str_at(&code_b, "/code"));

    let office_hour = a.open_office_hour();
    let case = a.new_case(&draft(&office_hour, "Zwölfmeier"));
    a.set(&case, "citizen.phone", "0171 4455667");
    let report = a.sync();
    assert!(report["uploaded"].as_u64() >= Some(2), "{report}");
    b.sync();
    let on_b = b.show(&case);
    assert_eq!(str_at(&on_b, "/citizen/surname"), "Zwölfmeier");
    assert_eq!(str_at(&on_b, "/citizen/phone"), "0171 4455667");
    assert_eq!(str_at(&on_b, "/department"), DEPARTMENT);
    assert!(
        str_at(&on_b, "/number").starts_with(str_at(&code_a, "/prefix")),
        "the case number carries A's prefix: {on_b}"
    );

    // Offline on both, different fields of the same case.
    a.set(&case, "citizen.phone", "03456 1234");
    a.set(&case, "citizen.address.street", "Lindenweg 3");
    b.set(&case, "status", "waiting_for_documents");
    b.set(&case, "citizen.given_names", "Wilhelmine Auguste");

    a.sync();
    b.sync();
    a.sync();

    let on_a = a.show(&case);
    let on_b = b.show(&case);
    assert_eq!(on_a, on_b, "both laptops show the same case");
    assert_eq!(str_at(&on_a, "/citizen/phone"), "03456 1234");
    assert_eq!(str_at(&on_a, "/citizen/address/street"), "Lindenweg 3");
    assert_eq!(str_at(&on_a, "/status"), "waiting_for_documents");
    assert_eq!(str_at(&on_a, "/citizen/given_names"), "Wilhelmine Auguste");
    assert_eq!(str_at(&on_a, "/notes"), "Kommt mit Tochter.");

    // The office hour travelled too, and B's list finds the case.
    let listed: Vec<Value> = b
        .ok(&["case", "list", "--search", "zwölfmeier"])
        .lines()
        .map(|line| json_line("sprechtag", &["case", "list"], line))
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let office_hours = b.ok(&["office-hour", "list"]);
    assert!(office_hours.contains(&office_hour), "{office_hours}");
}

#[test]
fn an_enrolment_code_works_only_once_from_the_command_line() {
    let admin = Admin::new();
    let server = admin.serve();
    let code = admin.enrol("Laptop A", "a.schaefer");
    CliLaptop::new().enrol(&server, str_at(&code, "/code"));
    let second = CliLaptop::new();
    let stderr = second.fails(&[
        "enrol",
        "--server",
        &server.url,
        "--code",
        str_at(&code, "/code"),
    ]);
    assert!(stderr.contains("unknown, used or expired"), "{stderr}");
}

#[test]
fn sync_fails_with_a_clear_message_while_the_server_is_down_and_works_once_it_is_back() {
    let admin = Admin::new();
    let mut server = admin.serve();
    let port = server
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("the server url has a port");
    let laptop = CliLaptop::new();
    laptop.enrol(&server, str_at(&admin.enrol("Laptop A", "a"), "/code"));
    laptop.sync();

    server.kill();
    let office_hour = laptop.open_office_hour();
    let case = laptop.new_case(&draft(&office_hour, "Offline"));
    let stderr = laptop.fails(&["sync"]);
    assert!(
        stderr.contains("cannot be reached"),
        "the message says the server is unreachable: {stderr}"
    );

    // Nothing was lost: once the server is back, the case goes up.
    let server = ServerProcess::start(admin.dir.path(), port);
    laptop.sync();
    let other = CliLaptop::new();
    other.enrol(&server, str_at(&admin.enrol("Laptop B", "b"), "/code"));
    other.sync();
    assert_eq!(str_at(&other.show(&case), "/citizen/surname"), "Offline");
}

#[test]
fn sync_of_a_device_revoked_with_the_server_command_fails_saying_it_was_revoked() {
    let admin = Admin::new();
    let server = admin.serve();
    let printed = admin.enrol("Laptop A", "a.schaefer");
    let device_id = str_at(&printed, "/device_id");
    let laptop = CliLaptop::new();
    laptop.enrol(&server, str_at(&printed, "/code"));
    laptop.sync();

    let revoked = admin.ok(&["device", "revoke", device_id]);
    let revoked = json_line("sprechtag-server", &["device", "revoke"], revoked.trim());
    assert_eq!(revoked["revoked"], true, "{revoked}");
    let listed = admin.device(device_id);
    assert!(
        listed["revoked_at"].as_str().is_some_and(|t| !t.is_empty()),
        "{listed}"
    );

    let office_hour = laptop.open_office_hour();
    let case = laptop.new_case(&draft(&office_hour, "Nachher"));
    let stderr = laptop.fails(&["sync"]);
    assert!(stderr.contains("revoked"), "{stderr}");
    // The refused case stays on the laptop.
    assert_eq!(str_at(&laptop.show(&case), "/citizen/surname"), "Nachher");
}

#[test]
fn sync_on_a_data_dir_that_never_enrolled_tells_to_run_sprechtag_enrol() {
    let laptop = CliLaptop::new();
    laptop.open_office_hour();
    let stderr = laptop.fails(&["sync"]);
    assert!(stderr.contains("sprechtag enrol"), "{stderr}");
}

#[test]
fn sync_on_an_empty_data_dir_tells_to_run_sprechtag_enrol_and_creates_nothing() {
    let laptop = CliLaptop::new();
    let stderr = laptop.fails(&["sync"]);
    assert!(
        !laptop.data().join("sprechtag.db").exists(),
        "a failing sync creates no store"
    );
    assert!(stderr.contains("sprechtag enrol"), "{stderr}");
}
