//! Namespace: defaults, validation and selectable fields.

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};

use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::{names, NameRule};

/// The label every namespace carries with its own name, for namespace selectors.
const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";
/// The finalizer the namespace controller removes once the namespace is empty.
const FINALIZER_KUBERNETES: &str = "kubernetes";
/// Finalizer names that need no domain prefix.
const STANDARD_FINALIZERS: &[&str] = &[FINALIZER_KUBERNETES, "orphan", "foregroundDeletion"];

impl Kind for Namespace {
    const NAME_RULE: NameRule = NameRule::Dns1123Label;

    /// `SetDefaults_Namespace` and `SetDefaults_NamespaceStatus`, and the `kubernetes`
    /// finalizer the strategy adds on create.
    /// `namespaceStrategy.PrepareForUpdate`: finalizers change only through `finalize`, and the
    /// phase only through `status`.
    fn prepare_for_update(&mut self, old: &Self) {
        let finalizers = old.spec.as_ref().and_then(|s| s.finalizers.clone());
        self.spec
            .get_or_insert_with(NamespaceSpec::default)
            .finalizers = finalizers;
        self.status = old.status.clone();
    }

    fn set_defaults(&mut self) {
        if let Some(name) = self.metadata.name.clone().filter(|n| !n.is_empty()) {
            self.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(LABEL_METADATA_NAME.to_string(), name);
        }
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        if status.phase.as_deref().unwrap_or("").is_empty() {
            status.phase = Some("Active".to_string());
        }
        // Upstream adds the finalizer in PrepareForCreate only, since the namespace controller
        // removes it (through `finalize`) before the namespace goes away. Defaults also run on
        // updates here, so only a namespace that never had a finalizer list gets one: once
        // removed, the list is present and empty.
        let spec = self.spec.get_or_insert_with(NamespaceSpec::default);
        if spec.finalizers.is_none() {
            spec.finalizers = Some(vec![FINALIZER_KUBERNETES.to_string()]);
        }
    }

    /// `ValidateNamespace`: finalizer names are qualified names, or standard ones.
    fn validate_create(&self) -> ErrorList {
        let path = Path::new("spec").child("finalizers");
        let finalizers = self.spec.as_ref().and_then(|s| s.finalizers.as_deref());
        let mut errs = Vec::new();
        for finalizer in finalizers.unwrap_or_default() {
            for msg in names::qualified_name(finalizer) {
                errs.push(FieldError::invalid(&path, finalizer, msg));
            }
            if !finalizer.contains('/') && !STANDARD_FINALIZERS.contains(&finalizer.as_str()) {
                errs.push(FieldError::invalid(
                    &path,
                    finalizer,
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
        errs
    }

    /// `ValidateNamespaceUpdate` checks metadata only: an update keeps the stored finalizers
    /// and status.
    fn validate_update(&self, _old: &Self) -> ErrorList {
        Vec::new()
    }

    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let phase = self.status.as_ref().and_then(|s| s.phase.clone());
        vec![
            ("status.phase", phase.unwrap_or_default()),
            // Upstream still answers the bare `name` field selector, for old clients.
            ("name", self.metadata.name.clone().unwrap_or_default()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn namespace(value: serde_json::Value) -> Namespace {
        let mut ns: Namespace = serde_json::from_value(value).unwrap();
        ns.set_defaults();
        ns
    }

    #[test]
    fn kubectl_create_namespace_gets_label_phase_and_finalizer() {
        let ns = namespace(json!({"metadata": {"name": "kubia"}}));
        let value = serde_json::to_value(&ns).unwrap();
        assert_eq!(
            (&value["metadata"], &value["spec"], &value["status"]),
            (
                &json!({"name": "kubia", "labels": {"kubernetes.io/metadata.name": "kubia"}}),
                &json!({"finalizers": ["kubernetes"]}),
                &json!({"phase": "Active"}),
            )
        );
        assert!(ns.validate_create().is_empty());
        assert_eq!(
            ns.field_labels(),
            [
                ("status.phase", "Active".to_string()),
                ("name", "kubia".to_string())
            ]
        );
    }

    #[test]
    fn a_finalized_namespace_stays_finalized() {
        let ns = namespace(json!({
            "metadata": {"name": "kubia"},
            "spec": {"finalizers": []},
            "status": {"phase": "Terminating"},
        }));
        assert_eq!(ns.spec.unwrap().finalizers, Some(vec![]));
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    }

    #[test]
    fn finalizer_names() {
        let ns = namespace(json!({
            "metadata": {"name": "kubia"},
            "spec": {"finalizers": ["kubernetes", "example.com/cleanup", "cleanup", "a/b/c"]},
        }));
        let errs: Vec<String> = ns
            .validate_create()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                r#"spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified"#,
                r#"spec.finalizers: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"#,
            ]
        );
    }
}
