//! `sprechtag-server`: serve, and manage devices.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use sprechtag_server::audit::{self, Event, NewEntry};
use sprechtag_server::storage::{NewDevice, Role, Storage};
use sprechtag_server::sync::DocCache;
use sprechtag_server::{Settings, api, backups, config, erase, retention};

#[derive(Debug, Parser)]
#[command(
    name = "sprechtag-server",
    version,
    about = "Sprechtag's sync server",
    long_about = "Sprechtag's sync server: the laptops of a county's mobile citizen offices \
                  upload the changes of their case documents and receive what others changed \
                  in their department. Its data are encrypted (SQLCipher) in the data dir.",
    after_long_help = "Files:\n  \
        /etc/sprechtag/server.toml  the settings (see `sprechtag-server config`)\n  \
        /etc/sprechtag/db.key       the database key (made when the package is installed)\n  \
        /var/lib/sprechtag          the data dir (the database, server.key)\n  \
        /var/backups/sprechtag      the nightly backups (sprechtag-server-backup.timer)\n\n\
        Run the commands as the server's user, e.g. \
        `sudo -u sprechtag sprechtag-server --config /etc/sprechtag/server.toml device list`."
)]
struct Cli {
    /// Settings file (TOML); see `sprechtag-server config`. The Debian
    /// package's build reads /etc/sprechtag/server.toml without it.
    #[arg(long, global = true, env = "SPRECHTAG_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// The database key (32 bytes or 64 hex digits, mode 0600): the
    /// database is encrypted with it. Every command needs it once given.
    #[arg(long, global = true, env = "SPRECHTAG_SERVER_DB_KEY_FILE")]
    db_key_file: Option<PathBuf>,
    /// PostgreSQL instead of the SQLite database in the data dir, e.g.
    /// postgres://sprechtag@%2Frun%2Fpostgresql/sprechtag (a Unix socket).
    #[arg(
        long,
        global = true,
        env = "SPRECHTAG_DATABASE_URL",
        value_name = "URL"
    )]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve sync requests until Ctrl-C or SIGTERM.
    Serve {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// ADDRESS:PORT, e.g. 0.0.0.0:8443.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// The TLS certificate chain (PEM); read again on SIGHUP.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The TLS certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Devices: enrol, list, revoke.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Cases: erase one everywhere.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Retention: erase the cases whose period has passed.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The audit trail as JSON lines (seq, time, event, device_id, user,
    /// case_ids, detail, previous, hash); `audit verify` checks its chain.
    Audit(AuditArgs),
    /// Print an example settings file.
    Config,
    /// Encrypt a plain server database with --db-key-file (stop the
    /// server first). The plain file is kept as sprechtag-server.db.plaintext
    /// for you to check and destroy (shred).
    Encrypt {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Write a consistent copy of the database to --out (or a new file in
    /// --out-dir) while the server runs, encrypted with the same key.
    /// Prints {"backup", "bytes", "removed"}.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["out", "out_dir"])))]
    Backup {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The backup file; must not exist.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A folder for dated backups (sprechtag-server-YYYYMMDDTHHMMSSZ.backup),
        /// made 0700 if missing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// With --out-dir: keep the newest N backups there, remove older ones.
        #[arg(long, requires = "out_dir", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
    /// Put a backup in place (stop the server first): checked, the current
    /// database moved to DATA_DIR/quarantine/, and a new epoch, so that
    /// every laptop sends again what the backup lacks at its next sync.
    Restore {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        file: PathBuf,
    },
    /// The database's full integrity check; exits non-zero on damage.
    Check {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Move an embedded SQLite deployment to PostgreSQL (stop the server
    /// first): devices and tokens, documents, what each device holds,
    /// sequence numbers, the audit trail, the identity. Laptops carry on
    /// without re-enrolment. Refuses a target that holds anything.
    Migrate {
        /// The SQLite data dir to move (with --db-key-file if encrypted).
        #[arg(long)]
        from_data_dir: PathBuf,
        /// The PostgreSQL database to move into (postgres://…).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Bring the PostgreSQL schema (--database) up to date now; the
    /// server also does so at start. Prints {"schema_version"}.
    MigrateSchema,
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    GenerateDocs {
        /// Gets man/ and completions/.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Register a device; prints a one-time code valid for 15 minutes.
    Enrol {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        name: String,
        #[arg(long)]
        user: String,
        /// caseworker, backoffice or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        department: String,
    },
    /// All devices, one JSON object per line.
    List {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Refuse the device's next sync.
    Revoke {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        id: String,
        /// Also order the device to delete its data (database, key, prints,
        /// exports) at its next contact: for a lost or stolen laptop.
        #[arg(long)]
        wipe: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CaseCommand {
    /// Replace a case by its tombstone (no personal data): its stored
    /// changes are deleted from the database and its log, every device
    /// deletes its copy at its next sync, and uploads of it are refused.
    /// Cannot be undone. Prints the tombstone.
    Erase {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The case's document id or case number.
        id: String,
        /// Why (kept in the audit trail; no personal data).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Erase the closed cases whose retention period has passed; prints one
    /// JSON line per case.
    Run {
        /// The folder of the database (default: data_dir in the settings).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The day to judge by (YYYY-MM-DD; default today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Only list what would be erased.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// The folder of the database (default: data_dir in the settings).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Entries at or after this day (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Entries of this device.
    #[arg(long)]
    device: Option<String>,
    /// Entries that name this case (or office hour) id.
    #[arg(long)]
    case: Option<String>,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Checks that no entry was changed, inserted or removed (exits non-zero
    /// naming the first that was); prints the newest entry's hash, to be
    /// noted elsewhere (removing the newest entries breaks no link).
    Verify,
}

use sprechtag_server::storage::CODE_VALIDITY_SECS;

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The settings file when none is given: set when a distribution's package
/// is built (packaging/build-debs.sh: /etc/sprechtag/server.toml), so that
/// an administrator's `sprechtag-server device list` works on the
/// service's data; none in a developer's build.
const DEFAULT_CONFIG: Option<&str> = option_env!("SPRECHTAG_SERVER_DEFAULT_CONFIG");

fn run(cli: Cli) -> Result<()> {
    let config = cli.config.or_else(|| {
        DEFAULT_CONFIG
            .map(PathBuf::from)
            .filter(|path| path.exists())
    });
    let mut settings = Settings::load(config.as_deref()).context("invalid settings")?;
    settings.db_key_file = cli.db_key_file.or(settings.db_key_file);
    settings.database = cli.database.or(settings.database);
    let embedded_only = |what: &str| -> Result<()> {
        if settings.database.is_some() {
            bail!(
                "`{what}` works on the embedded SQLite database; with PostgreSQL use its own \
                 tools (pg_dump, pg_restore, amcheck)"
            );
        }
        Ok(())
    };
    match &cli.command {
        Command::Encrypt { .. } => embedded_only("encrypt")?,
        Command::Backup { .. } => embedded_only("backup")?,
        Command::Restore { .. } => embedded_only("restore")?,
        Command::Check { .. } => embedded_only("check")?,
        _ => {}
    }
    match cli.command {
        Command::Config => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
        Command::Encrypt { data_dir } => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            let Some(key_file) = &settings.db_key_file else {
                bail!("give the key to encrypt with: --db-key-file FILE");
            };
            let key = sprechtag_server::storage::DatabaseKey::read(key_file)?;
            let kept = sprechtag_server::storage::SqliteStorage::encrypt_in_place(
                &settings.data_dir,
                &key,
            )?;
            println!(
                "{}",
                json!({
                    "encrypted": settings.data_dir.join(sprechtag_server::storage::DATABASE_FILE),
                    "plaintext_kept": kept,
                    "next": "check the server with --db-key-file, then destroy the plaintext copy (shred -u)",
                })
            );
            Ok(())
        }
        Command::Serve {
            data_dir,
            listen,
            tls_cert,
            tls_key,
        } => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            settings.listen = listen.unwrap_or(settings.listen);
            settings.tls_cert = tls_cert.or(settings.tls_cert);
            settings.tls_key = tls_key.or(settings.tls_key);
            serve(settings)
        }
        Command::Backup {
            data_dir,
            out,
            out_dir,
            keep,
        } => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            let storage = settings.open_storage()?;
            let key = settings.database_key()?;
            let made = match (out, out_dir) {
                (Some(out), _) => {
                    let bytes = storage.backup(&out, key.as_ref())?;
                    backups::Made {
                        path: out,
                        bytes,
                        removed: Vec::new(),
                    }
                }
                (None, Some(dir)) => {
                    backups::into_dir(&storage, key.as_ref(), &dir, keep, chrono::Utc::now())?
                }
                (None, None) => bail!("give --out FILE or --out-dir DIR"),
            };
            println!(
                "{}",
                json!({ "backup": made.path, "bytes": made.bytes, "removed": made.removed })
            );
            Ok(())
        }
        Command::Migrate { from_data_dir, to } => {
            let _lock = sprechtag_server::lock_data_dir(&from_data_dir)?;
            settings.data_dir = from_data_dir;
            let from = settings.open_storage()?;
            let target = sprechtag_server::storage::PostgresStorage::open_with_ca(
                &to,
                settings.database_ca_file.as_deref(),
            )
            .context("cannot open the PostgreSQL database")?;
            let moved = sprechtag_server::storage::transfer::sqlite_to_postgres(&from, &target)?;
            let moved: serde_json::Map<String, serde_json::Value> = moved
                .into_iter()
                .map(|(table, rows)| (table.to_string(), rows.into()))
                .collect();
            println!(
                "{}",
                json!({
                    "moved": moved,
                    "to": sprechtag_server::storage::Storage::location(&target),
                    "next": "start the servers with --database; give each the data dir's server.key",
                })
            );
            Ok(())
        }
        Command::MigrateSchema => {
            let Some(url) = &settings.database else {
                bail!("give the database: --database postgres://… (SQLite migrates when opened)");
            };
            let storage = sprechtag_server::storage::PostgresStorage::open_with_ca(
                url,
                settings.database_ca_file.as_deref(),
            )
            .context("cannot open the PostgreSQL database")?;
            let version = sprechtag_server::storage::Storage::schema_version(&storage)?;
            println!("{}", json!({ "schema_version": version }));
            Ok(())
        }
        Command::GenerateDocs { out } => {
            use clap::CommandFactory;
            sprechtag_schemas::cli_docs::generate(Cli::command(), &out)
                .with_context(|| format!("cannot write into {}", out.display()))
        }
        Command::Restore { data_dir, file } => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            let _lock = sprechtag_server::lock_data_dir(&settings.data_dir)?;
            let restored = sprechtag_server::storage::SqliteStorage::restore(
                &settings.data_dir,
                &file,
                settings.database_key()?.as_ref(),
            )?;
            let storage = settings.open_storage()?;
            let identity = storage.identity()?;
            storage.append_audit(NewEntry::new(Event::Restored).detail(json!({
                "backup": file,
                "epoch": identity.epoch,
                "carried_over": restored.carried,
            })))?;
            println!(
                "{}",
                json!({
                    "restored": file,
                    "epoch": identity.epoch,
                    "quarantined": restored.quarantined,
                    "carried_over": restored.carried,
                    "next": "start the server; laptops send what the backup lacks at their next sync",
                })
            );
            if let Some(note) = &restored.carried.note {
                eprintln!("warning: {note}");
            }
            Ok(())
        }
        Command::Check { data_dir } => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            let storage = settings.open_storage()?;
            let report = storage.integrity_check()?;
            println!("{}", json!({ "integrity": report }));
            if report != "ok" {
                bail!("the database is damaged: restore a backup (sprechtag-server restore)");
            }
            Ok(())
        }
        Command::Device(command) => device(settings, command),
        Command::Audit(args) => audit(settings, args),
        Command::Case(CaseCommand::Erase {
            data_dir,
            id,
            reason,
        }) => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            erase_case(&settings, &id, &reason)
        }
        Command::Retention(RetentionCommand::Run {
            data_dir,
            as_of,
            dry_run,
        }) => {
            settings.data_dir = data_dir.unwrap_or(settings.data_dir);
            let storage = settings.open_backend()?;
            let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let expired = retention::run(
                storage.as_ref(),
                &DocCache::default(),
                &settings.retention()?,
                as_of,
                dry_run,
            )?;
            for case in expired {
                println!("{}", serde_json::to_string(&case)?);
            }
            Ok(())
        }
    }
}

fn erase_case(settings: &Settings, id: &str, reason: &str) -> Result<()> {
    let storage = settings.open_backend()?;
    let Some(doc_id) = erase::resolve(storage.as_ref(), id)? else {
        bail!("no case with id or number {id:?}");
    };
    match erase::erase_one(
        storage.as_ref(),
        &DocCache::default(),
        erase::Eraser::Administrator,
        &doc_id,
        reason,
    )? {
        Ok(tombstone) => {
            println!("{}", serde_json::to_string(&tombstone)?);
            Ok(())
        }
        Err((_, why)) => bail!("case {id} was not erased: {why}"),
    }
}

fn audit(mut settings: Settings, args: AuditArgs) -> Result<()> {
    settings.data_dir = args.data_dir.unwrap_or(settings.data_dir);
    let storage = settings.open_backend()?;
    let command = match args.command {
        Some(AuditCommand::Verify) => "audit verify",
        None => "audit",
    };
    storage
        .append_audit(NewEntry::new(Event::AdminCommand).detail(json!({ "command": command })))?;
    match args.command {
        Some(AuditCommand::Verify) => {
            let entries = storage.audit_entries(&audit::Filter::default())?;
            match audit::verify(&entries) {
                Ok(last) => {
                    println!(
                        "{}",
                        json!({
                            "entries": entries.len(),
                            "last_seq": last.map(|e| e.seq),
                            "last_hash": last.map(|e| e.hash.clone()),
                        })
                    );
                    Ok(())
                }
                Err(broken) => bail!("the audit trail is broken: {broken}"),
            }
        }
        None => {
            let filter = audit::Filter {
                since: args.since,
                device_id: args.device,
                case_id: args.case,
            };
            for entry in storage.audit_entries(&filter)? {
                println!("{}", serde_json::to_string(&entry)?);
            }
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> Result<()> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sprechtag_server=info".into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match settings.log_format {
        config::LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        config::LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let scheme = if settings.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!("listening on {scheme}://{}", listener.local_addr()?);
    if scheme == "http" && !settings.listen.ip().is_loopback() {
        tracing::warn!(
            "serving plain HTTP on {}: only behind a TLS reverse proxy or on a closed network \
             (set tls_cert and tls_key to serve HTTPS)",
            settings.listen
        );
    }
    let runtime = tokio::runtime::Runtime::new()?;
    if settings.database.is_some() {
        // Several instances may serve one PostgreSQL database: no lock on
        // the data dir, which holds only server.key then.
        let storage = settings.open_backend()?;
        runtime.block_on(sprechtag_server::launch_with_storage(
            settings,
            storage,
            listener,
            sprechtag_server::shutdown_signal(),
        ))?;
    } else {
        runtime.block_on(sprechtag_server::launch_with_listener(
            settings,
            listener,
            sprechtag_server::shutdown_signal(),
        ))?;
    }
    tracing::info!("stopped");
    Ok(())
}

fn device(mut settings: Settings, command: DeviceCommand) -> Result<()> {
    let dir = match &command {
        DeviceCommand::Enrol { data_dir, .. }
        | DeviceCommand::List { data_dir }
        | DeviceCommand::Revoke { data_dir, .. } => data_dir.clone(),
    };
    settings.data_dir = dir.unwrap_or(settings.data_dir);
    let storage = settings.open_backend()?;
    match command {
        DeviceCommand::Enrol {
            name,
            user,
            role,
            department,
            ..
        } => {
            let role: Role = role.parse()?;
            for (value, what) in [
                (&name, "--name"),
                (&user, "--user"),
                (&department, "--department"),
            ] {
                if value.trim().is_empty() {
                    bail!("{what} must not be empty");
                }
            }
            let code = sprechtag_server::enrolment_code();
            let expires_at = chrono::Utc::now() + chrono::Duration::seconds(CODE_VALIDITY_SECS);
            let new = NewDevice {
                name: name.trim().into(),
                user: user.trim().into(),
                role,
                department: department.trim().into(),
            };
            let key = sprechtag_server::code_key(&settings.data_dir, storage.as_ref())?;
            let device = storage.create_device(&new, &api::code_hash(&key, &code), expires_at)?;
            storage.append_audit(
                NewEntry::new(Event::CodeIssued)
                    .device(&device)
                    .detail(json!({ "name": device.name, "role": device.role, "department": device.department })),
            )?;
            let expires = expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            println!(
                "{}",
                json!({ "code": code, "device_id": device.id, "prefix": device.prefix, "expires_at": expires })
            );
            Ok(())
        }
        DeviceCommand::List { .. } => {
            storage.append_audit(
                NewEntry::new(Event::AdminCommand).detail(json!({ "command": "device list" })),
            )?;
            for device in storage.devices()? {
                println!("{}", serde_json::to_string(&device)?);
            }
            Ok(())
        }
        DeviceCommand::Revoke { id, wipe, .. } => {
            if !storage.revoke_device(&id, wipe)? {
                bail!("no device with id {id:?}");
            }
            storage.append_audit(NewEntry {
                device_id: Some(id.clone()),
                detail: json!({ "wipe": wipe }),
                ..NewEntry::new(Event::Revoked)
            })?;
            println!("{}", json!({ "id": id, "revoked": true, "wipe": wipe }));
            Ok(())
        }
    }
}
