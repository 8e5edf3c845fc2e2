//! Server settings: defaults, then a TOML file, then `SPRECHTAG_SERVER_*`
//! environment variables, then the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Printed by `sprechtag-server config`.
pub const EXAMPLE: &str = r#"# sprechtag-server.toml
# Every setting can also come from the environment, e.g. SPRECHTAG_SERVER_LISTEN.

# Where the embedded SQLite database lives (made 0700, its files 0600),
# and the server's key for enrolment codes (server.key) with either database.
data_dir = "/var/lib/sprechtag"

# PostgreSQL instead of the embedded SQLite: for several server instances
# on one database behind a load balancer (nothing sticky needed). Also
# --database or SPRECHTAG_DATABASE_URL. A Unix socket:
#   postgres://sprechtag@%2Frun%2Fpostgresql/sprechtag
# Every instance needs the same server.key in its data_dir (copy it; an
# instance with another key refuses to start). Across a network, require
# TLS: the server's certificate is always verified (host name included)
# against the system's CAs and those in database_ca_file.
# database = "postgres://sprechtag@db.kreis.example/sprechtag?sslmode=require"
# database_ca_file = "/etc/sprechtag/database-ca.pem"

# The key the database is encrypted with (SQLCipher, as on the laptops):
# 32 random bytes or 64 hex digits, in a file only the server's user may
# read, kept apart from the data dir and its backups. The Debian package
# makes it when it is first installed; elsewhere:
#   head -c 32 /dev/urandom > /etc/sprechtag/db.key; chmod 600 /etc/sprechtag/db.key
# Without it (comment it out) the server warns at start that its data are
# not encrypted.
db_key_file = "/etc/sprechtag/db.key"

# Address and port to listen on. Plain HTTP on this machine only until TLS
# is set up below; then "0.0.0.0:8443" (or "[::]:8443") for the laptops.
listen = "127.0.0.1:8443"

# TLS: give both to serve HTTPS (rustls); without them the server speaks
# plain HTTP, for a reverse proxy or a closed network only. The certificate
# file holds the chain (server certificate first), the key file its private
# key (PEM, readable by the server's user only). SIGHUP (systemctl reload)
# reads both again: renew them without a restart.
# tls_cert = "/etc/sprechtag/cert.pem"
# tls_key = "/etc/sprechtag/key.pem"

# Logs go to standard error (under systemd: the journal). "text" is for
# people, "json" one object per line for a log collector.
log_format = "text"

# GET /metrics (Prometheus): answered to this machine (loopback) only,
# unless a token is configured; then only with "Authorization: Bearer
# TOKEN", from anywhere (also from loopback). The file holds the token
# (its first line, at least 16 characters).
# metrics_token_file = "/etc/sprechtag/metrics-token"

# Seconds a client may take to send a request's headers (and to start the
# next request on a kept-alive connection), and to send a sync body once
# its token was checked. Slower connections are closed.
header_timeout_secs = 20
body_timeout_secs = 120

# Open connections at most, in all and from one client address (laptops
# behind one NAT address share it). One more is closed at once; the laptop
# tries again later. Keep max_connections below the open-file limit
# (systemd: LimitNOFILE).
max_connections = 512
max_connections_per_address = 64

# Retention: closed (done or cancelled) cases are erased this many days
# after closing, by a daily job (`sprechtag-server retention run` runs it
# now). 0 keeps them until they are erased by hand.
retention_days = 365

# Services kept longer or shorter than retention_days: from the catalogue
# file's `retention_days` (the file the laptops were set up with), and by
# catalogue id below (which wins). A case with several services is kept for
# the longest of them.
# catalog_file = "/etc/sprechtag/services.json"
# [retention_by_service]
# hundesteuer = 3650

# The back office of each department, by the department's name: the
# address offices reply to when a request is forwarded by e-mail, and where
# the morning digest of overdue forwardings goes.
# [backoffice_mail]
# buergerservice = "buergerservice@kreis.example"

