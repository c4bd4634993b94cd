//! The `binding` subresource of pods: `POST .../pods/NAME/binding` with a v1 Binding assigns an
//! unassigned pod to a node, as kube-apiserver's `BindingREST` does. It is the scheduler's way
//! of setting `spec.nodeName`, which a pod update may never change.

use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use ferry_api::field::{aggregate, FieldError, Path};
use ferry_api::status::GroupResource;
use ferry_api::ApiError;
use ferry_store::Txn;

use crate::context::Ctx;
use crate::object::{self, object_key};
use crate::response::{self, Body};
use crate::rest::{self, decode_stored, encode_for_store};
use crate::ApiServer;

/// How many times the write is retried when the pod changed underneath it
/// (`GuaranteedUpdate`'s loop).
const RETRIES: usize = 5;

/// What a valid Binding asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    node: String,
    annotations: Map<String, Value>,
    precondition_uid: Option<String>,
    precondition_rv: Option<String>,
}

pub(crate) async fn create(
    srv: &ApiServer,
    ctx: &Ctx,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let body = rest::decode_body(ctx, body)?;
    let binding = parse(ctx, &body)?;
    let key = object_key(ctx.info, ctx.namespace(), ctx.name());
    let pods = ctx.info.group_resource();
    for _ in 0..RETRIES {
        let kv = srv
            .store
            .get(&key)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(&pods, ctx.name()))?;
        let mut pod = decode_stored(&kv)?;
        check_preconditions(&binding, &pod, kv.mod_revision, &pods)?;
        assign(&mut pod, &binding, &object::now_rfc3339()).map_err(|why| {
            ApiError::conflict(&GroupResource::new("", "pods/binding"), ctx.name(), &why)
        })?;
        if ctx.dry_run() {
            return Ok(success());
        }
        let txn = Txn::update(key.clone(), kv.mod_revision, encode_for_store(&pod)?);
        let resp = srv.store.txn(txn).await.map_err(ApiError::internal)?;
        if resp.succeeded {
            return Ok(success());
        }
    }
    Err(ApiError::stale(&pods, ctx.name()))
}

