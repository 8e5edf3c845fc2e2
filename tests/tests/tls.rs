//! The server with a TLS certificate of the administration's own: clients
//! that trust it (reqwest, and `sprechtag` through `SPRECHTAG_CA_CERT`)
//! get through, everyone else is refused cleanly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sprechtag_e2e::{Laptop, enrolment_code, workspace_binary};
use sprechtag_server::storage::Role;
use tempfile::TempDir;

const PASSPHRASE: &str = "Gemeindehaus-Schluessel-3";
const DEPARTMENT: &str = "buergerbuero";

fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A self-signed certificate for localhost and 127.0.0.1, as PEM files.
struct Certificate {
    dir: TempDir,
    pem: String,
}

impl Certificate {
    fn generate() -> Certificate {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("generate a self-signed certificate");
        let dir = tempfile::tempdir().expect("certificate dir");
        let pem = certified.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &pem).expect("write the certificate");
        std::fs::write(
            dir.path().join("key.pem"),
            certified.signing_key.serialize_pem(),
        )
        .expect("write the key");
        Certificate { dir, pem }
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    fn reqwest(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("a PEM certificate")
    }
}

fn client(trusted: Option<&Certificate>) -> reqwest::blocking::Client {
    install_crypto_provider();
    let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10));
    if let Some(certificate) = trusted {
        builder = builder.add_root_certificate(certificate.reqwest());
    }
    builder.build().expect("a reqwest client")
}

