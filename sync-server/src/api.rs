//! The HTTP interface: `GET /health`, `GET /metrics`, `POST /v1/enrol`,
//! `POST /v1/sync`.
//! Every error is a JSON `{"error", "message"}` with a 4xx status, or a
//! generic 500 that is logged once. No input reaches a panic: bodies are
//! bounded, decoded without trust, and handlers run behind a panic guard.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sha2::{Digest, Sha256};
use sprechtag_schemas::wire::{
    self, AccessEntry, ApiErrorBody, CONTENT_TYPE, CaseAccess, EnrolRequest, EnrolResponse,
    MAX_BODY_BYTES, SyncRequest,
};

use crate::audit::{Event, NewEntry};
use crate::throttle::Throttle;

/// Most characters of an error message (they may quote the request).
const MAX_MESSAGE_CHARS: usize = 300;

/// Most bytes an enrolment request may have.
const ENROL_BODY_BYTES: usize = 4 << 10;

use crate::storage::{Device, Storage};
use crate::sync::{self, DocCache};

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub cache: Arc<DocCache>,
    /// Sync requests decoded and worked on at once; the others wait with
    /// their compressed body only. The writes go through one connection
    /// anyway, and each request in work holds its decoded body and loaded
    /// documents: 200 laptops at once took 195 MB without a bound.
    pub sync_slots: Arc<tokio::sync::Semaphore>,
    /// Failed enrolments and unknown tokens per address.
    pub throttle: Arc<Throttle>,
    /// How long a sync body may take to arrive once the token was checked.
    pub body_timeout: std::time::Duration,
    /// The key enrolment codes are stored under (`code_hash`).
    pub code_key: Arc<Vec<u8>>,
    /// Signs device certificates, under a key derived from `code_key`;
    /// `None` until `launch` has the key (no certificates then).
    pub certifier: Option<Arc<crate::certify::Certifier>>,
    /// Set by the first request that met a damaged page: `/health` then
    /// answers 503, and the damage is logged once.
    pub damage: Arc<std::sync::OnceLock<String>>,
    /// Wakes the mailer (`mail::Mailer::run`) after a sync took documents.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// What `/metrics` reports.
    pub metrics: crate::metrics::Metrics,
    /// The storage's schema version as of the start (`/health`).
    pub schema_version: i64,
    /// The SHA-256 of the token `/metrics` asks for; without one it answers
    /// requests from this machine (loopback) only.
    pub metrics_token: Option<Arc<Vec<u8>>>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>) -> AppState {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        AppState {
            storage,
            cache: Arc::new(DocCache::default()),
            sync_slots: Arc::new(tokio::sync::Semaphore::new(2 * cores)),
            throttle: Arc::new(Throttle::default()),
            body_timeout: std::time::Duration::from_secs(120),
            code_key: Arc::new(Vec::new()),
            certifier: None,
            damage: Arc::new(std::sync::OnceLock::new()),
            mail_wake: Arc::new(tokio::sync::Notify::new()),
            metrics: crate::metrics::Metrics::new(),
            schema_version: 0,
            metrics_token: None,
        }
    }
}

/// What a response tells the damage watch (`note_damage`): the request
/// met a damaged database page.
#[derive(Clone)]
struct DamageReport(String);

/// Marks the server unhealthy when a response reports a damaged page, and
/// logs it once with the database's location.
async fn note_damage(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(DamageReport(detail)) = response.extensions().get::<DamageReport>()
        && state.damage.set(detail.clone()).is_ok()
    {
        tracing::error!(
            database = %state.storage.location(),
            %detail,
            "the database is damaged: /health now answers 503; restore a backup"
        );
    }
    response
}

