//! The HTTPS transport: requests to a remote API server over TLS with a client certificate.
//!
//! ALPN offers h2 before http/1.1. With h2 every request of the transport shares one
//! connection, opened on first use and reopened when it closes; with http/1.1 (a server that
//! does not speak h2) idle connections are kept in a pool and reused one request at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{header, HeaderValue, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::client::{ClientError, Transport, TransportFuture};

/// A [`Transport`] to `https://host:port` that trusts one CA and authenticates with a client
/// certificate. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct HttpsTransport {
    connections: Arc<Connections>,
}

/// What went wrong setting up or using an HTTPS transport.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("read kubeconfig {path}")]
    ReadKubeconfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse kubeconfig {path}")]
    ParseKubeconfig {
        path: PathBuf,
        #[source]
        source: yaml_serde::Error,
    },
    #[error("kubeconfig has no {kind} named {name:?}")]
    MissingEntry { kind: &'static str, name: String },
    #[error("kubeconfig {kind} {name:?} has no {field}")]
    MissingField {
        kind: &'static str,
        name: String,
        field: &'static str,
    },
    #[error("decode base64 of {field}")]
    Base64 {
        field: &'static str,
        #[source]
        source: base64::DecodeError,
    },
    #[error("server URL {url:?} is not https://host[:port]")]
    ServerUrl { url: String },
    #[error("read PEM of {what}")]
    Pem {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no certificate in {what}")]
    NoCertificate { what: &'static str },
    #[error("no private key in the client key")]
    NoPrivateKey,
    #[error("configure TLS")]
    Tls(#[source] rustls::Error),
    #[error("connect to {address}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS handshake with {address}")]
    TlsHandshake {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP handshake with {address}")]
    HttpHandshake {
        address: String,
        #[source]
        source: hyper::Error,
    },
    #[error("build request URI")]
    RequestUri(#[source] http::Error),
    #[error("send request")]
    Send(#[source] hyper::Error),
}

impl HttpsTransport {
    /// A transport to `server` (`https://host[:port]`) trusting the CA in `ca_pem` and
    /// presenting the certificate chain in `cert_pem` with the key in `key_pem`.
    pub fn new(
        server: &str,
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Self, HttpsError> {
        Self::from_pem(
            server,
            ca_pem.as_bytes(),
            cert_pem.as_bytes(),
            key_pem.as_bytes(),
        )
    }

    /// A transport from the current context of a kubeconfig whose cluster and user carry
    /// `certificate-authority-data`, `client-certificate-data` and `client-key-data`.
    pub fn from_kubeconfig(path: impl AsRef<Path>) -> Result<Self, HttpsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| HttpsError::ReadKubeconfig {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Kubeconfig =
            yaml_serde::from_str(&text).map_err(|source| HttpsError::ParseKubeconfig {
                path: path.to_path_buf(),
                source,
            })?;
        let credentials = current_credentials(&config)?;
        Self::from_pem(
            &credentials.server,
            &credentials.ca_pem,
            &credentials.cert_pem,
            &credentials.key_pem,
        )
    }

    fn from_pem(
        server: &str,
        ca_pem: &[u8],
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, HttpsError> {
        let endpoint = Endpoint::parse(server)?;
        let config = tls_config(ca_pem, cert_pem, key_pem)?;
        Ok(HttpsTransport {
            connections: Arc::new(Connections {
                endpoint,
                tls: TlsConnector::from(Arc::new(config)),
                h2: Mutex::new(None),
                h1_idle: Mutex::new(Vec::new()),
                connecting: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

impl Transport for HttpsTransport {
    fn send(&self, request: Request<Bytes>) -> TransportFuture {
        let connections = self.connections.clone();
        Box::pin(async move {
            let response = connections
                .send(request)
                .await
                .map_err(|e| ClientError::Transport(Box::new(e)))?;
            Ok(response.map(|body| {
                body.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })
                    .boxed()
            }))
        })
    }
}

/// HTTP/2 flow-control windows. hyper's defaults (64 KiB per stream) would make a large list
/// wait for a window update every 64 KiB; watches and lists are read promptly, so larger
/// windows cost little memory and save round trips.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// ALPN in preference order: h2 lets all requests share one connection.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Where the server is: the socket address to dial, the name its certificate must carry, and
/// the authority for `:authority` / `Host`.
struct Endpoint {
    address: String,
    server_name: ServerName<'static>,
    authority: Authority,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, HttpsError> {
        let invalid = || HttpsError::ServerUrl {
            url: url.to_string(),
        };
        let uri: Uri = url.parse().map_err(|_| invalid())?;
        if uri.scheme() != Some(&Scheme::HTTPS)
            || !matches!(uri.path(), "" | "/")
            || uri.query().is_some()
        {
            return Err(invalid());
        }
        let authority = uri.authority().ok_or_else(invalid)?.clone();
        let host = authority.host();
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(bare_host.to_string()).map_err(|_| invalid())?;
        let port = authority.port_u16().unwrap_or(443);
        Ok(Endpoint {
            address: format!("{host}:{port}"),
            server_name,
            authority,
        })
    }
}

/// The shared connection state of a transport and its clones.
struct Connections {
    endpoint: Endpoint,
    tls: TlsConnector,
    /// The HTTP/2 connection every request shares, once one is open.
    h2: Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
    /// HTTP/1.1 connections, busy or idle; a request takes one that is ready.
    h1_idle: Mutex<Vec<http1::SendRequest<Full<Bytes>>>>,
    /// Held while dialling, so a burst of first requests opens one h2 connection, not many.
    connecting: tokio::sync::Mutex<()>,
}

/// A connection ready to take a request.
enum Ready {
    H2(http2::SendRequest<Full<Bytes>>),
    H1(http1::SendRequest<Full<Bytes>>),
}

impl Connections {
    async fn send(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<hyper::body::Incoming>, HttpsError> {
        let request = request.map(Full::new);
        match self.ready_connection().await? {
            Ready::H2(mut sender) => {
                let request = self.absolute_form(request)?;
                sender.send_request(request).await.map_err(HttpsError::Send)
            }
            Ready::H1(mut sender) => {
                let request = self.with_host(request);
                let response = sender.send_request(request);
                // The connection becomes ready again once this response is read to its end;
                // until then the pool skips it.
                lock(&self.h1_idle).push(sender);
                response.await.map_err(HttpsError::Send)
            }
        }
    }

    async fn ready_connection(&self) -> Result<Ready, HttpsError> {
        if let Some(ready) = self.pooled().await {
            return Ok(ready);
        }
        let _connecting = self.connecting.lock().await;
        // Another request may have opened an h2 connection while this one waited.
        if let Some(ready) = self.pooled().await {
            return Ok(ready);
        }
        let ready = self.connect().await?;
        if let Ready::H2(sender) = &ready {
            *lock(&self.h2) = Some(sender.clone());
        }
        Ok(ready)
    }

    /// An open connection that can take a request now, if there is one.
    async fn pooled(&self) -> Option<Ready> {
        let shared = lock(&self.h2).clone();
        if let Some(mut sender) = shared {
            if sender.ready().await.is_ok() {
                return Some(Ready::H2(sender));
            }
            let mut h2 = lock(&self.h2);
            if h2.as_ref().is_some_and(http2::SendRequest::is_closed) {
                *h2 = None;
            }
        }
        let mut idle = lock(&self.h1_idle);
        idle.retain(|sender| !sender.is_closed());
        let position = idle.iter().position(http1::SendRequest::is_ready)?;
        Some(Ready::H1(idle.swap_remove(position)))
    }

    async fn connect(&self) -> Result<Ready, HttpsError> {
        let address = &self.endpoint.address;
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|source| HttpsError::Connect {
                address: address.clone(),
                source,
            })?;
        tcp.set_nodelay(true)
            .map_err(|source| HttpsError::Connect {
                address: address.clone(),
                source,
            })?;
        let tls = self
            .tls
            .connect(self.endpoint.server_name.clone(), tcp)
            .await
            .map_err(|source| HttpsError::TlsHandshake {
                address: address.clone(),
                source,
            })?;
        let negotiated_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
        let io = TokioIo::new(tls);
        let handshake_error = |source| HttpsError::HttpHandshake {
            address: address.clone(),
            source,
        };
        if negotiated_h2 {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .handshake(io)
                .await
                .map_err(handshake_error)?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "HTTP/2 connection to the API server ended");
                }
            });
            Ok(Ready::H2(sender))
        } else {
            let (sender, connection) = http1::handshake(io).await.map_err(handshake_error)?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "HTTP/1.1 connection to the API server ended");
                }
            });
            Ok(Ready::H1(sender))
        }
    }

    /// h2 carries the scheme and authority as pseudo-headers, taken from an absolute URI.
    fn absolute_form<B>(&self, request: Request<B>) -> Result<Request<B>, HttpsError> {
        let (mut parts, body) = request.into_parts();
        if parts.uri.scheme().is_none() {
            let path = parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            parts.uri = Uri::builder()
                .scheme(Scheme::HTTPS)
                .authority(self.endpoint.authority.clone())
                .path_and_query(path)
                .build()
                .map_err(HttpsError::RequestUri)?;
        }
        Ok(Request::from_parts(parts, body))
    }

    /// HTTP/1.1 requires a `Host` header; the request line keeps the origin-form path.
    fn with_host<B>(&self, mut request: Request<B>) -> Request<B> {
        if let Ok(host) = HeaderValue::from_str(self.endpoint.authority.as_str()) {
            request.headers_mut().entry(header::HOST).or_insert(host);
        }
        request
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (it only holds
/// connection handles, each valid on its own).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tls_config(ca_pem: &[u8], cert_pem: &[u8], key_pem: &[u8]) -> Result<ClientConfig, HttpsError> {
    let mut roots = RootCertStore::empty();
    for ca in pem_certificates(ca_pem, "the CA")? {
        roots.add(ca).map_err(HttpsError::Tls)?;
    }
    let chain = pem_certificates(cert_pem, "the client certificate")?;
    let key = pem_private_key(key_pem)?;
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(HttpsError::Tls)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(HttpsError::Tls)?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

fn pem_certificates(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, HttpsError> {
    let certificates = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| HttpsError::Pem { what, source })?;
    if certificates.is_empty() {
        return Err(HttpsError::NoCertificate { what });
    }
    Ok(certificates)
}

fn pem_private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, HttpsError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|source| HttpsError::Pem {
            what: "the client key",
            source,
        })?
        .ok_or(HttpsError::NoPrivateKey)
}

/// The part of a kubeconfig this transport reads.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(default)]
    current_context: String,
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(default)]
    users: Vec<NamedUser>,
}

#[derive(Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: Option<String>,
    certificate_authority_data: Option<String>,
}

#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// The server and decoded PEMs of a kubeconfig's current context.
#[derive(Debug, PartialEq)]
struct Credentials {
    server: String,
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

fn current_credentials(config: &Kubeconfig) -> Result<Credentials, HttpsError> {
    let context_name = &config.current_context;
    let context = &find(&config.contexts, "context", context_name, |c| &c.name)?.context;
    let cluster = &find(&config.clusters, "cluster", &context.cluster, |c| &c.name)?.cluster;
    let user = &find(&config.users, "user", &context.user, |u| &u.name)?.user;
    let field = |kind: &'static str, name: &str, field: &'static str, value: &Option<String>| {
        value.clone().ok_or_else(|| HttpsError::MissingField {
            kind,
            name: name.to_string(),
            field,
        })
    };
    let base64_field = |kind, name: &str, field_name, value: &Option<String>| {
        let text = field(kind, name, field_name, value)?;
        STANDARD
            .decode(text.trim())
            .map_err(|source| HttpsError::Base64 {
                field: field_name,
                source,
            })
    };
    Ok(Credentials {
        server: field("cluster", &context.cluster, "server", &cluster.server)?,
        ca_pem: base64_field(
            "cluster",
            &context.cluster,
            "certificate-authority-data",
            &cluster.certificate_authority_data,
        )?,
        cert_pem: base64_field(
            "user",
            &context.user,
            "client-certificate-data",
            &user.client_certificate_data,
        )?,
        key_pem: base64_field(
            "user",
            &context.user,
            "client-key-data",
            &user.client_key_data,
        )?,
    })
}

fn find<'a, T>(
    entries: &'a [T],
    kind: &'static str,
    name: &str,
    name_of: impl Fn(&T) -> &String,
) -> Result<&'a T, HttpsError> {
    entries
        .iter()
        .find(|entry| name_of(entry) == name)
        .ok_or_else(|| HttpsError::MissingEntry {
            kind,
            name: name.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> String {
        match Endpoint::parse(url) {
            Ok(e) => format!("{} {:?} {}", e.address, e.server_name, e.authority),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn server_urls() {
        let cases = [
            ("https://127.0.0.1:6443", "127.0.0.1:6443 IpAddress(V4(Ipv4Addr([127, 0, 0, 1]))) 127.0.0.1:6443"),
            ("https://[::1]:6443/", "[::1]:6443 IpAddress(V6(Ipv6Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))) [::1]:6443"),
            ("https://api.example", "api.example:443 DnsName(\"api.example\") api.example"),
            ("http://127.0.0.1:6443", "server URL \"http://127.0.0.1:6443\" is not https://host[:port]"),
            ("https://127.0.0.1:6443/prefix", "server URL \"https://127.0.0.1:6443/prefix\" is not https://host[:port]"),
            ("127.0.0.1:6443", "server URL \"127.0.0.1:6443\" is not https://host[:port]"),
        ];
        for (url, want) in cases {
            assert_eq!(endpoint(url), want, "{url}");
        }
    }

    fn credentials(yaml: &str) -> String {
        let config: Kubeconfig = match yaml_serde::from_str(yaml) {
            Ok(config) => config,
            Err(e) => return format!("parse: {e}"),
        };
        match current_credentials(&config) {
            Ok(c) => format!(
                "{} {} {} {}",
                c.server,
                String::from_utf8_lossy(&c.ca_pem),
                String::from_utf8_lossy(&c.cert_pem),
                String::from_utf8_lossy(&c.key_pem)
            ),
            Err(e) => e.to_string(),
        }
    }

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority-data: Q0E=, server: \"https://127.0.0.1:6443\"}
  name: other
- cluster: {certificate-authority-data: Q0E=, server: \"https://127.0.0.1:7443\"}
  name: ferry
contexts:
- context: {cluster: ferry, user: admin}
  name: ferry
current-context: ferry
preferences: {}
users:
- name: admin
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
";

    #[test]
    fn kubeconfig_current_context() {
        let cases = [
            (KUBECONFIG.to_string(), "https://127.0.0.1:7443 CA CERT KEY"),
            (
                KUBECONFIG.replace("current-context: ferry", "current-context: gone"),
                "kubeconfig has no context named \"gone\"",
            ),
            (
                KUBECONFIG.replace("user: admin}", "user: nobody}"),
                "kubeconfig has no user named \"nobody\"",
            ),
            (
                KUBECONFIG.replace(", client-key-data: S0VZ", ""),
                "kubeconfig user \"admin\" has no client-key-data",
            ),
            (
                KUBECONFIG.replace("Q0VSVA==", "not base64!"),
                "decode base64 of client-certificate-data",
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(credentials(&yaml), want);
        }
    }

    #[test]
    fn pems_without_certificates_or_keys_are_refused() {
        let errors = [
            tls_config(b"", b"", b"").err().map(|e| e.to_string()),
            pem_private_key(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .err()
                .map(|e| e.to_string()),
        ];
        assert_eq!(
            errors,
            [
                Some("no certificate in the CA".to_string()),
                Some("no private key in the client key".to_string())
            ]
        );
    }
}