/// The error and its causes in one line, to see what actually failed.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The server in this process, serving HTTPS only, until dropped.
struct TlsServer {
    port: u16,
    dir: TempDir,
    certificate: Certificate,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl TlsServer {
    fn start() -> TlsServer {
        let certificate = Certificate::generate();
        let dir = tempfile::tempdir().expect("server dir");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("address");
        let settings = sprechtag_server::Settings {
            data_dir: dir.path().to_path_buf(),
            listen: address,
            tls_cert: Some(certificate.cert_path()),
            tls_key: Some(certificate.key_path()),
            ..sprechtag_server::Settings::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(sprechtag_server::launch_with_listener(
                settings,
                listener,
                async {
                    let _ = stopped.await;
                },
            ))
        });
        let mut server = TlsServer {
            port: address.port(),
            dir,
            certificate,
            stop: Some(stop),
            thread: Some(thread),
        };
        server.wait_until_healthy();
        server
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    fn wait_until_healthy(&mut self) {
        let client = client(Some(&self.certificate));
        let start = Instant::now();
        loop {
            if client
                .get(format!("{}/health", self.url()))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let outcome = self.thread.take().map(std::thread::JoinHandle::join);
                panic!("the TLS server stopped: {outcome:?}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the TLS server on port {} did not answer",
                self.port
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn code(&self, name: &str) -> String {
        enrolment_code(self.dir.path(), name, Role::Caseworker, DEPARTMENT)
    }

    fn healthy(&self) -> bool {
        client(Some(&self.certificate))
            .get(format!("{}/health", self.url()))
            .send()
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A child process that is killed when the test ends, however it ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sprechtag` as a process; `ca` becomes `SPRECHTAG_CA_CERT`.
fn sprechtag(data: &Path, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(workspace_binary("sprechtag"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
        .env_remove("SPRECHTAG_CA_CERT");
    if let Some(ca) = ca {
        command.env("SPRECHTAG_CA_CERT", ca);
    }
    command.output().expect("sprechtag can be started")
}

fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "sprechtag {args:?}\n  status: {}\n  stdout: {}\n  stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok_json(data: &Path, ca: Option<&Path>, args: &[&str]) -> Value {
    let output = sprechtag(data, ca, args);
    assert!(
        output.status.success(),
        "expected success: {}",
        describe(args, &output)
    );
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("sprechtag {args:?} printed no JSON ({e}): {stdout}"))
}

fn fails(data: &Path, ca: Option<&Path>, args: &[&str]) -> String {
    let output = sprechtag(data, ca, args);
    assert!(
        !output.status.success(),
        "expected failure: {}",
        describe(args, &output)
    );
    String::from_utf8(output.stderr).expect("stderr is UTF-8")
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

#[test]
fn a_client_that_trusts_the_certificate_gets_health_over_https() {
    let server = TlsServer::start();
    let trusting = client(Some(&server.certificate));
    for url in [
        format!("https://localhost:{}/health", server.port),
        format!("https://127.0.0.1:{}/health", server.port),
    ] {
        let response = trusting
            .get(&url)
            .send()
            .unwrap_or_else(|e| panic!("{url}: {}", chain(&e)));
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
    }
}

#[test]
fn a_client_that_does_not_trust_the_certificate_is_refused() {
    let server = TlsServer::start();
    let error = client(None)
        .get(format!("{}/health", server.url()))
        .send()
        .expect_err("an unknown certificate is refused");
    let text = chain(&error);
    assert!(
        text.to_lowercase().contains("certificate"),
        "refused because of the certificate, not for another reason: {text}"
    );

    // Nor does a certificate for another key help.
    let stranger = Certificate::generate();
    let error = client(Some(&stranger))
        .get(format!("{}/health", server.url()))
        .send()
        .expect_err("another certificate is refused");
    assert!(chain(&error).to_lowercase().contains("certificate"));
    assert!(server.healthy(), "the server keeps serving");
}

#[test]
fn plain_http_against_the_tls_port_fails_cleanly_and_the_server_keeps_serving() {
    let server = TlsServer::start();
    let started = Instant::now();
    let outcome = client(None)
        .get(format!("http://127.0.0.1:{}/health", server.port))
        .send();
    match outcome {
        Ok(response) => assert!(
            !response.status().is_success(),
            "plain HTTP must not be served: {}",
            response.status()
        ),
        Err(error) => assert!(!error.is_timeout(), "no hang: {}", chain(&error)),
    }
    assert!(started.elapsed() < Duration::from_secs(8), "no hang");

    // The app's own client: a clear, retryable error, no panic.
    let mut laptop = Laptop::new();
    let error = sprechtag::sync::enrol(
        &mut laptop.store,
        &format!("http://127.0.0.1:{}", server.port),
        &server.code("plain"),
    )
    .expect_err("plain HTTP cannot enrol");
    assert!(
        matches!(error, sprechtag::sync::SyncError::Offline(_)),
        "{error:?}"
    );
    assert!(laptop.store.enrolment().expect("enrolment").is_none());
    assert!(server.healthy(), "the server keeps serving");
}

#[test]
fn the_app_refuses_the_server_unless_sprechtag_ca_cert_names_its_certificate() {
    let server = TlsServer::start();
    let code = server.code("untrusting");

    // In this process: no SPRECHTAG_CA_CERT, so the certificate is unknown.
    let mut laptop = Laptop::new();
    let error = sprechtag::sync::enrol(&mut laptop.store, &server.url(), &code)
        .expect_err("an untrusted server is refused");
    assert!(
        matches!(error, sprechtag::sync::SyncError::Untrusted(_)),
        "not taken for an outage: {error:?}"
    );
    assert!(error.is_permanent(), "retrying cannot help");

    // As a process: the same, with a message on stderr.
    let tmp = tempfile::tempdir().expect("laptop dir");
    let data = tmp.path().join("data");
    let stderr = fails(
        &data,
        None,
        &["enrol", "--server", &server.url(), "--code", &code],
    );
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");

    // A SPRECHTAG_CA_CERT that names no file is a configuration error.
    let missing = tmp.path().join("no-such-ca.pem");
    let stderr = fails(
        &data,
        Some(&missing),
        &["enrol", "--server", &server.url(), "--code", &code],
    );
    assert!(stderr.contains("SPRECHTAG_CA_CERT"), "{stderr}");

    // The code was not used up by the refused attempts.
    ok_json(
        &data,
        Some(&server.certificate.cert_path()),
        &["enrol", "--server", &server.url(), "--code", &code],
    );
}

#[test]
fn two_cli_laptops_enrol_and_sync_over_https_trusting_the_ca_from_sprechtag_ca_cert() {
    let server = TlsServer::start();
    let ca = server.certificate.cert_path();
    let tmp = tempfile::tempdir().expect("laptops");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let code_a = server.code("a");
    let code_b = server.code("b");
    ok_json(
        &a,
        Some(&ca),
        &["enrol", "--server", &server.url(), "--code", &code_a],
    );
    ok_json(
        &b,
        Some(&ca),
        &["enrol", "--server", &server.url(), "--code", &code_b],
    );

    let draft = tmp.path().join("case.json");
    std::fs::write(
        &draft,
        json!({
            "citizen": { "surname": "Überall", "given_names": "Erika" },
            "requests": [ { "service_id": "personalausweis" } ]
        })
        .to_string(),
    )
    .expect("write the draft");
    let created = ok_json(
        &a,
        None,
        &["case", "new", "--json", draft.to_str().expect("UTF-8")],
    );
    let id = str_at(&created, "/id");

    let report = ok_json(&a, Some(&ca), &["sync"]);
    assert_eq!(report["uploaded"], 1, "{report}");
    assert_eq!(report["pending"], 0, "{report}");
    ok_json(&b, Some(&ca), &["sync"]);
    ok_json(&b, None, &["case", "set", id, "citizen.phone", "0171 1"]);
    ok_json(&b, Some(&ca), &["sync"]);
    ok_json(&a, Some(&ca), &["sync"]);

    let on_a = ok_json(&a, None, &["case", "show", id]);
    let on_b = ok_json(&b, None, &["case", "show", id]);
    assert_eq!(on_a, on_b);
    assert_eq!(str_at(&on_a, "/citizen/surname"), "Überall");
    assert_eq!(str_at(&on_a, "/citizen/phone"), "0171 1");

    // Without the variable, the same laptop no longer trusts the server.
    let stderr = fails(&a, None, &["sync"]);
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");
}

/// `sprechtag-server serve` over HTTPS on a loopback port, as a process.
fn serve_https(data: &Path, port: u16, cert: &Path, key: &Path) -> Kill {
    Kill(
        Command::new(workspace_binary("sprechtag-server"))
            .args(["serve", "--data-dir"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("RUST_LOG", "warn")
            .env_remove("SPRECHTAG_SERVER_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sprechtag-server"),
    )
}

#[test]
fn the_server_process_serves_https_with_tls_cert_and_tls_key() {
    let certificate = Certificate::generate();
    let dir = tempfile::tempdir().expect("server dir");
    let port = sprechtag_e2e::free_port();
    let mut child = serve_https(
        dir.path(),
        port,
        &certificate.cert_path(),
        &certificate.key_path(),
    );
    let trusting = client(Some(&certificate));
    let url = format!("https://localhost:{port}/health");
    let start = Instant::now();
    loop {
        match trusting.get(&url).send() {
            Ok(response) => {
                assert_eq!(response.status(), reqwest::StatusCode::OK);
                break;
            }
            Err(error) => {
                let exited = child.0.try_wait().expect("the child's status");
                assert!(exited.is_none(), "the server exited: {exited:?}");
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no answer over https: {}",
                    chain(&error)
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// `systemctl reload` sends SIGHUP: the server reads its certificate
/// again, so a renewed one is served without a restart, and a broken file
/// leaves the previous one in use.
#[test]
fn a_renewed_certificate_is_served_after_sighup_and_a_broken_one_is_not() {
    let old = Certificate::generate();
    let dir = tempfile::tempdir().expect("server dir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::copy(old.cert_path(), &cert).expect("cert");
    std::fs::copy(old.key_path(), &key).expect("key");
    let port = sprechtag_e2e::free_port();
    let child = serve_https(&dir.path().join("data"), port, &cert, &key);
    let url = format!("https://localhost:{port}/health");
    // A fresh client each time: no connection kept from before the reload.
    let answers = |trusted: &Certificate| {
        client(Some(trusted))
            .get(&url)
            .send()
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
    };
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(30), "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_until("the server serves the first certificate", &|| answers(&old));
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &child.0.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    };

    let renewed = Certificate::generate();
    std::fs::copy(renewed.cert_path(), &cert).expect("renewed cert");
    std::fs::copy(renewed.key_path(), &key).expect("renewed key");
    assert!(answers(&old), "nothing changes before the reload");
    hangup();
    wait_until("the renewed certificate is served", &|| answers(&renewed));
    assert!(!answers(&old), "the old certificate is no longer served");

    std::fs::write(&cert, "kein Zertifikat").expect("break the file");
    hangup();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        answers(&renewed),
        "a broken file leaves the certificate in use"
    );
}

#[test]
fn the_server_process_refuses_to_start_with_a_missing_key_file() {
    let certificate = Certificate::generate();
    let dir = tempfile::tempdir().expect("server dir");
    let missing = certificate.dir.path().join("missing-key.pem");
    let stderr_file = certificate.dir.path().join("stderr.txt");
    let mut child = Kill(
        Command::new(workspace_binary("sprechtag-server"))
            .args(["serve", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(certificate.cert_path())
            .arg("--tls-key")
            .arg(&missing)
            .env("RUST_LOG", "warn")
            .env_remove("SPRECHTAG_SERVER_CONFIG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_file).expect("stderr file"))
            .spawn()
            .expect("start sprechtag-server"),
    );
    // Polled with a deadline: a server that started anyway would never exit.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("the child's status") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server started without its key"
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(&stderr_file).expect("stderr");
    assert!(stderr.contains("missing-key.pem"), "{stderr}");
}

/// `enrol --ca-cert` pins the county's CA for this server: the laptop
/// syncs without `SPRECHTAG_CA_CERT`; pinned to another CA it is refused
/// even where the environment trusts the server's certificate.
#[test]
fn a_laptop_enrolled_with_its_county_s_ca_trusts_only_that_ca() {
    let server = TlsServer::start();
    let ca = server.certificate.cert_path();
    let tmp = tempfile::tempdir().expect("laptops");
    let laptop = tmp.path().join("laptop");
    let code = server.code("pinned");
    let pinned = [
        "enrol",
        "--server",
        &server.url(),
        "--code",
        &code,
        "--ca-cert",
        ca.to_str().expect("UTF-8"),
    ];
    ok_json(&laptop, None, &pinned);
    // No environment variable needed any more.
    ok_json(&laptop, None, &["sync"]);

    // Pinned to a CA that did not sign the server's certificate: refused,
    // though the environment names the server's own.
    let other = Certificate::generate();
    let other_laptop = tmp.path().join("other");
    let code = server.code("other");
    let stderr = fails(
        &other_laptop,
        Some(&ca),
        &[
            "enrol",
            "--server",
            &server.url(),
            "--code",
            &code,
            "--ca-cert",
            other.cert_path().to_str().expect("UTF-8"),
        ],
    );
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");

    // A file that holds no certificate is refused before anything is sent.
    let garbage = tmp.path().join("key-instead.pem");
    std::fs::copy(server.certificate.key_path(), &garbage).expect("copy");
    let stderr = fails(
        &other_laptop,
        None,
        &[
            "enrol",
            "--server",
            &server.url(),
            "--code",
            &code,
            "--ca-cert",
            garbage.to_str().expect("UTF-8"),
        ],
    );
    assert!(stderr.contains("holds no certificate in PEM"), "{stderr}");
    // The code was not used up: enrolling with the right CA works.
    ok_json(
        &other_laptop,
        None,
        &[
            "enrol",
            "--server",
            &server.url(),
            "--code",
            &code,
            "--ca-cert",
            ca.to_str().expect("UTF-8"),
        ],
    );
}

/// Enrolment in the settings with the county's CA file: refused without it,
/// with a file that is no certificate, and with another CA's certificate,
/// each reported beside the field to correct; enrolled with the right one,
/// a visit recorded in the GUI reaches the server over TLS.
#[test]
fn the_gui_enrols_with_the_county_s_ca_file_and_syncs_a_visit_over_https() {
    use egui::Key;
    use egui::accesskit::Role as A11y;
    use sprechtag_e2e::gui::{Gui, Queryable};

    let server = TlsServer::start();
    let code = server.code("gui");
    let tmp = tempfile::tempdir().expect("laptop");
    let data = tmp.path().join("data");
    let mut gui = Gui::new(&data);
    gui.unlock_first_start();
    gui.activate(A11y::Tab, "Einstellungen");
    gui.fill(A11y::TextInput, "Server-Adresse", &server.url());
    gui.fill(A11y::TextInput, "Anmeldecode", &code);
    gui.press(Key::Enter);
    let untrusted = "Das Zertifikat dieses Servers ist nicht vertrauenswürdig.";
    gui.wait_for("the refusal", |h| {
        h.query_by_label_contains(untrusted).is_some()
    });
    assert!(gui.is_focused(A11y::TextInput, "Server-Adresse"));

    let ca_field = "CA-Zertifikat (Datei, optional)";
    let garbage = tmp.path().join("notes.txt");
    std::fs::write(&garbage, "nur eine Notiz").expect("write");
    gui.fill(A11y::TextInput, ca_field, garbage.to_str().expect("UTF-8"));
    gui.press(Key::Enter);
    assert!(gui.shows("Die Datei enthält kein Zertifikat im PEM-Format"));
    assert!(gui.is_focused(A11y::TextInput, ca_field));
    assert!(
        !gui.shows(untrusted),
        "the old error went with the new attempt"
    );

    let other = Certificate::generate();
    gui.fill(
        A11y::TextInput,
        ca_field,
        other.cert_path().to_str().expect("UTF-8"),
    );
    gui.press(Key::Enter);
    let wrong_ca = "Das Zertifikat des Servers stammt nicht von dieser Zertifizierungsstelle.";
    gui.wait_for("the refusal", |h| {
        h.query_by_label_contains(wrong_ca).is_some()
    });
    assert!(gui.is_focused(A11y::TextInput, ca_field));

    let ca = server.certificate.cert_path();
    gui.fill(A11y::TextInput, ca_field, ca.to_str().expect("UTF-8"));
    gui.press(Key::Enter);
    gui.wait_for("the enrolment", |h| {
        h.query_by_label_contains("Das Gerät ist angemeldet.")
            .is_some()
    });

    gui.open_office_hour("Kleinbrück", "Anna Schäfer");
    gui.shortcut(Key::N);
    gui.type_text("Zertifikat");
    gui.wait_saved("the new case");
    gui.sync_now();
    drop(gui);

    // A second laptop, enrolled the same way on the command line, gets it.
    let second = tmp.path().join("second");
    let code = server.code("second");
    ok_json(
        &second,
        None,
        &[
            "enrol",
            "--server",
            &server.url(),
            "--code",
            &code,
            "--ca-cert",
            ca.to_str().expect("UTF-8"),
        ],
    );
    ok_json(&second, None, &["sync"]);
    let cases = ok_json(&second, None, &["case", "list"]);
    assert!(cases.to_string().contains("Zertifikat"), "{cases}");
}

#[test]
fn plain_http_to_another_machine_is_refused_unless_allowed_for_that_server() {
    let tmp = tempfile::tempdir().expect("laptop");
    let laptop = tmp.path().join("laptop");
    let stderr = fails(
        &laptop,
        None,
        &[
            "enrol",
            "--server",
            "http://192.0.2.10:8080",
            "--code",
            "AAAA-BBBB",
        ],
    );
    assert!(stderr.contains("plain http"), "{stderr}");
    // Allowed explicitly, the laptop tries (and finds nobody there).
    let stderr = fails(
        &laptop,
        None,
        &[
            "enrol",
            "--server",
            "http://192.0.2.10:8080",
            "--code",
            "AAAA-BBBB",
            "--allow-insecure-http",
        ],
    );
    assert!(!stderr.contains("plain http"), "{stderr}");
}
