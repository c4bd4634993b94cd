//! The in-process transport: controllers in `ferry up` call the API server's request handler
//! directly, through the same path (authentication, validation, watch) as remote clients.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;

use ferry_apiserver::{ApiServer, User};
use ferry_runtime::{Transport, TransportFuture};

/// Sends requests to an [`ApiServer`] in this process as a fixed user.
pub struct InProcess {
    server: Arc<ApiServer>,
    user: User,
}

impl InProcess {
    pub fn new(server: Arc<ApiServer>, user: &str, groups: &[&str]) -> Self {
        InProcess {
            server,
            user: User {
                name: user.to_string(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            },
        }
    }
}

impl Transport for InProcess {
    fn send(&self, request: Request<Bytes>) -> TransportFuture {
        let server = self.server.clone();
        let user = self.user.clone();
        Box::pin(async move {
            let resp = server.handle(request, Some(user)).await;
            Ok(resp.map(|body| body.map_err(|never| match never {}).boxed()))
        })
    }
}
