//! JSON for the core/v1 kinds other than the Pod tree: Secret, ConfigMap, Namespace, Service,
//! Endpoints and ReplicationController.

use k8s_pb::api::core::v1::{
    ClientIpConfig, ConfigMap, EndpointAddress, EndpointPort, EndpointSubset, Endpoints,
    LoadBalancerIngress, LoadBalancerStatus, Namespace, NamespaceCondition, NamespaceSpec,
    NamespaceStatus, ObjectReference, PortStatus, ReplicationController,
    ReplicationControllerCondition, ReplicationControllerSpec, ReplicationControllerStatus, Secret,
    Service, ServicePort, ServiceSpec, ServiceStatus, SessionAffinityConfig,
};
use serde_json::Value;

use super::json::{Fields, ToJson};

impl ToJson for Secret {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .bool_ptr("immutable", self.immutable)
            .bytes_map("data", &self.data)
            .string_map("stringData", &self.string_data)
            .string("type", &self.r#type)
            .build()
    }
}

impl ToJson for ConfigMap {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .bool_ptr("immutable", self.immutable)
            .string_map("data", &self.data)
            .bytes_map("binaryData", &self.binary_data)
            .build()
    }
}

impl ToJson for Namespace {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for NamespaceSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .strings("finalizers", &self.finalizers)
            .build()
    }
}

impl ToJson for NamespaceStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("phase", &self.phase)
            .messages("conditions", &self.conditions)
            .build()
    }
}

impl ToJson for NamespaceCondition {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string("status", &self.status)
            .time("lastTransitionTime", &self.last_transition_time)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}

impl ToJson for Service {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for ServiceSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("ports", &self.ports)
            .string_map("selector", &self.selector)
            .string("clusterIP", &self.cluster_ip)
            .strings("clusterIPs", &self.cluster_ips)
            .string("type", &self.r#type)
            .strings("externalIPs", &self.external_ips)
            .string("sessionAffinity", &self.session_affinity)
            .string("loadBalancerIP", &self.load_balancer_ip)
            .strings(
                "loadBalancerSourceRanges",
                &self.load_balancer_source_ranges,
            )
            .string("externalName", &self.external_name)
            .string("externalTrafficPolicy", &self.external_traffic_policy)
            .int("healthCheckNodePort", self.health_check_node_port)
            .bool("publishNotReadyAddresses", self.publish_not_ready_addresses)
            .message("sessionAffinityConfig", &self.session_affinity_config)
            .strings("ipFamilies", &self.ip_families)
            .string_ptr("ipFamilyPolicy", &self.ip_family_policy)
            .bool_ptr(
                "allocateLoadBalancerNodePorts",
                self.allocate_load_balancer_node_ports,
            )
            .string_ptr("loadBalancerClass", &self.load_balancer_class)
            .string_ptr("internalTrafficPolicy", &self.internal_traffic_policy)
            .string_ptr("trafficDistribution", &self.traffic_distribution)
            .build()
    }
}

impl ToJson for ServicePort {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string("protocol", &self.protocol)
            .string_ptr("appProtocol", &self.app_protocol)
            .int_ptr("port", self.port)
            .int_or_string_nonzero("targetPort", &self.target_port)
            .int("nodePort", self.node_port)
            .build()
    }
}

impl ToJson for SessionAffinityConfig {
    fn to_json(&self) -> Value {
        Fields::new().message("clientIP", &self.client_ip).build()
    }
}

impl ToJson for ClientIpConfig {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("timeoutSeconds", self.timeout_seconds)
            .build()
    }
}

impl ToJson for ServiceStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("loadBalancer", &self.load_balancer)
            .messages("conditions", &self.conditions)
            .build()
    }
}

impl ToJson for LoadBalancerStatus {
    fn to_json(&self) -> Value {
        Fields::new().messages("ingress", &self.ingress).build()
    }
}

impl ToJson for LoadBalancerIngress {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("ip", &self.ip)
            .string("hostname", &self.hostname)
            .string_ptr("ipMode", &self.ip_mode)
            .messages("ports", &self.ports)
            .build()
    }
}

impl ToJson for PortStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("port", self.port)
            .string("protocol", &self.protocol)
            .string_ptr("error", &self.error)
            .build()
    }
}

impl ToJson for Endpoints {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .messages("subsets", &self.subsets)
            .build()
    }
}

impl ToJson for EndpointSubset {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("addresses", &self.addresses)
            .messages("notReadyAddresses", &self.not_ready_addresses)
            .messages("ports", &self.ports)
            .build()
    }
}

impl ToJson for EndpointAddress {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("ip", &self.ip)
            .string("hostname", &self.hostname)
            .string_ptr("nodeName", &self.node_name)
            .message("targetRef", &self.target_ref)
            .build()
    }
}

impl ToJson for EndpointPort {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .int_ptr("port", self.port)
            .string("protocol", &self.protocol)
            .string_ptr("appProtocol", &self.app_protocol)
            .build()
    }
}

impl ToJson for ObjectReference {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("kind", &self.kind)
            .string("namespace", &self.namespace)
            .string("name", &self.name)
            .string("uid", &self.uid)
            .string("apiVersion", &self.api_version)
            .string("resourceVersion", &self.resource_version)
            .string("fieldPath", &self.field_path)
            .build()
    }
}

impl ToJson for ReplicationController {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for ReplicationControllerSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("replicas", self.replicas)
            .int("minReadySeconds", self.min_ready_seconds)
            .string_map("selector", &self.selector)
            .message("template", &self.template)
            .build()
    }
}

impl ToJson for ReplicationControllerStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("replicas", self.replicas)
            .int("fullyLabeledReplicas", self.fully_labeled_replicas)
            .int("readyReplicas", self.ready_replicas)
            .int("availableReplicas", self.available_replicas)
            .int("observedGeneration", self.observed_generation)
            .messages("conditions", &self.conditions)
            .build()
    }
}

impl ToJson for ReplicationControllerCondition {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string("status", &self.status)
            .time("lastTransitionTime", &self.last_transition_time)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}
