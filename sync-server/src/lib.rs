//! Sprechtag's sync server: laptops upload the changes of their case
//! documents and receive what others changed in their department. The
//! server is a library with a thin binary, so tests run it in-process on a
//! listener of their own.

pub mod api;
pub mod audit;
pub mod backups;
pub mod certify;
pub mod config;
pub mod connections;
pub mod erase;
pub mod integrity;
pub mod mail;
pub mod metrics;
pub mod retention;
pub mod storage;
pub mod sync;
pub mod throttle;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;

pub use config::Settings;

/// A random secret of `bytes` bytes as hex (device tokens).
pub fn random_secret(bytes: usize) -> String {
    use rand::RngCore;
    let mut secret = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut secret);
    hex::encode(secret)
}

/// The server's own key (enrolment codes are stored under it), from
/// `server.key` in the data dir, made on the first start: 32 random bytes,
/// readable by the server's user only. Kept apart from the database, so
/// that a copy of the database alone reveals no pending code.
pub fn server_key(data_dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("server.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() == 32 => Ok(key),
        Ok(_) => anyhow::bail!("{} is not a key of 32 bytes", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use rand::RngCore;
            let mut key = vec![0u8; 32];
            rand::rng().fill_bytes(&mut key);
            std::fs::create_dir_all(data_dir)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            std::io::Write::write_all(&mut file, &key)?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

/// The identity entry that holds a check value of the enrolment-code key.
const CODE_KEY_CHECK: &str = "code_key_check";

/// The enrolment-code key (`server_key`), checked against the database.
/// Every instance serving one database, and every `device enrol` writing to
/// it, must use the same key, or a code issued through one would be refused
/// by the others. The first to start records an HMAC of a fixed text under
/// its key (which tells nothing of the key or of any code); a different
/// key, or a missing one where the database already has a check, stops the
/// start with what to do.
pub fn code_key(
    data_dir: &std::path::Path,
    storage: &dyn storage::Storage,
) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("server.key");
    let recorded = storage.identity_value(CODE_KEY_CHECK)?;
    if recorded.is_some() && !path.exists() {
        anyhow::bail!(
            "{} is missing, but the database ({}) was set up with a key for enrolment codes: \
             copy server.key from the data dir of the first server instance",
            path.display(),
            storage.location()
        );
    }
    let key = server_key(data_dir)?;
    let check = hex::encode(api::code_hash(&key, "sprechtag code key check"));
    let stored = storage.settle_identity(CODE_KEY_CHECK, &check)?;
    if stored != check {
        anyhow::bail!(
            "{} is not the key the database ({}) was set up with: enrolment codes issued by the \
             other instances would be refused here; copy server.key from the data dir of the \
             first server instance",
            path.display(),
            storage.location()
        );
    }
    Ok(key)
}

/// A one-time enrolment code a person can type: 8 unambiguous characters.
pub fn enrolment_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ACDEFHJKLMNPRTUVWXY3479";
    let mut rng = rand::rng();
    let chars: String = (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Holds `DATA_DIR/server.lock` while a server runs, so that `restore`
/// refuses to replace the database under it. Released when dropped (and
/// by the system when the process dies).
pub fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join("server.lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // Like every file in the data dir: the server's user only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "a server is running on {} (it holds {}); stop it first",
            data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

/// Serves the embedded database in `settings.data_dir` on `listener` until
/// `shutdown` resolves, then finishes the requests in flight.
pub async fn launch_with_listener(
    settings: Settings,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&settings.data_dir)?;
    let storage = settings.open_storage()?;
    if settings.db_key_file.is_none() {
        tracing::warn!(
            "the database in {} is not encrypted: give db_key_file (--db-key-file) to keep \
             the server's data encrypted at rest",
            settings.data_dir.display()
        );
    }
    launch_with_storage(settings, Arc::new(storage), listener, shutdown).await
}

/// Serves `storage` (any backend; tests choose theirs) on `listener` until
/// `shutdown` resolves. The enrolment-code key comes from
/// `settings.data_dir` (`code_key`).
pub async fn launch_with_storage(
    settings: Settings,
    storage: Arc<dyn storage::Storage>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Storage blocks (PostgreSQL's client even refuses to run on an async
    // thread): off the runtime's threads, as every handler does.
    let schema_version = {
        let storage = storage.clone();
        tokio::task::spawn_blocking(move || storage.schema_version()).await??
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        storage = %storage.location(),
        backend = storage.backend(),
        schema_version,
        "sprechtag-server starting"
    );
    let mut state = api::AppState::new(storage);
    state.schema_version = schema_version;
    state.code_key = Arc::new({
        let storage = state.storage.clone();
        let data_dir = settings.data_dir.clone();
        tokio::task::spawn_blocking(move || code_key(&data_dir, storage.as_ref())).await??
    });
    state.certifier = Some(Arc::new(certify::Certifier::from_server_key(
        &state.code_key,
    )?));
    state.metrics_token = settings.metrics_token_hash()?.map(Arc::new);
    state.body_timeout = std::time::Duration::from_secs(settings.body_timeout_secs);
    let header_timeout = std::time::Duration::from_secs(settings.header_timeout_secs);
    let limit = connections::ConnectionLimit::new(
        settings.max_connections,
        settings.max_connections_per_address,
    );
    tokio::spawn(retention_daily(
        state.storage.clone(),
        state.cache.clone(),
        settings.retention()?,
    ));
    if let Some(mailer) = mail::Mailer::new(&settings, state.storage.clone(), state.cache.clone())?
    {
        tokio::spawn(mailer.run(state.mail_wake.clone()));
    }
    let app = api::router(state);
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "cannot read TLS certificate {} or key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            tokio::spawn(reload_on_hangup(Some((
                tls.clone(),
                cert.clone(),
                key.clone(),
            ))));
            // Counted before the TLS handshake, which costs the server.
            let mut server =
                axum_server::from_tcp_rustls(listener, tls)?.map(|tls| tls.acceptor(limit));
            with_timeouts(server.http_builder(), header_timeout);
            server
                .handle(handle)
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await?;
        }
        (None, None) => {
            tokio::spawn(reload_on_hangup(None));
            let mut server = axum_server::from_tcp(listener)?.acceptor(limit);
            with_timeouts(server.http_builder(), header_timeout);
            server
                .handle(handle)
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await?;
        }
        _ => anyhow::bail!("TLS needs both tls_cert and tls_key"),
    }
    Ok(())
}

