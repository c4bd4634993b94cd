//! The streaming server's TLS: its serving certificate, and client certificates required and
//! verified against the cluster CA (authorization of the identity is [`super::auth`]'s).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use ferry_pki::CertifiedKey;

use crate::streaming::StreamError;

/// TLS for the streaming server: `serving` as its certificate, client certificates required
/// and chained to the CA in `ca_cert_pem`, HTTP/1.1 only (upgrades need it).
pub fn server_tls(
    ca_cert_pem: &str,
    serving: &CertifiedKey,
) -> Result<Arc<ServerConfig>, StreamError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca =
        CertificateDer::from_pem_slice(ca_cert_pem.as_bytes()).map_err(|_| StreamError::Pem {
            what: "ca certificate",
        })?;
    let mut roots = RootCertStore::empty();
    roots.add(ca).map_err(StreamError::Tls)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(StreamError::ClientVerifier)?;
    let key = PrivateKeyDer::from_pem_slice(serving.key_pem().as_bytes()).map_err(|_| {
        StreamError::Pem {
            what: "serving key",
        }
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(StreamError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![serving.cert_der().clone()], key)
        .map_err(StreamError::Tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
