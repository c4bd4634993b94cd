//! Round trips: k8s-pb messages encoded with prost and wrapped in the `k8s\0` envelope decode
//! to the Kubernetes JSON of the same object, and the served kinds accept that JSON.

use std::collections::BTreeMap;

use ferry_api::protobuf::{decode_protobuf, ProtobufError};
use ferry_api::resource::find_kind;
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::discovery::v1 as discovery;
use k8s_pb::api::networking::v1 as networking;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference, Time,
};
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};

/// The body Go's client would send for `message` as `api_version`/`kind`.
fn envelope(api_version: &str, kind: &str, message: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(message.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

/// Decodes, and checks the served kind takes the JSON without unknown fields.
fn round_trip(api_version: &str, kind: &str, message: &impl Message) -> Value {
    let value = decode_protobuf(&envelope(api_version, kind, message)).unwrap();
    let resource = find_kind(api_version, kind).unwrap();
    let (_, unknown) = resource.ops.decode(&value).unwrap();
    assert!(unknown.is_empty(), "{kind}: unknown fields {unknown:?}");
    value
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn int(v: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: s(""),
    })
}

fn string(v: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    })
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

/// ObjectMeta as Go writes it: every plain string present, most of them empty.
fn meta(name: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(""),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(Time::default()),
        ..ObjectMeta::default()
    })
}

fn selector(app: &str) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: map(&[("app", app)]),
        match_expressions: vec![],
    })
}

