//! Event: the legacy (core/v1) validation of `legacyValidateEvent`, and the selectable fields
//! `kubectl describe` filters on (`involvedObject.*`, `reason`, `source`, `type`, ...).

use k8s_openapi::api::core::v1::Event;

use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::names;
use crate::validation::NameRule;

/// Upper bounds of the events.k8s.io-style fields.
const REPORTING_INSTANCE_LIMIT: usize = 128;
const ACTION_LIMIT: usize = 128;
const REASON_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

impl Kind for Event {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    /// Old-style events (no `eventTime`) need a matching namespace; new-style ones a
    /// reporting component, action and reason.
    fn validate_create(&self) -> ErrorList {
        let mut errs = Vec::new();
        let namespace = self.metadata.namespace.as_deref().unwrap_or("");
        let involved_namespace = self.involved_object.namespace.as_deref().unwrap_or("");
        let mismatch = || {
            FieldError::invalid(
                Path::new("involvedObject").child("namespace"),
                involved_namespace,
                "does not match event.namespace",
            )
        };
        if self.event_time.is_none() {
            let bad = if involved_namespace.is_empty() {
                !namespace.is_empty() && namespace != "default"
            } else {
                namespace != involved_namespace
            };
            if bad {
                errs.push(mismatch());
            }
        } else {
            if involved_namespace.is_empty() && namespace != "default" && namespace != "kube-system"
            {
                errs.push(mismatch());
            }
            errs.extend(new_style_fields(self));
        }
        for msg in names::dns1123_subdomain(namespace) {
            errs.push(FieldError::invalid("namespace", namespace, msg));
        }
        errs
    }

    /// `ToSelectableFields` of the event registry.
    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let involved = &self.involved_object;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let component = self
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| text(&self.reporting_component));
        vec![
            ("involvedObject.kind", text(&involved.kind)),
            ("involvedObject.namespace", text(&involved.namespace)),
            ("involvedObject.name", text(&involved.name)),
            ("involvedObject.uid", text(&involved.uid)),
            ("involvedObject.apiVersion", text(&involved.api_version)),
            (
                "involvedObject.resourceVersion",
                text(&involved.resource_version),
            ),
            ("involvedObject.fieldPath", text(&involved.field_path)),
            ("reason", text(&self.reason)),
            ("reportingComponent", text(&self.reporting_component)),
            ("source", component),
            ("type", text(&self.type_)),
        ]
    }
}

/// The fields an event with an `eventTime` must carry.
fn new_style_fields(event: &Event) -> ErrorList {
    let mut errs = Vec::new();
    let controller = event.reporting_component.as_deref().unwrap_or("");
    if controller.is_empty() {
        errs.push(FieldError::required("reportingComponent", ""));
    }
    for msg in names::qualified_name(controller) {
        errs.push(FieldError::invalid("reportingComponent", controller, msg));
    }
    let too_long = |field: &str, limit: usize| {
        FieldError::invalid(field, "", format!("can have at most {limit} characters"))
    };
    if event.reporting_instance.as_deref().unwrap_or("").len() > REPORTING_INSTANCE_LIMIT {
        errs.push(too_long("reportingInstance", REPORTING_INSTANCE_LIMIT));
    }
    let action = event.action.as_deref().unwrap_or("");
    if action.is_empty() {
        errs.push(FieldError::required("action", ""));
    }
    if action.len() > ACTION_LIMIT {
        errs.push(too_long("action", ACTION_LIMIT));
    }
    let reason = event.reason.as_deref().unwrap_or("");
    if reason.is_empty() {
        errs.push(FieldError::required("reason", ""));
    }
    if reason.len() > REASON_LIMIT {
        errs.push(too_long("reason", REASON_LIMIT));
    }
    if event.message.as_deref().unwrap_or("").len() > NOTE_LIMIT {
        errs.push(too_long("message", NOTE_LIMIT));
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn event(extra: Value) -> Value {
        let mut e = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "kubia-0abcd.17c1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "kubia-0abcd",
                               "uid": "c984", "apiVersion": "v1", "resourceVersion": "12",
                               "fieldPath": "spec.containers{kubia}"},
            "reason": "Unhealthy", "type": "Warning", "message": "Readiness probe failed",
            "source": {"component": "kubelet", "host": "node1"}});
        if let (Value::Object(e), Value::Object(extra)) = (&mut e, extra) {
            e.extend(extra);
        }
        e
    }

    fn errors(object: &Value) -> Vec<String> {
        let ops = find_kind("v1", "Event").unwrap().ops;
        let errs = ops.validate_create(object, true).unwrap();
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn field_labels_are_the_registry_ones() {
        let ops = find_kind("v1", "Event").unwrap().ops;
        let labels = ops.field_labels(&event(json!({}))).unwrap();
        let expected = [
            ("involvedObject.kind", "Pod"),
            ("involvedObject.namespace", "default"),
            ("involvedObject.name", "kubia-0abcd"),
            ("involvedObject.uid", "c984"),
            ("involvedObject.apiVersion", "v1"),
            ("involvedObject.resourceVersion", "12"),
            ("involvedObject.fieldPath", "spec.containers{kubia}"),
            ("reason", "Unhealthy"),
            ("reportingComponent", ""),
            ("source", "kubelet"),
            ("type", "Warning"),
        ];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(k, v)| (*k, v.to_string())).collect();
        assert_eq!(labels, expected);
        // Without a source component, `source` is the reporting component.
        let labels = ops
            .field_labels(&event(
                json!({"source": {}, "reportingComponent": "kubelet"}),
            ))
            .unwrap();
        assert!(labels.contains(&("source", "kubelet".to_string())));
    }

    #[test]
    fn legacy_validation() {
        assert!(errors(&event(json!({}))).is_empty());
        let mut other = event(json!({}));
        other["involvedObject"]["namespace"] = json!("kube-system");
        assert_eq!(
            errors(&other),
            vec!["involvedObject.namespace: Invalid value: \"kube-system\": does not match event.namespace"]
        );
        let new_style = event(json!({"eventTime": "2024-05-01T12:00:00.000000Z", "reason": ""}));
        assert_eq!(
            errors(&new_style),
            vec![
                "reportingComponent: Required value",
                "reportingComponent: Invalid value: \"\": name part must be non-empty",
                "reportingComponent: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "action: Required value",
                "reason: Required value",
            ]
        );
    }
}
