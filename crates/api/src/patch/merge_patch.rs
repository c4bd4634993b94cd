//! JSON merge patch (RFC 7396) as kube-apiserver applies it, with evanphx/json-patch v4's
//! `MergePatch`.
//!
//! Upstream differs from the RFC's pseudo-code in two places kept here: a value added where
//! nothing (or `null`) was has its nulls pruned at every depth, including inside objects in
//! lists; and a patch that is a list becomes the result as is (the caller's typed decoding then
//! refuses it).

use serde_json::{Map, Value};

use super::PatchError;

/// Applies a merge patch body to `original`.
pub(crate) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    // Any syntax error, and a patch that is neither an object nor a list, is upstream's
    // `ErrBadJSONPatch`.
    let patch: Value = serde_json::from_slice(body).map_err(|_| PatchError::InvalidMergePatch)?;
    match (original, patch) {
        (Value::Object(doc), Value::Object(patch)) => {
            let mut doc = doc.clone();
            merge_objects(&mut doc, patch);
            Ok(Value::Object(doc))
        }
        (_, Value::Object(patch)) => {
            let mut patch = Value::Object(patch);
            prune_nulls(&mut patch);
            Ok(patch)
        }
        (_, Value::Array(items)) => {
            let mut patch = Value::Array(items);
            prune_nulls(&mut patch);
            Ok(patch)
        }
        (_, _) => Err(PatchError::InvalidMergePatch),
    }
}

fn merge_objects(doc: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            doc.shift_remove(&key);
            continue;
        }
        match doc.get_mut(&key) {
            Some(current) if !current.is_null() => merge_value(current, value),
            _ => {
                let mut value = value;
                prune_nulls(&mut value);
                doc.insert(key, value);
            }
        }
    }
}

fn merge_value(current: &mut Value, patch: Value) {
    match (current, patch) {
        (Value::Object(current), Value::Object(patch)) => merge_objects(current, patch),
        // An object replaced by a non-object takes the patch value unpruned.
        (current @ Value::Object(_), patch) => *current = patch,
        (current, mut patch) => {
            prune_nulls(&mut patch);
            *current = patch;
        }
    }
}

/// Drops null object members at any depth; nulls that are list items stay.
fn prune_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(doc: Value, patch: &str) -> Result<Value, String> {
        apply(&doc, patch.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn merge_follows_upstream() {
        let doc = json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 1, "ports": [{"port": 80}]}});
        let cases = [
            // kubectl label enabled=true / enabled-
            (
                r#"{"metadata":{"labels":{"enabled":"true"}}}"#,
                Ok(
                    json!({"metadata": {"labels": {"app": "web", "tier": "fe", "enabled": "true"}}, "spec": {"replicas": 1, "ports": [{"port": 80}]}}),
                ),
            ),
            (
                r#"{"metadata":{"labels":{"tier":null}}}"#,
                Ok(
                    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"replicas": 1, "ports": [{"port": 80}]}}),
                ),
            ),
            // kubectl scale
            (
                r#"{"spec":{"replicas":3}}"#,
                Ok(
                    json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 3, "ports": [{"port": 80}]}}),
                ),
            ),
            // Lists are replaced; new values lose their nulls, even inside list items.
            (
                r#"{"spec":{"ports":[{"port":81,"name":null}]}}"#,
                Ok(
                    json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 1, "ports": [{"port": 81}]}}),
                ),
            ),
            (
                r#"{"status":{"a":{"b":null,"c":1}}}"#,
                Ok(
                    json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 1, "ports": [{"port": 80}]}, "status": {"a": {"c": 1}}}),
                ),
            ),
            (r#"{"metadata":null,"spec":null}"#, Ok(json!({}))),
            (
                r#"{"spec":"x"}"#,
                Ok(json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": "x"})),
            ),
            (r#"[{"a":null},null]"#, Ok(json!([{}, null]))),
            ("null", Err("Invalid JSON Patch")),
            ("3", Err("Invalid JSON Patch")),
            ("{", Err("Invalid JSON Patch")),
            ("", Err("Invalid JSON Patch")),
        ];
        for (patch, want) in cases {
            let want = want.map_err(str::to_string);
            assert_eq!(check(doc.clone(), patch), want, "{patch}");
        }
    }
}
