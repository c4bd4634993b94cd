//! Endpoints: defaults, validation and the canonical subset layout kube-apiserver stores.

use k8s_openapi::api::core::v1::Endpoints;

use crate::field::ErrorList;
use crate::kind::Kind;
use crate::validation::endpoints::{repack_subsets, validate_endpoints};
use crate::validation::NameRule;

impl Kind for Endpoints {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// `SetDefaults_Endpoints` (ports default to TCP), then the strategy's `Canonicalize`.
    fn set_defaults(&mut self) {
        for port in self
            .subsets
            .iter_mut()
            .flatten()
            .flat_map(|s| s.ports.iter_mut().flatten())
        {
            if port.protocol.as_deref().unwrap_or("").is_empty() {
                port.protocol = Some("TCP".to_string());
            }
        }
        repack_if_valid(self);
    }

    fn validate_create(&self) -> ErrorList {
        validate_endpoints(self)
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        validate_endpoints(self)
    }
}

/// Upstream validates subsets as written and repacks them afterwards (`RepackSubsets` in
/// `Canonicalize`). Defaulting runs before validation here, so repack only when that cannot
/// change what the user is told: the subsets as written are valid, and so are the repacked
/// ones. Invalid input is left as written so error paths point at what the user sent.
fn repack_if_valid(endpoints: &mut Endpoints) {
    let Some(subsets) = endpoints.subsets.as_deref() else {
        return;
    };
    if !validate_endpoints(endpoints).is_empty() {
        return;
    }
    let repacked = Endpoints {
        subsets: Some(repack_subsets(subsets)),
        ..Endpoints::default()
    };
    if validate_endpoints(&repacked).is_empty() {
        endpoints.subsets = repacked.subsets;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn endpoints(subsets_yaml: &str) -> Endpoints {
        let subsets: Value = yaml_serde::from_str(subsets_yaml).unwrap();
        let mut ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "external-service", "namespace": "default"},
            "subsets": subsets,
        }))
        .unwrap();
        ep.set_defaults();
        ep
    }

    fn check(subsets_yaml: &str, want: &[&str]) {
        let errs: Vec<String> = endpoints(subsets_yaml)
            .validate_create()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs, want, "{subsets_yaml}");
    }

    #[test]
    fn kia_manual_endpoints_are_valid_and_default_to_tcp() {
        let ep =
            endpoints("[{addresses: [{ip: 22.22.22.22}, {ip: 11.11.11.11}], ports: [{port: 80}]}]");
        assert!(ep.validate_create().is_empty());
        assert_eq!(
            serde_json::to_value(&ep.subsets).unwrap(),
            json!([{
                "addresses": [{"ip": "11.11.11.11"}, {"ip": "22.22.22.22"}],
                "ports": [{"port": 80, "protocol": "TCP"}],
            }])
        );
    }

    #[test]
    fn bad_endpoints() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[{addresses: [{ip: 127.0.0.1}], ports: [{port: 80}]}]",
                &[r#"subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)"#],
            ),
            (
                "[{addresses: [{ip: 1.2.3}], ports: [{port: 80}]}]",
                &[
                    r#"subsets[0].addresses[0].ip: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
                    r#"subsets[0].addresses[0].ip: Invalid value: "1.2.3": must be a valid IP address"#,
                ],
            ),
            (
                "[{notReadyAddresses: [{ip: 169.254.1.1, hostname: a.b}], ports: [{port: 80}]}]",
                &[
                    r#"subsets[0].notReadyAddresses[0].hostname: Invalid value: "a.b": must not contain dots"#,
                    r#"subsets[0].notReadyAddresses[0].ip: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)"#,
                ],
            ),
            (
                "[{ports: [{port: 80}]}]",
                &["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"],
            ),
            (
                "[{addresses: [{ip: 10.1.1.1}], ports: [{port: 0, protocol: ICMP}, {name: b, port: 81}]}]",
                &[
                    "subsets[0].ports[0].name: Required value",
                    "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    r#"subsets[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#,
                ],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn subsets_are_repacked_by_port() {
        let ep = endpoints(
            "[{addresses: [{ip: 10.1.1.2}], ports: [{name: http, port: 80}]},
              {addresses: [{ip: 10.1.1.1}], notReadyAddresses: [{ip: 10.1.1.2}], ports: [{name: http, port: 80}]},
              {addresses: [{ip: 10.1.1.9}]}]",
        );
        assert_eq!(
            serde_json::to_value(&ep.subsets).unwrap(),
            json!([
                {
                    "addresses": [{"ip": "10.1.1.1"}],
                    "notReadyAddresses": [{"ip": "10.1.1.2"}],
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                },
                {"addresses": [{"ip": "10.1.1.9"}]},
            ])
        );
    }

    #[test]
    fn repacking_that_would_create_errors_is_skipped() {
        // Two unnamed single-port subsets with the same address are each valid; merged, their
        // ports would need names.
        let yaml = "[{addresses: [{ip: 10.1.1.1}], ports: [{port: 80}]}, {addresses: [{ip: 10.1.1.1}], ports: [{port: 81}]}]";
        let ep = endpoints(yaml);
        assert_eq!(ep.subsets.as_ref().map(Vec::len), Some(2));
        check(yaml, &[]);
    }
}
