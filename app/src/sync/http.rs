//! The HTTP side of sync: rustls (ring), bounded timeouts, every failure
//! classified as retryable (offline, server trouble) or permanent.
//!
//! The client runs reqwest's async API on a current-thread runtime of its
//! own, driven by the calling thread: reqwest's blocking client keeps a
//! second thread per client and hands every request and body chunk across,
//! which cost the laptops in the 50-laptop benchmark more CPU than the
//! server spent on them. Keep one client across syncs ([`super::Connection`]):
//! building one parses the system's root certificates (~5 ms), and its pool
//! keeps the connection (and TLS session) for the next round.

use std::time::Duration;

use sprechtag_schemas::wire::{
    ApiErrorBody, CONTENT_TYPE, EnrolRequest, EnrolResponse, MAX_BODY_BYTES,
};

use super::SyncError;
use super::core::Answer;

/// Environment variable naming an extra CA certificate (PEM) to trust, for
/// servers with a certificate of the administration's own CA.
pub const CA_CERT_ENV: &str = "SPRECHTAG_CA_CERT";

pub struct HttpClient {
    base_url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The largest CA file read: a PEM chain of a few certificates fits many
/// times over.
const MAX_CA_CERT_BYTES: u64 = 256 * 1024;

/// Why a CA certificate file cannot be pinned.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than 256 KiB; expected a CA certificate in PEM", .0.display())]
    TooLarge(std::path::PathBuf),
    #[error("{} holds no certificate in PEM (-----BEGIN CERTIFICATE-----)", .0.display())]
    NotPem(std::path::PathBuf),
}

/// Reads the county's CA certificate (PEM) to pin at enrolment: a small
/// file with at least one certificate in it, every one of them readable.
pub fn read_ca_cert(path: &std::path::Path) -> Result<String, CaCertError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use std::io::Read;

    let unreadable = |source| CaCertError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_CERT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_CA_CERT_BYTES {
        return Err(CaCertError::TooLarge(path.to_path_buf()));
    }
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match (certificates, String::from_utf8(bytes)) {
        (Ok(certificates), Ok(pem)) if !certificates.is_empty() => Ok(pem),
        _ => Err(CaCertError::NotPem(path.to_path_buf())),
    }
}

/// How a device may reach its server, recorded at enrolment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSettings {
    /// Plain `http://` to a server that is not this machine was allowed
    /// explicitly (tokens and case data travel readable).
    pub allow_insecure_http: bool,
    /// The county's own CA (PEM): the only one trusted for the server.
    pub ca_cert: Option<String>,
}

impl HttpClient {
    /// A client that trusts the system's roots (and `SPRECHTAG_CA_CERT`),
    /// and refuses plain `http://` to anything but this machine.
    pub fn new(base_url: &str) -> Result<HttpClient, SyncError> {
        HttpClient::with_settings(base_url, &HttpSettings::default())
    }

    pub fn with_settings(base_url: &str, settings: &HttpSettings) -> Result<HttpClient, SyncError> {
        if sends_in_clear(base_url) && !settings.allow_insecure_http {
            return Err(SyncError::Insecure(
                normalize_server_url(base_url).to_string(),
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            // Generous: a batch of 64 KiB takes 2 s at 256 kbit/s, but
            // EDGE uplinks can be slower still.
            .timeout(Duration::from_secs(180))
            .user_agent(concat!("sprechtag/", env!("CARGO_PKG_VERSION")));
        match &settings.ca_cert {
            // The county's CA and nothing else: a certificate from any
            // other CA for the server's name is refused.
            Some(pem) => {
                let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| SyncError::Config(format!("the CA certificate: {e}")))?;
                builder = builder
                    .tls_certs_only([cert])
                    .https_only(!settings.allow_insecure_http);
            }
            None => {
                if let Ok(path) = std::env::var(CA_CERT_ENV) {
                    let pem = std::fs::read(&path)
                        .map_err(|e| SyncError::Config(format!("{CA_CERT_ENV}={path}: {e}")))?;
                    let cert = reqwest::Certificate::from_pem(&pem)
                        .map_err(|e| SyncError::Config(format!("{CA_CERT_ENV}={path}: {e}")))?;
                    builder = builder.tls_certs_merge([cert]);
                }
            }
        }
        let client = builder
            .build()
            .map_err(|e| SyncError::Config(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SyncError::Config(format!("no runtime for HTTP: {e}")))?;
        let base_url = normalize_server_url(base_url).to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(SyncError::Config(format!(
                "{base_url:?} is not a server address; expected https://host:port"
            )));
        }
        Ok(HttpClient {
            base_url,
            client,
            runtime,
        })
    }

    /// The server address as normalised (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Redeems `code`, registering `actor` (hex) as this device's.
    pub fn enrol(&self, code: &str, actor: &str) -> Result<EnrolResponse, SyncError> {
        let request = self
            .client
            .post(format!("{}/v1/enrol", self.base_url))
            .json(&EnrolRequest {
                code: code.trim().to_string(),
                actor: Some(actor.to_string()),
            });
        let answer = self.runtime.block_on(send(request, true))?;
        serde_json::from_slice(&answer.body).map_err(|e| SyncError::Protocol(e.to_string()))
    }

    /// What the server's audit trail knows of a case (who received,
    /// changed, opened it), for a citizen's access request.
    pub fn case_access(
        &self,
        token: &str,
        doc_id: &str,
    ) -> Result<sprechtag_schemas::wire::CaseAccess, SyncError> {
        let request = self
            .client
            .get(format!("{}/v1/cases/{doc_id}/access", self.base_url))
            .bearer_auth(token);
        let answer = self.runtime.block_on(send(request, false))?;
        serde_json::from_slice(&answer.body).map_err(|e| SyncError::Protocol(e.to_string()))
    }

    /// One sync round trip: the encoded request in, the encoded response out.
    pub fn sync(&self, token: &str, body: Vec<u8>) -> Result<Answer, SyncError> {
        let request = self
            .client
            .post(format!("{}/v1/sync", self.base_url))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body);
        self.runtime.block_on(send(request, false))
    }
}

/// A server address as stored and compared: no surrounding blanks, no
/// trailing slash.
pub(super) fn normalize_server_url(url: &str) -> &str {
    url.trim().trim_end_matches('/')
}

/// The address sends the enrolment code, the device token and every case
/// unencrypted over the network: `http://` to anything but this machine
/// (127.0.0.0/8, ::1, localhost, where a test server or a tunnel listens).
pub fn sends_in_clear(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(normalize_server_url(url)) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// A request that did not get through: a server certificate the device
/// does not trust is not a network outage (retrying cannot help, and it may
/// be someone in between), anything else is "offline".
fn not_sent(error: &reqwest::Error) -> SyncError {
    match tls_error(error) {
        Some(rustls::Error::InvalidCertificate(why)) => SyncError::Untrusted(format!("{why:?}")),
        _ => SyncError::Offline(error.to_string()),
    }
}

/// The TLS error behind a failed request, if there is one: down the
/// `source()` chain, and into io::Errors, which hide what they wrap from it
/// (hyper wraps rustls's error in two of them).
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            source = Some(inner);
            continue;
        }
        source = current.source();
    }
    None
}

