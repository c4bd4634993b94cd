//! Real TLS handshakes on loopback between the PKI's server and client configurations: who the
//! server sees, and which clients and names are refused.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ferry_pki::{identity_from_cert, Identity, Pki, PkiOptions};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What the server side saw of one connection.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Anonymous {
        alpn: Option<Vec<u8>>,
    },
    User {
        identity: Option<Identity>,
        alpn: Option<Vec<u8>>,
    },
    /// The handshake failed; the server's error.
    Refused(String),
}

/// Runs one handshake (plus a one-byte exchange, so that a refusal after the client's side of a
/// TLS 1.3 handshake shows up too) and returns what the server saw and whether the client got
/// the byte back.
async fn connect(
    server: Arc<rustls::ServerConfig>,
    client: rustls::ClientConfig,
    name: &str,
) -> (Seen, bool) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = match TlsAcceptor::from(server).accept(tcp).await {
            Ok(tls) => tls,
            Err(err) => return Seen::Refused(err.to_string()),
        };
        let mut byte = [0u8; 1];
        if let Err(err) = tls.read_exact(&mut byte).await {
            return Seen::Refused(err.to_string());
        }
        tls.write_all(&byte).await.unwrap();
        tls.flush().await.unwrap();
        let session = tls.get_ref().1;
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        match session.peer_certificates() {
            None => Seen::Anonymous { alpn },
            Some(chain) => Seen::User {
                identity: identity_from_cert(&chain[0]),
                alpn,
            },
        }
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let echoed = match TlsConnector::from(Arc::new(client))
        .connect(server_name, tcp)
        .await
    {
        Ok(mut tls) => {
            let mut byte = [0u8; 1];
            tls.write_all(b"x").await.is_ok() && tls.read_exact(&mut byte).await.is_ok()
        }
        Err(_) => false,
    };
    (server_task.await.unwrap(), echoed)
}

fn new_pki(opts: &PkiOptions) -> (tempfile::TempDir, Pki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(dir.path(), opts).unwrap();
    (dir, pki)
}

fn h2_client(pki: &Pki, user: Option<&ferry_pki::CertifiedKey>) -> rustls::ClientConfig {
    let mut config = pki.client_config(user).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

#[tokio::test]
async fn the_admin_certificate_authenticates_kubernetes_admin() {
    let (_dir, pki) = new_pki(&PkiOptions::default());
    let client = h2_client(&pki, Some(pki.admin()));
    let (seen, echoed) = connect(pki.server_config().unwrap(), client, "localhost").await;
    assert_eq!(
        seen,
        Seen::User {
            identity: Some(Identity {
                user: "kubernetes-admin".into(),
                groups: vec!["system:masters".into()],
            }),
            alpn: Some(b"h2".to_vec()),
        }
    );
    assert!(echoed);
}

#[tokio::test]
async fn an_issued_node_certificate_authenticates_the_node() {
    let (_dir, pki) = new_pki(&PkiOptions::default());
    let node = pki
        .issue_client_cert("system:node:n1", &["system:nodes"])
        .unwrap();
    let client = pki.client_config(Some(&node)).unwrap();
    let (seen, echoed) = connect(pki.server_config().unwrap(), client, "127.0.0.1").await;
    assert_eq!(
        seen,
        Seen::User {
            identity: Some(Identity {
                user: "system:node:n1".into(),
                groups: vec!["system:nodes".into()],
            }),
            alpn: None,
        }
    );
    assert!(echoed);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_anonymous() {
    let (_dir, pki) = new_pki(&PkiOptions::default());
    let mut client = pki.client_config(None).unwrap();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (seen, echoed) = connect(
        pki.server_config().unwrap(),
        client,
        "kubernetes.default.svc",
    )
    .await;
    assert_eq!(
        seen,
        Seen::Anonymous {
            alpn: Some(b"http/1.1".to_vec())
        }
    );
    assert!(echoed);
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let (_dir, pki) = new_pki(&PkiOptions::default());
    let (_other_dir, other) = new_pki(&PkiOptions::default());
    // Trusts our CA but presents a certificate signed by the other cluster's CA.
    let client = pki.client_config(Some(other.admin())).unwrap();
    let (seen, echoed) = connect(pki.server_config().unwrap(), client, "localhost").await;
    // Every cluster's CA is named ferry-ca, so the name matches and the signature does not.
    assert_eq!(
        seen,
        Seen::Refused("invalid peer certificate: BadSignature".into())
    );
    assert!(!echoed);
}

#[tokio::test]
async fn the_serving_certificate_covers_the_kubernetes_names_and_the_node() {
    let opts = PkiOptions {
        extra_ips: vec!["192.0.2.7".parse().unwrap()],
        extra_dns_names: vec!["node-a.example".into()],
    };
    let (_dir, pki) = new_pki(&opts);
    let valid = [
        "127.0.0.1",
        "localhost",
        "10.96.0.1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "192.0.2.7",
        "node-a.example",
    ];
    for name in valid {
        let client = pki.client_config(None).unwrap();
        let (seen, echoed) = connect(pki.server_config().unwrap(), client, name).await;
        assert_eq!(seen, Seen::Anonymous { alpn: None }, "{name}");
        assert!(echoed, "{name}");
    }
    for name in ["example.com", "10.96.0.10"] {
        let client = pki.client_config(None).unwrap();
        let (seen, echoed) = connect(pki.server_config().unwrap(), client, name).await;
        // The client refuses the name and tells the server so.
        assert_eq!(
            seen,
            Seen::Refused("received fatal alert: BadCertificate".into()),
            "{name}"
        );
        assert!(!echoed, "{name}");
    }
}

#[tokio::test]
async fn a_client_of_another_cluster_does_not_trust_this_server() {
    let (_dir, pki) = new_pki(&PkiOptions::default());
    let (_other_dir, other) = new_pki(&PkiOptions::default());
    let client = other.client_config(Some(other.admin())).unwrap();
    let (seen, echoed) = connect(pki.server_config().unwrap(), client, "localhost").await;
    // The client finds the server's signature wrong (same CA name, other key) and says so.
    assert_eq!(
        seen,
        Seen::Refused("received fatal alert: DecryptError".into())
    );
    assert!(!echoed);
}
