//! `exec` and `attach`: the WebSocket v5 upgrade from the client, a v5 session to the node
//! agent, and frames pumped both ways until either side closes. Failures before the upgrade
//! are `Status` answers; the SPDY/3.1 retry kubectl makes after a refused WebSocket gets the
//! same answers, since both go through the same checks.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use ferry_api::status::stream_internal_error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::ClientRequestBuilder;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use ferry_api::ApiError;

use crate::context::Ctx;
use crate::handler::User;
use crate::request::{route, Query, ResourcePath, Route};
use crate::response::{self, Body};
use crate::streaming::agent;
use crate::streaming::location::StreamTarget;
use crate::ApiServer;

/// The only remote-command subprotocol served (kube-apiserver translates only v5 too).
const PROTOCOL_V5: &str = "v5.channel.k8s.io";
/// The error channel of the v5 protocol, where a session's final `Status` goes.
const ERROR_CHANNEL: u8 = 3;
/// How long one side may take to close after the other did.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// The pod subresources that are upgraded connections.
const UPGRADED: &[&str] = &["exec", "attach", "portforward"];

/// Whether a request asks to upgrade a pod stream (it must skip body collection).
pub(crate) fn is_stream_upgrade<B>(req: &Request<B>) -> bool {
    if !header_has(req.headers(), header::CONNECTION, "upgrade") {
        return false;
    }
    matches!(
        route(req.uri().path()),
        Route::Resource(p) if p.group.is_empty()
            && p.resource == "pods"
            && p.subresource.as_deref().is_some_and(|s| UPGRADED.contains(&s))
    )
}

/// Answers an upgrade request for a pod stream.
pub(crate) async fn upgrade(
    srv: &ApiServer,
    req: Request<Incoming>,
    user: Option<User>,
) -> Response<Body> {
    match upgrade_or_error(srv, req, user).await {
        Ok(resp) => resp,
        Err(e) => response::error(&e),
    }
}

/// A plain (not upgraded) request to an upgrade-only subresource: the pod checks, then
/// upstream's refusal.
pub(crate) async fn without_upgrade(
    srv: &ApiServer,
    ctx: &Ctx,
) -> Result<Response<Body>, ApiError> {
    let container = ctx.query.get("container");
    let pc = srv
        .pod_container(ctx.namespace().unwrap_or(""), ctx.name(), container)
        .await?;
    srv.stream_target(pc).await?;
    Err(ApiError::bad_request("Upgrade request required"))
}

async fn upgrade_or_error(
    srv: &ApiServer,
    mut req: Request<Incoming>,
    user: Option<User>,
) -> Result<Response<Body>, ApiError> {
    if user.is_none() {
        return Err(ApiError::unauthorized());
    }
    let Route::Resource(path) = route(req.uri().path()) else {
        return Err(ApiError::no_such_path());
    };
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(ApiError::method_not_allowed());
    }
    let ResourcePath {
        namespace: Some(namespace),
        name: Some(name),
        subresource: Some(sub),
        ..
    } = path
    else {
        return Err(ApiError::no_such_path());
    };
    let query = Query::parse(req.uri().query());
    let pc = srv
        .pod_container(&namespace, &name, query.get("container"))
        .await?;
    let target = srv.stream_target(pc).await?;
    if sub == "portforward" {
        return Err(ApiError::bad_request(
            "port forwarding is not supported by ferry yet",
        ));
    }
    let accept = websocket_accept(req.headers())?;
    let agent_path = agent::path(&sub, &target, agent_query(&sub, &query));
    let on_upgrade = hyper::upgrade::on(&mut req);
    let tls = srv.agent_tls.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let client =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                proxy(client, &tls, &target, &agent_path).await;
            }
            Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
        }
    });
    Ok(switching_protocols(&accept))
}

/// The `Sec-WebSocket-Accept` for a v5 WebSocket upgrade, or the refusal of anything else
/// (kubectl's SPDY retry among them).
fn websocket_accept(headers: &HeaderMap) -> Result<String, ApiError> {
    let websocket = header_has(headers, header::UPGRADE, "websocket");
    if !websocket || !header_has(headers, header::SEC_WEBSOCKET_PROTOCOL, PROTOCOL_V5) {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: only WebSocket with the {PROTOCOL_V5} subprotocol is supported (kubectl 1.30 or later)"
        )));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(ApiError::bad_request(
            "unable to upgrade connection: unsupported WebSocket version",
        ));
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or_else(|| {
        ApiError::bad_request("unable to upgrade connection: missing Sec-WebSocket-Key")
    })?;
    Ok(derive_accept_key(key.as_bytes()))
}

/// The agent's query: kube-apiserver passes the stream flags as `1` and every command word.
fn agent_query(sub: &str, query: &Query) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for flag in ["stdin", "stdout", "stderr", "tty"] {
        if query.get(flag).is_some_and(go_bool) {
            out.push((flag, "1".to_string()));
        }
    }
    if sub == "exec" {
        out.extend(query.all("command").iter().map(|c| ("command", c.clone())));
    }
    out
}

