//! The one error type of the PKI crate.

use std::io;
use std::path::PathBuf;

/// What failed while creating, loading or using the cluster PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("create pki directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write {path}")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("ca certificate {cert} exists but its key {key} does not")]
    CaKeyMissing { cert: PathBuf, key: PathBuf },
    #[error("parse ca certificate {path}")]
    MalformedCaCertificate { path: PathBuf },
    #[error("parse ca key {path}")]
    MalformedCaKey {
        path: PathBuf,
        #[source]
        source: rcgen::Error,
    },
    #[error("ca key {key} does not belong to ca certificate {cert}")]
    CaKeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("signing key is not an ecdsa p-256 key")]
    UnsupportedSigningKey,
    #[error("generate key pair")]
    GenerateKey(#[source] rcgen::Error),
    #[error("generate random serial number")]
    Random,
    #[error("sign certificate for {common_name}")]
    Sign {
        common_name: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("a client certificate needs a common name")]
    EmptyCommonName,
    #[error("subject alternative name {name:?} is not an ascii dns name")]
    InvalidDnsName { name: String },
    #[error("build client certificate verifier")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    #[error("build tls configuration")]
    Tls(#[source] rustls::Error),
}