fn container() -> core::Container {
    core::Container {
        name: s("kubia"),
        image: s("luksa/kubia:v1"),
        command: vec!["node".into()],
        args: vec!["app.js".into()],
        working_dir: s(""),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(8080),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        env: vec![
            core::EnvVar {
                name: s("GREETING"),
                value: s("hello"),
                value_from: None,
            },
            core::EnvVar {
                name: s("POD_IP"),
                value: s(""),
                value_from: Some(core::EnvVarSource {
                    field_ref: Some(core::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: s("status.podIP"),
                    }),
                    ..Default::default()
                }),
            },
            core::EnvVar {
                name: s("PASSWORD"),
                value: s(""),
                value_from: Some(core::EnvVarSource {
                    secret_key_ref: Some(core::SecretKeySelector {
                        local_object_reference: Some(core::LocalObjectReference { name: s("db") }),
                        key: s("password"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
        ],
        env_from: vec![core::EnvFromSource {
            prefix: s("CFG_"),
            config_map_ref: Some(core::ConfigMapEnvSource {
                local_object_reference: Some(core::LocalObjectReference { name: s("cfg") }),
                optional: None,
            }),
            secret_ref: None,
        }],
        resources: Some(core::ResourceRequirements {
            limits: [("memory".to_string(), quantity("128Mi"))].into(),
            requests: [("cpu".to_string(), quantity("100m"))].into(),
            claims: vec![],
        }),
        volume_mounts: vec![core::VolumeMount {
            name: s("data"),
            read_only: Some(true),
            mount_path: s("/var/data"),
            sub_path: s(""),
            ..Default::default()
        }],
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                exec: Some(core::ExecAction {
                    command: vec!["ls".into(), "/var/ready".into()],
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(0),
            timeout_seconds: Some(1),
            period_seconds: Some(10),
            success_threshold: Some(1),
            failure_threshold: Some(3),
            termination_grace_period_seconds: None,
        }),
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: string("http"),
                    host: s(""),
                    scheme: s("HTTP"),
                    http_headers: vec![],
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(15),
            ..Default::default()
        }),
        termination_message_path: s("/dev/termination-log"),
        termination_message_policy: s("File"),
        image_pull_policy: s("IfNotPresent"),
        security_context: Some(core::SecurityContext {
            run_as_user: Some(0),
            privileged: Some(false),
            capabilities: Some(core::Capabilities {
                add: vec!["NET_ADMIN".into()],
                drop: vec![],
            }),
            ..Default::default()
        }),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

fn container_json() -> Value {
    json!({
        "name": "kubia", "image": "luksa/kubia:v1", "command": ["node"], "args": ["app.js"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
        "env": [
            {"name": "GREETING", "value": "hello"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": false}}}
        ],
        "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m"}},
        "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/var/data"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                          "initialDelaySeconds": 15},
        "readinessProbe": {"exec": {"command": ["ls", "/var/ready"]}, "timeoutSeconds": 1,
                           "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}, "privileged": false, "runAsUser": 0}
    })
}

fn pod_spec() -> core::PodSpec {
    core::PodSpec {
        volumes: vec![
            core::Volume {
                name: s("data"),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource {
                        medium: s(""),
                        size_limit: None,
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("certs"),
                volume_source: Some(core::VolumeSource {
                    secret: Some(core::SecretVolumeSource {
                        secret_name: s("tls-secret"),
                        items: vec![],
                        default_mode: Some(420),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("config"),
                volume_source: Some(core::VolumeSource {
                    config_map: Some(core::ConfigMapVolumeSource {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("fortune-config"),
                        }),
                        items: vec![core::KeyToPath {
                            key: s("sleep-interval"),
                            path: s("interval"),
                            mode: None,
                        }],
                        default_mode: None,
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
        ],
        containers: vec![container()],
        restart_policy: s("Always"),
        termination_grace_period_seconds: Some(30),
        dns_policy: s("ClusterFirst"),
        node_selector: map(&[("gpu", "true")]),
        service_account_name: s(""),
        node_name: s(""),
        host_network: Some(false),
        security_context: Some(core::PodSecurityContext::default()),
        hostname: s(""),
        subdomain: s(""),
        scheduler_name: s("default-scheduler"),
        tolerations: vec![core::Toleration {
            key: s("node.kubernetes.io/not-ready"),
            operator: s("Exists"),
            value: s(""),
            effect: s("NoExecute"),
            toleration_seconds: Some(300),
        }],
        affinity: Some(core::Affinity {
            node_affinity: Some(core::NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(core::NodeSelector {
                    node_selector_terms: vec![core::NodeSelectorTerm {
                        match_expressions: vec![core::NodeSelectorRequirement {
                            key: s("kubernetes.io/os"),
                            operator: s("In"),
                            values: vec!["linux".into()],
                        }],
                        match_fields: vec![],
                    }],
                }),
                preferred_during_scheduling_ignored_during_execution: vec![],
            }),
            ..Default::default()
        }),
        priority: Some(0),
        enable_service_links: Some(true),
        preemption_policy: s("PreemptLowerPriority"),
        readiness_gates: vec![core::PodReadinessGate {
            condition_type: s("example.com/lb"),
        }],
        ..Default::default()
    }
}

fn pod_spec_json() -> Value {
    json!({
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "certs", "secret": {"secretName": "tls-secret", "defaultMode": 420}},
            {"name": "config", "configMap": {"name": "fortune-config",
                                             "items": [{"key": "sleep-interval", "path": "interval"}]}}
        ],
        "containers": [container_json()],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"gpu": "true"},
        "securityContext": {},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}},
        "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
        "priority": 0,
        "readinessGates": [{"conditionType": "example.com/lb"}],
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority"
    })
}

#[test]
fn pod_with_spec_and_status() {
    let mut metadata = meta("kubia-0abcd");
    if let Some(m) = metadata.as_mut() {
        m.namespace = s("default");
        m.uid = s("c984c03c-846a-4b0e-b2b4-50c295cfad48");
        m.creation_timestamp = Some(Time {
            seconds: Some(1_714_564_800),
            nanos: Some(0),
        });
        m.labels = map(&[("app", "kubia")]);
        m.owner_references = vec![OwnerReference {
            api_version: s("apps/v1"),
            kind: s("ReplicaSet"),
            name: s("kubia-5b7f8c9d4"),
            uid: s("1234"),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }];
    }
    let pod = core::Pod {
        metadata,
        spec: Some(pod_spec()),
        status: Some(core::PodStatus {
            phase: s("Running"),
            conditions: vec![core::PodCondition {
                r#type: s("Ready"),
                status: s("True"),
                last_probe_time: Some(Time::default()),
                last_transition_time: Some(Time {
                    seconds: Some(1_714_564_860),
                    nanos: Some(0),
                }),
                reason: s(""),
                message: s(""),
                ..Default::default()
            }],
            host_ip: s("172.18.0.2"),
            pod_ip: s("10.244.1.5"),
            pod_ips: vec![core::PodIp {
                ip: s("10.244.1.5"),
            }],
            container_statuses: vec![core::ContainerStatus {
                name: s("kubia"),
                state: Some(core::ContainerState {
                    running: Some(core::ContainerStateRunning {
                        started_at: Some(Time {
                            seconds: Some(1_714_564_830),
                            nanos: Some(0),
                        }),
                    }),
                    ..Default::default()
                }),
                last_state: Some(core::ContainerState::default()),
                ready: Some(true),
                restart_count: Some(0),
                image: s("luksa/kubia:v1"),
                image_id: s(""),
                container_id: s("containerd://abc"),
                started: Some(true),
                ..Default::default()
            }],
            qos_class: s("Burstable"),
            ..Default::default()
        }),
    };
    assert_eq!(
        round_trip("v1", "Pod", &pod),
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia-0abcd", "namespace": "default",
                         "uid": "c984c03c-846a-4b0e-b2b4-50c295cfad48",
                         "creationTimestamp": "2024-05-01T12:00:00Z", "labels": {"app": "kubia"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": "kubia-5b7f8c9d4", "uid": "1234",
                                              "controller": true, "blockOwnerDeletion": true}]},
            "spec": pod_spec_json(),
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True",
                                "lastTransitionTime": "2024-05-01T12:01:00Z"}],
                "hostIP": "172.18.0.2", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
                "containerStatuses": [{"name": "kubia",
                                       "state": {"running": {"startedAt": "2024-05-01T12:00:30Z"}},
                                       "lastState": {}, "ready": true, "restartCount": 0,
                                       "image": "luksa/kubia:v1", "containerID": "containerd://abc",
                                       "started": true}],
                "qosClass": "Burstable"
            }
        })
    );
}

