//! The PostgreSQL storage, for deployments that outgrow one machine:
//! several server instances on one database, behind a load balancer.
//!
//! Blocking `postgres` clients (rust-postgres) from an r2d2 pool, like the
//! SQLite storage's connections: the sync logic calls storage from
//! `spawn_blocking` and from the CLI, never from async code.
//!
//! **Sequence numbers become visible in order.** A device's cursor says
//! "everything up to N received". With concurrent writers a transaction
//! could take N, another N+1 and commit first; a device that read N+1 and
//! moved its cursor past N would never receive N. Here every transaction
//! that takes a sequence number (or extends the audit chain) first takes
//! one transaction-level advisory lock (`WRITE_LOCK`), held until it
//! commits or rolls back: numbers are taken and committed one transaction
//! after another, on every instance, so no reader ever sees N+1 without N.
//! Transactions that only read, acknowledge or touch their own device's
//! rows do not wait for it. The same lock keeps the audit chain a chain.

use postgres::Row;
use postgres::types::ToSql;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    Changed, Device, DocumentMeta, DocumentWrite, ForwardingRecord, Identity, MailOutcome,
    MailPurpose, NewDevice, Pending, QueuedMail, Result, Seq, Storage, StorageError,
    StorageFigures, StoredTombstone, SyncTransaction, Time,
};
use crate::audit::{Entry, Filter, NewEntry};

type Pool = r2d2::Pool<CachingManager>;
type Connection = r2d2::PooledConnection<CachingManager>;

/// Pooled connections that keep their prepared statements: a statement
/// prepared once per connection instead of once per call (a round trip to
/// the database each; a sync makes dozens of calls).
struct CachingManager(PostgresConnectionManager<DatabaseTls>);

/// rustls for tokio-postgres, also where there is no host name: a Unix
/// socket. tokio-postgres asks for a connector with the name "" there,
/// which rustls refuses; PostgreSQL offers no TLS on a socket and
/// tokio-postgres never starts a handshake without a host name, so any
/// valid name will do.
#[derive(Clone)]
struct DatabaseTls(MakeRustlsConnect);

impl<S> postgres::tls::MakeTlsConnect<S> for DatabaseTls
where
    MakeRustlsConnect: postgres::tls::MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as postgres::tls::MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as postgres::tls::MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as postgres::tls::MakeTlsConnect<S>>::Error;

    fn make_tls_connect(
        &mut self,
        hostname: &str,
    ) -> std::result::Result<Self::TlsConnect, Self::Error> {
        let name = if hostname.is_empty() {
            "localhost"
        } else {
            hostname
        };
        self.0.make_tls_connect(name)
    }
}

impl std::fmt::Debug for CachingManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachingManager")
    }
}

/// A connection and the statements prepared on it, by their SQL.
struct Cached {
    client: postgres::Client,
    statements: std::collections::HashMap<String, postgres::Statement>,
}

impl r2d2::ManageConnection for CachingManager {
    type Connection = Cached;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Cached, postgres::Error> {
        Ok(Cached {
            client: self.0.connect()?,
            statements: std::collections::HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Cached) -> std::result::Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Cached) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A pooled connection seen as its plain client.
struct ClientOf(Connection);

impl std::ops::Deref for ClientOf {
    type Target = postgres::Client;

    fn deref(&self) -> &postgres::Client {
        &self.0.client
    }
}

impl std::ops::DerefMut for ClientOf {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.0.client
    }
}

/// The calls this storage makes, through the statement cache. (Named as
/// postgres::Client's, which `client` offers for the rest: transactions,
/// batches.)
impl Cached {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }

    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_one(&statement, params)?)
    }

    fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, params)?)
    }

    fn batch_execute(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }
}

/// The advisory lock of transactions that take sequence numbers or append
/// to the audit chain ("SPRE" "WRIT" as two 32-bit halves).
const WRITE_LOCK: i64 = 0x5350_5245_5752_4954;
/// The advisory lock of schema migrations (several instances may start at
/// once).
const MIGRATION_LOCK: i64 = 0x5350_5245_4d49_4752;

/// Schema migrations, in order; released once they land, never edited.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE devices (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    "user"            TEXT NOT NULL,
    role              TEXT NOT NULL,
    department        TEXT NOT NULL,
    prefix            TEXT NOT NULL UNIQUE,
    token_hash        BYTEA UNIQUE,
    code_hash         BYTEA UNIQUE,
    code_expires_at   BIGINT,
    created_at        TEXT NOT NULL,
    last_seen         TEXT,
    revoked_at        TEXT,
    actor             TEXT UNIQUE,
    wipe_ordered_at   TEXT,
    wipe_delivered_at TEXT
);

CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    department  TEXT,
    snapshot    BYTEA NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    heads       BYTEA NOT NULL,
    seq         BIGINT NOT NULL,
    summary     BYTEA
);
CREATE INDEX documents_changed ON documents (department, seq, id);
CREATE INDEX documents_changed_all ON documents (seq, id);