/// The error code an `ApiError` answered with, for the refusal counter.
#[derive(Clone, Copy)]
struct RefusalCode(&'static str);

/// Counts every request by endpoint and status, with its latency, and every
/// refusal by its error code.
async fn measure(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics.request(
        &path,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(RefusalCode(code)) = response.extensions().get::<RefusalCode>() {
        metrics.refused(code);
    }
    response
}

pub fn router(state: AppState) -> Router {
    let watch = axum::middleware::from_fn_with_state(state.clone(), note_damage);
    let measure = axum::middleware::from_fn_with_state(state.clone(), measure);
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        // An enrolment is a code and an actor: a few hundred bytes.
        .route(
            "/v1/enrol",
            post(enrol).layer(DefaultBodyLimit::max(ENROL_BODY_BYTES)),
        )
        .route("/v1/sync", post(sync_handler))
        .route("/v1/cases/{id}/access", get(case_access))
        .fallback(not_found)
        .layer(watch)
        .layer(measure)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A request that has not been answered in five minutes (a body
        // trickling in, a request stuck behind a lock) ends with 408.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(300),
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::Internal("panic".into()).into_response()
        }))
        .with_state(state)
}

/// Every way a request can fail, with the status it gets.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or unknown device token.
    #[error("unknown or missing device token")]
    Unauthorized,
    /// 403: the device was revoked by an administrator.
    #[error("this device has been revoked; ask an administrator to enrol it again")]
    Revoked,
    /// 403: revoked, and its data are to be deleted now.
    #[error("this device has been revoked and must delete its data")]
    Wipe,
    /// 400: the body ended before it was complete (a dropped link); the
    /// client sends it again.
    #[error("the request body ended early; send it again")]
    IncompleteBody,
    /// 413: the body is larger than the protocol allows.
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// 403: the device's role or department does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown path, or an enrolment code that is unknown, used or expired.
    #[error("{0}")]
    NotFound(String),
    /// 409: the actor a device registers belongs to another device.
    #[error("{0}")]
    Conflict(String),
    /// 408: the body did not arrive in time.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// 429: too many failed attempts from this address; try again after
    /// the duration (sent as `Retry-After`).
    #[error("too many failed attempts from this address; try again in {} seconds", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// 415: not a sync body.
    #[error("expected content type {CONTENT_TYPE}")]
    UnsupportedMediaType,
    /// 500: logged; the client sees a generic message.
    #[error("internal server error")]
    Internal(String),
    /// 503: the database is damaged; logged once (`note_damage`).
    #[error("the server's data are damaged; the administrator has been told")]
    Damaged(String),
    /// 503 with `Retry-After`: the database was busy; the client tries
    /// again (nothing was changed).
    #[error("the server is busy; try again shortly")]
    Busy(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Revoked => (StatusCode::FORBIDDEN, "revoked"),
            ApiError::Wipe => (StatusCode::FORBIDDEN, "wipe"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::IncompleteBody => (StatusCode::BAD_REQUEST, "incomplete_body"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Damaged(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
            ApiError::Busy(detail) => tracing::warn!(%detail, "database busy; the client retries"),
            _ => {}
        }
        let (status, code) = self.parts();
        // Messages may quote what the client sent: never more than a line.
        let mut message = self.to_string();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        let body = ApiErrorBody {
            error: code.into(),
            message,
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(RefusalCode(code));
        if let ApiError::Damaged(detail) = &self {
            response
                .extensions_mut()
                .insert(DamageReport(detail.clone()));
        }
        let retry_after = match self {
            ApiError::TooManyAttempts(wait) => Some(wait.as_secs().max(1)),
            ApiError::Busy(_) => Some(2),
            _ => None,
        };
        if let Some(seconds) = retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Damaged(detail) => ApiError::Damaged(detail),
            crate::storage::StorageError::Unavailable(detail) => ApiError::Busy(detail),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<sync::SyncError> for ApiError {
    fn from(e: sync::SyncError) -> Self {
        match e {
            sync::SyncError::Storage(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// `{"status": "ok", "protocol", "storage", "schema_version"}`, or 503
/// `{"status": "damaged"}` once a request met a damaged database page.
async fn health(State(state): State<AppState>) -> Response {
    match state.damage.get() {
        None => Json(serde_json::json!({
            "status": "ok",
            "protocol": wire::PROTOCOL_VERSION,
            "storage": state.storage.backend(),
            "schema_version": state.schema_version,
        }))
        .into_response(),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "damaged",
                "protocol": wire::PROTOCOL_VERSION,
                "message": "the database is damaged; see the server log",
            })),
        )
            .into_response(),
    }
}

/// The Prometheus metrics (`crate::metrics`): to this machine only, or to
/// whoever presents the configured token (then to nobody without it, also
/// on loopback: a reverse proxy on this machine makes every request local).
async fn metrics(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    address.check(&state)?;
    let allowed = match &state.metrics_token {
        Some(expected) => bearer(&headers).is_some_and(|token| {
            let hash = Sha256::digest(token.trim().as_bytes());
            // Equal length; a difference in timing reveals nothing of the token.
            hash.iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        }),
        None => address.ip().is_some_and(|ip| ip.is_loopback()),
    };
    if !allowed {
        if state.metrics_token.is_some() {
            state.throttle.failed(address.ip());
        }
        return Err(ApiError::Forbidden(
            "metrics are served to this machine, or with the configured metrics token".into(),
        ));
    }
    let storage = state.storage.clone();
    let figures = tokio::task::spawn_blocking(move || storage.figures())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok((
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(figures),
    )
        .into_response())
}

/// The token of an `Authorization: Bearer TOKEN` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// SHA-256 of a device token (32 random bytes): enough to store it without
/// keeping it, and cheap to look up.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.trim().to_uppercase().as_bytes()).to_vec()
}

/// An enrolment code as stored: HMAC-SHA-256 under the server's key. An
/// eight-letter code has about 2^36 values; its bare SHA-256 in a copy of
/// the database would be found within minutes, its HMAC not without the
/// key (`server.key`, kept apart from the database).
pub fn code_hash(key: &[u8], code: &str) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(code.trim().to_uppercase().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The address a request came from, for the audit and for rate limits;
/// `None` where the server was not told (a test calling the router).
pub struct ClientAddress(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

impl ClientAddress {
    fn ip(&self) -> Option<std::net::IpAddr> {
        self.0.map(|a| a.ip())
    }

    /// Refuses an address that failed too often, until its quota refills.
    fn check(&self, state: &AppState) -> Result<(), ApiError> {
        match state.throttle.wait(self.ip()) {
            Some(wait) => Err(ApiError::TooManyAttempts(wait)),
            None => Ok(()),
        }
    }

    fn detail(&self) -> serde_json::Value {
        serde_json::json!({ "address": self.0.map(|a| a.ip().to_string()) })
    }
}

/// Appends to the audit trail from a handler; a failure is logged and
/// answered as an internal error.
async fn audit(state: &AppState, entry: NewEntry) -> Result<(), ApiError> {
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || storage.append_audit(entry))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn enrol(
    State(state): State<AppState>,
    address: ClientAddress,
    body: Bytes,
) -> Result<Json<EnrolResponse>, ApiError> {
    address.check(&state)?;
    let request: EnrolRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("expected {{\"code\": ...}}: {e}")))?;
    let actor = match request.actor.as_deref().map(str::trim) {
        Some(actor) if is_actor(actor) => Some(actor.to_ascii_lowercase()),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "{other:?} is not an actor: 32 hex digits expected"
            )));
        }
        None => None,
    };
    // The server's own actors write the mail status of forwardings; no
    // device may register as one of them.
    let server_actor = crate::mail::server_actor_prefix(&state.storage.identity()?.server_id);
    if actor.as_deref() == Some(server_actor.as_str()) {
        return Err(ApiError::Conflict(
            "the actor is reserved for the server".into(),
        ));
    }
    let token = crate::random_secret(32);
    let code_hash = code_hash(&state.code_key, &request.code);
    let token_hash = secret_hash(&token);
    let storage = state.storage.clone();
    let device = tokio::task::spawn_blocking(move || {
        storage.redeem_code(
            &code_hash,
            &token_hash,
            actor.as_deref(),
            chrono::Utc::now(),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let device = match device {
        Ok(Some(device)) => device,
        Ok(None) => {
            state.throttle.failed(address.ip());
            audit(
                &state,
                NewEntry::new(Event::EnrolmentFailed).detail(address.detail()),
            )
            .await?;
            return Err(ApiError::NotFound(
                "the enrolment code is unknown, used or expired".into(),
            ));
        }
        Err(crate::storage::StorageError::Conflict(message)) => {
            let mut detail = address.detail();
            detail["reason"] = message.clone().into();
            audit(&state, NewEntry::new(Event::EnrolmentFailed).detail(detail)).await?;
            return Err(ApiError::Conflict(message));
        }
        Err(other) => return Err(other.into()),
    };
    audit(
        &state,
        NewEntry::new(Event::Enrolled)
            .device(&device)
            .detail(address.detail()),
    )
    .await?;
    state.metrics.enrolled();
    tracing::info!(device = %device.id, name = %device.name, "device enrolled");
    Ok(Json(EnrolResponse {
        device_id: device.id,
        token,
        name: device.name,
        user: device.user,
        role: device.role.as_str().into(),
        department: device.department,
        prefix: device.prefix,
    }))
}

/// An automerge actor as a device registers it: 16 bytes as hex.
fn is_actor(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    address: &ClientAddress,
) -> Result<Device, ApiError> {
    address.check(state)?;
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let hash = secret_hash(token);
    let storage = state.storage.clone();
    let device = tokio::task::spawn_blocking(move || storage.device_by_token(&hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let Some(device) = device else {
        state.throttle.failed(address.ip());
        audit(
            state,
            NewEntry::new(Event::TokenRefused).detail(address.detail()),
        )
        .await?;
        return Err(ApiError::Unauthorized);
    };
    if device.revoked_at.is_some() && device.wipe_ordered_at.is_some() {
        // Told at every contact, until the device stops calling: a laptop
        // switched off in the middle of its wipe finishes it next time.
        tracing::warn!(device = %device.id, "wipe order delivered to a revoked device");
        let storage = state.storage.clone();
        let id = device.id.clone();
        tokio::task::spawn_blocking(move || storage.wipe_delivered(&id))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        audit(
            state,
            NewEntry::new(Event::WipeDelivered)
                .device(&device)
                .detail(address.detail()),
        )
        .await?;
        return Err(ApiError::Wipe);
    }
    if device.revoked_at.is_some() {
        tracing::warn!(device = %device.id, "revoked device tried to sync");
        audit(
            state,
            NewEntry::new(Event::RevokedDeviceRefused)
                .device(&device)
                .detail(address.detail()),
        )
        .await?;
        return Err(ApiError::Revoked);
    }
    Ok(device)
}

/// Who received, changed, opened and erased a case, from the audit trail,
/// for a citizen's access request: back-office and admin devices, in their
/// department. Recorded in the audit itself.
async fn case_access(
    State(state): State<AppState>,
    address: ClientAddress,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Json<CaseAccess>, ApiError> {
    let device = authenticate(&state, &headers, &address).await?;
    if !device.role.may_erase() {
        return Err(ApiError::Forbidden(format!(
            "a {} device may not read the audit trail",
            device.role
        )));
    }
    if !sync::is_document_id(&id) {
        return Err(ApiError::BadRequest(format!("{id:?} is not a document id")));
    }
    let storage = state.storage.clone();
    let access = tokio::task::spawn_blocking(move || -> Result<CaseAccess, ApiError> {
        let Some(department) = storage.document_department(&id)? else {
            return Err(ApiError::NotFound(format!("no case {id}")));
        };
        if let Some(scope) = device.scope()
            && department.as_deref() != Some(scope)
        {
            return Err(ApiError::Forbidden(
                "the case belongs to another department".into(),
            ));
        }
        let entries = storage.audit_entries(&crate::audit::Filter {
            case_id: Some(id.clone()),
            ..crate::audit::Filter::default()
        })?;
        storage.append_audit(
            NewEntry::new(Event::AdminCommand)
                .device(&device)
                .cases(vec![id.clone()])
                .detail(serde_json::json!({ "command": "case access" })),
        )?;
        Ok(CaseAccess {
            entries: entries
                .iter()
                .flat_map(|e| access_entries(e, &id))
                .collect(),
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(access))
}

/// What one audit entry says of the case `id`, in a citizen's words.
fn access_entries(entry: &crate::audit::Entry, id: &str) -> Vec<AccessEntry> {
    let names = |key: &str| {
        entry.detail[key]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|v| v.as_str() == Some(id)))
    };
    let at = |what: &str, at: String| AccessEntry {
        at,
        what: what.to_string(),
        user: entry.user.clone().unwrap_or_default(),
        device_id: entry.device_id.clone().unwrap_or_default(),
    };
    let mut found = Vec::new();
    match entry.event.as_str() {
        "case_opened" => {
            let opened = entry.detail["at"].as_str().unwrap_or(&entry.time);
            found.push(at("opened", opened.to_string()));
        }
        "sync" => {
            if names("accepted") {
                found.push(at("changed", entry.time.clone()));
            }
            if names("sent") {
                found.push(at("received", entry.time.clone()));
            }
        }
        "case_erased" => found.push(at("erased", entry.time.clone())),
        _ => {}
    }
    found
}

#[tracing::instrument(skip_all, fields(device))]
async fn sync_handler(
    State(state): State<AppState>,
    address: ClientAddress,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    // The token first: nobody without one makes the server read a body.
    let (parts, body) = request.into_parts();
    let headers = parts.headers.clone();
    let device = authenticate(&state, &headers, &address).await?;
    // Too large by its own account: refused from the header, not after a
    // body that never comes has timed out.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(ApiError::TooLarge);
    }
    let request = axum::extract::Request::from_parts(parts, body);
    let read = <Bytes as axum::extract::FromRequest<AppState>>::from_request(request, &state);
    let body = tokio::time::timeout(state.body_timeout, read)
        .await
        .map_err(|_| ApiError::BodyTimeout)?
        .map_err(|rejection: BytesRejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::IncompleteBody
            }
        })?;
    tracing::Span::current().record("device", device.id.as_str());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(CONTENT_TYPE) {
        return Err(ApiError::UnsupportedMediaType);
    }
    // Never closed, so acquiring only waits.
    let _slot = state
        .sync_slots
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut request =
        SyncRequest::decode(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let trust = request.trust.take();
    if let Some(trust) = &trust
        && trust.public_key.as_ref().is_some_and(|key| key.len() != 32)
    {
        return Err(ApiError::BadRequest(
            "trust.public_key: an ed25519 key has 32 bytes".into(),
        ));
    }
    let uploads = request.uploads.len();
    let received = body.len();
    drop(body);
    let storage = state.storage.clone();
    let cache = state.cache.clone();
    let certifier = state.certifier.clone();
    let response = tokio::task::spawn_blocking(move || {
        let server_key = certifier.as_ref().map(|c| c.public_key().to_vec());
        let mut response = sync::handle(
            storage.as_ref(),
            &cache,
            &device,
            request,
            server_key.as_deref(),
        )
        .map_err(ApiError::from)?;
        if let Some(certifier) = &certifier {
            for download in &mut response.downloads {
                download.attestation = Some(certifier.attest(&download.doc_id, &download.heads));
            }
        }
        // The round is committed: a certificate that cannot be made is
        // logged and left out, not a failed sync.
        if let (Some(trust), Some(certifier)) = (trust, certifier) {
            match certifier.trust(storage.as_ref(), &device, &trust) {
                // Nothing new: nothing on the wire.
                Ok(trust)
                    if trust.server_key.is_none()
                        && trust.certificate.is_none()
                        && trust.revocations.is_none() => {}
                Ok(trust) => response.trust = Some(trust),
                Err(e) => tracing::error!(device = %device.id, "no certificate: {e}"),
            }
        }
        Ok::<_, ApiError>(response)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    if !response.accepted.is_empty() {
        // A forwarding may have been queued: the mailer looks now.
        state.mail_wake.notify_one();
    }
    tracing::debug!(
        uploads,
        rejected = response.rejected.len(),
        downloads = response.downloads.len(),
        more = response.more,
        "sync"
    );
    state.metrics.sync(
        received,
        response.accepted.len(),
        response.rejected.len(),
        response.downloads.len(),
    );
    let encoded = wire::encode(&response);
    state.metrics.sent(encoded.len());
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], encoded).into_response())
}
