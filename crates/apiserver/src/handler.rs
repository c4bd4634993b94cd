//! Request dispatch: authentication check, routing, verbs, and per-request metrics.

use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use ferry_api::ApiError;

use crate::context::Ctx;
use crate::metrics::{DurationLabels, RequestLabels};
use crate::request::{negotiate, resource_for, route, Query, ResourcePath, Route};
use crate::response::{self, Body};
use crate::rest::{self, UpdateScope};
use crate::{binding, discovery, openapi, scale, streaming, version, watch, ApiServer};

/// An authenticated caller (from its client certificate: CN = name, O = groups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// Paths anyone may read without credentials, as kube-apiserver's `system:public-info-viewer`.
fn is_public(route: &Route) -> bool {
    matches!(route, Route::Version | Route::Health(_))
}

impl ApiServer {
    /// Answers one request; `user` is `None` for anonymous callers.
    pub async fn handle(&self, req: Request<Bytes>, user: Option<User>) -> Response<Body> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let route = route(parts.uri.path());
        if user.is_none() && !is_public(&route) {
            return response::error(&ApiError::unauthorized());
        }
        let query = Query::parse(parts.uri.query());
        let resp = match &route {
            Route::Resource(path) => {
                let verb = verb_name(&parts.method, path, &query);
                let labels = (verb, path.clone());
                let resp = self
                    .resource(path.clone(), &parts.method, parts.headers, query, &body)
                    .await
                    .unwrap_or_else(|e| response::error(&e));
                self.observe(&labels.0, &labels.1, resp.status(), started);
                resp
            }
            other => self.non_resource(other, &parts.headers, &query),
        };
        resp
    }

    fn observe(&self, verb: &str, path: &ResourcePath, code: StatusCode, started: Instant) {
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                verb: verb.to_string(),
                group: path.group.clone(),
                version: path.version.clone(),
                resource: path.resource.clone(),
                subresource: path.subresource.clone().unwrap_or_default(),
                code: code.as_u16().to_string(),
            })
            .inc();
        if verb != "WATCH" {
            self.metrics
                .durations
                .get_or_create(&DurationLabels {
                    verb: verb.to_string(),
                    group: path.group.clone(),
                    version: path.version.clone(),
                    resource: path.resource.clone(),
                })
                .observe(started.elapsed().as_secs_f64());
        }
    }

    fn non_resource(
        &self,
        route: &Route,
        headers: &http::HeaderMap,
        query: &Query,
    ) -> Response<Body> {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        match route {
            Route::Version => response::json(StatusCode::OK, &version::document()),
            Route::Health(_) => response::text(StatusCode::OK, "ok"),
            Route::Metrics => {
                let mut resp = Response::new(response::full(self.metrics.render()));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                resp
            }
            Route::CoreGroup | Route::Groups => {
                let core = matches!(route, Route::CoreGroup);
                match discovery::wants_aggregated(accept) {
                    Some(media) => {
                        let api_version = if media == discovery::AGGREGATED_V2 {
                            "apidiscovery.k8s.io/v2"
                        } else {
                            "apidiscovery.k8s.io/v2beta1"
                        };
                        response::json_with(
                            StatusCode::OK,
                            media,
                            &discovery::aggregated(core, api_version),
                        )
                    }
                    None if core => response::json(
                        StatusCode::OK,
                        &discovery::api_versions(&format!(
                            "{}:{}",
                            self.config.advertise_address, self.config.secure_port
                        )),
                    ),
                    None => response::json(StatusCode::OK, &discovery::api_group_list()),
                }
            }
            Route::Group(g) => match discovery::api_group(g) {
                Some(doc) => response::json(StatusCode::OK, &doc),
                None => response::error(&ApiError::no_such_path()),
            },
            Route::GroupVersion { group, version } => {
                match discovery::api_resource_list(group, version) {
                    Some(doc) => response::json(StatusCode::OK, &doc),
                    None => response::error(&ApiError::no_such_path()),
                }
            }
            Route::OpenApiV3Root => response::json(StatusCode::OK, &openapi::root()),
            Route::OpenApiV3 { group, version } => {
                match openapi::group_version_document(group, version) {
                    Some(doc) => openapi_answer(&doc, query),
                    None => response::error(&ApiError::no_such_path()),
                }
            }
            Route::OpenApiV2 if accept.is_some_and(|a| a.contains(openapi::V2_PROTOBUF)) => {
                let mut resp = Response::new(response::full(openapi::v2_protobuf()));
                // The requested media type is no valid MIME type for Go's parser; upstream
                // answers with a plain binary type.
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                resp
            }
            Route::OpenApiV2 | Route::NotFound | Route::Resource(_) => {
                response::error(&ApiError::no_such_path())
            }
        }
    }

    async fn resource(
        &self,
        path: ResourcePath,
        method: &Method,
        headers: http::HeaderMap,
        query: Query,
        body: &[u8],
    ) -> Result<Response<Body>, ApiError> {
        let info = resource_for(&path).ok_or_else(ApiError::no_such_path)?;
        if info.namespaced && path.name.is_some() && path.namespace.is_none() {
            return Err(ApiError::no_such_path());
        }
        if let Some(sub) = &path.subresource {
            if !info.has_subresource(sub) {
                return Err(ApiError::no_such_path());
            }
        }
        let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
        let watching = query.flag("watch") || path.watch_prefix;
        let ctx = Ctx {
            info,
            path,
            query,
            format,
            headers,
        };
        let verb = verb_name(method, &ctx.path, &ctx.query);
        if !info.verbs.contains(&verb.to_lowercase().as_str()) && ctx.path.subresource.is_none() {
            return Err(ApiError::method_not_allowed());
        }
        let sub = ctx.path.subresource.clone();
        match (method, ctx.path.name.is_some(), sub.as_deref()) {
            (&Method::GET, false, None) if watching => watch::watch(self, ctx).await,
            (&Method::GET, false, None) => rest::list(self, &ctx).await,
            (&Method::GET, true, None | Some("status")) => rest::get(self, &ctx).await,
            (&Method::GET, true, Some("scale")) => scale::get(self, &ctx).await,
            (&Method::POST, false, None) => rest::create(self, &ctx, body).await,
            (&Method::POST, true, Some("binding")) => binding::create(self, &ctx, body).await,
            (&Method::PUT, true, None) => rest::update(self, &ctx, body, UpdateScope::Main).await,
            (&Method::PUT, true, Some("status")) => {
                rest::update(self, &ctx, body, UpdateScope::Status).await
            }
            (&Method::PUT, true, Some("finalize")) => {
                rest::update(self, &ctx, body, UpdateScope::Finalize).await
            }
            (&Method::PUT, true, Some("scale")) => scale::write(self, &ctx, body, false).await,
            (&Method::PATCH, true, None) => rest::patch(self, &ctx, body, UpdateScope::Main).await,
            (&Method::PATCH, true, Some("status")) => {
                rest::patch(self, &ctx, body, UpdateScope::Status).await
            }
            (&Method::PATCH, true, Some("scale")) => scale::write(self, &ctx, body, true).await,
            (&Method::DELETE, true, None) => rest::delete(self, &ctx, body).await,
            (&Method::DELETE, false, None) => rest::delete_collection(self, &ctx, body).await,
            (&Method::GET, true, Some("log")) => streaming::log(self, &ctx).await,
            (_, true, Some("exec" | "attach" | "portforward")) => {
                streaming::without_upgrade(self, &ctx).await
            }
            _ => Err(ApiError::method_not_allowed()),
        }
    }
}

/// The Kubernetes verb of a request, for metrics and verb checks.
fn verb_name(method: &Method, path: &ResourcePath, query: &Query) -> String {
    let named = path.name.is_some();
    match *method {
        Method::GET if !named && (query.flag("watch") || path.watch_prefix) => "WATCH",
        Method::GET if named => "GET",
        Method::GET => "LIST",
        Method::POST => "CREATE",
        Method::PUT => "UPDATE",
        Method::PATCH => "PATCH",
        Method::DELETE if named => "DELETE",
        Method::DELETE => "DELETECOLLECTION",
        _ => "UNKNOWN",
    }
    .to_string()
}

/// An OpenAPI document, cacheable forever when asked for by its hash.
fn openapi_answer(doc: &serde_json::Value, query: &Query) -> Response<Body> {
    let hash = openapi::document_hash(doc);
    let mut resp = response::json(StatusCode::OK, doc);
    let cache = if query.get("hash") == Some(hash.as_str()) {
        "public, immutable"
    } else {
        "no-cache, private"
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}