CREATE TABLE document_chunks (
    id     BIGSERIAL PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    bytes  BYTEA NOT NULL
);
CREATE INDEX document_chunks_by_doc ON document_chunks (doc_id, id);

CREATE TABLE device_documents (
    device_id TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    heads     BYTEA NOT NULL,
    PRIMARY KEY (device_id, doc_id)
);

CREATE TABLE device_pending (
    device_id TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    heads     BYTEA NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (device_id, doc_id)
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('seq', 0);

CREATE TABLE audit (
    seq       BIGINT PRIMARY KEY,
    time      TEXT NOT NULL,
    event     TEXT NOT NULL,
    device_id TEXT,
    "user"    TEXT,
    case_ids  TEXT NOT NULL,
    detail    TEXT NOT NULL,
    previous  TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_by_device ON audit (device_id, seq);

CREATE TABLE tombstones (
    doc_id    TEXT PRIMARY KEY,
    number    TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    erased_by TEXT NOT NULL,
    reason    TEXT NOT NULL,
    successor TEXT
);

CREATE TABLE identity (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO identity (name, value) VALUES
    ('server_id', md5(random()::text || clock_timestamp()::text)),
    ('epoch', md5(random()::text || clock_timestamp()::text || 'epoch'));

CREATE TABLE forwardings (
    doc_id       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    department   TEXT,
    office_id    TEXT NOT NULL,
    forwarded_at TEXT NOT NULL,
    due          TEXT NOT NULL,
    closed       BOOLEAN NOT NULL,
    PRIMARY KEY (doc_id, request_id)
);
CREATE INDEX forwardings_open ON forwardings (closed, due);

CREATE TABLE mail_queue (
    id              BIGSERIAL PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    purpose         TEXT NOT NULL,
    doc_id          TEXT NOT NULL DEFAULT '',
    request_id      TEXT NOT NULL DEFAULT '',
    department      TEXT,
    queued_at       TEXT NOT NULL,
    next_attempt_at TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX mail_queue_by_doc ON mail_queue (doc_id);
"#];

/// An error with its causes ("error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer"): the driver's own text names only the
/// first.
fn error_text(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl From<postgres::Error> for StorageError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        let text = error_text(&e);
        match e.code() {
            Some(
                code @ (&SqlState::T_R_SERIALIZATION_FAILURE
                | &SqlState::T_R_DEADLOCK_DETECTED
                | &SqlState::LOCK_NOT_AVAILABLE
                | &SqlState::ADMIN_SHUTDOWN
                | &SqlState::CANNOT_CONNECT_NOW
                | &SqlState::TOO_MANY_CONNECTIONS),
            ) => StorageError::Unavailable(format!("{text} ({})", code.code())),
            Some(&SqlState::DATA_CORRUPTED | &SqlState::INDEX_CORRUPTED) => {
                StorageError::Damaged(text)
            }
            Some(_) => StorageError::Database(text),
            // No answer from the server: the connection dropped.
            None => StorageError::Unavailable(text),
        }
    }
}

impl From<r2d2::Error> for StorageError {
    fn from(e: r2d2::Error) -> Self {
        StorageError::Unavailable(format!("no database connection: {e}"))
    }
}

/// A row's value, or a `Database` error naming what did not fit.
fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T> {
    row.try_get(index)
        .map_err(|e| StorageError::Database(format!("column {index}: {e}")))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const DEVICE_COLUMNS: &str = r#"id, name, "user", role, department, prefix, token_hash IS NOT NULL, created_at, last_seen, revoked_at, actor, wipe_ordered_at, wipe_delivered_at"#;

fn device_row(row: &Row) -> Result<Device> {
    let role: String = get(row, 3)?;
    Ok(Device {
        id: get(row, 0)?,
        name: get(row, 1)?,
        user: get(row, 2)?,
        // A role this build does not know is a damaged row, not a caseworker.
        role: role
            .parse()
            .map_err(|e| StorageError::Database(format!("device role: {e}")))?,
        department: get(row, 4)?,
        prefix: get(row, 5)?,
        enrolled: get(row, 6)?,
        created_at: get(row, 7)?,
        last_seen: get(row, 8)?,
        revoked_at: get(row, 9)?,
        actor: get(row, 10)?,
        wipe_ordered_at: get(row, 11)?,
        wipe_delivered_at: get(row, 12)?,
    })
}

/// A document's bookkeeping from the columns kind, department, seq,
/// chunk_count, heads, starting at `first`.
fn meta_row(row: &Row, first: usize) -> Result<DocumentMeta> {
    let chunks: i32 = get(row, first + 3)?;
    Ok(DocumentMeta {
        kind: get(row, first)?,
        department: get(row, first + 1)?,
        seq: get(row, first + 2)?,
        chunk_count: u32::try_from(chunks).unwrap_or(0),
        heads: get(row, first + 4)?,
    })
}

const TOMBSTONE_COLUMNS: &str = "doc_id, number, erased_at, erased_by, reason, successor";

fn tombstone_row(row: &Row) -> Result<StoredTombstone> {
    Ok(StoredTombstone {
        doc_id: get(row, 0)?,
        number: get(row, 1)?,
        erased_at: get(row, 2)?,
        erased_by: get(row, 3)?,
        reason: get(row, 4)?,
        successor: get(row, 5)?,
    })
}

fn audit_row(row: &Row) -> Result<Entry> {
    let json = |index: usize| -> Result<serde_json::Value> {
        let text: String = get(row, index)?;
        serde_json::from_str(&text)
            .map_err(|e| StorageError::Database(format!("audit column {index}: {e}")))
    };
    let seq: i64 = get(row, 0)?;
    Ok(Entry {
        seq: u64::try_from(seq).map_err(|e| StorageError::Database(e.to_string()))?,
        time: get(row, 1)?,
        event: get(row, 2)?,
        device_id: get(row, 3)?,
        user: get(row, 4)?,
        case_ids: serde_json::from_value(json(5)?)
            .map_err(|e| StorageError::Database(e.to_string()))?,
        detail: json(6)?,
        previous: get(row, 7)?,
        hash: get(row, 8)?,
    })
}

/// Appends to the audit chain inside the caller's transaction, which must
/// hold `WRITE_LOCK`.
fn append_audit(client: &mut impl postgres::GenericClient, new: NewEntry) -> Result<Entry> {
    let last = client.query_opt("SELECT hash, seq FROM audit ORDER BY seq DESC LIMIT 1", &[])?;
    let last = match last {
        Some(row) => {
            let hash: String = get(&row, 0)?;
            let seq: i64 = get(&row, 1)?;
            Some((
                hash,
                u64::try_from(seq).map_err(|e| StorageError::Database(e.to_string()))?,
            ))
        }
        None => None,
    };
    let entry = Entry::following(last.as_ref().map(|(h, s)| (h.as_str(), *s)), now(), new);
    let seq = i64::try_from(entry.seq).map_err(|e| StorageError::Database(e.to_string()))?;
    client.execute(
        r#"INSERT INTO audit (seq, time, event, device_id, "user", case_ids, detail, previous, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
        &[
            &seq,
            &entry.time,
            &entry.event,
            &entry.device_id,
            &entry.user,
            &serde_json::Value::from(entry.case_ids.clone()).to_string(),
            &entry.detail.to_string(),
            &entry.previous,
            &entry.hash,
        ],
    )?;
    Ok(entry)
}

/// The PostgreSQL storage; see the module's documentation.
pub struct PostgresStorage {
    /// Always `Some` until dropped (`Drop` hands it to a thread).
    pool: Option<Pool>,
    identity: Identity,
    /// The URL without its password, for logs and `/health`.
    location: String,
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user@host/db`, or a Unix socket:
    /// `postgres://user@%2Frun%2Fpostgresql/db`), brings the schema up to
    /// date and reads the identity. TLS as the URL's `sslmode` says
    /// (`require` for a database across a network), the server's
    /// certificate checked against the system's roots.
    pub fn open(url: &str) -> Result<PostgresStorage> {
        PostgresStorage::open_with_ca(url, None)
    }

    /// As `open`, trusting also the CA certificates in the PEM file
    /// `ca_file` (a county's own CA; `database_ca_file`).
    pub fn open_with_ca(url: &str, ca_file: Option<&std::path::Path>) -> Result<PostgresStorage> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Database(format!("not a PostgreSQL URL: {e}")))?;
        let location = describe(&config);
        let tls = tls_connector(ca_file)?;
        let manager = CachingManager(PostgresConnectionManager::new(config, tls));
        // One connection first: a wrong address, password or certificate
        // fails at once with its own message (the pool would retry it for
        // its whole timeout and then report a timeout).
        let mut first = r2d2::ManageConnection::connect(&manager)
            .map_err(|e| StorageError::Unavailable(format!("{location}: {}", error_text(&e))))?;
        migrate(&mut first.client)?;
        let identity = read_identity(&mut first.client)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(manager)
            .map_err(|e| StorageError::Unavailable(format!("{location}: {e}")))?;
        Ok(PostgresStorage {
            pool: Some(pool),
            identity,
            location,
        })
    }

    /// A connection of the pool, for moving data in (`transfer.rs`).
    pub(super) fn write_connection(
        &self,
    ) -> Result<impl std::ops::DerefMut<Target = postgres::Client>> {
        Ok(ClientOf(self.connection()?))
    }

    fn connection(&self) -> Result<Connection> {
        match &self.pool {
            Some(pool) => Ok(pool.get()?),
            None => Err(StorageError::Unavailable("the storage is closed".into())),
        }
    }
}

impl Drop for PostgresStorage {
    /// Closing a blocking client blocks; where the last reference goes
    /// away on an async thread (a server shutting down), the pool is closed
    /// on a thread of its own instead.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// TLS for connections across a network: rustls with ring, the system's
/// roots and those of `ca_file`. Every certificate is verified, host name
/// included, whatever `sslmode` says (`prefer` and `require` both verify;
/// `disable` sends no TLS at all). A Unix socket never uses TLS.
fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<DatabaseTls> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates leave the CA file (or nothing).
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| {
            StorageError::Database(format!("cannot read database_ca_file {shown}: {e}"))
        })?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                StorageError::Database(format!("database_ca_file {shown}: not PEM: {e}"))
            })?;
            roots
                .add(cert)
                .map_err(|e| StorageError::Database(format!("database_ca_file {shown}: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(StorageError::Database(format!(
                "database_ca_file {shown} holds no certificate"
            )));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StorageError::Database(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(DatabaseTls(MakeRustlsConnect::new(config)))
}

