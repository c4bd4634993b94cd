//! The `scale` subresource of deployments, replica sets and replication controllers, answered
//! as `autoscaling/v1` Scale objects and written through the parent's update path.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use ferry_api::field::FieldError;
use ferry_api::selector::LabelSelector;
use ferry_api::ApiError;

use crate::context::Ctx;
use crate::object;
use crate::response::{self, Body};
use crate::rest::{self, UpdateScope};
use crate::ApiServer;

/// The label selector of the parent as a string (`app=kubia`).
fn selector_string(kind: &str, parent: &Value) -> String {
    let selector = parent
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or(Value::Null);
    if kind == "ReplicationController" {
        let mut pairs: Vec<String> = selector
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        pairs.sort();
        return pairs.join(",");
    }
    LabelSelector::from_label_selector(&selector)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn scale_of(ctx: &Ctx, parent: &Value) -> Value {
    let meta = object::metadata(parent).cloned().unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": parent.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": parent.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector_string(ctx.info.kind, parent),
        },
    })
}

pub(crate) async fn get(srv: &ApiServer, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let key = object::object_key(ctx.info, ctx.namespace(), ctx.name());
    let (parent, _) = srv
        .load(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.info.group_resource(), ctx.name()))?;
    Ok(response::json(StatusCode::OK, &scale_of(ctx, &parent)))
}

/// PUT or PATCH of the scale: computes the new Scale, then updates the parent's replicas.
pub(crate) async fn write(
    srv: &ApiServer,
    ctx: &Ctx,
    body: &[u8],
    is_patch: bool,
) -> Result<Response<Body>, ApiError> {
    let key = object::object_key(ctx.info, ctx.namespace(), ctx.name());
    let (parent, _) = srv
        .load(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.info.group_resource(), ctx.name()))?;
    let current = scale_of(ctx, &parent);
    let wanted: Value = if is_patch {
        let media = ctx
            .header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let patch_type =
            ferry_api::patch::PatchType::from_content_type(&media).ok_or_else(|| {
                ApiError::unsupported_media_type(&media, &["application/merge-patch+json"])
            })?;
        ferry_api::patch::apply_patch(
            ferry_api::patch::PatchKindRef::new("autoscaling", "Scale"),
            &current,
            patch_type,
            body,
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?
    } else {
        rest::decode_body(ctx, body)?
    };
    let replicas = wanted
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        let errs = [FieldError::invalid(
            "spec.replicas",
            replicas,
            "must be greater than or equal to 0",
        )];
        return Err(ApiError::invalid("autoscaling", "Scale", ctx.name(), &errs));
    }
    if let Some(rv) = object::meta_str(&wanted, "resourceVersion").filter(|rv| !rv.is_empty()) {
        if Some(rv) != object::meta_str(&parent, "resourceVersion") {
            return Err(ApiError::stale(&ctx.info.group_resource(), ctx.name()));
        }
    }
    let mut updated = parent.clone();
    updated["spec"]["replicas"] = json!(replicas);
    let body = serde_json::to_vec(&updated).map_err(ApiError::internal)?;
    let mut parent_ctx = ctx.clone_for_parent();
    parent_ctx.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let resp = rest::update(srv, &parent_ctx, &body, UpdateScope::Main).await?;
    let _ = resp;
    let (parent, _) = srv
        .load(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.info.group_resource(), ctx.name()))?;
    Ok(response::json(StatusCode::OK, &scale_of(ctx, &parent)))
}
