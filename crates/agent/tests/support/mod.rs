//! Test support for the streaming server: a host-process runtime, a PKI, and clients that
//! speak the API server's side of the kubelet protocol (WebSocket v5 and plain HTTPS).

#![allow(dead_code)]

pub mod host_runtime;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::ClientRequestBuilder;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use ferry_agent::streaming::{server_tls, AllowedClients, StreamingConfig, StreamingServer};
use ferry_pki::{Pki, PkiOptions};

use host_runtime::HostRuntime;

/// A streaming server on loopback with a host runtime, and the PKI its clients use.
pub struct Agent {
    pub addr: SocketAddr,
    pub runtime: HostRuntime,
    pub pki: Pki,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Agent {
    pub async fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(&dir.path().join("pki"), &PkiOptions::default()).unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let runtime = HostRuntime::new(&logs);
        let config = StreamingConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            // The PKI's serving certificate covers 127.0.0.1, which is all a test needs.
            tls: server_tls(pki.ca_cert_pem(), pki.serving()).unwrap(),
            allowed: AllowedClients::default(),
        };
        let server = StreamingServer::bind(config).await.unwrap();
        let addr = server.local_addr();
        let shutdown = CancellationToken::new();
        tokio::spawn(server.serve(Arc::new(runtime.clone()), shutdown.clone()));
        Agent {
            addr,
            runtime,
            pki,
            shutdown,
            _dir: dir,
        }
    }

    /// TLS to the agent as `user` in `groups`.
    pub async fn tls(&self, user: &str, groups: &[&str]) -> TlsStream<tokio::net::TcpStream> {
        let cert = self.pki.issue_client_cert(user, groups).unwrap();
        let mut config = self.pki.client_config(Some(&cert)).unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::IpAddress(self.addr.ip().into());
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// Opens a v5 session on `path_and_query` as the API server.
    pub async fn session(&self, path_and_query: &str) -> Result<Session, (u16, String)> {
        let tls = self
            .tls("kube-apiserver-kubelet-client", &["system:masters"])
            .await;
        let uri = format!("wss://{}{path_and_query}", self.addr);
        let request =
            ClientRequestBuilder::new(uri.parse().unwrap()).with_sub_protocol("v5.channel.k8s.io");
        match tokio_tungstenite::client_async(request, tls).await {
            Ok((ws, _)) => Ok(Session { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err((
                resp.status().as_u16(),
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
            )),
            Err(e) => panic!("websocket handshake: {e}"),
        }
    }

    /// A GET as `user`: the status and a receiver of body chunks.
    pub async fn get_as(
        &self,
        user: &str,
        groups: &[&str],
        path_and_query: &str,
    ) -> (u16, hyper::body::Incoming) {
        let tls = self.tls(user, groups).await;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = http::Request::get(path_and_query)
            .header(http::header::HOST, self.addr.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        (resp.status().as_u16(), resp.into_body())
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        let (code, body) = self
            .get_as(
                "kube-apiserver-kubelet-client",
                &["system:masters"],
                path_and_query,
            )
            .await;
        let bytes = body.collect().await.unwrap().to_bytes();
        (code, String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What a finished session sent.
#[derive(Debug, Default)]
pub struct Transcript {
    pub stdout: String,
    pub stderr: String,
    pub status: Value,
    /// The first message, which announces the session.
    pub first: Vec<u8>,
}

/// A client-side v5 session.
pub struct Session {
    ws: WebSocketStream<TlsStream<tokio::net::TcpStream>>,
}

impl Session {
    pub async fn send(&mut self, channel: u8, payload: &[u8]) {
        let mut bytes = vec![channel];
        bytes.extend_from_slice(payload);
        self.ws.send(Message::Binary(bytes.into())).await.unwrap();
    }

    /// Reads stdout until it contains `needle`; returns everything read.
    pub async fn read_stdout_until(&mut self, needle: &str) -> String {
        let mut out = String::new();
        while !out.contains(needle) {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) if b.first() == Some(&1) => {
                    out.push_str(&String::from_utf8_lossy(&b[1..]))
                }
                Some(Ok(_)) => {}
                other => panic!("session ended before {needle:?} in {out:?}: {other:?}"),
            }
        }
        out
    }

    /// Reads until the server closes, then closes as kubectl does.
    pub async fn finish(mut self) -> Transcript {
        let mut t = Transcript::default();
        let mut first = true;
        while let Some(msg) = self.ws.next().await {
            match msg.unwrap() {
                Message::Binary(b) => {
                    let (channel, payload) = b.split_first().unwrap();
                    if std::mem::take(&mut first) {
                        t.first = b.to_vec();
                    }
                    let text = String::from_utf8_lossy(payload);
                    match channel {
                        1 => t.stdout.push_str(&text),
                        2 => t.stderr.push_str(&text),
                        3 => t.status = serde_json::from_slice(payload).unwrap(),
                        other => panic!("server wrote on channel {other}"),
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = self.ws.close(None).await;
        t
    }
}