/// "PostgreSQL user@host/db", never the password.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    format!(
        "PostgreSQL {}@{}/{}",
        config.get_user().unwrap_or_default(),
        host,
        config.get_dbname().unwrap_or_default()
    )
}

/// Applies the migrations not yet applied, one transaction, under a lock
/// (instances starting together wait for each other).
fn migrate(client: &mut postgres::Client) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let exists = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .try_get::<_, bool>(0)?;
    if !exists {
        tx.batch_execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")?;
    }
    let version: i64 = match tx.query_opt("SELECT version FROM schema_version", &[])? {
        Some(row) => get(&row, 0)?,
        None => {
            tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
            0
        }
    };
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StorageError::Database(format!(
            "the database's schema version {version} is newer than this server knows \
             ({known}): run the newer server"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(migration)?;
        let applied = i64::try_from(index + 1).unwrap_or(i64::MAX);
        tx.execute("UPDATE schema_version SET version = $1", &[&applied])?;
    }
    tx.commit()?;
    Ok(())
}

fn read_identity(client: &mut postgres::Client) -> Result<Identity> {
    let mut value = |name: &str| -> Result<String> {
        let row = client.query_one("SELECT value FROM identity WHERE name = $1", &[&name])?;
        get(&row, 0)
    };
    Ok(Identity {
        server_id: value("server_id")?,
        epoch: value("epoch")?,
    })
}