/// Reads the TLS certificate and key again on every SIGHUP (`systemctl
/// reload`): a renewed certificate is served to new connections without a
/// restart. Files that cannot be read leave the current certificate in
/// use, and say so in the log. Without TLS a SIGHUP only says so (and does
/// not end the server, as it would by default).
async fn reload_on_hangup(
    tls: Option<(
        axum_server::tls_rustls::RustlsConfig,
        std::path::PathBuf,
        std::path::PathBuf,
    )>,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the certificate is read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            let Some((tls, cert, key)) = &tls else {
                tracing::info!("SIGHUP: no TLS certificate to read again (plain HTTP)");
                continue;
            };
            match tls.reload_from_pem_file(cert, key).await {
                Ok(()) => tracing::info!(cert = %cert.display(), "TLS certificate read again"),
                Err(e) => tracing::error!(
                    cert = %cert.display(),
                    "the TLS certificate could not be read again; the previous one stays in use: {e}"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tls;
}

/// Erases the cases whose retention period has passed: a minute after the
/// start, then once a day. A failure is logged and tried again the next day.
async fn retention_daily(
    storage: Arc<dyn storage::Storage>,
    cache: Arc<sync::DocCache>,
    policy: retention::Policy,
) {
    if policy.default_days == 0 && policy.by_service.values().all(|d| *d == 0) {
        return;
    }
    let mut interval = tokio::time::interval_at(
        tokio::time::Instant::now() + std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(24 * 60 * 60),
    );
    loop {
        interval.tick().await;
        let (storage, cache, policy) = (storage.clone(), cache.clone(), policy.clone());
        let today = chrono::Utc::now().date_naive();
        let outcome = tokio::task::spawn_blocking(move || {
            retention::run(storage.as_ref(), &cache, &policy, today, false)
        })
        .await;
        match outcome {
            Ok(Ok(erased)) if erased.is_empty() => {}
            Ok(Ok(erased)) => tracing::info!(cases = erased.len(), "retention: cases erased"),
            Ok(Err(e)) => tracing::error!("retention failed: {e}"),
            Err(e) => tracing::error!("retention failed: {e}"),
        }
    }
}

/// How long a client may take to send a request's headers, and to send the
/// next request on a kept-alive connection: a connection that only trickles
/// (or idles) is closed instead of held open for ever. hyper applies header
/// timeouts only with a timer, and axum-server sets none.
fn with_timeouts(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    timeout: std::time::Duration,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instances that share a database share the enrolment-code key: a
    /// data dir with another key, or with none, is refused before it could
    /// issue or check a code the others would not know.
    #[test]
    fn every_instance_uses_the_key_the_database_was_set_up_with() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = storage::SqliteStorage::open(dir.path()).expect("open");
        let first = tempfile::tempdir().expect("first instance");
        let key = code_key(first.path(), &storage).expect("first start records the check");
        assert_eq!(
            code_key(first.path(), &storage).expect("same key again"),
            key
        );

        // A second instance with its own fresh key.
        let second = tempfile::tempdir().expect("second instance");
        server_key(second.path()).expect("a key of its own");
        let refused = code_key(second.path(), &storage).expect_err("another key");
        assert!(refused.to_string().contains("not the key"), "{refused}");

        // A third without any key: refused, and none is made.
        let third = tempfile::tempdir().expect("third instance");
        let refused = code_key(third.path(), &storage).expect_err("no key");
        assert!(refused.to_string().contains("is missing"), "{refused}");
        assert!(!third.path().join("server.key").exists());

        // With the first instance's key copied, it starts.
        std::fs::copy(
            first.path().join("server.key"),
            third.path().join("server.key"),
        )
        .expect("copy");
        assert_eq!(code_key(third.path(), &storage).expect("copied key"), key);
    }
}