#[test]
fn deployment_with_strategy() {
    let deployment = apps::Deployment {
        metadata: meta("kubia"),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            selector: Some(LabelSelector {
                match_labels: map(&[("app", "kubia")]),
                match_expressions: vec![LabelSelectorRequirement {
                    key: s("env"),
                    operator: s("NotIn"),
                    values: vec!["prod".into()],
                }],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: meta(""),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: s("kubia"),
                        image: s("luksa/kubia:v2"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: int(0),
                    max_surge: string("25%"),
                }),
            }),
            min_ready_seconds: Some(10),
            revision_history_limit: Some(10),
            paused: Some(false),
            progress_deadline_seconds: Some(600),
        }),
        status: Some(apps::DeploymentStatus::default()),
    };
    assert_eq!(
        round_trip("apps/v1", "Deployment", &deployment),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kubia"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "kubia"},
                             "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
                "template": {"metadata": {}, "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia:v2"}]}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                "minReadySeconds": 10, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600
            },
            "status": {}
        })
    );
}

#[test]
fn replica_set_and_replication_controller() {
    let template = || {
        Some(core::PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: map(&[("app", "kubia")]),
                ..ObjectMeta::default()
            }),
            spec: Some(core::PodSpec {
                containers: vec![core::Container {
                    name: s("kubia"),
                    image: s("luksa/kubia"),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        })
    };
    let template_json = json!({"metadata": {"labels": {"app": "kubia"}},
                               "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}});
    let rs = apps::ReplicaSet {
        metadata: meta("kubia"),
        spec: Some(apps::ReplicaSetSpec {
            replicas: Some(3),
            min_ready_seconds: Some(0),
            selector: selector("kubia"),
            template: template(),
        }),
        status: Some(apps::ReplicaSetStatus {
            replicas: Some(0),
            ..Default::default()
        }),
    };
    assert_eq!(
        round_trip("apps/v1", "ReplicaSet", &rs),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "kubia"},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}}, "template": template_json},
               "status": {"replicas": 0}})
    );
    let rc = core::ReplicationController {
        metadata: meta("kubia"),
        spec: Some(core::ReplicationControllerSpec {
            replicas: Some(3),
            min_ready_seconds: Some(0),
            selector: map(&[("app", "kubia")]),
            template: template(),
        }),
        status: None,
    };
    assert_eq!(
        round_trip("v1", "ReplicationController", &rc),
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "kubia"},
               "spec": {"replicas": 3, "selector": {"app": "kubia"}, "template": template_json}})
    );
}

