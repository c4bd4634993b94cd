//! The HTTPS listener: TLS with optional client certificates, HTTP/1.1 and HTTP/2 on one port,
//! bodies read up to the size limit, then [`ApiServer::handle`]; pod stream upgrades go to
//! the streaming module with their connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use ferry_api::ApiError;

use crate::handler::User;
use crate::response::{self, Body};
use crate::rest::MAX_BODY_BYTES;
use crate::streaming;
use crate::ApiServer;

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Serves the API on every configured address until `shutdown` is cancelled.
pub async fn serve(
    server: Arc<ApiServer>,
    tls: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let acceptor = TlsAcceptor::from(tls);
    let mut listeners = Vec::new();
    for addr in &server.config.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: *addr,
                source,
            })?;
        listeners.push(listener);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        tasks.spawn(accept_loop(
            listener,
            acceptor.clone(),
            server.clone(),
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    server: Arc<ApiServer>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, peer)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|cert| ferry_pki::identity_from_cert(cert.as_ref()))
                .map(|id| User {
                    name: id.user,
                    groups: id.groups,
                });
            let service = service_fn(move |req: Request<Incoming>| {
                let server = server.clone();
                let user = user.clone();
                async move { Ok::<_, std::convert::Infallible>(handle_http(&server, req, user).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

async fn handle_http(
    server: &ApiServer,
    req: Request<Incoming>,
    user: Option<User>,
) -> Response<Body> {
    // Upgraded pod streams keep their connection, so their body is never collected.
    if streaming::is_stream_upgrade(&req) {
        return streaming::upgrade(server, req, user).await;
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return response::error(&ApiError::too_large(MAX_BODY_BYTES)),
    };
    server.handle(Request::from_parts(parts, bytes), user).await
}
