//! IngressClass (networking.k8s.io/v1): defaults and validation.

use k8s_openapi::api::networking::v1::IngressClass;

use crate::field::ErrorList;
use crate::kind::Kind;
use crate::validation::ingress::{validate_ingress_class, validate_ingress_class_update};
use crate::validation::NameRule;

impl Kind for IngressClass {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// `SetDefaults_IngressClass`: parameters are cluster-scoped unless said otherwise.
    fn set_defaults(&mut self) {
        let params = self.spec.as_mut().and_then(|s| s.parameters.as_mut());
        if let Some(params) = params {
            params.scope.get_or_insert_with(|| "Cluster".to_string());
        }
    }

    fn validate_create(&self) -> ErrorList {
        validate_ingress_class(self)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        validate_ingress_class_update(self, old)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn class(spec_yaml: &str) -> IngressClass {
        let spec: Value = yaml_serde::from_str(spec_yaml).unwrap();
        let mut c: IngressClass =
            serde_json::from_value(json!({"metadata": {"name": "ferry"}, "spec": spec})).unwrap();
        c.set_defaults();
        c
    }

    fn texts(errs: ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn controller_and_parameters() {
        let ok = class("controller: ferry.dev/ingress\nparameters: {kind: Config, name: default}");
        assert_eq!(
            serde_json::to_value(&ok).unwrap()["spec"]["parameters"]["scope"],
            json!("Cluster")
        );
        assert!(ok.validate_create().is_empty());
        let cases: &[(&str, &[&str])] = &[
            ("{}", &["spec.controller: Required value"]),
            (
                "controller: ingress-nginx",
                &[r#"spec.controller: Invalid value: "ingress-nginx": must be a domain-prefixed path (such as "acme.io/foo")"#],
            ),
            (
                "controller: ferry.dev/ingress\nparameters: {kind: Config, name: a/b, scope: Namespace}",
                &[
                    r#"spec.parameters.name: Invalid value: "a/b": may not contain '/'"#,
                    "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
                ],
            ),
            (
                "controller: ferry.dev/ingress\nparameters: {kind: Config, name: c, namespace: x}",
                &["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"],
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(texts(class(yaml).validate_create()), *want, "{yaml}");
        }
    }

    #[test]
    fn controller_is_fixed() {
        let old = class("controller: ferry.dev/ingress");
        let new = class("controller: example.com/ingress");
        assert_eq!(
            texts(new.validate_update(&old)),
            [r#"spec.controller: Invalid value: "example.com/ingress": field is immutable"#]
        );
    }
}