/// The `Status` a successful binding answers with (code 201, as any create).
fn success() -> Response<Body> {
    response::json(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

/// Reads and validates the Binding (`ValidatePodBinding`) against the request.
fn parse(ctx: &Ctx, body: &Value) -> Result<Binding, ApiError> {
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if !kind.is_empty() && kind != "Binding" {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind (Binding)"
            )));
        }
    }
    if object::name(body) != ctx.name() {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Binding object",
        ));
    }
    if let (Some(given), Some(ns)) = (object::namespace(body), ctx.namespace()) {
        if !given.is_empty() && given != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let target = body.get("target").cloned().unwrap_or(Value::Null);
    let text = |field: &str| {
        target
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (kind, node) = (text("kind"), text("name"));
    let mut errors = Vec::new();
    if !kind.is_empty() && kind != "Node" {
        errors.push(FieldError::not_supported(
            Path::new("target").child("kind"),
            kind.as_str(),
            &["Node", "<empty>"],
        ));
    }
    if node.is_empty() {
        errors.push(FieldError::required(Path::new("target").child("name"), ""));
    }
    if !errors.is_empty() {
        // Upstream returns the bare field error list, which the handler answers as an
        // unclassified 500.
        return Err(ApiError {
            code: 500,
            reason: "",
            message: aggregate(&errors),
            details: None,
        });
    }
    let meta_text = |field: &str| {
        object::meta_str(body, field)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(Binding {
        node,
        annotations: object::metadata(body)
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        precondition_uid: meta_text("uid"),
        precondition_rv: meta_text("resourceVersion"),
    })
}

/// The Binding's uid and resourceVersion are preconditions on the pod.
fn check_preconditions(
    binding: &Binding,
    pod: &Value,
    revision: i64,
    pods: &GroupResource,
) -> Result<(), ApiError> {
    let name = object::name(pod);
    if let Some(uid) = &binding.precondition_uid {
        let actual = object::meta_str(pod, "uid").unwrap_or("");
        if uid != actual {
            return Err(ApiError::conflict(
                pods,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &binding.precondition_rv {
        if rv != &revision.to_string() {
            return Err(ApiError::conflict(
                pods,
                name,
                &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"),
            ));
        }
    }
    Ok(())
}

/// Sets the node of an unassigned pod, merges the binding's annotations and marks the pod
/// `PodScheduled`; the error says why the pod cannot be bound.
fn assign(pod: &mut Value, binding: &Binding, now: &str) -> Result<(), String> {
    let name = object::name(pod).to_string();
    if object::is_deleting(pod) {
        return Err(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        ));
    }
    let current = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !current.is_empty() {
        return Err(format!(
            "pod {name} is already assigned to node \"{current}\""
        ));
    }
    let gated = pod
        .pointer("/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    if gated {
        return Err(format!("pod {name} has non-empty .spec.schedulingGates"));
    }
    pod["spec"]["nodeName"] = Value::from(binding.node.clone());
    if !binding.annotations.is_empty() {
        if let Some(meta) = object::metadata_mut(pod) {
            let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(map) = annotations.as_object_mut() {
                map.extend(binding.annotations.clone());
            }
        }
    }
    set_scheduled(pod, now);
    Ok(())
}

/// `UpdatePodCondition` with `PodScheduled: True`: the transition time moves only when the
/// status changes; reason and message are cleared.
fn set_scheduled(pod: &mut Value, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let conditions = pod["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(list) = conditions.and_then(Value::as_array_mut) else {
        return;
    };
    let position = list
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"));
    let mut condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    match position {
        Some(i) => {
            if list[i].get("status").and_then(Value::as_str) == Some("True") {
                if let Some(t) = list[i].get("lastTransitionTime") {
                    condition["lastTransitionTime"] = t.clone();
                }
            }
            list[i] = condition;
        }
        None => list.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(node: &str) -> Binding {
        Binding {
            node: node.into(),
            annotations: Map::new(),
            precondition_uid: None,
            precondition_rv: None,
        }
    }

    fn pod(extra_spec: Value, status: Value) -> Value {
        let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
            s.extend(e.clone());
        }
        json!({"metadata": {"name": "p1", "namespace": "default", "uid": "u1"}, "spec": spec, "status": status})
    }

    #[test]
    fn an_unassigned_pod_gets_its_node_and_the_scheduled_condition() {
        let mut p = pod(
            json!({}),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/0", "lastTransitionTime": "2020-01-01T00:00:00Z"}
            ]}),
        );
        let mut b = binding("node-1");
        b.annotations.insert("a".into(), json!("b"));
        assign(&mut p, &b, "2024-05-01T10:00:00Z").unwrap();
        assert_eq!(p["spec"]["nodeName"], "node-1");
        assert_eq!(p["metadata"]["annotations"], json!({"a": "b"}));
        assert_eq!(
            p["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:00Z"}])
        );
    }

    #[test]
    fn bound_deleting_and_gated_pods_are_refused_with_upstream_reasons() {
        let cases = [
            (
                pod(json!({"nodeName": "node-2"}), json!({})),
                "pod p1 is already assigned to node \"node-2\"",
            ),
            (
                pod(json!({"schedulingGates": [{"name": "wait"}]}), json!({})),
                "pod p1 has non-empty .spec.schedulingGates",
            ),
        ];
        for (mut p, want) in cases {
            assert_eq!(assign(&mut p, &binding("n"), "t").unwrap_err(), want);
        }
        let mut deleting = pod(json!({}), json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert_eq!(
            assign(&mut deleting, &binding("n"), "t").unwrap_err(),
            "pod p1 is being deleted, cannot be assigned to a host"
        );
    }

    #[test]
    fn preconditions_name_uid_and_resource_version() {
        let pods = GroupResource::new("", "pods");
        let p = pod(json!({}), json!({}));
        let mut b = binding("n");
        b.precondition_uid = Some("other".into());
        assert_eq!(
            check_preconditions(&b, &p, 7, &pods).unwrap_err().message,
            "Operation cannot be fulfilled on pods \"p1\": Precondition failed: UID in precondition: other, UID in object meta: u1"
        );
        b.precondition_uid = Some("u1".into());
        b.precondition_rv = Some("7".into());
        assert!(check_preconditions(&b, &p, 7, &pods).is_ok());
    }
}