# Forwarding by e-mail. Without [smtp] nothing is sent: forwardings stay in
# the app. With it, a request the back office forwards to an office with an
# e-mail address (in the catalogue) is sent there, queued in the database
# and retried until the relay accepts it; a reminder goes two working days
# before the deadline; every morning at digest_at (server time) each
# department's back office gets one mail listing its overdue forwardings.
# [smtp]
# host = "mail.kreis.example"
# port = 587
# tls = "starttls"          # "tls" (implicit, port 465) or "none" (a relay on this machine)
# from = "Sprechtag <sprechtag@kreis.example>"
# user = "sprechtag"
# password_file = "/etc/sprechtag/smtp-password"
# ca_file = "/etc/sprechtag/mail-ca.pem"   # a county's own CA, besides the system's
# digest_at = "07:00"
# poll_secs = 30
"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// A PostgreSQL URL; `None`: SQLite in `data_dir`.
    #[serde(default)]
    pub database: Option<String>,
    /// CA certificates (PEM) to trust for the PostgreSQL server's
    /// certificate, besides the system's.
    #[serde(default)]
    pub database_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub db_key_file: Option<PathBuf>,
    pub listen: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u64,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_max_connections_per_address")]
    pub max_connections_per_address: usize,
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    #[serde(default)]
    pub retention_by_service: std::collections::BTreeMap<String, u32>,
    /// The service catalogue, for its services' retention periods.
    #[serde(default)]
    pub catalog_file: Option<PathBuf>,
    /// Each department's back office, by department: replies and digests.
    #[serde(default)]
    pub backoffice_mail: std::collections::BTreeMap<String, String>,
    /// Forwarding by e-mail; `None`: nothing is sent.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    #[serde(default)]
    pub log_format: LogFormat,
    /// The token `/metrics` asks for; without it, loopback only.
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
    /// What time it is, for the mail schedule (tests set it).
    #[serde(skip)]
    pub clock: Clock,
}

/// How the server writes its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How the connection to the mail relay is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    /// The sender, e.g. `Sprechtag <sprechtag@kreis.example>`.
    pub from: String,
    #[serde(default)]
    pub user: Option<String>,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A CA certificate (PEM) to trust besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// When the morning digest goes out, `HH:MM` server time.
    #[serde(default = "default_digest_at")]
    pub digest_at: String,
    /// Seconds between looks at the queue.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_digest_at() -> String {
    "07:00".into()
}

fn default_poll_secs() -> u64 {
    30
}

/// Now, as the server's schedules see it: the system clock, or a clock a
/// test moves.
#[derive(Clone, Default)]
pub struct Clock(Option<std::sync::Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>>);

impl Clock {
    pub fn new(now: impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync + 'static) -> Clock {
        Clock(Some(std::sync::Arc::new(now)))
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match &self.0 {
            Some(now) => now(),
            None => chrono::Utc::now(),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(set)"
        } else {
            "Clock(system)"
        })
    }
}

/// Settings are equal whatever their clocks.
impl PartialEq for Clock {
    fn eq(&self, _: &Clock) -> bool {
        true
    }
}

fn default_retention_days() -> u32 {
    365
}

fn default_max_connections() -> usize {
    512
}

fn default_max_connections_per_address() -> usize {
    64
}

fn default_header_timeout() -> u64 {
    20
}

fn default_body_timeout() -> u64 {
    120
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("sprechtag-server-data"),
            database: None,
            database_ca_file: None,
            db_key_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            header_timeout_secs: default_header_timeout(),
            body_timeout_secs: default_body_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_address: default_max_connections_per_address(),
            retention_days: default_retention_days(),
            retention_by_service: std::collections::BTreeMap::new(),
            catalog_file: None,
            backoffice_mail: std::collections::BTreeMap::new(),
            smtp: None,
            log_format: LogFormat::Text,
            metrics_token_file: None,
            clock: Clock::default(),
        }
    }
}

