//! Lease: `ValidateLeaseSpec` (positive duration, non-negative transitions, a known strategy,
//! a preferred holder only with a strategy).

use k8s_openapi::api::coordination::v1::Lease;

use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::names;
use crate::validation::NameRule;

impl Kind for Lease {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn validate_create(&self) -> ErrorList {
        let path = Path::new("spec");
        let spec = self.spec.clone().unwrap_or_default();
        let mut errs = Vec::new();
        if let Some(duration) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldError::invalid(
                path.child("leaseDurationSeconds"),
                duration,
                "must be greater than 0",
            ));
        }
        if let Some(transitions) = spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(FieldError::invalid(
                path.child("leaseTransitions"),
                transitions,
                "must be greater than or equal to 0",
            ));
        }
        let has_strategy = spec.strategy.as_deref().is_some_and(|s| !s.is_empty());
        if let Some(strategy) = &spec.strategy {
            // Upstream names the field twice (`spec.strategy.strategy`); kept for fidelity.
            errs.extend(validate_strategy(
                strategy,
                &path.child("strategy").child("strategy"),
            ));
        }
        let preferred = spec
            .preferred_holder
            .as_deref()
            .is_some_and(|p| !p.is_empty());
        if preferred && !has_strategy {
            errs.push(FieldError::forbidden(
                path.child("preferredHolder"),
                "may only be specified if `strategy` is defined",
            ));
        }
        errs
    }
}

/// `ValidateCoordinatedLeaseStrategy`: a Kubernetes-defined name or a qualified `domain/name`.
fn validate_strategy(strategy: &str, path: &Path) -> ErrorList {
    if strategy.contains('/') {
        return names::qualified_name(strategy)
            .into_iter()
            .map(|msg| FieldError::invalid(path, strategy, msg))
            .collect();
    }
    if strategy == "OldestEmulationVersion" {
        Vec::new()
    } else {
        vec![FieldError::not_supported(
            path,
            strategy,
            &["OldestEmulationVersion"],
        )]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn errors(spec: Value) -> Vec<String> {
        let ops = find_kind("coordination.k8s.io/v1", "Lease").unwrap().ops;
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "node1", "namespace": "kube-node-lease"}, "spec": spec});
        let errs = ops.validate_create(&lease, true).unwrap();
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn lease_spec_rules() {
        assert!(errors(json!({"holderIdentity": "node1", "leaseDurationSeconds": 40})).is_empty());
        assert_eq!(
            errors(
                json!({"leaseDurationSeconds": 0, "leaseTransitions": -1, "preferredHolder": "a"})
            ),
            vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
            ]
        );
        assert_eq!(
            errors(json!({"strategy": "Newest"})),
            vec!["spec.strategy.strategy: Unsupported value: \"Newest\": supported values: \"OldestEmulationVersion\""]
        );
    }
}