/// Sends a request and reads the whole answer; a failed transfer either way
/// is "offline" (retryable), an error status is classified. The answer's
/// transfer time counts from its headers: the server has done its work by
/// then, so this is the link's time alone.
async fn send(request: reqwest::RequestBuilder, enrolling: bool) -> Result<Answer, SyncError> {
    let response = request.send().await.map_err(|e| not_sent(&e))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let headers_arrived = std::time::Instant::now();
    let body = read_bounded(response).await?;
    let transfer = headers_arrived.elapsed();
    if status.as_u16() == 429 {
        let wait = std::time::Duration::from_secs(retry_after.unwrap_or(60).clamp(1, 3600));
        return Err(SyncError::Throttled(wait));
    }
    if !status.is_success() {
        return Err(classify(status, &body, enrolling));
    }
    Ok(Answer { body, transfer })
}

/// The body, but never more than a response may hold: a server (or
/// whoever answers in its place) cannot make the laptop hold more.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, SyncError> {
    let too_large =
        || SyncError::Protocol(format!("the answer is larger than {MAX_BODY_BYTES} bytes"));
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SyncError::Offline(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(status: reqwest::StatusCode, body: &[u8], enrolling: bool) -> SyncError {
    let parsed = serde_json::from_slice::<ApiErrorBody>(body).ok();
    if parsed
        .as_ref()
        .is_some_and(|b| b.error == "incomplete_body")
    {
        // The link dropped while the request was on its way.
        return SyncError::Offline("the request was cut off on the way".into());
    }
    let code = parsed.as_ref().map(|b| b.error.clone()).unwrap_or_default();
    let detail = parsed
        .map(|b| b.message)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    match status.as_u16() {
        401 => SyncError::Unauthorized,
        // The body did not arrive in time: a slow link; try again.
        408 => SyncError::Offline(detail),
        403 if code == "wipe" => SyncError::Wiped,
        403 if code == "forbidden" => SyncError::Forbidden(detail),
        403 => SyncError::Revoked,
        404 if enrolling => SyncError::BadCode,
        500..=599 => SyncError::Server(format!("{status}: {detail}")),
        _ => SyncError::Protocol(format!("{status}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::sends_in_clear;

    #[test]
    fn plain_http_counts_as_in_clear_unless_it_stays_on_this_machine() {
        for url in [
            "http://sync.landkreis.example",
            "http://192.168.1.20:8443/",
            "HTTP://10.0.0.1",
            "http://[2001:db8::1]:80",
            "http://localhost.example.org",
        ] {
            assert!(sends_in_clear(url), "{url}");
        }
        for url in [
            "https://sync.landkreis.example",
            "http://127.0.0.1:8443",
            "http://127.0.0.2",
            "http://[::1]:8443/",
            "http://localhost:8443",
            "http://LOCALHOST",
            "not an address",
        ] {
            assert!(!sends_in_clear(url), "{url}");
        }
    }
}
