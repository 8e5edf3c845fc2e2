//! Helpers for the end-to-end tests: a sync server on a random loopback
//! port (in-process, or as a real process that can be killed), enrolled
//! client data dirs, and a loopback proxy that makes a link slow and lossy.

pub mod acceptor;
pub mod balancer;
pub mod gui;
pub mod proxy;
pub mod smtp;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sprechtag::hall::ServedReport;
use sprechtag::sync::SyncError;

use sprechtag::store::Store;
use sprechtag::sync::Connection;
use sprechtag_schemas::wire::CONTENT_TYPE;
use sprechtag_schemas::{Case, Catalog, Citizen, Request};
use sprechtag_server::storage::{NewDevice, Role, SqliteStorage, Storage};

pub const PASSPHRASE: &str = "e2e-passphrase";

pub fn catalog() -> Arc<Catalog> {
    Arc::new(sprechtag::catalog::shipped().expect("the shipped catalogue is valid"))
}

/// A server running in this process until dropped.
pub struct TestServer {
    pub url: String,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// A server whose database is encrypted (`db_key_file`), as every
    /// deployment's should be; its key lies in the data dir's `db.key`
    /// so that the helpers here find it.
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("server dir");
        TestServer::start_in(dir)
    }

    /// A server with a plain database, whose bytes a test can search.
    pub fn start_plain() -> TestServer {
        let dir = tempfile::tempdir().expect("server dir");
        TestServer::start_configured(dir, |settings| settings.db_key_file = None)
    }

    pub fn start_in(dir: tempfile::TempDir) -> TestServer {
        TestServer::start_configured(dir, |_| {})
    }

    /// A server whose settings `configure` changes (timeouts, say).
    pub fn start_configured(
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut sprechtag_server::Settings),
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        TestServer::start_on(dir, listener, configure)
    }

    /// A server on `dir` listening at `address` (a fixture's laptop knows
    /// its server by that address).
    pub fn start_at(dir: tempfile::TempDir, address: &str) -> TestServer {
        let listener = TcpListener::bind(address).expect("bind the fixture's address");
        TestServer::start_on(dir, listener, |_| {})
    }

    fn start_on(
        dir: tempfile::TempDir,
        listener: TcpListener,
        configure: impl FnOnce(&mut sprechtag_server::Settings),
    ) -> TestServer {
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let mut settings = sprechtag_server::Settings {
            data_dir: dir.path().to_path_buf(),
            // Encrypted, unless the dir holds a plain database already
            // (made by a server command before).
            db_key_file: (!dir
                .path()
                .join(sprechtag_server::storage::DATABASE_FILE)
                .exists()
                || dir.path().join(TEST_KEY_FILE).exists())
            .then(|| test_key_file(dir.path())),
            listen: listener.local_addr().expect("address"),
            tls_cert: None,
            tls_key: None,
            ..sprechtag_server::Settings::default()
        };
        configure(&mut settings);
        if settings.db_key_file.is_none() {
            let _ = std::fs::remove_file(dir.path().join(TEST_KEY_FILE));
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime
                .block_on(sprechtag_server::launch_with_listener(
                    settings,
                    listener,
                    async {
                        let _ = stopped.await;
                    },
                ))
                .expect("the server runs");
        });
        wait_for_health(&url);
        TestServer {
            url,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A one-time code for a new device.
    pub fn enrolment_code(&self, name: &str, role: Role, department: &str) -> String {
        enrolment_code(self.dir.path(), name, role, department)
    }

    /// A laptop enrolled with this server as `name` (user `name-user`).
    pub fn laptop(&self, name: &str, role: Role, department: &str) -> Laptop {
        Laptop::enrolled(&self.url, &self.enrolment_code(name, role, department))
    }

    pub fn storage(&self) -> SqliteStorage {
        open_storage(self.dir.path())
    }

    /// Stops the server, runs `between` on its data dir (a restore, say),
    /// and starts it again at the same address, so that enrolled laptops
    /// find it.
    pub fn restart_with(mut self, between: impl FnOnce(&Path)) -> TestServer {
        self.shut_down();
        let address = self.url.trim_start_matches("http://").to_string();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("placeholder dir"));
        between(dir.path());
        let listener = TcpListener::bind(&address).expect("bind the server's address again");
        TestServer::start_on(dir, listener, |_| {})
    }

    /// Stops the server; its data dir stays.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.shut_down();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("placeholder dir"))
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Where a test server keeps its database key: in its data dir, so that
/// every helper finds it (a real deployment keeps it apart).
pub const TEST_KEY_FILE: &str = "db.key";

