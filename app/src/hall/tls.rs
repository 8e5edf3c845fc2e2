//! TLS for the hall: every connection is encrypted (rustls, TLS 1.3), but
//! the certificates in the handshake prove nothing — a laptop has no name
//! a CA could vouch for. Who is at the other end is proven inside the
//! session instead: each side signs the session's exported keying material
//! with its certified device key (the hello, `super::check`). A machine in between
//! would hold two sessions with two different values, and could not make
//! either signature.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::sync::SyncError;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The serving laptop's TLS set-up: a throw-away self-signed certificate.
pub fn server_config() -> Result<Arc<rustls::ServerConfig>, SyncError> {
    let certified = rcgen::generate_simple_self_signed(vec!["sprechtag-hall".to_string()])
        .map_err(|e| SyncError::Config(format!("no TLS certificate for the hall: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SyncError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| SyncError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// The connecting laptop's TLS set-up: any certificate (see the module).
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, SyncError> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SyncError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SessionProven(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Takes the serving laptop's certificate as it is, but checks that the
/// handshake was signed with its key; the device is proven afterwards.
#[derive(Debug)]
struct SessionProven(Arc<CryptoProvider>);

impl ServerCertVerifier for SessionProven {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 only (see the configs).
        Err(rustls::Error::General("only TLS 1.3 is offered".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
