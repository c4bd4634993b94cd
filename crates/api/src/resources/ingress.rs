//! Ingress (networking.k8s.io/v1): validation and warnings. v1 has no defaults: `pathType`
//! must be given.

use k8s_openapi::api::networking::v1::Ingress;

use crate::field::ErrorList;
use crate::kind::Kind;
use crate::validation::ingress::{
    validate_ingress, validate_ingress_update, ANNOTATION_INGRESS_CLASS,
};
use crate::validation::NameRule;

impl Kind for Ingress {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn validate_create(&self) -> ErrorList {
        validate_ingress(self)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        validate_ingress_update(self, old)
    }

    /// Upstream warns about the class annotation on create (updates are not told apart here).
    fn warnings(&self) -> Vec<String> {
        let annotations = self.metadata.annotations.as_ref();
        if annotations.is_some_and(|a| a.contains_key(ANNOTATION_INGRESS_CLASS)) {
            vec![format!(
                "annotation \"{ANNOTATION_INGRESS_CLASS}\" is deprecated, please use 'spec.ingressClassName' instead"
            )]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn ingress(spec_yaml: &str) -> Ingress {
        let spec: Value = yaml_serde::from_str(spec_yaml).unwrap();
        let mut ing: Ingress = serde_json::from_value(json!({
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap();
        ing.set_defaults();
        ing
    }

    fn texts(errs: ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn check(spec_yaml: &str, want: &[&str]) {
        assert_eq!(
            texts(ingress(spec_yaml).validate_create()),
            want,
            "{spec_yaml}"
        );
    }

    /// One rule for `kubia.example.com` with the given path entry.
    fn rule(path_yaml: &str) -> String {
        format!("rules: [{{host: kubia.example.com, http: {{paths: [{path_yaml}]}}}}]")
    }

    #[test]
    fn kia_ingress_in_v1_form_is_valid() {
        check(
            &format!(
                "{}\ntls: [{{hosts: [kubia.example.com], secretName: tls-secret}}]",
                rule("{path: /, pathType: Prefix, backend: {service: {name: kubia-nodeport, port: {number: 80}}}}")
            ),
            &[],
        );
        check(
            "defaultBackend: {service: {name: kubia, port: {name: http}}}",
            &[],
        );
        check(&rule("{pathType: ImplementationSpecific, backend: {service: {name: kubia, port: {number: 80}}}}"), &[]);
    }

    #[test]
    fn bad_ingresses() {
        let cases: &[(String, &[&str])] = &[
            (
                "ingressClassName: nginx".to_string(),
                &["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"],
            ),
            (
                rule("{path: /, backend: {service: {name: kubia, port: {number: 80}}}}"),
                &["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
            ),
            (
                rule("{path: /, pathType: Regex, backend: {service: {name: kubia, port: {number: 80}}}}"),
                &[r#"spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix""#],
            ),
            (
                rule("{path: kubia/.., pathType: Exact, backend: {service: {name: kubia, port: {number: 80}}}}"),
                &[
                    r#"spec.rules[0].http.paths[0].path: Invalid value: "kubia/..": must be an absolute path"#,
                    r#"spec.rules[0].http.paths[0].path: Invalid value: "kubia/..": cannot end with '/..'"#,
                ],
            ),
            (
                rule("{path: /, pathType: Prefix, backend: {service: {name: kubia, port: {number: 80, name: http}}}}"),
                &[r#"spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number"#],
            ),
            (
                rule("{path: /, pathType: Prefix, backend: {service: {name: kubia}}}"),
                &["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"],
            ),
            (
                rule("{path: /, pathType: Prefix, backend: {service: {name: 1kubia, port: {number: 70000}}}}"),
                &[
                    r#"spec.rules[0].http.paths[0].backend.service.name: Invalid value: "1kubia": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
                    "spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
                ],
            ),
            (
                rule("{path: /, pathType: Prefix, backend: {}}"),
                &[r#"spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required"#],
            ),
            (
                "rules: [{host: 10.0.0.1, http: {paths: []}}]".to_string(),
                &[
                    r#"spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address"#,
                    "spec.rules[0].http.paths: Required value",
                ],
            ),
            (
                "rules: [{host: 'foo.*.com'}]".to_string(),
                &[r#"spec.rules[0].host: Invalid value: "foo.*.com": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#],
            ),
            (
                "defaultBackend: {service: {name: kubia, port: {number: 80}}}\ntls: [{hosts: ['*.example.com'], secretName: Bad_Secret}]".to_string(),
                &[r#"spec.tls[0].secretName: Invalid value: "Bad_Secret": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn class_annotation_must_agree_and_warns() {
        let mut ing = ingress(
            "ingressClassName: nginx\ndefaultBackend: {service: {name: kubia, port: {number: 80}}}",
        );
        ing.metadata.annotations =
            Some([(ANNOTATION_INGRESS_CLASS.to_string(), "traefik".to_string())].into());
        assert_eq!(
            texts(ing.validate_create()),
            [
                r#"annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match `ingressClassName` when both are specified"#
            ]
        );
        assert_eq!(
            ing.warnings(),
            [
                r#"annotation "kubernetes.io/ingress.class" is deprecated, please use 'spec.ingressClassName' instead"#
            ]
        );
        // The mismatch is a create-time rule only.
        assert!(ing.validate_update(&ing).is_empty());
    }

    #[test]
    fn stored_invalid_secret_names_are_tolerated_on_update() {
        let old = ingress("defaultBackend: {service: {name: kubia, port: {number: 80}}}\ntls: [{secretName: Bad_Secret}]");
        assert_eq!(old.validate_create().len(), 1);
        assert!(old.validate_update(&old).is_empty());
    }
}