#[test]
fn service_with_every_spec_field() {
    let service = core::Service {
        metadata: meta("kubia"),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    app_protocol: s("http"),
                    port: Some(80),
                    target_port: int(8080),
                    node_port: Some(30080),
                },
                core::ServicePort {
                    name: s("dns"),
                    protocol: s("UDP"),
                    app_protocol: None,
                    port: Some(53),
                    target_port: int(0),
                    node_port: Some(0),
                },
            ],
            selector: map(&[("app", "kubia")]),
            cluster_ip: s("10.96.0.10"),
            cluster_ips: vec!["10.96.0.10".into()],
            r#type: s("LoadBalancer"),
            external_ips: vec!["192.0.2.1".into()],
            session_affinity: s("ClientIP"),
            load_balancer_ip: s(""),
            load_balancer_source_ranges: vec!["10.0.0.0/8".into()],
            external_name: s(""),
            external_traffic_policy: s("Local"),
            health_check_node_port: Some(31000),
            publish_not_ready_addresses: Some(true),
            session_affinity_config: Some(core::SessionAffinityConfig {
                client_ip: Some(core::ClientIpConfig {
                    timeout_seconds: Some(10800),
                }),
            }),
            ip_families: vec!["IPv4".into()],
            ip_family_policy: s("SingleStack"),
            allocate_load_balancer_node_ports: Some(true),
            load_balancer_class: None,
            internal_traffic_policy: s("Cluster"),
            traffic_distribution: None,
        }),
        status: Some(core::ServiceStatus {
            load_balancer: Some(core::LoadBalancerStatus {
                ingress: vec![core::LoadBalancerIngress {
                    ip: s("203.0.113.5"),
                    hostname: s(""),
                    ip_mode: s("VIP"),
                    ports: vec![],
                }],
            }),
            conditions: vec![],
        }),
    };
    assert_eq!(
        round_trip("v1", "Service", &service),
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubia"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "appProtocol": "http", "port": 80,
                     "targetPort": 8080, "nodePort": 30080},
                    {"name": "dns", "protocol": "UDP", "port": 53}
                ],
                "selector": {"app": "kubia"},
                "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "type": "LoadBalancer",
                "externalIPs": ["192.0.2.1"], "sessionAffinity": "ClientIP",
                "loadBalancerSourceRanges": ["10.0.0.0/8"], "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 31000, "publishNotReadyAddresses": true,
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "allocateLoadBalancerNodePorts": true, "internalTrafficPolicy": "Cluster"
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5", "ipMode": "VIP"}]}}
        })
    );
}

#[test]
fn endpoints_and_endpoint_slice() {
    let target = core::ObjectReference {
        kind: s("Pod"),
        namespace: s("default"),
        name: s("kubia-0abcd"),
        uid: s("c984"),
        api_version: s(""),
        resource_version: s(""),
        field_path: s(""),
    };
    let endpoints = core::Endpoints {
        metadata: meta("kubia"),
        subsets: vec![core::EndpointSubset {
            addresses: vec![core::EndpointAddress {
                ip: s("10.244.1.5"),
                hostname: s(""),
                node_name: s("node1"),
                target_ref: Some(target.clone()),
            }],
            not_ready_addresses: vec![core::EndpointAddress {
                ip: s("10.244.1.6"),
                ..Default::default()
            }],
            ports: vec![core::EndpointPort {
                name: s(""),
                port: Some(8080),
                protocol: s("TCP"),
                app_protocol: None,
            }],
        }],
    };
    let target_json =
        json!({"kind": "Pod", "namespace": "default", "name": "kubia-0abcd", "uid": "c984"});
    assert_eq!(
        round_trip("v1", "Endpoints", &endpoints),
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubia"},
               "subsets": [{"addresses": [{"ip": "10.244.1.5", "nodeName": "node1", "targetRef": target_json}],
                            "notReadyAddresses": [{"ip": "10.244.1.6"}],
                            "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    );

    let slice = discovery::EndpointSlice {
        metadata: meta("kubia-x7k2p"),
        address_type: s("IPv4"),
        endpoints: vec![discovery::Endpoint {
            addresses: vec!["10.244.1.5".into()],
            conditions: Some(discovery::EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            hostname: None,
            target_ref: Some(target),
            deprecated_topology: BTreeMap::new(),
            node_name: s("node1"),
            zone: None,
            hints: None,
        }],
        ports: vec![discovery::EndpointPort {
            name: s(""),
            protocol: s("TCP"),
            port: Some(8080),
            app_protocol: None,
        }],
    };
    assert_eq!(
        round_trip("discovery.k8s.io/v1", "EndpointSlice", &slice),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "kubia-x7k2p"},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.244.1.5"],
                              "conditions": {"ready": true, "serving": true, "terminating": false},
                              "targetRef": target_json, "nodeName": "node1"}],
               "ports": [{"name": "", "protocol": "TCP", "port": 8080}]})
    );
}