impl Storage for PostgresStorage {
    fn insert_device(
        &self,
        new: &NewDevice,
        prefix: &str,
        code_hash: &[u8],
        expires_at: Time,
    ) -> Result<Option<Device>> {
        let id = uuid::Uuid::new_v4().to_string();
        let row = self.connection()?.query_opt(
            &format!(
                r#"INSERT INTO devices (id, name, "user", role, department, prefix, code_hash,
                                        code_expires_at, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (prefix) DO NOTHING
                   RETURNING {DEVICE_COLUMNS}"#
            ),
            &[
                &id,
                &new.name,
                &new.user,
                &new.role.as_str(),
                &new.department,
                &prefix,
                &code_hash,
                &expires_at.timestamp(),
                &now(),
            ],
        )?;
        row.as_ref().map(device_row).transpose()
    }

    fn redeem_code(
        &self,
        code_hash: &[u8],
        token_hash: &[u8],
        actor: Option<&str>,
        now: Time,
    ) -> Result<Option<Device>> {
        let mut client = self.connection()?;
        let mut tx = client.client.transaction()?;
        if let Some(actor) = actor
            && tx
                .query_opt("SELECT 1 FROM devices WHERE actor = $1", &[&actor])?
                .is_some()
        {
            return Err(StorageError::Conflict(format!(
                "the actor {actor} belongs to another device"
            )));
        }
        let row = tx.query_opt(
            &format!(
                "UPDATE devices SET token_hash = $2, code_hash = NULL, code_expires_at = NULL,
                                    actor = $4
                 WHERE code_hash = $1 AND code_expires_at >= $3 AND token_hash IS NULL
                       AND code_expires_at <= $3 + $5
                       AND revoked_at IS NULL
                 RETURNING {DEVICE_COLUMNS}"
            ),
            &[
                &code_hash,
                &token_hash,
                &now.timestamp(),
                &actor,
                &super::CODE_VALIDITY_SECS,
            ],
        );
        let row = match row {
            Ok(row) => row,
            // Two devices redeeming with one actor at once: the second
            // meets the unique index.
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
                return Err(StorageError::Conflict(format!(
                    "the actor {} belongs to another device",
                    actor.unwrap_or_default()
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let device = row.as_ref().map(device_row).transpose()?;
        tx.commit()?;
        Ok(device)
    }

    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>> {
        let row = self.connection()?.query_opt(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1"),
            &[&token_hash],
        )?;
        row.as_ref().map(device_row).transpose()
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.connection()?
            .query(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"),
                &[],
            )?
            .iter()
            .map(device_row)
            .collect()
    }

    fn revoke_device(&self, id: &str, wipe: bool) -> Result<bool> {
        let changed = self.connection()?.execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, $2), code_hash = NULL,
                wipe_ordered_at = CASE WHEN $3 THEN coalesce(wipe_ordered_at, $2)
                                       ELSE wipe_ordered_at END
             WHERE id = $1",
            &[&id, &now(), &wipe],
        )?;
        Ok(changed == 1)
    }

    fn wipe_delivered(&self, id: &str) -> Result<()> {
        self.connection()?.execute(
            "UPDATE devices SET wipe_delivered_at = coalesce(wipe_delivered_at, $2) WHERE id = $1",
            &[&id, &now()],
        )?;
        Ok(())
    }

    fn append_audit(&self, entry: NewEntry) -> Result<Entry> {
        let mut client = self.connection()?;
        let mut tx = client.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        let entry = append_audit(&mut tx, entry)?;
        tx.commit()?;
        Ok(entry)
    }

    fn audit_entries(&self, filter: &Filter) -> Result<Vec<Entry>> {
        let since = filter.since.clone().unwrap_or_default();
        self.connection()?
            .query(
                r#"SELECT seq, time, event, device_id, "user", case_ids, detail, previous, hash
                   FROM audit
                   WHERE time >= $1
                     AND ($2::text IS NULL OR device_id = $2)
                     AND ($3::text IS NULL OR case_ids::jsonb ? $3)
                   ORDER BY seq"#,
                &[&since, &filter.device_id, &filter.case_id],
            )?
            .iter()
            .map(audit_row)
            .collect()
    }

    fn begin(&self) -> Result<Box<dyn SyncTransaction + '_>> {
        let mut client = self.connection()?;
        client.batch_execute("BEGIN")?;
        Ok(Box::new(PostgresTransaction {
            client,
            locked: false,
            finished: false,
        }))
    }

    fn document_department(&self, id: &str) -> Result<Option<Option<String>>> {
        let row = self
            .connection()?
            .query_opt("SELECT department FROM documents WHERE id = $1", &[&id])?;
        row.as_ref().map(|r| get(r, 0)).transpose()
    }

    fn case_summaries(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.connection()?
            .query(
                "SELECT id, summary FROM documents WHERE kind = 'case' AND summary IS NOT NULL
                 ORDER BY seq",
                &[],
            )?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .collect()
    }

    fn tombstones(&self) -> Result<Vec<StoredTombstone>> {
        self.connection()?
            .query(
                &format!("SELECT {TOMBSTONE_COLUMNS} FROM tombstones ORDER BY erased_at, doc_id"),
                &[],
            )?
            .iter()
            .map(tombstone_row)
            .collect()
    }

    fn purge(&self) -> Result<()> {
        // PostgreSQL keeps deleted rows until a vacuum makes their space
        // reusable; it cannot zero them (see docs/privacy.md).
        self.connection()?
            .batch_execute("VACUUM document_chunks, documents, device_pending")?;
        Ok(())
    }

    fn identity(&self) -> Result<Identity> {
        Ok(self.identity.clone())
    }

    fn identity_value(&self, name: &str) -> Result<Option<String>> {
        let row = self
            .connection()?
            .query_opt("SELECT value FROM identity WHERE name = $1", &[&name])?;
        row.as_ref().map(|r| get(r, 0)).transpose()
    }

    fn settle_identity(&self, name: &str, value: &str) -> Result<String> {
        let mut client = self.connection()?;
        client.execute(
            "INSERT INTO identity (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &value],
        )?;
        let row = client.query_one("SELECT value FROM identity WHERE name = $1", &[&name])?;
        get(&row, 0)
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn schema_version(&self) -> Result<i64> {
        let row = self
            .connection()?
            .query_one("SELECT version FROM schema_version", &[])?;
        get(&row, 0)
    }

    fn figures(&self) -> Result<StorageFigures> {
        let row = self.connection()?.query_one(
            "SELECT (SELECT count(*) FROM documents),
                    (SELECT count(*) FROM devices WHERE revoked_at IS NULL AND token_hash IS NOT NULL),
                    pg_database_size(current_database())",
            &[],
        )?;
        let count = |index: usize| -> Result<u64> {
            let value: i64 = get(&row, index)?;
            Ok(u64::try_from(value).unwrap_or(0))
        };
        Ok(StorageFigures {
            documents: count(0)?,
            devices_active: count(1)?,
            database_bytes: count(2)?,
        })
    }

    fn mail_due(&self, now: &str, limit: usize) -> Result<Vec<QueuedMail>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.connection()?.query(
            "SELECT id, purpose, doc_id, request_id, department, attempts, last_error
             FROM mail_queue WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2",
            &[&now, &limit],
        )?;
        let mut due = Vec::new();
        for row in &rows {
            let purpose: String = get(row, 1)?;
            let Some(purpose) = MailPurpose::from_name(&purpose) else {
                continue;
            };
            let attempts: i32 = get(row, 5)?;
            due.push(QueuedMail {
                id: get(row, 0)?,
                purpose,
                doc_id: get(row, 2)?,
                request_id: get(row, 3)?,
                department: get(row, 4)?,
                attempts: u32::try_from(attempts).unwrap_or(0),
                last_error: get(row, 6)?,
            });
        }
        Ok(due)
    }

    fn mail_tried(&self, id: i64, outcome: &MailOutcome) -> Result<()> {
        let mut client = self.connection()?;
        match outcome {
            MailOutcome::Sent(at) => client.execute(
                "UPDATE mail_queue SET sent_at = $2, next_attempt_at = NULL,
                     attempts = attempts + 1, last_error = NULL WHERE id = $1",
                &[&id, at],
            )?,
            MailOutcome::Failed { error, retry_at } => client.execute(
                "UPDATE mail_queue SET next_attempt_at = $2, attempts = attempts + 1,
                     last_error = $3 WHERE id = $1",
                &[&id, retry_at, error],
            )?,
        };
        Ok(())
    }

    fn queue_mail(
        &self,
        key: &str,
        purpose: MailPurpose,
        forwarding: Option<(&str, &str)>,
        department: Option<&str>,
        now: &str,
    ) -> Result<bool> {
        let (doc_id, request_id) = forwarding.unwrap_or(("", ""));
        let added = self.connection()?.execute(
            "INSERT INTO mail_queue (key, purpose, doc_id, request_id, department, queued_at,
                 next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (key) DO NOTHING",
            &[
                &key,
                &purpose.as_str(),
                &doc_id,
                &request_id,
                &department,
                &now,
            ],
        )?;
        Ok(added == 1)
    }

    fn open_forwardings(&self) -> Result<Vec<ForwardingRecord>> {
        self.connection()?
            .query(
                "SELECT doc_id, request_id, kind, department, office_id, forwarded_at, due, closed
                 FROM forwardings WHERE NOT closed ORDER BY due, doc_id, request_id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(ForwardingRecord {
                    doc_id: get(r, 0)?,
                    request_id: get(r, 1)?,
                    kind: get(r, 2)?,
                    department: get(r, 3)?,
                    office_id: get(r, 4)?,
                    forwarded_at: get(r, 5)?,
                    due: get(r, 6)?,
                    closed: get(r, 7)?,
                })
            })
            .collect()
    }
}

