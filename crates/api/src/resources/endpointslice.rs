//! EndpointSlice (discovery.k8s.io/v1): defaults, validation and what a v1 write drops.

use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::field::ErrorList;
use crate::kind::Kind;
use crate::validation::endpoints::{validate_endpoint_slice, validate_endpoint_slice_update};
use crate::validation::NameRule;

impl Kind for EndpointSlice {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// `SetDefaults_EndpointPort` (name `""`, protocol TCP), and the strategy's
    /// `dropTopologyOnV1`: writes through v1 never store `deprecatedTopology`.
    fn set_defaults(&mut self) {
        for port in self.ports.iter_mut().flatten() {
            port.name.get_or_insert_with(String::new);
            port.protocol.get_or_insert_with(|| "TCP".to_string());
        }
        for endpoint in &mut self.endpoints {
            endpoint.deprecated_topology = None;
        }
    }

    fn validate_create(&self) -> ErrorList {
        validate_endpoint_slice(self)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        validate_endpoint_slice_update(self, old)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn slice(yaml: &str) -> EndpointSlice {
        let body: Value = yaml_serde::from_str(yaml).unwrap();
        let mut object = json!({"metadata": {"name": "kubia-abcde", "namespace": "default"}});
        if let (Some(o), Value::Object(fields)) = (object.as_object_mut(), body) {
            o.extend(fields);
        }
        let mut slice: EndpointSlice = serde_json::from_value(object).unwrap();
        slice.set_defaults();
        slice
    }

    fn texts(errs: ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn check(yaml: &str, want: &[&str]) {
        assert_eq!(texts(slice(yaml).validate_create()), want, "{yaml}");
    }

    #[test]
    fn defaults_fill_ports_and_drop_topology() {
        let s = slice(
            "addressType: IPv4\nendpoints: [{addresses: [10.244.1.5], deprecatedTopology: {kubernetes.io/hostname: node1}}]\nports: [{port: 8080}]",
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap()["ports"],
            json!([{"name": "", "port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(s.endpoints[0].deprecated_topology, None);
        assert!(s.validate_create().is_empty());
    }

    #[test]
    fn bad_slices() {
        let cases: &[(&str, &[&str])] = &[
            ("endpoints: []", &["addressType: Required value"]),
            (
                "addressType: IP\nendpoints: []",
                &[r#"addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6""#],
            ),
            (
                "addressType: IPv4\nendpoints: [{addresses: []}, {addresses: [fd00::1]}, {addresses: [127.0.0.2]}]",
                &[
                    "endpoints[0].addresses: Required value: must contain at least 1 address",
                    r#"endpoints[1].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address"#,
                    r#"endpoints[2].addresses[0]: Invalid value: "127.0.0.2": may not be in the loopback range (127.0.0.0/8, ::1/128)"#,
                ],
            ),
            (
                "addressType: FQDN\nendpoints: [{addresses: [localhost], hostname: Web}]",
                &[
                    r#"endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with at least two segments separated by dots"#,
                    r#"endpoints[0].hostname: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                ],
            ),
            (
                "addressType: IPv4\nendpoints: [{addresses: [10.1.1.1], hints: {forZones: [{name: a}, {name: a}]}}]",
                &[r#"endpoints[0].hints.forZones[1].name: Duplicate value: "a""#],
            ),
            (
                "addressType: IPv4\nendpoints: []\nports: [{name: http, port: 80}, {name: http, port: 81, protocol: HTTP}, {port: 82}, {port: 83}]",
                &[
                    r#"ports[1].name: Duplicate value: "http""#,
                    r#"ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
                    r#"ports[3].name: Duplicate value: """#,
                ],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn too_many_endpoints() {
        let mut s = slice("addressType: IPv4\nendpoints: [{addresses: [10.1.1.1]}]");
        s.endpoints = vec![s.endpoints[0].clone(); 1001];
        assert_eq!(
            texts(s.validate_create()),
            ["endpoints: Too many: 1001: must have at most 1000 items"]
        );
    }

    #[test]
    fn address_type_is_fixed() {
        let old = slice("addressType: IPv4\nendpoints: []");
        let new = slice("addressType: IPv6\nendpoints: []");
        assert_eq!(
            texts(new.validate_update(&old)),
            [r#"addressType: Invalid value: "IPv6": field is immutable"#]
        );
    }
}