#[test]
fn ingress_class_and_resource_backend() {
    let class = networking::IngressClass {
        metadata: meta("external-lb"),
        spec: Some(networking::IngressClassSpec {
            controller: s("example.com/ingress-controller"),
            parameters: Some(networking::IngressClassParametersReference {
                a_pi_group: s("k8s.example.com"),
                kind: s("IngressParameters"),
                name: s("external-lb"),
                scope: s("Cluster"),
                namespace: None,
            }),
        }),
    };
    assert_eq!(
        round_trip("networking.k8s.io/v1", "IngressClass", &class),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "external-lb"},
               "spec": {"controller": "example.com/ingress-controller",
                        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters",
                                       "name": "external-lb", "scope": "Cluster"}}})
    );
    let ingress = networking::Ingress {
        metadata: meta("static"),
        spec: Some(networking::IngressSpec {
            ingress_class_name: None,
            default_backend: Some(networking::IngressBackend {
                service: None,
                resource: Some(core::TypedLocalObjectReference {
                    api_group: s("k8s.example.com"),
                    kind: s("StorageBucket"),
                    name: s("static-assets"),
                }),
            }),
            tls: vec![],
            rules: vec![networking::IngressRule {
                host: s(""),
                ingress_rule_value: Some(networking::IngressRuleValue {
                    http: Some(networking::HttpIngressRuleValue {
                        paths: vec![networking::HttpIngressPath {
                            path: s("/"),
                            path_type: s("ImplementationSpecific"),
                            backend: Some(networking::IngressBackend {
                                service: Some(networking::IngressServiceBackend {
                                    name: s("kubia"),
                                    port: Some(networking::ServiceBackendPort {
                                        name: s(""),
                                        number: Some(80),
                                    }),
                                }),
                                resource: None,
                            }),
                        }],
                    }),
                }),
            }],
        }),
        status: Some(networking::IngressStatus {
            load_balancer: Some(networking::IngressLoadBalancerStatus {
                ingress: vec![networking::IngressLoadBalancerIngress {
                    ip: s("172.18.0.5"),
                    hostname: s(""),
                    ports: vec![],
                }],
            }),
        }),
    };
    assert_eq!(
        round_trip("networking.k8s.io/v1", "Ingress", &ingress),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "static"},
               "spec": {"defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket",
                                                        "name": "static-assets"}},
                        "rules": [{"http": {"paths": [{"path": "/", "pathType": "ImplementationSpecific",
                            "backend": {"service": {"name": "kubia", "port": {"number": 80}}}}]}}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}}})
    );
}

#[test]
fn secret_configmap_namespace() {
    let secret = core::Secret {
        metadata: meta("tls-secret"),
        immutable: Some(true),
        data: [
            ("tls.crt".to_string(), b"cert".to_vec()),
            ("tls.key".to_string(), vec![0, 255]),
        ]
        .into(),
        string_data: map(&[("note", "x")]),
        r#type: s("kubernetes.io/tls"),
    };
    assert_eq!(
        round_trip("v1", "Secret", &secret),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls-secret"}, "immutable": true,
               "data": {"tls.crt": "Y2VydA==", "tls.key": "AP8="}, "stringData": {"note": "x"},
               "type": "kubernetes.io/tls"})
    );
    let namespace = core::Namespace {
        metadata: meta("kubia"),
        spec: Some(core::NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: Some(core::NamespaceStatus {
            phase: s("Active"),
            conditions: vec![],
        }),
    };
    assert_eq!(
        round_trip("v1", "Namespace", &namespace),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubia"},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    );
}

#[test]
fn errors_name_what_failed() {
    let secret = core::Secret::default();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"{}".to_vec(),
            "protobuf body does not start with the k8s\\0 magic",
        ),
        (
            envelope("batch/v1", "Job", &secret),
            "no kind \"Job\" is registered for version \"batch/v1\"",
        ),
        (
            envelope("", "", &secret),
            "protobuf envelope has no apiVersion and kind",
        ),
        (b"k8s\0\x0a\xff".to_vec(), "decode runtime.Unknown envelope"),
    ];
    for (body, want) in cases {
        let err = decode_protobuf(&body).unwrap_err();
        assert_eq!(err.to_string(), want);
    }

    let truncated = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Secret"),
        }),
        raw: Some(vec![0x0a, 0x05, 0x0a]),
        ..Unknown::default()
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(truncated.encode_to_vec());
    assert!(matches!(
        decode_protobuf(&body),
        Err(ProtobufError::Object { ref kind, .. }) if kind == "Secret"
    ));

    let gzip = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Secret"),
        }),
        raw: Some(vec![]),
        content_encoding: s("gzip"),
        content_type: s(""),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(gzip.encode_to_vec());
    assert_eq!(
        decode_protobuf(&body).unwrap_err().to_string(),
        "unsupported protobuf content encoding \"gzip\""
    );
}
