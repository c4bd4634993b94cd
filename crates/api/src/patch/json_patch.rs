//! JSON patch (RFC 6902) as kube-apiserver applies it: with evanphx/json-patch v4, whose
//! path resolution and messages differ from the RFC in ways clients rely on.
//!
//! Upstream quirks kept on purpose: `replace` of a missing object key adds it; `test` of a
//! missing key against `null` passes; `copy` from a missing key copies `null`; array indices
//! may be negative (from the end) and are parsed like Go's `strconv.Atoi`; a path not starting
//! with `/` addresses the root's last segment. Each operation is resolved here, against the
//! document as the previous operations left it, then performed with the `json-patch` crate on
//! a working copy, so a failing patch changes nothing.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::{Map, Value};

use super::PatchError;
use crate::field::go_quote;

/// kube-apiserver's `maxJSONPatchOperations`.
pub(crate) const MAX_OPERATIONS: usize = 10_000;

/// Applies a JSON patch body to `original`.
pub(crate) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let operations = decode(body)?;
    if operations.len() > MAX_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_OPERATIONS,
            got: operations.len(),
        });
    }
    let mut doc = original.clone();
    for op in &operations {
        apply_operation(&mut doc, Operation(op.as_ref()))?;
    }
    Ok(doc)
}

/// The body as a list of operations; a `null` operation is kept (it fails as kind `unknown`).
fn decode(body: &[u8]) -> Result<Vec<Option<Map<String, Value>>>, PatchError> {
    let items = match super::decode_json(body)? {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(PatchError::wrong_shape(&other, "jsonpatch.Patch")),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(Some(map)),
            Value::Null => Ok(None),
            other => Err(PatchError::wrong_shape(&other, "jsonpatch.Operation")),
        })
        .collect()
}

/// One operation object, read as leniently as upstream reads it.
#[derive(Clone, Copy)]
struct Operation<'a>(Option<&'a Map<String, Value>>);

/// Why a `path` or `from` member could not be read.
enum MemberError {
    Missing,
    NotAString(&'static str),
}

impl Operation<'_> {
    fn kind(&self) -> &str {
        self.member("op")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
    }

    fn member(&self, name: &str) -> Option<&Value> {
        self.0.and_then(|m| m.get(name)).filter(|v| !v.is_null())
    }

    fn string(&self, name: &str) -> Result<&str, MemberError> {
        match self.member(name) {
            None => Err(MemberError::Missing),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(MemberError::NotAString(super::json_kind(other))),
        }
    }

    /// `path`, with upstream's own description of a failure.
    fn path(&self) -> Result<&str, String> {
        self.string("path").map_err(|e| match e {
            MemberError::Missing => "operation missing path field: missing value".to_string(),
            MemberError::NotAString(kind) => not_a_string(kind),
        })
    }

    fn from(&self) -> Result<&str, String> {
        self.string("from").map_err(|e| match e {
            MemberError::Missing => "operation, missing from field: missing value".to_string(),
            MemberError::NotAString(kind) => not_a_string(kind),
        })
    }

    /// `value`; absent reads as `null` except where noted.
    fn value(&self) -> Option<&Value> {
        self.0.and_then(|m| m.get("value"))
    }

    fn value_or_null(&self) -> Value {
        self.value().cloned().unwrap_or(Value::Null)
    }
}

fn not_a_string(kind: &str) -> String {
    format!("json: cannot unmarshal {kind} into Go value of type string")
}

fn apply_operation(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    match op.kind() {
        "add" => add(doc, op),
        "remove" => remove(doc, op),
        "replace" => replace(doc, op),
        "move" => move_value(doc, op),
        "test" => test(doc, op),
        "copy" => copy(doc, op),
        other => Err(failed(format!("Unexpected kind: {other}"))),
    }
}

fn failed(message: String) -> PatchError {
    PatchError::JsonPatchOperation(message)
}

