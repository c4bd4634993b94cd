//! Pod: defaults, validation and selectable fields. The pod template defaults and validation
//! that Deployment, ReplicaSet and ReplicationController share live here too.
//!
//! Status initialisation on create (`phase: Pending`, the QoS class) is the registry's
//! strategy, not defaulting, and is not done here.

mod defaults;
mod gostring;
mod validation;

use k8s_openapi::api::core::v1::Pod;

use crate::field::ErrorList;
use crate::kind::Kind;
use crate::validation::NameRule;

pub(super) use defaults::default_pod_template;
pub(super) use gostring::{go_int_or_string, go_label_selector};
pub(super) use validation::{
    config_key_errors, map_selects, validate_template_for_replicas, TemplateOwner,
};

impl Kind for Pod {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn set_defaults(&mut self) {
        defaults::default_pod(self);
    }

    fn validate_create(&self) -> ErrorList {
        validation::validate_pod_create(self)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        validation::validate_pod_update(self, old)
    }

    /// `pod.ToSelectableFields`.
    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let spec = self.spec.as_ref();
        let status = self.status.as_ref();
        let text = |value: Option<&String>| value.cloned().unwrap_or_default();
        vec![
            (
                "spec.nodeName",
                text(spec.and_then(|s| s.node_name.as_ref())),
            ),
            (
                "spec.restartPolicy",
                text(spec.and_then(|s| s.restart_policy.as_ref())),
            ),
            (
                "spec.schedulerName",
                text(spec.and_then(|s| s.scheduler_name.as_ref())),
            ),
            (
                "spec.serviceAccountName",
                text(spec.and_then(|s| s.service_account_name.as_ref())),
            ),
            (
                "spec.hostNetwork",
                spec.and_then(|s| s.host_network)
                    .unwrap_or(false)
                    .to_string(),
            ),
            ("status.phase", text(status.and_then(|s| s.phase.as_ref()))),
            ("status.podIP", text(status.and_then(|s| s.pod_ip.as_ref()))),
            (
                "status.nominatedNodeName",
                text(status.and_then(|s| s.nominated_node_name.as_ref())),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    /// The object after defaulting, as the apiserver would store it.
    fn defaulted(mut object: Value) -> Value {
        let ops = find_kind("v1", "Pod").unwrap().ops;
        ops.set_defaults(&mut object).unwrap();
        object
    }

    /// The create errors of `spec` after defaulting, as kubectl prints them.
    fn errors(spec: Value) -> Vec<String> {
        let ops = find_kind("v1", "Pod").unwrap().ops;
        let object = defaulted(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia", "namespace": "default"}, "spec": spec}));
        let errs = ops.validate_create(&object, true).unwrap();
        errs.iter().map(ToString::to_string).collect()
    }

    fn container(extra: Value) -> Value {
        let mut c = json!({"name": "kubia", "image": "luksa/kubia"});
        if let (Value::Object(c), Value::Object(extra)) = (&mut c, extra) {
            c.extend(extra);
        }
        c
    }

    #[test]
    fn defaults_match_a_stored_pod() {
        let pod = defaulted(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": {
                "containers": [container(json!({
                    "ports": [{"containerPort": 8080}],
                    "resources": {"limits": {"memory": "128Mi"}},
                    "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "readinessProbe": {"exec": {"command": ["ls", "/var/ready"]}},
                    "livenessProbe": {"httpGet": {"port": 8080}, "initialDelaySeconds": 15}}))],
                "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                "volumes": [{"name": "data"}, {"name": "certs", "secret": {"secretName": "tls"}}]}}));
        assert_eq!(
            pod["spec"],
            json!({
                "containers": [{
                    "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}}],
                    "image": "luksa/kubia",
                    "imagePullPolicy": "Always",
                    "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
                                      "initialDelaySeconds": 15, "periodSeconds": 10, "successThreshold": 1,
                                      "timeoutSeconds": 1},
                    "name": "kubia",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "readinessProbe": {"exec": {"command": ["ls", "/var/ready"]}, "failureThreshold": 3,
                                       "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
                    "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": true,
                "initContainers": [{"image": "busybox:1.36", "imagePullPolicy": "IfNotPresent", "name": "init",
                                    "terminationMessagePath": "/dev/termination-log",
                                    "terminationMessagePolicy": "File"}],
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
                "volumes": [{"emptyDir": {}, "name": "data"},
                            {"name": "certs", "secret": {"defaultMode": 420, "secretName": "tls"}}]
            })
        );
    }

    #[test]
    fn host_network_pods_get_host_ports() {
        let pod = defaulted(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"hostNetwork": true, "containers": [container(json!({"ports": [{"containerPort": 53}]}))]}}),
        );
        assert_eq!(
            pod["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 53, "hostPort": 53, "protocol": "TCP"}])
        );
    }

    #[test]
    fn valid_pods_pass() {
        let errs = errors(json!({"containers": [container(json!({
            "ports": [{"name": "http", "containerPort": 8080}],
            "volumeMounts": [{"name": "data", "mountPath": "/var/data"}],
            "livenessProbe": {"tcpSocket": {"port": "http"}}}))],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}]}));
        assert_eq!(errs, Vec::<String>::new());
    }

    #[test]
    fn validation_messages_match_upstream() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({"containers": []}), vec!["spec.containers: Required value"]),
            (
                json!({"containers": [{"name": "kubia"}]}),
                vec!["spec.containers[0].image: Required value"],
            ),
            (
                json!({"containers": [container(json!({})), container(json!({}))]}),
                vec![r#"spec.containers[1].name: Duplicate value: "kubia""#],
            ),
            (
                json!({"containers": [container(json!({"name": "Kubia"}))]}),
                vec![r#"spec.containers[0].name: Invalid value: "Kubia": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#],
            ),
            (
                json!({"containers": [container(json!({"ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}]}))]}),
                vec![
                    "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                    r#"spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
                ],
            ),
            (
                json!({"containers": [container(json!({"ports": [{"name": "HTTP", "containerPort": 80}]}))]}),
                vec![
                    r#"spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#,
                    r#"spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)"#,
                ],
            ),
            (
                json!({"restartPolicy": "Sometimes", "containers": [container(json!({}))]}),
                vec![r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#],
            ),
            (
                json!({"containers": [container(json!({"volumeMounts": [{"name": "data", "mountPath": "/data"}]}))]}),
                vec![r#"spec.containers[0].volumeMounts[0].name: Not found: "data""#],
            ),
            (
                json!({"containers": [container(json!({"livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2},
                                                        "readinessProbe": {"initialDelaySeconds": 5}}))]}),
                vec![
                    "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                    "spec.containers[0].readinessProbe: Required value: must specify a handler type",
                ],
            ),
            (
                json!({"containers": [container(json!({"imagePullPolicy": "Sometimes"}))]}),
                vec![r#"spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never""#],
            ),
            (
                json!({"containers": [container(json!({"env": [{"name": "A=B", "value": "x"}]}))]}),
                vec![r#"spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='"#],
            ),
            (
                json!({"containers": [container(json!({"ports": [{"containerPort": 80, "hostPort": 8080}]})),
                                      {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}),
                vec![r#"spec.containers[1].ports[0].hostPort: Duplicate value: "/TCP/8080""#],
            ),
            (
                json!({"initContainers": [{"name": "init", "image": "busybox", "readinessProbe": {"exec": {"command": ["true"]}}}],
                       "containers": [container(json!({}))]}),
                vec!["spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers"],
            ),
            (
                json!({"containers": [container(json!({}))],
                       "tolerations": [{"operator": "Equal", "value": "x"}]}),
                vec![r#"spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys""#],
            ),
            (
                json!({"containers": [container(json!({}))], "volumes": [{"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}}]}),
                vec!["spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type"],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(errors(spec.clone()), want, "{spec}");
        }
    }

    #[test]
    fn updates_may_change_images_only() {
        let ops = find_kind("v1", "Pod").unwrap().ops;
        let old = defaulted(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": {"containers": [container(json!({"ports": [{"containerPort": 8080}]}))]}}));
        let mut new_image = old.clone();
        new_image["spec"]["containers"][0]["image"] = json!("luksa/kubia:v2");
        assert!(ops
            .validate_update(&new_image, &old, true)
            .unwrap()
            .is_empty());

        let mut new_port = old.clone();
        new_port["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(9090);
        let errs: Vec<String> = ops
            .validate_update(&new_port, &old, true)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs, vec!["spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"]);

        let mut more = old.clone();
        more["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(container(json!({"name": "b"})));
        let errs = ops.validate_update(&more, &old, true).unwrap();
        assert!(errs.iter().any(|e| e.to_string()
            == "spec.containers: Forbidden: pod updates may not add or remove containers"));
    }

    #[test]
    fn field_labels() {
        let ops = find_kind("v1", "Pod").unwrap().ops;
        let pod = defaulted(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": {"nodeName": "node1", "serviceAccountName": "default", "containers": [container(json!({}))]},
            "status": {"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}]}}));
        let labels = ops.field_labels(&pod).unwrap();
        let get = |key: &str| {
            labels
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("spec.nodeName"), Some("node1"));
        assert_eq!(get("spec.restartPolicy"), Some("Always"));
        assert_eq!(get("spec.schedulerName"), Some("default-scheduler"));
        assert_eq!(get("spec.serviceAccountName"), Some("default"));
        assert_eq!(get("spec.hostNetwork"), Some("false"));
        assert_eq!(get("status.phase"), Some("Running"));
        assert_eq!(get("status.podIP"), Some("10.244.1.5"));
        assert_eq!(get("status.nominatedNodeName"), Some(""));
    }
}
