//! Operating the server as a county's IT department does: Prometheus
//! scrapes `/metrics`, a log collector reads JSON lines, the nightly backup
//! runs while laptops sync, and a restore brings back everything.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sprechtag_e2e::{TestServer, case_numbers as numbers, server_command};
use sprechtag_schemas::Role;

const DEPARTMENT: &str = "buergerbuero";

fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client")
}

/// `/metrics` as Prometheus' own parsers (Python's prometheus_client, in
/// the venv .ci/run makes) read it: sample → value.
fn scrape(server: &TestServer, token: Option<&str>) -> BTreeMap<String, f64> {
    let mut request = client().get(format!("{}/metrics", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().expect("GET /metrics");
    assert_eq!(response.status(), 200, "GET /metrics");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().expect("the metrics text");
    parse(&text)
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/metrics/parse.py");
    let mut parser = Command::new(sprechtag_e2e::smtp::python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the parser");
    parser
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the metrics");
    let output = parser.wait_with_output().expect("the parser ends");
    assert!(
        output.status.success(),
        "prometheus_client refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the parser's JSON")
}

fn value(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in the metrics: {samples:?}"))
}

#[test]
fn metrics_parse_as_prometheus_text_and_move_with_every_sync() {
    let server = TestServer::start();
    let before = scrape(&server, None);
    assert_eq!(value(&before, "sprechtag_syncs_total"), 0.0);
    assert!(value(&before, "sprechtag_database_bytes") > 0.0);

    let mut laptop = server.laptop("Laptop-1", Role::Caseworker, DEPARTMENT);
    laptop.new_case("Albers", &["personalausweis"]);
    laptop.new_case("Brandt", &["wohngeld"]);
    laptop.sync();
    // A stranger's token is refused, and counted.
    let refused = client()
        .post(format!("{}/v1/sync", server.url))
        .bearer_auth("0".repeat(64))
        .body(Vec::new())
        .send()
        .expect("a sync with an unknown token");
    assert_eq!(refused.status(), 401);

    let after = scrape(&server, None);
    let moved = |name: &str| value(&after, name) - before.get(name).copied().unwrap_or(0.0);
    assert!(moved("sprechtag_syncs_total") >= 1.0, "{after:?}");
    // The two cases.
    assert!(
        moved("sprechtag_documents_received_total") >= 2.0,
        "{after:?}"
    );
    assert!(moved("sprechtag_sync_received_bytes_total") > 0.0);
    assert!(moved("sprechtag_sync_sent_bytes_total") > 0.0);
    assert_eq!(moved("sprechtag_enrolments_total"), 1.0);
    assert_eq!(
        value(&after, r#"sprechtag_refusals_total{code="unauthorized"}"#),
        1.0
    );
    assert_eq!(value(&after, "sprechtag_devices_active"), 1.0);
    assert!(value(&after, "sprechtag_documents_stored") >= 2.0);
    assert!(
        value(
            &after,
            r#"sprechtag_http_request_duration_seconds_count{endpoint="/v1/sync",status="200"}"#
        ) >= 1.0,
        "{after:?}"
    );
    assert_eq!(
        value(
            &after,
            r#"sprechtag_http_request_duration_seconds_count{endpoint="/v1/sync",status="401"}"#
        ),
        1.0
    );
}

#[test]
fn with_a_metrics_token_only_its_holder_reads_the_metrics() {
    const TOKEN: &str = "prometheus-liest-mit-3f9a";
    let dir = tempfile::tempdir().expect("server dir");
    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let server = TestServer::start_configured(dir, |settings| {
        settings.metrics_token_file = Some(token_file);
    });
    // Loopback is not enough once a token is set (a reverse proxy on this
    // machine makes every request local).
    for token in [None, Some("prometheus-liest-mit-3f9b")] {
        let mut request = client().get(format!("{}/metrics", server.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().expect("GET /metrics");
        assert_eq!(response.status(), 403, "token {token:?}");
        let body: serde_json::Value = response.json().expect("an error body");
        assert_eq!(body["error"], "forbidden");
    }
    let samples = scrape(&server, Some(TOKEN));
    assert_eq!(
        value(&samples, r#"sprechtag_refusals_total{code="forbidden"}"#),
        2.0
    );
}

#[test]
fn a_token_shorter_than_16_characters_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("server dir");
    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, "kurz\n").expect("token file");
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\nmetrics_token_file = {:?}\n",
            dir.path().join("data"),
            token_file
        ),
    )
    .expect("config");
    let output = server_command(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .output()
        .expect("run the server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("shorter than 16 characters"), "{stderr}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("server dir");
    let port = sprechtag_e2e::free_port();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:{port}\"\nlog_format = \"json\"\n",
            dir.path().join("data")
        ),
    )
    .expect("config");
    let mut child = server_command(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    sprechtag_e2e::wait_for_health(&format!("http://127.0.0.1:{port}"));
    let _ = child.kill();
    let output = child.wait_with_output().expect("the server's log");
    let log = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let starting = lines
        .iter()
        .find(|l| l["fields"]["message"] == "sprechtag-server starting")
        .unwrap_or_else(|| panic!("no start line in {log}"));
    assert_eq!(starting["level"], "INFO");
    assert!(
        starting["fields"]["storage"]
            .as_str()
            .is_some_and(|s| s.starts_with("SQLite ")),
        "{starting}"
    );
    assert!(starting["timestamp"].is_string(), "{starting}");
}

#[test]
fn a_backup_taken_while_laptops_sync_restores_to_a_server_that_loses_nothing() {
    let server = TestServer::start();
    let mut a = server.laptop("a", Role::Caseworker, DEPARTMENT);
    let b = server.laptop("b", Role::Caseworker, DEPARTMENT);
    for i in 0..10 {
        a.new_case(&format!("Vorher{i}"), &["personalausweis"]);
    }
    a.sync();

    // Laptop b records and syncs a case after another while the backups run.
    let stop = Arc::new(AtomicBool::new(false));
    let syncing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut b = b;
            let mut made = Vec::new();
            let mut syncs = 0;
            while !stop.load(Ordering::SeqCst) || syncs < 3 {
                made.push(
                    b.new_case(&format!("Waehrend{}", made.len()), &["wohngeld"])
                        .number,
                );
                b.sync();
                syncs += 1;
            }
            (b, made)
        })
    };
    let backups = tempfile::tempdir().expect("backup dir");
    let started = Instant::now();
    let mut taken = Vec::new();
    while taken.len() < 3 || started.elapsed() < Duration::from_secs(2) {
        let output = server_command(server.dir.path())
            .args(["backup", "--data-dir"])
            .arg(server.dir.path())
            .arg("--out-dir")
            .arg(backups.path())
            .args(["--keep", "2"])
            .output()
            .expect("backup");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let made: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        taken.push(made["backup"].as_str().expect("path").to_string());
        std::thread::sleep(Duration::from_millis(1100)); // one name per second
    }
    stop.store(true, Ordering::SeqCst);
    let (mut b, made_on_b) = syncing.join().expect("b's syncs");
    // Only the newest two are kept.
    let kept = std::fs::read_dir(backups.path()).expect("read").count();
    assert_eq!(kept, 2, "--keep 2");
    let backup = taken.last().expect("a backup").clone();
    // After the backup: more on a.
    let after = a.new_case("Danach", &["hund-anmelden"]);
    a.sync();

    let server = server.restart_with(|dir| {
        let output = server_command(dir)
            .args(["restore", "--data-dir"])
            .arg(dir)
            .arg(&backup)
            .output()
            .expect("restore");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    // The backup lacks what came after it …
    let restored = server.storage();
    assert_eq!(
        sprechtag_server::storage::Storage::document_department(&restored, &after.id)
            .expect("read"),
        None,
        "the case made after the backup is not in it"
    );
    drop(restored);
    // … the laptops start over with the restored server and send it.
    a.sync();
    b.sync();
    a.sync();
    let mut expected = numbers(&a.store);
    expected.extend(numbers(&b.store));
    assert!(expected.contains(&after.number));
    for number in &made_on_b {
        assert!(
            expected.contains(number),
            "{number} made during the backups"
        );
    }
    assert_eq!(numbers(&a.store), expected, "a has everything");
    assert_eq!(numbers(&b.store), expected, "b has everything");
    // A laptop enrolled after the restore receives all of it.
    let mut fresh = server.laptop("neu", Role::Caseworker, DEPARTMENT);
    fresh.sync();
    assert_eq!(
        numbers(&fresh.store),
        expected,
        "nothing lost on the server"
    );
    // Ten before, at least three during, one after.
    assert!(expected.len() >= 14, "{expected:?}");
    // The restored database passes the full check.
    let output = server_command(server.dir.path())
        .args(["check", "--data-dir"])
        .arg(server.dir.path())
        .output()
        .expect("check");
    assert!(output.status.success());
}