fn add(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    let path = op
        .path()
        .map_err(|_| failed("add operation failed to decode path: missing value".into()))?;
    let target = find_object(doc, path).ok_or_else(|| {
        failed(format!(
            "add operation does not apply: doc is missing path: \"{path}\": missing value"
        ))
    })?;
    add_at(doc, &target, op.value_or_null())?
        .map_err(|e| failed(format!("error in add for path: '{path}': {e}")))
}

fn remove(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    let path = op
        .path()
        .map_err(|_| failed("remove operation failed to decode path: missing value".into()))?;
    let target = find_object(doc, path).ok_or_else(|| {
        failed(format!(
            "remove operation does not apply: doc is missing path: \"{path}\": missing value"
        ))
    })?;
    remove_at(doc, &target)?
        .map(|_| ())
        .map_err(|e| failed(format!("error in remove for path: '{path}': {e}")))
}

fn replace(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    let path = op
        .path()
        .map_err(|e| failed(format!("replace operation failed to decode path: {e}")))?;
    if path.is_empty() {
        // Upstream swaps the whole document for an object or array and silently ignores
        // anything else.
        if let Some(value @ (Value::Object(_) | Value::Array(_))) = op.value() {
            *doc = value.clone();
        }
        return Ok(());
    }
    let target = find_object(doc, path).ok_or_else(|| {
        failed(format!(
            "replace operation does not apply: doc is missing path: {path}: missing value"
        ))
    })?;
    let value = op.value_or_null();
    match container(doc, &target) {
        Some(Value::Array(items)) => {
            let index = array_get_index(items.len(), &target.key).map_err(|_| {
                failed(format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                ))
            })?;
            let path = target.pointer_to(&index.to_string());
            run(
                doc,
                PatchOperation::Replace(ReplaceOperation { path, value }),
            )
        }
        // An object key is set whether or not it exists.
        _ => run(
            doc,
            PatchOperation::Add(AddOperation {
                path: target.pointer(),
                value,
            }),
        ),
    }
}

fn move_value(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    let from = op
        .from()
        .map_err(|e| failed(format!("move operation failed to decode from: {e}")))?;
    let source = find_object(doc, from).ok_or_else(|| {
        failed(format!(
            "move operation does not apply: doc is missing from path: {from}: missing value"
        ))
    })?;
    let key = source.key.clone();
    let value = remove_at(doc, &source)?
        .map_err(|e| failed(format!("error in move for path: '{key}': {e}")))?;
    let path = op
        .path()
        .map_err(|e| failed(format!("move operation failed to decode path: {e}")))?;
    let target = find_object(doc, path).ok_or_else(|| {
        failed(format!(
            "move operation does not apply: doc is missing destination path: {path}: missing value"
        ))
    })?;
    add_at(doc, &target, value)?
        .map_err(|e| failed(format!("error in move for path: '{path}': {e}")))
}

fn test(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    let path = op
        .path()
        .map_err(|e| failed(format!("test operation failed to decode path: {e}")))?;
    let test_failed = || failed(format!("testing value {path} failed: test failed"));
    if path.is_empty() {
        return if op.value() == Some(doc) {
            Ok(())
        } else {
            Err(test_failed())
        };
    }
    let target = find_object(doc, path).ok_or_else(|| {
        failed(format!(
            "test operation does not apply: is missing path: {path}: missing value"
        ))
    })?;
    let current =
        get(doc, &target).map_err(|e| failed(format!("error in test for path: '{path}': {e}")))?;
    let matches = match (current, op.value()) {
        // A missing (or null) value only matches an explicit null.
        (None, want) => want == Some(&Value::Null),
        (Some(_), None) => false,
        (Some(have), Some(want)) => have == want,
    };
    if matches {
        Ok(())
    } else {
        Err(test_failed())
    }
}

