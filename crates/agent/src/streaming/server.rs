//! The HTTPS listener and its routes, the kubelet's: `/exec/{namespace}/{pod}/{container}`,
//! `/attach/...` (WebSocket upgrades) and `/containerLogs/...` (chunked text).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use ferry_pki::Identity;

use crate::streaming::auth::Access;
use crate::streaming::exec::{self, SessionKind, PROTOCOL_V5};
use crate::streaming::logs::{self, go_quote, LogReader};
use crate::streaming::options::{self, Query};
use crate::streaming::{AllowedClients, ContainerRuntime, ExecRequest, PodRef, StreamError};

/// The kubelet's port, which the API server uses when a Node does not say otherwise.
pub const DEFAULT_PORT: u16 = 10250;

/// Where and how the streaming server listens.
#[derive(Clone, Debug)]
pub struct StreamingConfig {
    pub listen: SocketAddr,
    /// From [`crate::streaming::server_tls`]: client certificates required.
    pub tls: Arc<rustls::ServerConfig>,
    pub allowed: AllowedClients,
}

/// A bound streaming server, ready to serve.
pub struct StreamingServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    allowed: Arc<AllowedClients>,
}

type Body = BoxBody<Bytes, Infallible>;

impl StreamingServer {
    /// Binds the listening socket (port 0 picks a free port; see [`Self::local_addr`]).
    pub async fn bind(config: StreamingConfig) -> Result<StreamingServer, StreamError> {
        let bind_error = |source| StreamError::Bind {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(StreamingServer {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(config.tls),
            allowed: Arc::new(config.allowed),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves streams from `runtime` until `shutdown` is cancelled; sessions under way end
    /// with the connections.
    pub async fn serve<R: ContainerRuntime>(self, runtime: Arc<R>, shutdown: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = self.listener.accept() => accepted,
            };
            let Ok((tcp, peer)) = accepted else { continue };
            let _ = tcp.set_nodelay(true);
            let connection = Connection {
                acceptor: self.acceptor.clone(),
                allowed: self.allowed.clone(),
                runtime: runtime.clone(),
            };
            tokio::spawn(connection.serve(tcp, peer, shutdown.clone()));
        }
    }
}

/// What one connection needs.
struct Connection<R> {
    acceptor: TlsAcceptor,
    allowed: Arc<AllowedClients>,
    runtime: Arc<R>,
}

impl<R: ContainerRuntime> Connection<R> {
    async fn serve(
        self,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) {
        let tls = match self.acceptor.accept(tcp).await {
            Ok(tls) => tls,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "streaming TLS handshake failed");
                return;
            }
        };
        let identity = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| ferry_pki::identity_from_cert(cert.as_ref()));
        let caller = Arc::new(Caller {
            identity,
            allowed: self.allowed,
            runtime: self.runtime,
        });
        let service = service_fn(move |req| {
            let caller = caller.clone();
            async move { Ok::<_, Infallible>(caller.handle(req).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tls), service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
        }
    }
}

/// An authenticated connection's request handler.
struct Caller<R> {
    identity: Option<Identity>,
    allowed: Arc<AllowedClients>,
    runtime: Arc<R>,
}

/// The endpoint a path names.
#[derive(Clone, Copy)]
enum Endpoint {
    Exec,
    Attach,
    Logs,
}

impl<R: ContainerRuntime> Caller<R> {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        match self.allowed.check(self.identity.as_ref(), req.method()) {
            Access::Allowed => {}
            Access::Unauthenticated => return text(StatusCode::UNAUTHORIZED, "Unauthorized"),
            Access::Forbidden(message) => return text(StatusCode::FORBIDDEN, &message),
        }
        let Some((endpoint, pod, container)) = route(req.uri().path()) else {
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        let query = Query::parse(req.uri().query());
        match (endpoint, req.method()) {
            (Endpoint::Logs, &Method::GET) => self.logs(pod, &container, &query).await,
            (Endpoint::Exec | Endpoint::Attach, &Method::GET | &Method::POST) => {
                self.session(req, endpoint, pod, container, &query).await
            }
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed"),
        }
    }

