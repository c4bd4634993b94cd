//! `HttpsTransport` against a server that speaks only HTTP/1.1 (ALPN without h2): requests are
//! sent in origin form with a `Host` header, an idle connection is reused, and a connection
//! whose response is still being read is not shared. The server listens on 127.0.0.1 only.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use ferry_runtime::{HttpsTransport, Transport};

/// A body large enough that it cannot sit unread in socket and connection buffers.
const LARGE_BODY: usize = 8 << 20;

struct Pems {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pems() -> Pems {
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["127.0.0.1".to_string()]);
    let (client_cert, client_key) = leaf(vec!["client".to_string()]);
    Pems {
        ca: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

/// An HTTP/1.1-only TLS server requiring a client certificate from the CA. It answers
/// `/large` with [`LARGE_BODY`] bytes and anything else with `<Host> <request target>`.
async fn serve_http1(pems: &Pems) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pems.ca.as_bytes()).unwrap())
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(pems.server_cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pems.server_key.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let body = if req.uri().path() == "/large" {
                        Bytes::from(vec![b'x'; LARGE_BODY])
                    } else {
                        let host = req
                            .headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("-");
                        Bytes::from(format!("{host} {}", req.uri()))
                    };
                    Ok::<_, Infallible>(Response::new(Full::new(body)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, accepted)
}

async fn get_text(transport: &HttpsTransport, path: &str) -> String {
    let response = transport
        .send(Request::get(path).body(Bytes::new()).unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn http1_connections_are_pooled_one_request_at_a_time() {
    let pems = pems();
    let (port, accepted) = serve_http1(&pems).await;
    let server = format!("https://127.0.0.1:{port}");
    let transport =
        HttpsTransport::new(&server, &pems.ca, &pems.client_cert, &pems.client_key).unwrap();

    assert_eq!(
        get_text(&transport, "/api/v1/namespaces?limit=1").await,
        format!("127.0.0.1:{port} /api/v1/namespaces?limit=1")
    );
    assert_eq!(
        get_text(&transport, "/version").await,
        format!("127.0.0.1:{port} /version")
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "an idle connection is reused"
    );

    let unread = transport
        .send(Request::get("/large").body(Bytes::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        get_text(&transport, "/healthz").await,
        format!("127.0.0.1:{port} /healthz")
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a connection with an unread response is not shared"
    );

    let large = unread.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(large.len(), LARGE_BODY);
    assert_eq!(
        get_text(&transport, "/readyz").await,
        format!("127.0.0.1:{port} /readyz")
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "connections are reused once their responses are read"
    );
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let pems = pems();
    let other = self::pems();
    let (port, _) = serve_http1(&pems).await;
    let transport = HttpsTransport::new(
        &format!("https://127.0.0.1:{port}"),
        &pems.ca,
        &other.client_cert,
        &other.client_key,
    )
    .unwrap();
    let error = transport
        .send(Request::get("/version").body(Bytes::new()).unwrap())
        .await
        .unwrap_err();
    let chain = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    assert!(
        chain.starts_with("transport: ") && chain.contains("received fatal alert"),
        "{chain}"
    );
}