fn copy(doc: &mut Value, op: Operation<'_>) -> Result<(), PatchError> {
    let from = op
        .from()
        .map_err(|e| failed(format!("copy operation failed to decode from: {e}")))?;
    let source = find_object(doc, from).ok_or_else(|| {
        failed(format!(
            "copy operation does not apply: doc is missing from path: {from}: missing value"
        ))
    })?;
    let value = get(doc, &source)
        .map_err(|e| failed(format!("error in copy for from: '{from}': {e}")))?
        .cloned()
        .unwrap_or(Value::Null);
    let path = op
        .path()
        .map_err(|_| failed("copy operation failed to decode path: missing value".into()))?;
    let target = find_object(doc, path).ok_or_else(|| {
        failed(format!(
            "copy operation does not apply: doc is missing destination path: {path}: missing value"
        ))
    })?;
    add_at(doc, &target, value)?
        .map_err(|e| failed(format!("error while adding value during copy: {e}")))
}

/// Where an operation lands: the container (an object or array, by canonical tokens from the
/// root) and the decoded last path segment.
struct Target {
    container: Vec<String>,
    key: String,
}

impl Target {
    fn pointer(&self) -> PointerBuf {
        self.pointer_to(&self.key)
    }

    fn pointer_to(&self, last: &str) -> PointerBuf {
        PointerBuf::from_tokens(self.container.iter().map(String::as_str).chain([last]))
    }
}

