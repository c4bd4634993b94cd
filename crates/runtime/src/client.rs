//! The REST client: paths for resources, JSON bodies, Status errors turned into [`ClientError`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use serde_json::Value;

use ferry_api::ResourceInfo;

use crate::watch::WatchStream;

/// A response body from any transport.
pub type ResponseBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The future a transport answers with.
pub type TransportFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, ClientError>> + Send>>;

/// Carries a request to the API server and its response back.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: Request<Bytes>) -> TransportFuture;
}

/// What went wrong talking to the API server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a Status error.
    #[error("{code} {reason}: {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    #[error("transport")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("decode response")]
    Decode(#[source] serde_json::Error),
    #[error("build request")]
    Request(#[source] http::Error),
}

impl ClientError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { code: 404, .. })
    }
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Api { code: 409, .. })
    }
    /// 410 Gone: a resourceVersion older than the server keeps.
    pub fn is_gone(&self) -> bool {
        matches!(self, ClientError::Api { code: 410, .. })
    }
}

/// Builds `/api/v1/namespaces/default/services[/name]` for a resource.
pub fn resource_path(info: &ResourceInfo, namespace: Option<&str>, name: Option<&str>) -> String {
    let base = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    let mut path = match namespace {
        Some(ns) if info.namespaced => format!("{base}/namespaces/{ns}/{}", info.plural),
        _ => format!("{base}/{}", info.plural),
    };
    if let Some(name) = name {
        path.push('/');
        path.push_str(name);
    }
    path
}

/// Label and field selectors of a list or watch (`labelSelector`, `fieldSelector`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selectors<'a> {
    pub labels: Option<&'a str>,
    pub fields: Option<&'a str>,
}

impl Selectors<'_> {
    /// Appends the selectors as query parameters to `uri`, which may already have a query.
    fn append_to(&self, uri: &mut String) {
        for (name, value) in [
            ("labelSelector", self.labels),
            ("fieldSelector", self.fields),
        ] {
            if let Some(value) = value {
                uri.push(if uri.contains('?') { '&' } else { '?' });
                uri.push_str(name);
                uri.push('=');
                uri.push_str(&encode_query(value));
            }
        }
    }
}

/// Where a watch starts and what it selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchParams<'a> {
    pub resource_version: &'a str,
    pub selectors: Selectors<'a>,
    /// Asks the server to end the watch after this long (`timeoutSeconds`), so that a
    /// connection that died silently is noticed and the watch resumed.
    pub timeout: Option<std::time::Duration>,
}

/// A client of the Kubernetes API.
#[derive(Clone)]
pub struct Client {
    transport: Arc<dyn Transport>,
}