impl Settings {
    /// The storage in `data_dir`, decrypted with `db_key_file` if given.
    /// Refused to root in a data dir that belongs to another user (the
    /// packaged service's): files root made there (a new write-ahead log,
    /// `server.key`) would lock the service out of its own data.
    pub fn open_storage(&self) -> anyhow::Result<crate::storage::SqliteStorage> {
        use anyhow::Context;
        refuse_root_in_foreign_dir(&self.data_dir)?;
        let key = self.database_key()?;
        crate::storage::SqliteStorage::open_with_key(&self.data_dir, key.as_ref())
            .with_context(|| format!("cannot open the database in {}", self.data_dir.display()))
    }

    /// The storage the settings name: PostgreSQL at `database`, else the
    /// embedded SQLite in `data_dir`.
    pub fn open_backend(&self) -> anyhow::Result<std::sync::Arc<dyn crate::storage::Storage>> {
        use anyhow::Context;
        match &self.database {
            Some(url) => {
                let storage = crate::storage::PostgresStorage::open_with_ca(
                    url,
                    self.database_ca_file.as_deref(),
                )
                .context("cannot open the PostgreSQL database")?;
                Ok(std::sync::Arc::new(storage))
            }
            None => Ok(std::sync::Arc::new(self.open_storage()?)),
        }
    }

    /// The database key from `db_key_file`, if given.
    pub fn database_key(&self) -> anyhow::Result<Option<crate::storage::DatabaseKey>> {
        Ok(self
            .db_key_file
            .as_deref()
            .map(crate::storage::DatabaseKey::read)
            .transpose()?)
    }

    /// The retention periods: the default, the catalogue's per service,
    /// and `retention_by_service` over both.
    pub fn retention(&self) -> anyhow::Result<crate::retention::Policy> {
        let mut by_service = std::collections::BTreeMap::new();
        if let Some(catalog) = self.catalog()? {
            for service in &catalog.services {
                if let Some(days) = service.retention_days {
                    by_service.insert(service.id.clone(), days);
                }
            }
        }
        by_service.extend(self.retention_by_service.clone());
        Ok(crate::retention::Policy {
            default_days: self.retention_days,
            by_service,
        })
    }

    /// The SHA-256 of the metrics token in `metrics_token_file`, if given.
    pub fn metrics_token_hash(&self) -> anyhow::Result<Option<Vec<u8>>> {
        use anyhow::Context;
        use sha2::Digest;
        let Some(path) = &self.metrics_token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the metrics token {}", path.display()))?;
        let token = text.lines().next().unwrap_or_default().trim();
        if token.chars().count() < 16 {
            anyhow::bail!(
                "the metrics token in {} is shorter than 16 characters",
                path.display()
            );
        }
        Ok(Some(sha2::Sha256::digest(token.as_bytes()).to_vec()))
    }

    /// The catalogue file (`catalog_file`), if given.
    pub fn catalog(&self) -> anyhow::Result<Option<sprechtag_schemas::Catalog>> {
        use anyhow::Context;
        let Some(path) = &self.catalog_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the catalogue {}", path.display()))?;
        let catalog = sprechtag_schemas::Catalog::from_json(&text)
            .with_context(|| format!("the catalogue {}", path.display()))?;
        Ok(Some(catalog))
    }

    /// Defaults, the file (if given), the environment; the caller applies
    /// command-line values last.
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("SPRECHTAG_SERVER_"))
            .extract()
            .map_err(Box::new)
    }
}