    async fn logs(&self, pod: PodRef, container: &str, query: &Query) -> Response<Body> {
        let options = match options::log_options(query) {
            Ok(options) => options,
            Err(e @ options::OptionsError::Invalid) => {
                return text(StatusCode::UNPROCESSABLE_ENTITY, e.message())
            }
            Err(e) => return text(StatusCode::BAD_REQUEST, e.message()),
        };
        let log = match self.runtime.log_file(&pod, container, options.previous) {
            Ok(log) => log,
            Err(e) => return log_error(&e, &pod, container),
        };
        let file = match tokio::fs::File::open(&log.path).await {
            Ok(file) => file,
            Err(e) => {
                let message = format!(
                    "failed to open log file {}: {e}",
                    go_quote(&log.path.display().to_string())
                );
                return text(StatusCode::BAD_REQUEST, &message);
            }
        };
        let reader = LogReader {
            path: log.path,
            file,
            exited: log.exited,
        };
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            if let Err(e) = logs::stream(reader, options, tx).await {
                tracing::warn!(error = %e.chain(), "stream container log");
            }
        });
        let mut resp = Response::new(body_from(rx));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    }

    async fn session(
        &self,
        mut req: Request<Incoming>,
        endpoint: Endpoint,
        pod: PodRef,
        container: String,
        query: &Query,
    ) -> Response<Body> {
        let streams = match options::streams(query) {
            Ok(streams) => streams,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.message()),
        };
        let accept = match websocket_accept(req.headers()) {
            Ok(accept) => accept,
            Err(message) => return text(StatusCode::BAD_REQUEST, message),
        };
        let (kind, session) = match endpoint {
            Endpoint::Attach => (
                SessionKind::Attach,
                self.runtime.attach(&pod, &container, streams).await,
            ),
            _ => {
                let command = query.all("command");
                let request = ExecRequest {
                    command: command.clone(),
                    streams,
                };
                (
                    SessionKind::Exec(command),
                    self.runtime.exec(&pod, &container, request).await,
                )
            }
        };
        // Errors the kubelet gives before upgrading; any other failure is reported in the
        // session, as the container runtime's streaming server does.
        match &session {
            Err(StreamError::PodNotFound { .. }) => {
                return text(StatusCode::NOT_FOUND, "pod does not exist")
            }
            Err(
                StreamError::ContainerNotRunning { .. } | StreamError::ContainerNotInSpec { .. },
            ) => {
                let message = format!("container not found ({})", go_quote(&container));
                return text(StatusCode::INTERNAL_SERVER_ERROR, &message);
            }
            _ => {}
        }
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => {
                    let ws = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        None,
                    )
                    .await;
                    exec::run(ws, session, kind, streams).await;
                }
                Err(e) => tracing::debug!(error = %e, "streaming upgrade failed"),
            }
        });
        switching_protocols(&accept)
    }
}

/// The `Sec-WebSocket-Accept` value for a WebSocket v5 upgrade request, or why the request
/// is not one.
fn websocket_accept(headers: &HeaderMap) -> Result<String, &'static str> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(header::CONNECTION, "upgrade") {
        return Err("Upgrade request required");
    }
    if !has(header::UPGRADE, "websocket") {
        return Err("unable to upgrade: only WebSocket is supported");
    }
    if !has(header::SEC_WEBSOCKET_PROTOCOL, PROTOCOL_V5) {
        return Err("unable to upgrade: the v5.channel.k8s.io subprotocol is required");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err("unable to upgrade: unsupported WebSocket version");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("unable to upgrade: missing Sec-WebSocket-Key")?;
    Ok(derive_accept_key(key.as_bytes()))
}

fn switching_protocols(accept: &str) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(PROTOCOL_V5),
    );
    if let Ok(accept) = HeaderValue::from_str(accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    resp
}

/// The kubelet's answers for a log that cannot be read.
fn log_error(e: &StreamError, pod: &PodRef, container: &str) -> Response<Body> {
    match e {
        StreamError::PodNotFound { .. } => {
            let message = format!("pod {} does not exist", go_quote(&pod.name));
            text(StatusCode::NOT_FOUND, &message)
        }
        StreamError::ContainerNotInSpec { .. } => {
            let message = format!(
                "container {} not found in pod {}",
                go_quote(container),
                go_quote(&pod.name)
            );
            text(StatusCode::NOT_FOUND, &message)
        }
        StreamError::LogUnavailable { why, .. } => text(
            StatusCode::BAD_REQUEST,
            &logs::unavailable_message(why, container, &pod.name),
        ),
        other => text(StatusCode::BAD_REQUEST, &other.chain()),
    }
}

/// `/{exec|attach|containerLogs}/{namespace}/{pod}/{container}`.
fn route(path: &str) -> Option<(Endpoint, PodRef, String)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [endpoint, namespace, name, container] = parts.as_slice() else {
        return None;
    };
    let endpoint = match *endpoint {
        "exec" => Endpoint::Exec,
        "attach" => Endpoint::Attach,
        "containerLogs" => Endpoint::Logs,
        _ => return None,
    };
    if [namespace, name, container].iter().any(|p| p.is_empty()) {
        return None;
    }
    let pod = PodRef {
        namespace: (*namespace).to_string(),
        name: (*name).to_string(),
    };
    Some((endpoint, pod, (*container).to_string()))
}

fn empty() -> Body {
    Full::new(Bytes::new()).boxed()
}

fn text(code: StatusCode, message: &str) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(message.to_string())).boxed());
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A chunked body fed by a channel; it ends when the sender is dropped.
fn body_from(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(Frame::data(chunk)), rx))
    });
    StreamBody::new(stream).boxed()
}