impl Client {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Client { transport }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Response<ResponseBody>, ClientError> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(body)
            .map_err(ClientError::Request)?;
        let resp = self.transport.send(req).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let code = resp.status();
        let bytes = read_body(resp).await?;
        Err(status_error(code, &bytes))
    }

    async fn call_json(
        &self,
        method: Method,
        uri: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let bytes = match body {
            Some(v) => Bytes::from(serde_json::to_vec(v).map_err(ClientError::Decode)?),
            None => Bytes::new(),
        };
        let resp = self.call(method, uri, content_type, bytes).await?;
        let bytes = read_body(resp).await?;
        serde_json::from_slice(&bytes).map_err(ClientError::Decode)
    }

    pub async fn get(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ClientError> {
        self.call_json(
            Method::GET,
            &resource_path(info, namespace, Some(name)),
            "application/json",
            None,
        )
        .await
    }

    /// Lists a collection; returns the items and the list's resourceVersion.
    pub async fn list(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<(Vec<Value>, String), ClientError> {
        let selectors = Selectors {
            labels: label_selector,
            fields: None,
        };
        self.list_selected(info, namespace, selectors).await
    }

    /// Lists the objects of a collection that match label and field selectors; returns them
    /// and the list's resourceVersion.
    pub async fn list_selected(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        selectors: Selectors<'_>,
    ) -> Result<(Vec<Value>, String), ClientError> {
        let mut uri = resource_path(info, namespace, None);
        selectors.append_to(&mut uri);
        let list = self
            .call_json(Method::GET, &uri, "application/json", None)
            .await?;
        let rv = list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok((items, rv))
    }

    /// Watches a collection from `resource_version`.
    pub async fn watch(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        resource_version: &str,
    ) -> Result<WatchStream, ClientError> {
        let params = WatchParams {
            resource_version,
            ..WatchParams::default()
        };
        self.watch_selected(info, namespace, &params).await
    }

    /// Watches the objects of a collection that match the selectors, from a resourceVersion;
    /// an object that stops matching arrives as DELETED.
    pub async fn watch_selected(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        params: &WatchParams<'_>,
    ) -> Result<WatchStream, ClientError> {
        let mut uri = format!(
            "{}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
            resource_path(info, namespace, None),
            encode_query(params.resource_version)
        );
        if let Some(timeout) = params.timeout {
            uri.push_str(&format!("&timeoutSeconds={}", timeout.as_secs().max(1)));
        }
        params.selectors.append_to(&mut uri);
        let resp = self
            .call(Method::GET, &uri, "application/json", Bytes::new())
            .await?;
        Ok(WatchStream::new(resp.into_body()))
    }

    pub async fn create(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<Value, ClientError> {
        self.call_json(
            Method::POST,
            &resource_path(info, namespace, None),
            "application/json",
            Some(object),
        )
        .await
    }

    pub async fn update(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
    ) -> Result<Value, ClientError> {
        self.call_json(
            Method::PUT,
            &resource_path(info, namespace, Some(name)),
            "application/json",
            Some(object),
        )
        .await
    }

    /// PUT to a subresource (`status`, `finalize`).
    pub async fn update_subresource(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        subresource: &str,
        object: &Value,
    ) -> Result<Value, ClientError> {
        let target = (info, namespace, name, subresource);
        self.subresource_call(Method::PUT, target, object).await
    }

    /// POST to a subresource (`binding`).
    pub async fn create_subresource(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        subresource: &str,
        object: &Value,
    ) -> Result<Value, ClientError> {
        let target = (info, namespace, name, subresource);
        self.subresource_call(Method::POST, target, object).await
    }

    async fn subresource_call(
        &self,
        method: Method,
        (info, namespace, name, subresource): (&ResourceInfo, Option<&str>, &str, &str),
        object: &Value,
    ) -> Result<Value, ClientError> {
        let uri = format!(
            "{}/{subresource}",
            resource_path(info, namespace, Some(name))
        );
        self.call_json(method, &uri, "application/json", Some(object))
            .await
    }

    pub async fn merge_patch(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ClientError> {
        self.call_json(
            Method::PATCH,
            &resource_path(info, namespace, Some(name)),
            "application/merge-patch+json",
            Some(patch),
        )
        .await
    }

    /// Deletes with background propagation, guarded by the object's uid when given.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        uid: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut options = serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
        if let Some(uid) = uid {
            options["preconditions"] = serde_json::json!({"uid": uid});
        }
        self.call_json(
            Method::DELETE,
            &resource_path(info, namespace, Some(name)),
            "application/json",
            Some(&options),
        )
        .await
        .map(|_| ())
    }

    /// Deletes with grace period 0, guarded by the object's uid: how a node agent removes a
    /// pod whose containers it has stopped (a plain DELETE of a terminating pod changes
    /// nothing).
    pub async fn delete_now(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        uid: &str,
    ) -> Result<(), ClientError> {
        let options = serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "propagationPolicy": "Background", "preconditions": {"uid": uid}});
        self.call_json(
            Method::DELETE,
            &resource_path(info, namespace, Some(name)),
            "application/json",
            Some(&options),
        )
        .await
        .map(|_| ())
    }
}

async fn read_body(resp: Response<ResponseBody>) -> Result<Bytes, ClientError> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(ClientError::Transport)
}

fn status_error(code: StatusCode, body: &[u8]) -> ClientError {
    let status: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    ClientError::Api {
        code: code.as_u16(),
        reason: status
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        message: status
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    }
}

/// Percent-encodes a query value.
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_rest_conventions() {
        let svc = ferry_api::resource::find("", "v1", "services")
            .map(|r| resource_path(r, Some("default"), Some("kubia")));
        assert_eq!(
            svc.as_deref(),
            Some("/api/v1/namespaces/default/services/kubia")
        );
        let ns = ferry_api::resource::find("", "v1", "namespaces")
            .map(|r| resource_path(r, Some("x"), None));
        assert_eq!(ns.as_deref(), Some("/api/v1/namespaces"));
        let rs = ferry_api::resource::find("apps", "v1", "replicasets")
            .map(|r| resource_path(r, None, None));
        assert_eq!(rs.as_deref(), Some("/apis/apps/v1/replicasets"));
        assert_eq!(
            encode_query("app=kubia,x in (a)"),
            "app%3Dkubia%2Cx%20in%20%28a%29"
        );
    }

    #[test]
    fn selectors_become_query_parameters() {
        let mut uri = "/api/v1/pods".to_string();
        Selectors::default().append_to(&mut uri);
        assert_eq!(uri, "/api/v1/pods");
        Selectors {
            labels: Some("app=kubia"),
            fields: Some("spec.nodeName=node-1"),
        }
        .append_to(&mut uri);
        assert_eq!(
            uri,
            "/api/v1/pods?labelSelector=app%3Dkubia&fieldSelector=spec.nodeName%3Dnode-1"
        );
        let mut watch = "/api/v1/pods?watch=true".to_string();
        Selectors {
            labels: None,
            fields: Some("spec.nodeName=n"),
        }
        .append_to(&mut watch);
        assert_eq!(
            watch,
            "/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn"
        );
    }
}
