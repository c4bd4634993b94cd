//! PATCH bodies applied to stored objects, as kube-apiserver applies them: JSON patch, JSON
//! merge patch and strategic merge patch.
//!
//! Pure functions over `serde_json::Value`: the caller decodes, validates and defaults the
//! result as for an update (so `sessionAffinity: null` comes back as `None`). Messages and HTTP
//! codes of failures are upstream's; [`PatchError::status_code`] gives the code.

mod go_fmt;
mod json_patch;
mod merge_keys;
mod merge_patch;
mod order;
mod strategic;

use serde_json::Value;

pub use merge_keys::{patch_strategy, ListMerge, PatchStrategy};
pub use strategic::StrategicError;

/// The patch formats of `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7396).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
}

impl PatchType {
    /// The patch type of a request's `Content-Type` (parameters such as `charset` ignored);
    /// `None` for anything else, which upstream answers with 415.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge]
            .into_iter()
            .find(|t| t.content_type().eq_ignore_ascii_case(media_type))
    }

    /// The media type, as a 415 answer lists the supported ones.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
        }
    }
}

/// The kind being patched, by API group and kind: `("apps", "Deployment")`, `("", "Service")`.
/// Strategic merge patch takes its merge keys from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchKindRef<'a> {
    pub group: &'a str,
    pub kind: &'a str,
}

impl<'a> PatchKindRef<'a> {
    pub const fn new(group: &'a str, kind: &'a str) -> Self {
        PatchKindRef { group, kind }
    }
}

impl<'a> From<(&'a str, &'a str)> for PatchKindRef<'a> {
    fn from((group, kind): (&'a str, &'a str)) -> Self {
        PatchKindRef { group, kind }
    }
}

/// Why a patch could not be applied. The `Display` text is the `Status` message upstream sends.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The body is not JSON. Upstream prints Go's decoder message; ferry prints the same for a
    /// truncated body and serde's description otherwise.
    #[error("{}", json_syntax_message(.0))]
    InvalidJson(#[source] serde_json::Error),
    /// The body is JSON of the wrong shape for the patch type (Go's decoder message).
    #[error("json: cannot unmarshal {found} into Go value of type {target}")]
    WrongShape {
        found: &'static str,
        target: &'static str,
    },
    /// A merge patch that is not JSON, or neither an object nor a list.
    #[error("Invalid JSON Patch")]
    InvalidMergePatch,
    /// A JSON patch with more operations than upstream accepts.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
    /// An operation of a JSON patch did not apply (evanphx/json-patch's message).
    #[error("{0}")]
    JsonPatchOperation(String),
    /// The json-patch crate refused an operation after ferry had resolved it upstream's way.
    #[error("apply resolved JSON patch operation")]
    JsonPatch(#[source] ::json_patch::PatchError),
    /// A strategic merge patch did not apply.
    #[error(transparent)]
    Strategic(#[from] StrategicError),
}

impl PatchError {
    /// The HTTP status kube-apiserver answers with: 400 for malformed bodies, 413 for too many
    /// operations, 422 for JSON patch operations that do not apply, and for strategic merge
    /// patch whatever [`StrategicError::status_code`] says (500, reason `""`, for most).
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::InvalidJson(_)
            | PatchError::WrongShape { .. }
            | PatchError::InvalidMergePatch => 400,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::JsonPatchOperation(_) | PatchError::JsonPatch(_) => 422,
            PatchError::Strategic(e) => e.status_code(),
        }
    }

    fn wrong_shape(value: &Value, target: &'static str) -> Self {
        PatchError::WrongShape {
            found: json_kind(value),
            target,
        }
    }
}

/// Applies `patch` (a body of `patch_type`) to `original`, an object of `kind`.
pub fn apply_patch(
    kind: PatchKindRef<'_>,
    original: &Value,
    patch_type: PatchType,
    patch: &[u8],
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => json_patch::apply(original, patch),
        PatchType::Merge => merge_patch::apply(original, patch),
        PatchType::StrategicMerge => {
            let patch = match decode_json(patch)? {
                Value::Object(map) => map,
                // Decoding `null` into a Go map leaves it empty.
                Value::Null => serde_json::Map::new(),
                other => return Err(PatchError::wrong_shape(&other, "map[string]interface {}")),
            };
            Ok(strategic::strategic_merge(
                original,
                patch,
                merge_keys::root(kind),
            )?)
        }
    }
}

fn decode_json(body: &[u8]) -> Result<Value, PatchError> {
    serde_json::from_slice(body).map_err(PatchError::InvalidJson)
}

fn json_syntax_message(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        e.to_string()
    }
}

/// How Go's decoder names a JSON value's kind in type errors.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::StrategicMerge),
            ),
            (
                "Application/Strategic-Merge-Patch+JSON; charset=utf-8",
                Some(PatchType::StrategicMerge),
            ),
            ("application/apply-patch+yaml", None),
            ("application/json", None),
        ];
        for (ct, want) in cases {
            assert_eq!(PatchType::from_content_type(ct), want, "{ct}");
        }
    }

    #[test]
    fn strategic_body_must_be_an_object() {
        let original = serde_json::json!({"a": 1});
        let kind = PatchKindRef::new("", "Service");
        let err = apply_patch(kind, &original, PatchType::StrategicMerge, b"[]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(err.status_code(), 400);
        let err = apply_patch(kind, &original, PatchType::StrategicMerge, b"{\"a\":").unwrap_err();
        assert_eq!(err.to_string(), "unexpected end of JSON input");
        let same = apply_patch(kind, &original, PatchType::StrategicMerge, b"null").unwrap();
        assert_eq!(same, original);
    }
}
