//! Sprechtag's sync server: laptops upload the changes of their case
//! documents and receive what others changed in their department. The
//! server is a library with a thin binary, so tests run it in-process on a
//! listener of their own.

pub mod api;
pub mod audit;
pub mod backups;
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
/// `shutdown` resolves. The enrolment-code key still comes from
/// `settings.data_dir` (`server_key`).
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
    state.code_key = Arc::new(server_key(&settings.data_dir)?);
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