/// See `Settings::open_storage`.
fn refuse_root_in_foreign_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(metadata) = std::fs::metadata(dir) else {
            return Ok(());
        };
        let owner = metadata.uid();
        if rustix::process::geteuid().is_root() && owner != 0 {
            anyhow::bail!(
                "{} belongs to user {owner}, not root: run the command as that user \
                 (e.g. sudo -u sprechtag sprechtag-server …), so that the server can still \
                 open every file it makes there",
                dir.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Settings;

    /// Retention per service comes from the catalogue's `retention_days`,
    /// and `retention_by_service` in the settings wins over it.
    #[test]
    fn retention_periods_come_from_the_catalogue_and_the_settings_win() {
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../assets/catalog/services.json"
        ))
        .expect("the shipped catalogue");
        let mut catalog: serde_json::Value = serde_json::from_str(&shipped).expect("json");
        for service in catalog["services"].as_array_mut().expect("services") {
            match service["id"].as_str() {
                Some("personalausweis") => service["retention_days"] = 30.into(),
                Some("wohngeld") => service["retention_days"] = 3650.into(),
                _ => {}
            }
        }
        let dir = tempfile::tempdir().expect("dir");
        let catalog_file = dir.path().join("services.json");
        std::fs::write(&catalog_file, catalog.to_string()).expect("write");
        let mut settings = Settings {
            catalog_file: Some(catalog_file),
            retention_days: 365,
            ..Settings::default()
        };
        settings
            .retention_by_service
            .insert("wohngeld".into(), 2000);
        let policy = settings.retention().expect("policy");
        assert_eq!(policy.default_days, 365);
        assert_eq!(policy.by_service.get("personalausweis"), Some(&30));
        assert_eq!(policy.by_service.get("wohngeld"), Some(&2000));

        settings.catalog_file = Some(dir.path().join("missing.json"));
        let error = settings.retention().expect_err("no catalogue there");
        assert!(error.to_string().contains("missing.json"), "{error}");
    }

    /// Root may not open (and so make files in) the service user's data dir.
    #[cfg(unix)]
    #[test]
    fn root_is_sent_to_the_data_dirs_owner() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (CI runs as root)");
            return;
        }
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).expect("chown");
        let settings = Settings {
            data_dir: data.clone(),
            ..Settings::default()
        };
        let error = settings.open_storage().expect_err("refused to root");
        assert!(
            error.to_string().contains("run the command as that user"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_dir(&data).expect("read").count(),
            0,
            "nothing made"
        );
        // Root's own dir is fine.
        std::os::unix::fs::chown(&data, Some(0), Some(0)).expect("chown back");
        settings.open_storage().expect("root opens its own dir");
    }

    /// The example as printed (the Debian package's server.toml) is a valid
    /// settings file with the packaged paths.
    #[test]
    fn the_example_is_a_valid_settings_file() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("server.toml");
        std::fs::write(&file, super::EXAMPLE).expect("write");
        let settings = Settings::load(Some(&file)).expect("the example parses");
        assert_eq!(
            settings.data_dir,
            std::path::Path::new("/var/lib/sprechtag")
        );
        assert_eq!(
            settings.db_key_file.as_deref(),
            Some(std::path::Path::new("/etc/sprechtag/db.key"))
        );
        assert!(
            settings.listen.ip().is_loopback(),
            "no plain HTTP to the network by default"
        );
        assert_eq!(settings.log_format, super::LogFormat::Text);
        // Every setting the server reads is named in the example.
        let named = serde_json::to_value(Settings::default()).expect("json");
        for key in named.as_object().expect("object").keys() {
            assert!(
                super::EXAMPLE.contains(&format!("{key} ="))
                    || super::EXAMPLE.contains(&format!("[{key}]")),
                "{key} is not in the example"
            );
        }
    }

    /// The example's mail settings, uncommented, are what the server reads.
    #[test]
    fn the_examples_mail_settings_parse() {
        let example: String = super::EXAMPLE
            .lines()
            .skip_while(|line| !line.contains("[backoffice_mail]"))
            .map(|line| {
                let uncommented = line.strip_prefix("# ").unwrap_or(line);
                // Only settings lines, not their explanations.
                if uncommented.starts_with('[') || uncommented.contains(" = ") {
                    uncommented.to_string()
                } else {
                    String::new()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("server.toml");
        std::fs::write(&file, &example).expect("write");
        let settings = Settings::load(Some(&file)).expect("the example parses");
        let smtp = settings.smtp.expect("[smtp]");
        assert_eq!(smtp.host, "mail.kreis.example");
        assert_eq!(smtp.port, 587);
        assert_eq!(smtp.tls, super::SmtpTls::Starttls);
        assert_eq!(smtp.digest_at, "07:00");
        assert_eq!(
            settings
                .backoffice_mail
                .get("buergerservice")
                .map(String::as_str),
            Some("buergerservice@kreis.example")
        );
    }
}