/// Upstream's `findObject`: walks every segment but the last; `null`, scalars, missing keys
/// and bad indices end the walk.
fn find_object(doc: &Value, path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.split('/').collect();
    let (last, parents) = segments.split_last()?;
    let parents = parents.get(1..)?;
    let mut current = doc;
    let mut container = Vec::with_capacity(parents.len());
    for segment in parents {
        let segment = decode_segment(segment);
        let (next, token) = match current {
            Value::Object(map) => (map.get(&segment)?, segment),
            Value::Array(items) => {
                let index = array_get_index(items.len(), &segment).ok()?;
                (&items[index], index.to_string())
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        current = next;
        container.push(token);
    }
    Some(Target {
        container,
        key: decode_segment(last),
    })
}

/// RFC 6901 unescaping, in upstream's order.
fn decode_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn container<'d>(doc: &'d Value, target: &Target) -> Option<&'d Value> {
    target.container.iter().try_fold(doc, |v, token| match v {
        Value::Object(map) => map.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The value at `target`; a missing object key (or a null) is `None`, a bad index an error.
fn get<'d>(doc: &'d Value, target: &Target) -> Result<Option<&'d Value>, String> {
    match container(doc, target) {
        Some(Value::Array(items)) => {
            let index = array_get_index(items.len(), &target.key)?;
            Ok(items.get(index).filter(|v| !v.is_null()))
        }
        Some(Value::Object(map)) => Ok(map.get(&target.key).filter(|v| !v.is_null())),
        _ => Ok(None),
    }
}

/// Adds `value` at `target`: an object key is set, an array gets an insertion (index `-`
/// appends, negative counts from the end). The inner `Result` is upstream's container error.
fn add_at(
    doc: &mut Value,
    target: &Target,
    value: Value,
) -> Result<Result<(), String>, PatchError> {
    let path = match container(doc, target) {
        Some(Value::Array(items)) => match array_add_index(items.len(), &target.key) {
            Ok(index) => target.pointer_to(&index),
            Err(e) => return Ok(Err(e)),
        },
        _ => target.pointer(),
    };
    run(doc, PatchOperation::Add(AddOperation { path, value })).map(Ok)
}

/// Removes the value at `target` and returns it; the inner `Result` is upstream's container
/// error.
fn remove_at(doc: &mut Value, target: &Target) -> Result<Result<Value, String>, PatchError> {
    let (path, removed) = match container(doc, target) {
        Some(Value::Array(items)) => match array_remove_index(items.len(), &target.key) {
            Ok(index) => (target.pointer_to(&index.to_string()), items[index].clone()),
            Err(e) => return Ok(Err(e)),
        },
        Some(Value::Object(map)) => match map.get(&target.key) {
            Some(v) => (target.pointer(), v.clone()),
            None => {
                return Ok(Err(format!(
                    "Unable to remove nonexistent key: {}: missing value",
                    target.key
                )))
            }
        },
        _ => return Ok(Err(invalid_index_message(0))),
    };
    run(doc, PatchOperation::Remove(RemoveOperation { path }))?;
    Ok(Ok(removed))
}

fn run(doc: &mut Value, op: PatchOperation) -> Result<(), PatchError> {
    json_patch::patch(doc, std::slice::from_ref(&op)).map_err(PatchError::JsonPatch)
}

/// Index rules of upstream's `partialArray.get` (and `set`).
fn array_get_index(len: usize, key: &str) -> Result<usize, String> {
    let len = len as i64;
    let mut index = atoi(key)?;
    if index < 0 {
        if index < -len {
            return Err(invalid_index_message(index));
        }
        index += len;
    }
    if index >= len {
        return Err(invalid_index_message(index));
    }
    Ok(index as usize)
}

/// Index rules of upstream's `partialArray.add`, as a token for the crate (`-` appends).
fn array_add_index(len: usize, key: &str) -> Result<String, String> {
    if key == "-" {
        return Ok(key.to_string());
    }
    let size = len as i64 + 1;
    let mut index =
        atoi(key).map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
    if index >= size {
        return Err(invalid_index_message(index));
    }
    if index < 0 {
        if index < -size {
            return Err(invalid_index_message(index));
        }
        index += size;
    }
    Ok(index.to_string())
}

/// Index rules of upstream's `partialArray.remove`.
fn array_remove_index(len: usize, key: &str) -> Result<usize, String> {
    let len = len as i64;
    let mut index = atoi(key)?;
    if index >= len {
        return Err(invalid_index_message(index));
    }
    if index < 0 {
        if index < -len {
            return Err(invalid_index_message(index));
        }
        index += len;
    }
    Ok(index as usize)
}

fn invalid_index_message(index: i64) -> String {
    format!("Unable to access invalid index: {index}: invalid index referenced")
}

/// Go's `strconv.Atoi`, with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {}: {reason}", go_quote(s))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(doc: Value, patch: Value) -> Result<Value, String> {
        apply(&doc, patch.to_string().as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn operations_follow_upstream() {
        let doc = json!({"a": {"b": [1, 2, 3]}, "n": null});
        let cases = [
            (json!([{"op": "add", "path": "/a/c", "value": 1}]), Ok(json!({"a": {"b": [1, 2, 3], "c": 1}, "n": null}))),
            (json!([{"op": "add", "path": "/a/b/-", "value": 4}]), Ok(json!({"a": {"b": [1, 2, 3, 4]}, "n": null}))),
            (json!([{"op": "add", "path": "/a/b/-1", "value": 4}]), Ok(json!({"a": {"b": [1, 2, 3, 4]}, "n": null}))),
            (json!([{"op": "add", "path": "/a/b/0", "value": 0}]), Ok(json!({"a": {"b": [0, 1, 2, 3]}, "n": null}))),
            (json!([{"op": "remove", "path": "/a/b/-1"}]), Ok(json!({"a": {"b": [1, 2]}, "n": null}))),
            (json!([{"op": "replace", "path": "/a/x", "value": 1}]), Ok(json!({"a": {"b": [1, 2, 3], "x": 1}, "n": null}))),
            (json!([{"op": "replace", "path": "/a/b/+1", "value": 9}]), Ok(json!({"a": {"b": [1, 9, 3]}, "n": null}))),
            (json!([{"op": "move", "from": "/a/b", "path": "/b"}]), Ok(json!({"a": {}, "n": null, "b": [1, 2, 3]}))),
            (json!([{"op": "copy", "from": "/a/missing", "path": "/c"}]), Ok(json!({"a": {"b": [1, 2, 3]}, "n": null, "c": null}))),
            (json!([{"op": "test", "path": "/a/missing", "value": null}]), Ok(doc.clone())),
            (json!([{"op": "test", "path": "/n", "value": null}]), Ok(doc.clone())),
            (json!([{"op": "test", "path": "/a/b/1", "value": 2}]), Ok(doc.clone())),
            (json!([{"op": "replace", "path": "", "value": {"x": 1}}]), Ok(json!({"x": 1}))),
            (json!(null), Ok(doc.clone())),
            (json!([{"op": "test", "path": "/a/b/1", "value": 3}]), Err("testing value /a/b/1 failed: test failed")),
            (json!([{"op": "test", "path": "/a/missing", "value": 1}]), Err("testing value /a/missing failed: test failed")),
            (json!([{"op": "test", "path": "/x/y", "value": 1}]), Err("test operation does not apply: is missing path: /x/y: missing value")),
            (json!([{"op": "add", "path": "/x/y", "value": 1}]), Err("add operation does not apply: doc is missing path: \"/x/y\": missing value")),
            (json!([{"op": "add", "path": "/n/y", "value": 1}]), Err("add operation does not apply: doc is missing path: \"/n/y\": missing value")),
            (json!([{"op": "add", "path": "/a/b/7", "value": 1}]), Err("error in add for path: '/a/b/7': Unable to access invalid index: 7: invalid index referenced")),
            (json!([{"op": "add", "path": "/a/b/x", "value": 1}]), Err("error in add for path: '/a/b/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax")),
            (json!([{"op": "remove", "path": "/a/zz"}]), Err("error in remove for path: '/a/zz': Unable to remove nonexistent key: zz: missing value")),
            (json!([{"op": "remove", "path": "/a/b/3"}]), Err("error in remove for path: '/a/b/3': Unable to access invalid index: 3: invalid index referenced")),
            (json!([{"op": "replace", "path": "/a/b/5", "value": 1}]), Err("replace operation does not apply: doc is missing key: /a/b/5: missing value")),
            (json!([{"op": "replace", "path": "/q/r", "value": 1}]), Err("replace operation does not apply: doc is missing path: /q/r: missing value")),
            (json!([{"op": "move", "from": "/a/q", "path": "/b"}]), Err("error in move for path: 'q': Unable to remove nonexistent key: q: missing value")),
            (json!([{"op": "move", "from": "/a", "path": "/a/b"}]), Err("move operation does not apply: doc is missing destination path: /a/b: missing value")),
            (json!([{"op": "add", "value": 1}]), Err("add operation failed to decode path: missing value")),
            (json!([{"op": "replace", "path": 1, "value": 1}]), Err("replace operation failed to decode path: json: cannot unmarshal number into Go value of type string")),
            (json!([{"op": "move", "path": "/b"}]), Err("move operation failed to decode from: operation, missing from field: missing value")),
            (json!([{"op": "frob", "path": "/a"}]), Err("Unexpected kind: frob")),
            (json!([{"path": "/a"}]), Err("Unexpected kind: unknown")),
            (json!([null]), Err("Unexpected kind: unknown")),
            (json!({"op": "add"}), Err("json: cannot unmarshal object into Go value of type jsonpatch.Patch")),
            (json!(["add"]), Err("json: cannot unmarshal string into Go value of type jsonpatch.Operation")),
        ];
        for (patch, want) in cases {
            let want = want.map_err(str::to_string);
            assert_eq!(check(doc.clone(), patch.clone()), want, "{patch}");
        }
    }

    #[test]
    fn a_failing_operation_leaves_nothing_applied() {
        let doc = json!({"a": 1});
        let patch = json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}]);
        assert!(check(doc.clone(), patch).is_err());
    }

    #[test]
    fn too_many_operations_are_refused() {
        let ops = vec![json!({"op": "test", "path": "/a", "value": 1}); MAX_OPERATIONS + 1];
        let err = apply(&json!({"a": 1}), Value::Array(ops).to_string().as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
        assert_eq!(err.status_code(), 413);
    }
}
