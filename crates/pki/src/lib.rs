//! The cluster PKI, as kubeadm and k3s lay it out: a CA, the API serving certificate, client
//! certificates whose subject carries the Kubernetes user and groups, the rustls configurations
//! built from them, and the admin kubeconfig. Files live in one directory of the data dir.
//!
//! Knows nothing of HTTP, the API objects or the store; it reads and writes only its own
//! directory.

mod authority;
mod certificate;
mod der;
mod error;
mod files;
mod identity;
mod kubeconfig;
mod parse;
mod pki;
mod tls;

pub use authority::CertifiedKey;
pub use error::PkiError;
pub use identity::{identity_from_cert, Identity};
pub use kubeconfig::{kubeconfig, DEFAULT_CLUSTER_NAME};
pub use pki::{Pki, PkiOptions};