struct PostgresTransaction {
    client: Connection,
    /// Holds `WRITE_LOCK` (taken before the first sequence number or
    /// audit entry).
    locked: bool,
    finished: bool,
}

impl Drop for PostgresTransaction {
    fn drop(&mut self) {
        if !self.finished {
            // A connection that cannot roll back is broken: r2d2 tests it
            // before handing it out again.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

impl PostgresTransaction {
    /// Takes `WRITE_LOCK` for the rest of the transaction (once).
    fn lock(&mut self) -> Result<()> {
        if !self.locked {
            self.client
                .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            self.locked = true;
        }
        Ok(())
    }

    /// The next sequence number, under `WRITE_LOCK`.
    fn next_seq(&mut self) -> Result<Seq> {
        self.lock()?;
        let row = self.client.query_one(
            "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value",
            &[],
        )?;
        get(&row, 0)
    }

    fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64> {
        self.client.execute(sql, params)
    }
}

impl SyncTransaction for PostgresTransaction {
    fn append_audit(&mut self, entry: NewEntry) -> Result<()> {
        self.lock()?;
        append_audit(&mut self.client.client, entry).map(|_| ())
    }

    fn device_by_actor(&mut self, actor: &str) -> Result<Option<Device>> {
        let row = self.client.query_opt(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE actor = $1"),
            &[&actor],
        )?;
        row.as_ref().map(device_row).transpose()
    }

    fn document_meta(&mut self, id: &str) -> Result<Option<DocumentMeta>> {
        let row = self.client.query_opt(
            "SELECT kind, department, seq, chunk_count, heads FROM documents WHERE id = $1",
            &[&id],
        )?;
        row.as_ref().map(|r| meta_row(r, 0)).transpose()
    }

    /// The snapshot and its chunks in one round trip.
    fn document_bytes(&mut self, id: &str) -> Result<Vec<Vec<u8>>> {
        let Some(row) = self.client.query_opt(
            "SELECT snapshot,
                    ARRAY(SELECT bytes FROM document_chunks WHERE doc_id = $1 ORDER BY id)
             FROM documents WHERE id = $1",
            &[&id],
        )?
        else {
            return Ok(Vec::new());
        };
        let mut parts = vec![get::<Vec<u8>>(&row, 0)?];
        parts.extend(get::<Vec<Vec<u8>>>(&row, 1)?);
        Ok(parts)
    }

    fn document_summary(&mut self, id: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .client
            .query_opt("SELECT summary FROM documents WHERE id = $1", &[&id])?;
        Ok(row
            .as_ref()
            .map(|r| get::<Option<Vec<u8>>>(r, 0))
            .transpose()?
            .flatten())
    }

    fn write_document(
        &mut self,
        id: &str,
        kind: &str,
        department: Option<&str>,
        heads: &[u8],
        summary: Option<&[u8]>,
        write: DocumentWrite<'_>,
    ) -> Result<Seq> {
        // The sequence number, the chunks and the row in one statement (one
        // round trip: a request writes dozens of documents under the lock).
        self.lock()?;
        let row = match write {
            DocumentWrite::Snapshot(bytes) => self.client.query_one(
                "WITH next AS (UPDATE counters SET value = value + 1 WHERE name = 'seq'
                               RETURNING value),
                      gone AS (DELETE FROM document_chunks WHERE doc_id = $1)
                 INSERT INTO documents (id, kind, department, snapshot, chunk_count, heads, seq, summary)
                 SELECT $1, $2, $3, $4, 0, $5, next.value, $6 FROM next
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,
                    department = excluded.department, snapshot = excluded.snapshot,
                    chunk_count = 0, heads = excluded.heads, seq = excluded.seq,
                    summary = excluded.summary
                 RETURNING seq",
                &[&id, &kind, &department, &bytes, &heads, &summary],
            )?,
            DocumentWrite::Chunk(bytes) => self.client.query_one(
                "WITH next AS (UPDATE counters SET value = value + 1 WHERE name = 'seq'
                               RETURNING value),
                      chunk AS (INSERT INTO document_chunks (doc_id, bytes) VALUES ($1, $2))
                 UPDATE documents SET kind = $3, department = $4, chunk_count = chunk_count + 1,
                    heads = $5, seq = next.value, summary = $6
                 FROM next WHERE id = $1
                 RETURNING seq",
                &[&id, &bytes, &kind, &department, &heads, &summary],
            )?,
        };
        get(&row, 0)
    }

    fn device_heads(&mut self, device: &str, doc: &str) -> Result<Option<Vec<u8>>> {
        let row = self.client.query_opt(
            "SELECT heads FROM device_documents WHERE device_id = $1 AND doc_id = $2",
            &[&device, &doc],
        )?;
        row.as_ref().map(|r| get(r, 0)).transpose()
    }

    fn set_device_heads(&mut self, device: &str, doc: &str, heads: &[u8]) -> Result<()> {
        self.execute(
            "INSERT INTO device_documents (device_id, doc_id, heads) VALUES ($1, $2, $3)
             ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads",
            &[&device, &doc, &heads],
        )?;
        Ok(())
    }

    /// A response's pending sends in one statement (as arrays).
    fn add_pending(&mut self, device: &str, pending: &[Pending<'_>]) -> Result<()> {
        let docs: Vec<&str> = pending.iter().map(|p| p.doc_id).collect();
        let heads: Vec<&[u8]> = pending.iter().map(|p| p.heads).collect();
        let seqs: Vec<Seq> = pending.iter().map(|p| p.seq).collect();
        self.execute(
            "INSERT INTO device_pending (device_id, doc_id, heads, seq)
             SELECT $1, doc_id, heads, seq
             FROM UNNEST($2::text[], $3::bytea[], $4::bigint[]) AS p (doc_id, heads, seq)
             ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads, seq = excluded.seq",
            &[&device, &docs, &heads, &seqs],
        )?;
        Ok(())
    }

    fn touch_device(&mut self, device: &str) -> Result<()> {
        self.execute(
            "UPDATE devices SET last_seen = $2 WHERE id = $1",
            &[&device, &now()],
        )?;
        Ok(())
    }

    fn acknowledge(&mut self, device: &str, cursor: Seq) -> Result<()> {
        self.execute(
            "INSERT INTO device_documents (device_id, doc_id, heads)
             SELECT device_id, doc_id, heads FROM device_pending WHERE device_id = $1 AND seq <= $2
             ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads",
            &[&device, &cursor],
        )?;
        self.execute(
            "DELETE FROM device_pending WHERE device_id = $1",
            &[&device],
        )?;
        Ok(())
    }

    fn newest_seq(&mut self) -> Result<Seq> {
        let row = self
            .client
            .query_one("SELECT value FROM counters WHERE name = 'seq'", &[])?;
        get(&row, 0)
    }

    fn forget_holdings(&mut self, device: &str) -> Result<()> {
        self.execute(
            "DELETE FROM device_documents WHERE device_id = $1",
            &[&device],
        )?;
        self.execute(
            "DELETE FROM device_pending WHERE device_id = $1",
            &[&device],
        )?;
        Ok(())
    }

    /// The page, each document's bookkeeping and the device's heads in
    /// one query (a round trip per document cost more than the rest of a
    /// download).
    fn changed_after(
        &mut self,
        device: &str,
        scope: Option<&str>,
        cursor: Seq,
        limit: usize,
    ) -> Result<Vec<Changed>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match scope {
            // The department's documents and the knowledge base, which
            // belongs to no department and goes to every device.
            Some(department) => self.client.query(
                "SELECT d.id, d.kind, d.department, d.seq, d.chunk_count, d.heads, h.heads
                 FROM (SELECT id, kind, department, seq, chunk_count, heads FROM documents
                           WHERE department = $2 AND seq > $3
                       UNION ALL
                       SELECT id, kind, department, seq, chunk_count, heads FROM documents
                           WHERE department IS NULL AND seq > $3 AND kind IN ('catalog', 'answer')
                       ORDER BY seq LIMIT $4) AS d
                 LEFT JOIN device_documents h ON h.device_id = $1 AND h.doc_id = d.id
                 ORDER BY d.seq",
                &[&device, &department, &cursor, &limit],
            )?,
            None => self.client.query(
                "SELECT d.id, d.kind, d.department, d.seq, d.chunk_count, d.heads, h.heads
                 FROM (SELECT id, kind, department, seq, chunk_count, heads FROM documents
                           WHERE seq > $2 ORDER BY seq LIMIT $3) AS d
                 LEFT JOIN device_documents h ON h.device_id = $1 AND h.doc_id = d.id
                 ORDER BY d.seq",
                &[&device, &cursor, &limit],
            )?,
        };
        rows.iter()
            .map(|r| {
                Ok(Changed {
                    id: get(r, 0)?,
                    meta: meta_row(r, 1)?,
                    known: get(r, 6)?,
                })
            })
            .collect()
    }

    fn tombstone(&mut self, id: &str) -> Result<Option<StoredTombstone>> {
        let row = self.client.query_opt(
            &format!("SELECT {TOMBSTONE_COLUMNS} FROM tombstones WHERE doc_id = $1"),
            &[&id],
        )?;
        row.as_ref().map(tombstone_row).transpose()
    }

    fn erase_document(
        &mut self,
        department: Option<&str>,
        tombstone: &StoredTombstone,
    ) -> Result<Seq> {
        let id = tombstone.doc_id.as_str();
        let seq = self.next_seq()?;
        for sql in [
            "DELETE FROM document_chunks WHERE doc_id = $1",
            "DELETE FROM device_pending WHERE doc_id = $1",
            // Nothing left to send or remind of.
            "DELETE FROM forwardings WHERE doc_id = $1",
            "DELETE FROM mail_queue WHERE doc_id = $1",
        ] {
            self.execute(sql, &[&id])?;
        }
        self.execute(
            "INSERT INTO documents (id, kind, department, snapshot, chunk_count, heads, seq, summary)
             VALUES ($1, 'erased', $2, ''::bytea, 0, ''::bytea, $3, NULL)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,
                department = excluded.department, snapshot = ''::bytea, chunk_count = 0,
                heads = ''::bytea, seq = excluded.seq, summary = NULL",
            &[&id, &department, &seq],
        )?;
        self.execute(
            &format!(
                "INSERT INTO tombstones ({TOMBSTONE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            &[
                &id,
                &tombstone.number,
                &tombstone.erased_at,
                &tombstone.erased_by,
                &tombstone.reason,
                &tombstone.successor,
            ],
        )?;
        Ok(seq)
    }

    fn record_forwardings(&mut self, doc_id: &str, forwardings: &[ForwardingRecord]) -> Result<()> {
        self.execute("DELETE FROM forwardings WHERE doc_id = $1", &[&doc_id])?;
        for f in forwardings {
            self.execute(
                "INSERT INTO forwardings (doc_id, request_id, kind, department, office_id,
                     forwarded_at, due, closed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &f.doc_id,
                    &f.request_id,
                    &f.kind,
                    &f.department,
                    &f.office_id,
                    &f.forwarded_at,
                    &f.due,
                    &f.closed,
                ],
            )?;
            if !f.closed {
                let key = format!(
                    "forwarding:{}:{}:{}",
                    f.doc_id, f.request_id, f.forwarded_at
                );
                self.execute(
                    "INSERT INTO mail_queue (key, purpose, doc_id, request_id, department,
                         queued_at, next_attempt_at) VALUES ($1, 'forwarding', $2, $3, $4, $5, '0000')
                     ON CONFLICT (key) DO NOTHING",
                    &[&key, &f.doc_id, &f.request_id, &f.department, &now()],
                )?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.client.batch_execute("COMMIT")?;
        self.finished = true;
        Ok(())
    }
}
