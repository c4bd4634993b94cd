//! rustls configurations (ring provider) built from the PKI: the API server's, with optional
//! client certificates, and a client's that trusts the cluster CA.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::authority::CertifiedKey;
use crate::error::PkiError;

/// ALPN in preference order; the API server speaks both.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

pub(crate) fn server_config(
    ca: &CertifiedKey,
    serving: &CertifiedKey,
) -> Result<Arc<ServerConfig>, PkiError> {
    let provider = provider();
    // Like kube-apiserver's --client-ca-file: a presented certificate must chain to the CA, but
    // a client may present none and is then anonymous.
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(PkiError::ClientVerifier)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(PkiError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![serving.cert_der().clone()], serving.private_key())
        .map_err(PkiError::Tls)?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

pub(crate) fn client_config(
    ca: &CertifiedKey,
    user: Option<&CertifiedKey>,
) -> Result<ClientConfig, PkiError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(PkiError::Tls)?
        .with_root_certificates(roots(ca)?);
    match user {
        Some(user) => builder
            .with_client_auth_cert(vec![user.cert_der().clone()], user.private_key())
            .map_err(PkiError::Tls),
        None => Ok(builder.with_no_client_auth()),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CertifiedKey) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert_der().clone()).map_err(PkiError::Tls)?;
    Ok(Arc::new(roots))
}
