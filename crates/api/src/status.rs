//! API errors and the `Status` object they become, built in one place.
//!
//! Messages, reasons and codes are apimachinery's (`k8s.io/apimachinery/pkg/api/errors`), because
//! kubectl prints them verbatim or rebuilds its output from `details`.

use serde_json::{json, Value};

use crate::field::{aggregate, FieldError};

/// `group/resource` as upstream's `schema.GroupResource`: prints `services` or `deployments.apps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// One cause of a Status (`details.causes[]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// An error the API answers with: HTTP code, reason, message and optional details.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Box<Details>>,
}

/// `Status.details`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub causes: Vec<Cause>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Details>) -> Self {
        ApiError {
            code,
            reason,
            message,
            details: details.map(Box::new),
        }
    }

    fn resource_details(gr: &GroupResource, name: &str) -> Option<Details> {
        Some(Details {
            name: name.to_string(),
            group: gr.group.clone(),
            kind: gr.resource.clone(),
            causes: Vec::new(),
        })
    }

    pub fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{gr} \"{name}\" not found"),
            Self::resource_details(gr, name),
        )
    }

    pub fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{gr} \"{name}\" already exists"),
            Self::resource_details(gr, name),
        )
    }

    /// A stale resourceVersion or a precondition that no longer holds.
    pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
            Self::resource_details(gr, name),
        )
    }

    pub fn stale(gr: &GroupResource, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid; `qualified_kind` is `Service` or `Deployment.apps`.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.error_type.cause_reason().to_string(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        Self::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {}", aggregate(errors)),
            Some(Details {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
                causes,
            }),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized".to_string(), None)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message.into(), None)
    }

    /// Writes into a namespace that is being deleted.
    pub fn namespace_terminating(namespace: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("unable to create new content in namespace {namespace} because it is being terminated"),
            Some(Details {
                name: namespace.to_string(),
                kind: "namespaces".to_string(),
                causes: vec![Cause {
                    reason: "NamespaceTerminating".to_string(),
                    message: format!("namespace {namespace} is being terminated"),
                    field: "metadata.namespace".to_string(),
                }],
                ..Details::default()
            }),
        )
    }

    /// The path names no resource this server serves.
    pub fn no_such_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".to_string(),
            Some(Details::default()),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
            Some(Details::default()),
        )
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message.into(), None)
    }

    /// 410 Expired: the watch or list asked for history that was compacted.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message.into(), None)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
            None,
        )
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
            Some(Details { kind: content_type.to_string(), ..Details::default() }),
        )
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
            None,
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message.into(), None)
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = details_json(d);
        }
        status
    }
}

/// An internal error as the final `Status` of an exec/attach stream (on its error channel):
/// kube-apiserver's and the kubelet's shape, without `kind`, with the message as a cause;
/// kubectl prints `error: Internal error occurred: ...`.
pub fn stream_internal_error(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
}

fn details_json(d: &Details) -> Value {
    let mut out = serde_json::Map::new();
    if !d.name.is_empty() {
        out.insert("name".into(), Value::from(d.name.clone()));
    }
    if !d.group.is_empty() {
        out.insert("group".into(), Value::from(d.group.clone()));
    }
    if !d.kind.is_empty() {
        out.insert("kind".into(), Value::from(d.kind.clone()));
    }
    if !d.causes.is_empty() {
        let causes = d
            .causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        out.insert("causes".into(), Value::Array(causes));
    }
    Value::Object(out)
}

/// The `Status` a successful delete may answer with.
pub fn success_status(gr: &GroupResource, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": gr.resource, "uid": uid});
    if !gr.group.is_empty() {
        details["group"] = Value::from(gr.group.clone());
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_in_a_group_names_the_group() {
        let e = ApiError::not_found(&GroupResource::new("apps", "deployments"), "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(
            e.to_status()["details"],
            json!({"name": "web", "group": "apps", "kind": "deployments"})
        );
    }

    #[test]
    fn invalid_carries_causes_with_error_bodies() {
        let errs = [FieldError::invalid(
            "spec.ports[0].nodePort",
            80,
            "provided port is not in the valid range. The range of valid ports is 30000-32767",
        )];
        let s = ApiError::invalid("", "Service", "kubia-nodeport", &errs).to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(
            s["message"],
            "Service \"kubia-nodeport\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.ports[0].nodePort");
    }
}