/// The key file of a test server's data dir, made (0600) if missing.
pub fn test_key_file(server_dir: &Path) -> PathBuf {
    let path = server_dir.join(TEST_KEY_FILE);
    if !path.exists() {
        let key = sprechtag_server::storage::DatabaseKey::generate();
        std::fs::write(&path, key.to_hex().as_bytes()).expect("write the key");
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("key file mode");
    }
    path
}

/// `sprechtag-server` for commands on `server_dir`, given its test key
/// (through the environment) if it has one.
pub fn server_command(server_dir: &Path) -> Command {
    let mut command = Command::new(workspace_binary("sprechtag-server"));
    command.env_remove("SPRECHTAG_SERVER_CONFIG");
    let key_file = server_dir.join(TEST_KEY_FILE);
    if key_file.exists() {
        command.env("SPRECHTAG_SERVER_DB_KEY_FILE", key_file);
    } else {
        command.env_remove("SPRECHTAG_SERVER_DB_KEY_FILE");
    }
    command
}

/// A server's storage, opened with its test key if it has one.
pub fn open_storage(server_dir: &Path) -> SqliteStorage {
    let key_file = server_dir.join(TEST_KEY_FILE);
    let key = key_file.exists().then(|| {
        sprechtag_server::storage::DatabaseKey::read(&key_file).expect("read the test key")
    });
    SqliteStorage::open_with_key(server_dir, key.as_ref()).expect("open the server's storage")
}

/// A plain SQLite connection to a server's database (with its test key),
/// for tests that damage or inspect it behind the server's back.
pub fn raw_server_connection(server_dir: &Path) -> rusqlite::Connection {
    let conn =
        rusqlite::Connection::open(server_dir.join(sprechtag_server::storage::DATABASE_FILE))
            .expect("open the server's database");
    let key_file = server_dir.join(TEST_KEY_FILE);
    if key_file.exists() {
        let key = sprechtag_server::storage::DatabaseKey::read(&key_file).expect("the test key");
        conn.execute_batch(&key.pragma()).expect("apply the key");
    }
    conn
}

pub fn enrolment_code(server_dir: &Path, name: &str, role: Role, department: &str) -> String {
    let key = sprechtag_server::server_key(server_dir).expect("the server's key");
    register_device(&open_storage(server_dir), &key, name, role, department)
}

/// Registers a device in `storage` (any backend) and gives its one-time
/// code, stored under `key` (the instances' `server.key`).
pub fn register_device(
    storage: &dyn Storage,
    key: &[u8],
    name: &str,
    role: Role,
    department: &str,
) -> String {
    let code = sprechtag_server::enrolment_code();
    let new = NewDevice {
        name: name.into(),
        user: format!("{name}-user"),
        role,
        department: department.into(),
    };
    storage
        .create_device(
            &new,
            &sprechtag_server::api::code_hash(key, &code),
            chrono::Utc::now()
                + chrono::Duration::seconds(sprechtag_server::storage::CODE_VALIDITY_SECS),
        )
        .expect("register the device");
    code
}

pub fn wait_for_health(url: &str) {
    let start = Instant::now();
    loop {
        if health_ok(url).unwrap_or(false) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server at {url} did not start"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn health_ok(url: &str) -> Result<bool, std::io::Error> {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200"))
}

/// A laptop: an encrypted data dir, enrolled with a server, and the HTTP
/// client its sync worker keeps from one sync to the next.
pub struct Laptop {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub connection: Connection,
}

impl Laptop {
    pub fn new() -> Laptop {
        let dir = tempfile::tempdir().expect("laptop dir");
        let store = Store::create(&dir.path().join("data"), PASSPHRASE, catalog())
            .expect("create the store");
        Laptop {
            dir,
            store,
            connection: Connection::default(),
        }
    }

