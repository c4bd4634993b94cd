//! Pod admission on create, as kube-apiserver's `DefaultTolerationSeconds` plugin: a pod that
//! does not tolerate the `node.kubernetes.io/not-ready` or `node.kubernetes.io/unreachable`
//! NoExecute taints gets a 300 s toleration for each, so the taint eviction controller deletes
//! its pods only once their node has been down for five minutes.
//!
//! Upstream runs the plugin on updates of the main resource too; a pod update may only add
//! tolerations, so every pod created here already carries both and the update case changes
//! nothing. Running it on writes through `pods/status` (which share the update path here) would
//! be wrong, so it runs at create only.

use serde_json::{json, Value};

use ferry_api::ApiError;

use super::Claims;

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

pub(crate) fn prepare_create(object: &mut Value) -> Result<Claims, ApiError> {
    default_toleration_seconds(object);
    Ok(Claims::default())
}

/// Appends the default tolerations the pod lacks.
fn default_toleration_seconds(pod: &mut Value) {
    let missing: Vec<&str> = [NOT_READY_TAINT, UNREACHABLE_TAINT]
        .into_iter()
        .filter(|key| !tolerates_no_execute(pod, key))
        .collect();
    if missing.is_empty() {
        return;
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    if tolerations.is_null() {
        *tolerations = Value::Array(Vec::new());
    }
    let Some(tolerations) = tolerations.as_array_mut() else {
        return;
    };
    for key in missing {
        tolerations.push(json!({
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
        }));
    }
}

/// Whether some toleration names `key` (or every key) for NoExecute (or every effect); its
/// operator and value do not matter to the plugin.
fn tolerates_no_execute(pod: &Value, key: &str) -> bool {
    let text = |t: &Value, field: &str| -> String {
        t.get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    pod.pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .is_some_and(|tolerations| {
            tolerations.iter().any(|t| {
                let (k, effect) = (text(t, "key"), text(t, "effect"));
                (k.is_empty() || k == key) && (effect.is_empty() || effect == "NoExecute")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(tolerations: Value) -> Value {
        let mut pod = json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        if !tolerations.is_null() {
            pod["spec"]["tolerations"] = tolerations;
        }
        prepare_create(&mut pod).unwrap();
        pod["spec"]["tolerations"].clone()
    }

    fn default_for(key: &str) -> Value {
        json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    }

    #[test]
    fn default_tolerations_are_added_only_when_missing() {
        let both = json!([default_for(NOT_READY_TAINT), default_for(UNREACHABLE_TAINT)]);
        let own_not_ready = json!({"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2});
        let cases = [
            // No tolerations at all, or an explicit null: both defaults.
            (Value::Null, both.clone()),
            (json!([]), both.clone()),
            // Another taint's toleration is kept, the defaults follow it.
            (
                json!([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]),
                json!([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
                       default_for(NOT_READY_TAINT), default_for(UNREACHABLE_TAINT)]),
            ),
            // The pod's own not-ready toleration wins; only unreachable is added.
            (
                json!([own_not_ready.clone()]),
                json!([own_not_ready, default_for(UNREACHABLE_TAINT)]),
            ),
            // An empty effect covers NoExecute; a NoSchedule one does not.
            (
                json!([{"key": UNREACHABLE_TAINT, "operator": "Exists"}]),
                json!([{"key": UNREACHABLE_TAINT, "operator": "Exists"}, default_for(NOT_READY_TAINT)]),
            ),
            (
                json!([{"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]),
                json!([{"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"},
                       default_for(NOT_READY_TAINT), default_for(UNREACHABLE_TAINT)]),
            ),
            // An empty key tolerates both.
            (
                json!([{"operator": "Exists"}]),
                json!([{"operator": "Exists"}]),
            ),
            (
                json!([{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]),
                json!([{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]),
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(admitted(given.clone()), expected, "{given}");
        }
    }
}
