//! Node: `SetDefaults_NodeStatus` (allocatable from capacity), taint and pod CIDR validation,
//! the update rules of `podCIDRs` and `providerID`, and the `spec.unschedulable` field label.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::field::{go_quote, BadValue, ErrorList, ErrorType, FieldError, Path};
use crate::kind::Kind;
use crate::validation::names;
use crate::validation::NameRule;

impl Kind for Node {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn set_defaults(&mut self) {
        if let Some(status) = self.status.as_mut() {
            if status.allocatable.is_none() {
                status.allocatable = status.capacity.clone();
            }
        }
    }

    fn validate_create(&self) -> ErrorList {
        let path = Path::new("spec");
        let spec = self.spec.clone().unwrap_or_default();
        let mut errs =
            validate_taints(spec.taints.as_deref().unwrap_or(&[]), &path.child("taints"));
        let cidrs = spec.pod_cidrs.unwrap_or_default();
        for (i, cidr) in cidrs.iter().enumerate() {
            if !is_cidr(cidr) {
                errs.push(FieldError::invalid(
                    path.child("podCIDRs").index(i),
                    cidr.as_str(),
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ));
            }
        }
        let families: BTreeSet<bool> = cidrs.iter().map(|c| c.contains(':')).collect();
        if cidrs.len() > 2 || (cidrs.len() == 2 && families.len() == 1) {
            let quoted: Vec<String> = cidrs.iter().map(|c| go_quote(c)).collect();
            errs.push(FieldError::invalid(
                path.child("podCIDRs"),
                BadValue::Raw(format!("[]string{{{}}}", quoted.join(", "))),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        errs
    }

    /// Pod CIDRs and the provider ID may only go from unset to set.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = self.validate_create();
        let spec = |n: &Node| n.spec.clone().unwrap_or_default();
        let (new_spec, old_spec) = (spec(self), spec(old));
        let old_cidrs = old_spec.pod_cidrs.unwrap_or_default();
        if !old_cidrs.is_empty() && new_spec.pod_cidrs.unwrap_or_default() != old_cidrs {
            errs.push(FieldError::forbidden(
                "spec.podCIDRs",
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        let old_provider = old_spec.provider_id.unwrap_or_default();
        if !old_provider.is_empty() && new_spec.provider_id.unwrap_or_default() != old_provider {
            errs.push(FieldError::forbidden(
                "spec.providerID",
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        errs
    }

    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let unschedulable = self.spec.as_ref().and_then(|s| s.unschedulable);
        vec![(
            "spec.unschedulable",
            unschedulable.unwrap_or(false).to_string(),
        )]
    }
}

/// `validateNodeTaints`: valid keys, values and effects, unique by key and effect.
fn validate_taints(taints: &[Taint], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, taint) in taints.iter().enumerate() {
        let taint_path = path.index(i);
        for msg in names::qualified_name(&taint.key) {
            errs.push(FieldError::invalid(
                taint_path.child("key"),
                taint.key.as_str(),
                msg,
            ));
        }
        let value = taint.value.as_deref().unwrap_or("");
        let value_errs = names::label_value(value);
        if !value_errs.is_empty() {
            errs.push(FieldError::invalid(
                taint_path.child("value"),
                value,
                value_errs.join(";"),
            ));
        }
        match taint.effect.as_str() {
            "" => errs.push(FieldError::required(taint_path.child("effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errs.push(FieldError::not_supported(
                taint_path.child("effect"),
                other,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((taint.effect.clone(), taint.key.clone())) {
            errs.push(FieldError::new(
                ErrorType::Duplicate,
                &taint_path,
                Some(BadValue::Raw(format!(
                    "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}",
                    go_quote(&taint.key),
                    go_quote(value),
                    go_quote(&taint.effect)
                ))),
                "taints must be unique by key and effect pair",
            ));
        }
    }
    errs
}

fn is_cidr(value: &str) -> bool {
    let Some((ip, bits)) = value.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::resource::find_kind;

    #[test]
    fn defaults_labels_and_taints() {
        let ops = find_kind("v1", "Node").unwrap().ops;
        let mut node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
            "spec": {"unschedulable": true, "podCIDRs": ["10.244.1.0/24"],
                     "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "2", "pods": "110"}}});
        ops.set_defaults(&mut node).unwrap();
        assert_eq!(
            node["status"]["allocatable"],
            json!({"cpu": "2", "pods": "110"})
        );
        assert!(ops.validate_create(&node, false).unwrap().is_empty());
        assert_eq!(
            ops.field_labels(&node).unwrap(),
            vec![("spec.unschedulable", "true".to_string())]
        );

        node["spec"]["taints"] =
            json!([{"key": "a", "effect": "Sometimes"}, {"key": "b", "effect": ""}]);
        node["spec"]["podCIDRs"] = json!(["10.244.1.0/24", "10.244.2.0/24"]);
        let errs: Vec<String> = ops
            .validate_create(&node, false)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.taints[1].effect: Required value",
                "spec.podCIDRs: Invalid value: []string{\"10.244.1.0/24\", \"10.244.2.0/24\"}: may specify no more than one CIDR for each IP family",
            ]
        );
    }

    #[test]
    fn pod_cidrs_only_go_from_unset_to_set() {
        let ops = find_kind("v1", "Node").unwrap().ops;
        let old = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}});
        let mut new = old.clone();
        new["spec"]["podCIDRs"] = json!(["10.244.9.0/24"]);
        let errs = ops.validate_update(&new, &old, false).unwrap();
        assert_eq!(
            errs[0].to_string(),
            "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"
        );
        let unset = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}});
        assert!(ops.validate_update(&old, &unset, false).unwrap().is_empty());
    }
}
