//! `GET .../pods/NAME/log`: the container's log from its node agent, streamed through as
//! `text/plain`, with the agent's refusals turned into `Status` errors as kube-apiserver's
//! `GenericHttpResponseChecker` does.

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use ferry_api::status::Details;
use ferry_api::ApiError;

use crate::context::Ctx;
use crate::response::{self, Body};
use crate::streaming::agent;
use crate::ApiServer;

/// How much of an agent's error body is read (upstream's `maxReadLength`).
const MAX_ERROR_BODY: usize = 50_000;

/// The `PodLogOptions` the agent receives, in upstream's order of names.
const FORWARDED: &[&str] = &[
    "follow",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "tailLines",
    "timestamps",
];
const FLAGS: &[&str] = &["follow", "previous", "timestamps"];

pub(crate) async fn get(srv: &ApiServer, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let pc = srv
        .pod_container(
            ctx.namespace().unwrap_or(""),
            ctx.name(),
            ctx.query.get("container"),
        )
        .await?;
    if pc.node.is_none() {
        // A pod without a node has no log yet: upstream answers with an empty stream.
        let (_, resp) = response::streamed("text/plain");
        return Ok(resp);
    }
    let target = srv.stream_target(pc).await?;
    let query = FORWARDED
        .iter()
        .filter_map(|key| {
            let value = ctx.query.get(key)?;
            if FLAGS.contains(key) {
                go_bool(value).then(|| (*key, "true".to_string()))
            } else {
                Some((*key, value.to_string()))
            }
        })
        .collect();
    let path = agent::path("containerLogs", &target, query);
    let stream = agent::connect(&srv.agent_tls, target.agent)
        .await
        .map_err(ApiError::internal)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ApiError::internal)?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header(header::HOST, target.agent.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(ApiError::internal)?;
    let resp = sender.send_request(req).await.map_err(ApiError::internal)?;
    if !resp.status().is_success() {
        let code = resp.status();
        let body = Limited::new(resp.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(agent_error(
            code,
            &String::from_utf8_lossy(&body),
            ctx.name(),
        ));
    }
    let (tx, out) = response::streamed("text/plain");
    let mut body = resp.into_body();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                if tx.send(data).await.is_err() {
                    // The client left; dropping the body ends the agent's stream too.
                    return;
                }
            }
        }
    });
    Ok(out)
}

fn go_bool(value: &str) -> bool {
    !matches!(value.to_ascii_lowercase().as_str(), "" | "false" | "0")
}

/// An agent's error answer as the API's `Status` (upstream's `GenericHttpResponseChecker`).
fn agent_error(code: StatusCode, body: &str, name: &str) -> ApiError {
    match code.as_u16() {
        500 => ApiError::internal(body),
        400 => ApiError::bad_request(body),
        code => generic_server_response(code, body, name),
    }
}

/// apimachinery's `NewGenericServerResponse` for `pods/log`, with an empty verb.
fn generic_server_response(code: u16, body: &str, name: &str) -> ApiError {
    let (reason, message) = match code {
        404 => (
            "NotFound",
            "the server could not find the requested resource".to_string(),
        ),
        401 => (
            "Unauthorized",
            "the server has asked for the client to provide credentials".to_string(),
        ),
        403 => ("Forbidden", body.to_string()),
        405 => (
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
        ),
        422 => (
            "Invalid",
            "the server rejected our request due to an error in our request".to_string(),
        ),
        c if c >= 500 => (
            "InternalError",
            format!("an error on the server ({body:?}) has prevented the request from succeeding"),
        ),
        c => (
            "Unknown",
            format!(
                "the server responded with the status code {c} but did not return more information"
            ),
        ),
    };
    ApiError {
        code,
        reason,
        message: format!("{message} ( pods/log {name})"),
        details: Some(Box::new(Details {
            name: name.to_string(),
            kind: "pods/log".to_string(),
            ..Details::default()
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_errors_become_statuses() {
        let waiting = r#"container "c" in pod "p" is waiting to start: ContainerCreating"#;
        let e = agent_error(StatusCode::BAD_REQUEST, waiting, "p");
        assert_eq!(
            (e.code, e.reason, e.message.as_str()),
            (400, "BadRequest", waiting)
        );
        let e = agent_error(StatusCode::NOT_FOUND, r#"pod "p" does not exist"#, "p");
        assert_eq!(
            (e.code, e.reason, e.message.as_str()),
            (
                404,
                "NotFound",
                "the server could not find the requested resource ( pods/log p)"
            )
        );
        let e = agent_error(StatusCode::INTERNAL_SERVER_ERROR, "boom", "p");
        assert_eq!(e.message, "Internal error occurred: boom");
    }
}