    pub fn enrolled(server_url: &str, code: &str) -> Laptop {
        let mut laptop = Laptop::new();
        sprechtag::sync::enrol(&mut laptop.store, server_url, code).expect("enrol");
        laptop
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Syncs and insists that everything was exchanged.
    pub fn sync(&mut self) -> sprechtag::sync::SyncReport {
        let report = self.connection.sync(&mut self.store).expect("sync");
        assert!(report.complete(), "incomplete sync: {report:?}");
        report
    }

    /// Writes a verdict (`state`, signed `by`) into case `id` with
    /// automerge directly, under this laptop's own actor, and takes it into
    /// its store: what a tampered caseworker laptop passes on (the app
    /// itself refuses to let a caseworker give verdicts).
    pub fn forge_verdict(&mut self, id: &str, state: &str, by: &str) {
        use automerge::transaction::Transactable;
        let mut forged =
            sprechtag_schemas::document::load(&self.store.export_case(id).expect("export"))
                .expect("load")
                .with_actor(self.store.device().actor());
        let review = forged
            .put_object(automerge::ROOT, "review", automerge::ObjType::Map)
            .expect("review");
        forged.put(&review, "state", state).expect("state");
        forged.put(&review, "by", by).expect("by");
        forged
            .put(&review, "at", "2026-12-02T10:00:00Z")
            .expect("at");
        forged.commit();
        self.store
            .import_case(&forged.save())
            .expect("the laptop takes its own forgery");
    }

    /// Records a case with one request per service.
    pub fn new_case(&mut self, surname: &str, services: &[&str]) -> Case {
        let catalog = catalog();
        let mut case = Case::draft(Citizen {
            surname: surname.into(),
            given_names: "Erika".into(),
            ..Citizen::default()
        });
        for service in services {
            case.requests.push(Request::for_service(
                catalog.service(service).expect("known service"),
            ));
        }
        self.store.create_case(case).expect("create the case")
    }
}

impl Default for Laptop {
    fn default() -> Self {
        Laptop::new()
    }
}

/// Enrols `store` with `role` in `buergerbuero` at an address where
/// nothing listens: the app shows that role's screens, its sync worker
/// reports offline.
pub fn enrol_offline(store: &mut Store, role: Role) {
    store
        .enrol(
            &sprechtag::store::Enrolment {
                server_url: "http://127.0.0.1:9".into(),
                token: "t".into(),
                device_id: "d".into(),
                user: "Anna Schäfer".into(),
                role,
                department: "buergerbuero".into(),
                allow_insecure_http: false,
                ca_cert: None,
            },
            "ANS",
        )
        .expect("enrol");
}

/// Path of a binary of this workspace, built by `cargo test --workspace`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/test-hash → target/debug/name; a binary of this
    // crate (target/release/soak) lies beside it already.
    let mut dir = exe.parent().expect("target dir");
    if dir.file_name() == Some(std::ffi::OsStr::new("deps")) {
        dir = dir.parent().expect("target dir");
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --workspace`",
        path.display()
    );
    path
}

/// The server as a real process, for tests that kill it.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

impl ServerProcess {
    /// The server on an encrypted database (its key in the dir's `db.key`).
    pub fn start(dir: &Path, port: u16) -> ServerProcess {
        ServerProcess::spawn(dir, port, Some(test_key_file(dir)), None)
    }

    /// The server on a plain (unencrypted) database.
    pub fn start_plain(dir: &Path, port: u16) -> ServerProcess {
        ServerProcess::spawn(dir, port, None, None)
    }

    /// An instance on the PostgreSQL `database`; `dir` holds its
    /// `server.key`.
    pub fn start_postgres(database: &str, dir: &Path, port: u16) -> ServerProcess {
        ServerProcess::spawn(dir, port, None, Some(database))
    }

    fn spawn(dir: &Path, port: u16, key: Option<PathBuf>, database: Option<&str>) -> ServerProcess {
        let mut command = Command::new(workspace_binary("sprechtag-server"));
        if let Some(database) = database {
            command.args(["--database", database]);
        }
        command
            // Every laptop of a test comes from 127.0.0.1 (or through one
            // balancer): the per-address limit (64) is for the field.
            .env("SPRECHTAG_SERVER_MAX_CONNECTIONS_PER_ADDRESS", "4096")
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .env_remove("SPRECHTAG_SERVER_DB_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(key) = key {
            command.arg("--db-key-file").arg(key);
        }
        let child = command.spawn().expect("start sprechtag-server");
        let url = format!("http://127.0.0.1:{port}");
        wait_for_health(&url);
        ServerProcess { child, url }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A copy of the data dir `from` in `to` (a fixture), with the modes git
/// does not keep (0700/0600).
pub fn copy_private(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).expect("mkdir");
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).expect("dir mode");
    for entry in std::fs::read_dir(from).expect("fixture dir").flatten() {
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).expect("copy");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
            .expect("file mode");
    }
}

/// The case numbers a store lists.
pub fn case_numbers(store: &Store) -> std::collections::BTreeSet<String> {
    store
        .list_cases(&sprechtag::store::CaseFilter {
            limit: 10_000,
            ..sprechtag::store::CaseFilter::default()
        })
        .expect("list the cases")
        .rows
        .into_iter()
        .map(|row| row.number)
        .collect()
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A device that speaks the sync protocol by hand: for requests the app
/// never makes, and for reading responses as they are.
pub struct Raw {
    pub url: String,
    pub token: String,
    client: reqwest::blocking::Client,
}

impl Raw {
    /// An enrolled caseworker device of `buergerbuero`, and the laptop
    /// (store) holding its enrolment.
    pub fn new(server: &TestServer) -> (Raw, Laptop) {
        let laptop = Laptop::enrolled(
            &server.url,
            &server.enrolment_code("h", Role::Caseworker, "buergerbuero"),
        );
        let token = laptop
            .store
            .enrolment()
            .expect("enrolment")
            .expect("enrolled")
            .token;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let raw = Raw {
            url: server.url.clone(),
            token,
            client: reqwest::blocking::Client::new(),
        };
        (raw, laptop)
    }

    pub fn post(&self, body: Vec<u8>, content_type: &str, token: Option<&str>) -> (u16, Vec<u8>) {
        self.try_post(body, content_type, token)
            .expect("the server answers")
    }

    /// As `post`, with the error of a request the server cut off (it may
    /// answer an announced oversized body at once and close the
    /// connection while the body is still being written).
    pub fn try_post(
        &self,
        body: Vec<u8>,
        content_type: &str,
        token: Option<&str>,
    ) -> reqwest::Result<(u16, Vec<u8>)> {
        let mut request = self
            .client
            .post(format!("{}/v1/sync", self.url))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send()?;
        let status = response.status().as_u16();
        Ok((status, response.bytes()?.to_vec()))
    }

    pub fn sync(&self, body: Vec<u8>) -> (u16, Vec<u8>) {
        self.post(body, CONTENT_TYPE, Some(&self.token))
    }

    pub fn healthy(&self) -> bool {
        self.client
            .get(format!("{}/health", self.url))
            .send()
            .is_ok_and(|r| r.status().is_success())
    }
}

/// A laptop serving in the hall on a thread of its own (`hall::serve`),
/// until [`HallPeer::join`] stops it and hands the laptop back with what
/// it served.
pub struct HallPeer {
    pub address: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(Laptop, Vec<Result<ServedReport, SyncError>>)>,
    /// Announced on mDNS while serving (`HallPeer::announced`).
    _discovery: Option<sprechtag::hall::discovery::Discovery>,
}

impl HallPeer {
    pub fn start(laptop: Laptop) -> HallPeer {
        HallPeer::serve(laptop, false)
    }

    /// Serving and announced on mDNS, as the app announces a laptop.
    pub fn announced(laptop: Laptop) -> HallPeer {
        HallPeer::serve(laptop, true)
    }

    fn serve(mut laptop: Laptop, announce: bool) -> HallPeer {
        use std::sync::atomic::{AtomicBool, Ordering};
        // Announced: reachable on every address mDNS gives out, as in the app.
        let listener =
            TcpListener::bind(if announce { "0.0.0.0:0" } else { "127.0.0.1:0" }).expect("bind");
        let address = listener.local_addr().expect("address");
        let discovery = announce.then(|| {
            let own = laptop
                .store
                .hall_identity()
                .expect("identity")
                .expect("a certified laptop")
                .own;
            let mut discovery = sprechtag::hall::discovery::Discovery::start().expect("mDNS");
            discovery
                .announce(&own.device_id, &own.name, &own.department, address.port())
                .expect("announce");
            discovery
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut served = Vec::new();
            sprechtag::hall::serve(
                &mut laptop.store,
                listener,
                &|| stopped.load(Ordering::SeqCst),
                &mut |report| served.push(report),
            )
            .expect("serve");
            (laptop, served)
        });
        HallPeer {
            address: address.to_string(),
            stop,
            thread,
            _discovery: discovery,
        }
    }

    pub fn join(self) -> (Laptop, Vec<Result<ServedReport, SyncError>>) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().expect("the serving thread")
    }
}
