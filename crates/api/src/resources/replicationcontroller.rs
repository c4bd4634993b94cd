//! ReplicationController: defaults (`SetDefaults_ReplicationController`), validation
//! (`ValidateReplicationControllerSpec`) and selectable fields.

use k8s_openapi::api::core::v1::ReplicationController;

use super::pod::{
    default_pod_template, map_selects, validate_template_for_replicas, TemplateOwner,
};
use super::replicaset::non_negative;
use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for ReplicationController {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// The selector and the object's labels default to the template's labels.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        let template_labels = spec
            .template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone());
        if let Some(labels) = template_labels {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if self.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                self.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        if let Some(template) = spec.template.as_mut() {
            default_pod_template(template);
        }
    }

    fn validate_create(&self) -> ErrorList {
        let path = Path::new("spec");
        let spec = self.spec.clone().unwrap_or_default();
        let mut errs = non_negative(
            spec.min_ready_seconds.unwrap_or(0),
            &path.child("minReadySeconds"),
        );
        let selector = spec.selector.unwrap_or_default();
        if selector.is_empty() {
            errs.push(FieldError::required(path.child("selector"), ""));
        }
        errs.extend(non_negative(
            spec.replicas.unwrap_or(0),
            &path.child("replicas"),
        ));
        let template = spec.template.as_ref();
        let labels = template
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref());
        let matches = (!selector.is_empty()).then(|| map_selects(&selector, labels));
        errs.extend(validate_template_for_replicas(
            template,
            matches,
            TemplateOwner::ReplicationController,
            &path.child("template"),
        ));
        errs
    }

    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let replicas = self.status.as_ref().map_or(0, |s| s.replicas);
        vec![("status.replicas", replicas.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn check(object: Value) -> (Value, Vec<String>) {
        let ops = find_kind("v1", "ReplicationController").unwrap().ops;
        let mut object = object;
        ops.set_defaults(&mut object).unwrap();
        let errs = ops.validate_create(&object, true).unwrap();
        (object, errs.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn selector_and_labels_default_to_the_template_labels() {
        // KiA's kubia-rc.yaml without a selector.
        let (rc, errs) = check(json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia",
                                         "ports": [{"containerPort": 8080}]}]}}}}));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(rc["metadata"]["labels"], json!({"app": "kubia"}));
        assert_eq!(rc["spec"]["selector"], json!({"app": "kubia"}));
        assert_eq!(rc["spec"]["replicas"], 3);
        assert_eq!(
            rc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"],
            "TCP"
        );
    }

    #[test]
    fn validation_messages_match_upstream() {
        let (_, errs) = check(json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "kubia", "namespace": "default"}, "spec": {}}));
        assert_eq!(
            errs,
            vec![
                "spec.selector: Required value",
                "spec.template: Required value"
            ]
        );
        let (_, errs) = check(json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": {"selector": {"app": "kubia"}, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}}}}));
        assert_eq!(
            errs,
            vec![
                r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#
            ]
        );
    }

    #[test]
    fn field_labels() {
        let ops = find_kind("v1", "ReplicationController").unwrap().ops;
        let rc = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "kubia"},
            "status": {"replicas": 2}});
        assert_eq!(
            ops.field_labels(&rc).unwrap(),
            vec![("status.replicas", "2".to_string())]
        );
    }
}
