//! ReplicaSet: defaults, validation and selectable fields, plus the selector and template
//! checks Deployment shares (`ValidatePodTemplateSpecForReplicaSet`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::pod::{
    default_pod_template, go_label_selector, validate_template_for_replicas, TemplateOwner,
};
use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::meta::validate_labels;
use crate::validation::names;
use crate::validation::NameRule;

impl Kind for ReplicaSet {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// `SetDefaults_ReplicaSet` plus the pod template defaults.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        default_pod_template(spec.template.get_or_insert_with(Default::default));
    }

    /// `ValidateReplicaSetSpec`.
    fn validate_create(&self) -> ErrorList {
        let path = Path::new("spec");
        let spec = self.spec.clone().unwrap_or_default();
        let mut errs = non_negative(spec.replicas.unwrap_or(0), &path.child("replicas"));
        errs.extend(non_negative(
            spec.min_ready_seconds.unwrap_or(0),
            &path.child("minReadySeconds"),
        ));
        errs.extend(validate_selector_and_template(
            &spec.selector,
            spec.template.as_ref(),
            &path,
        ));
        errs
    }

    /// apps/v1 also forbids changing the selector.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = self.validate_create();
        let selector = |rs: &ReplicaSet| rs.spec.as_ref().map(|s| s.selector.clone());
        errs.extend(immutable_selector(
            selector(self).unwrap_or_default(),
            selector(old).unwrap_or_default(),
        ));
        errs
    }

    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let replicas = self.status.as_ref().map_or(0, |s| s.replicas);
        vec![("status.replicas", replicas.to_string())]
    }
}

/// `spec.selector` is required and valid, and it selects the template's labels.
///
/// k8s-openapi decodes a missing selector as an empty one, so an empty selector is reported as
/// missing (`Required value` plus the template mismatch), as upstream does for the common case
/// of a manifest without a selector.
pub(super) fn validate_selector_and_template(
    selector: &LabelSelector,
    template: Option<&PodTemplateSpec>,
    spec_path: &Path,
) -> ErrorList {
    let selector_path = spec_path.child("selector");
    let template_path = spec_path.child("template");
    let labels = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let mut errs = Vec::new();
    if is_empty_selector(selector) {
        errs.push(FieldError::required(&selector_path, ""));
        errs.extend(validate_template_for_replicas(
            template,
            Some(false),
            TemplateOwner::ReplicaSet,
            &template_path,
        ));
        return errs;
    }
    errs.extend(validate_label_selector(selector, &selector_path));
    match selects(selector, labels) {
        Some(matches) => errs.extend(validate_template_for_replicas(
            template,
            Some(matches),
            TemplateOwner::ReplicaSet,
            &template_path,
        )),
        None => errs.push(FieldError::invalid(
            &selector_path,
            go_label_selector(selector),
            "invalid label selector",
        )),
    }
    errs
}

/// `ValidateImmutableField` for `spec.selector`.
pub(super) fn immutable_selector(new: LabelSelector, old: LabelSelector) -> ErrorList {
    if normalized(&new) == normalized(&old) {
        return Vec::new();
    }
    vec![FieldError::invalid(
        "spec.selector",
        go_label_selector(&new),
        "field is immutable",
    )]
}

/// A selector with empty lists and maps dropped, for semantic comparison.
fn normalized(selector: &LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: selector.match_labels.clone().filter(|m| !m.is_empty()),
        match_expressions: selector.match_expressions.clone().filter(|e| !e.is_empty()),
    }
}

fn is_empty_selector(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// `ValidateLabelSelector`: valid labels, operators and values.
fn validate_label_selector(selector: &LabelSelector, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(labels) = &selector.match_labels {
        errs.extend(validate_labels(labels, &path.child("matchLabels")));
    }
    for (i, requirement) in selector.match_expressions.iter().flatten().enumerate() {
        let req_path = path.child("matchExpressions").index(i);
        let values = requirement.values.as_deref().unwrap_or(&[]);
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                req_path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                req_path.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                req_path.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        for msg in names::qualified_name(&requirement.key) {
            errs.push(FieldError::invalid(
                req_path.child("key"),
                requirement.key.as_str(),
                msg,
            ));
        }
        for (j, value) in values.iter().enumerate() {
            for msg in names::label_value(value) {
                errs.push(FieldError::invalid(
                    req_path.child("values").index(j),
                    value.as_str(),
                    msg,
                ));
            }
        }
    }
    errs
}

/// Whether the selector selects `labels`; `None` if `LabelSelectorAsSelector` rejects it.
fn selects(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> Option<bool> {
    let get = |key: &str| labels.and_then(|l| l.get(key));
    let mut matches = true;
    for (key, value) in selector.match_labels.iter().flatten() {
        if !names::qualified_name(key).is_empty() || !names::label_value(value).is_empty() {
            return None;
        }
        matches &= get(key) == Some(value);
    }
    for requirement in selector.match_expressions.iter().flatten() {
        let values = requirement.values.as_deref().unwrap_or(&[]);
        if !names::qualified_name(&requirement.key).is_empty()
            || values.iter().any(|v| !names::label_value(v).is_empty())
        {
            return None;
        }
        let current = get(&requirement.key);
        matches &= match (requirement.operator.as_str(), values.is_empty()) {
            ("In", false) => current.is_some_and(|v| values.contains(v)),
            ("NotIn", false) => current.is_none_or(|v| !values.contains(v)),
            ("Exists", true) => current.is_some(),
            ("DoesNotExist", true) => current.is_none(),
            _ => return None,
        };
    }
    Some(matches)
}

/// `ValidateNonnegativeField`.
pub(super) fn non_negative(value: i32, path: &Path) -> ErrorList {
    if value < 0 {
        vec![FieldError::invalid(
            path,
            value,
            "must be greater than or equal to 0",
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn check(spec: Value) -> (Value, Vec<String>) {
        let ops = find_kind("apps/v1", "ReplicaSet").unwrap().ops;
        let mut object = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "kubia", "namespace": "default"}, "spec": spec});
        ops.set_defaults(&mut object).unwrap();
        let errs = ops.validate_create(&object, true).unwrap();
        (object, errs.iter().map(ToString::to_string).collect())
    }

    fn template(labels: Value) -> Value {
        json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}})
    }

    #[test]
    fn defaults_and_validation() {
        let (rs, errs) = check(json!({"selector": {"matchLabels": {"app": "kubia"}},
            "template": template(json!({"app": "kubia"}))}));
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(
            rs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Always"
        );
        assert!(errs.is_empty(), "{errs:?}");

        let (_, errs) = check(
            json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
            "template": template(json!({"app": "kubia"}))}),
        );
        assert_eq!(
            errs,
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", Values:[]string(nil)}}}: invalid label selector"#,
            ]
        );

        let (_, errs) = check(json!({"selector": {"matchLabels": {"app": "kubia"}},
            "template": {"metadata": {"labels": {"app": "kubia"}},
                         "spec": {"activeDeadlineSeconds": 5, "containers": [{"name": "kubia", "image": "x"}]}}}));
        assert_eq!(
            errs,
            vec!["spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in ReplicaSet is not Supported"]
        );
    }

    #[test]
    fn field_labels() {
        let ops = find_kind("apps/v1", "ReplicaSet").unwrap().ops;
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "kubia"},
            "spec": {"selector": {}}, "status": {"replicas": 3}});
        assert_eq!(
            ops.field_labels(&rs).unwrap(),
            vec![("status.replicas", "3".to_string())]
        );
    }
}