/// A boolean query parameter as apimachinery converts it: anything but empty, `false` or
/// `0` is true.
fn go_bool(value: &str) -> bool {
    !matches!(value.to_ascii_lowercase().as_str(), "" | "false" | "0")
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

fn switching_protocols(accept: &str) -> Response<Body> {
    let mut resp = Response::new(response::full(bytes::Bytes::new()));
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

/// Opens the agent's session and pumps frames; a failure to open it becomes the session's
/// final `Status`, as kube-apiserver's stream translator reports it.
async fn proxy<C>(
    client: WebSocketStream<C>,
    tls: &Arc<rustls::ClientConfig>,
    target: &StreamTarget,
    path: &str,
) where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match open_agent_session(tls, target, path).await {
        Ok(agent) => pump(client, agent).await,
        Err(status) => fail(client, &status).await,
    }
}

async fn open_agent_session(
    tls: &Arc<rustls::ClientConfig>,
    target: &StreamTarget,
    path: &str,
) -> Result<WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>, Value> {
    let stream = agent::connect(tls, target.agent)
        .await
        .map_err(|e| stream_internal_error(&e))?;
    let uri = format!("wss://{}{path}", target.agent)
        .parse()
        .map_err(|e| stream_internal_error(&format!("agent url: {e}")))?;
    let request = ClientRequestBuilder::new(uri).with_sub_protocol(PROTOCOL_V5);
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => {
            let body = resp.body().as_deref().unwrap_or_default();
            Err(refusal_status(body))
        }
        Err(e) => Err(stream_internal_error(&format!(
            "unable to upgrade connection: {e}"
        ))),
    }
}

/// What client-go's SPDY upgrader makes of a refused upgrade: the `Status` in the body, or
/// the body's text as an internal error.
fn refusal_status(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(status) if status["kind"] == "Status" => status,
        _ => stream_internal_error(&format!(
            "unable to upgrade connection: {}",
            String::from_utf8_lossy(body).trim()
        )),
    }
}

/// Ends a client session with `status` on the error channel.
async fn fail<C>(mut client: WebSocketStream<C>, status: &Value)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let mut frame = vec![ERROR_CHANNEL];
    frame.extend_from_slice(status.to_string().as_bytes());
    let _ = client.send(Message::Binary(frame.into())).await;
    let _ = client
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await;
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(msg)) = client.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Forwards data and close frames both ways; pings are answered by each side's WebSocket.
async fn pump<C, A>(client: WebSocketStream<C>, agent: WebSocketStream<A>)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut client_tx, mut client_rx) = client.split();
    let (mut agent_tx, mut agent_rx) = agent.split();
    let upstream = async move {
        while let Some(Ok(msg)) = client_rx.next().await {
            let close = matches!(msg, Message::Close(_));
            if (is_data(&msg) || close) && agent_tx.send(msg).await.is_err() {
                break;
            }
            if close {
                break;
            }
        }
        let _ = agent_tx.close().await;
    };
    let downstream = async move {
        while let Some(Ok(msg)) = agent_rx.next().await {
            let close = matches!(msg, Message::Close(_));
            if (is_data(&msg) || close) && client_tx.send(msg).await.is_err() {
                break;
            }
            if close {
                break;
            }
        }
        let _ = client_tx.close().await;
    };
    let mut upstream = tokio::spawn(upstream);
    let mut downstream = tokio::spawn(downstream);
    // When one direction ends, the other gets a grace period to deliver its close.
    tokio::select! {
        _ = &mut upstream => {
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut downstream).await;
        }
        _ = &mut downstream => {
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut upstream).await;
        }
    }
    upstream.abort();
    downstream.abort();
}

fn is_data(msg: &Message) -> bool {
    matches!(msg, Message::Binary(_) | Message::Text(_))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refusals_become_the_translators_statuses() {
        assert_eq!(
            refusal_status(b"container not found (\"c\")\n")["message"],
            "Internal error occurred: unable to upgrade connection: container not found (\"c\")"
        );
        let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "m", "code": 403});
        assert_eq!(refusal_status(status.to_string().as_bytes()), status);
    }

    #[test]
    fn agent_queries_carry_flags_as_ones() {
        let q = Query::parse(Some("command=sh&command=-c&command=exit+3&container=c&stdin=true&stdout=true&stderr=false&tty=1"));
        assert_eq!(
            agent_query("exec", &q),
            [
                ("stdin", "1".to_string()),
                ("stdout", "1".to_string()),
                ("tty", "1".to_string()),
                ("command", "sh".to_string()),
                ("command", "-c".to_string()),
                ("command", "exit 3".to_string()),
            ]
        );
        assert_eq!(agent_query("attach", &q).len(), 3);
    }
}
