//! JSON for networking.k8s.io/v1 Ingress and IngressClass, and discovery.k8s.io/v1
//! EndpointSlice.

use k8s_pb::api::discovery::v1 as discovery;
use k8s_pb::api::networking::v1::{
    HttpIngressPath, HttpIngressRuleValue, Ingress, IngressBackend, IngressClass,
    IngressClassParametersReference, IngressClassSpec, IngressLoadBalancerIngress,
    IngressLoadBalancerStatus, IngressPortStatus, IngressRule, IngressRuleValue,
    IngressServiceBackend, IngressSpec, IngressStatus, IngressTls, ServiceBackendPort,
};
use serde_json::Value;

use super::json::{Fields, ToJson};

impl ToJson for Ingress {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for IngressSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("ingressClassName", &self.ingress_class_name)
            .message("defaultBackend", &self.default_backend)
            .messages("tls", &self.tls)
            .messages("rules", &self.rules)
            .build()
    }
}

impl ToJson for IngressBackend {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("service", &self.service)
            .message("resource", &self.resource)
            .build()
    }
}

impl ToJson for IngressServiceBackend {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .message("port", &self.port)
            .build()
    }
}

impl ToJson for ServiceBackendPort {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .int("number", self.number)
            .build()
    }
}

impl ToJson for IngressTls {
    fn to_json(&self) -> Value {
        Fields::new()
            .strings("hosts", &self.hosts)
            .string("secretName", &self.secret_name)
            .build()
    }
}

impl ToJson for IngressRule {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("host", &self.host)
            .inline(&self.ingress_rule_value)
            .build()
    }
}

impl ToJson for IngressRuleValue {
    fn to_json(&self) -> Value {
        Fields::new().message("http", &self.http).build()
    }
}

impl ToJson for HttpIngressRuleValue {
    fn to_json(&self) -> Value {
        Fields::new().messages("paths", &self.paths).build()
    }
}

impl ToJson for HttpIngressPath {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("path", &self.path)
            .string_ptr("pathType", &self.path_type)
            .message("backend", &self.backend)
            .build()
    }
}

impl ToJson for IngressStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("loadBalancer", &self.load_balancer)
            .build()
    }
}

impl ToJson for IngressLoadBalancerStatus {
    fn to_json(&self) -> Value {
        Fields::new().messages("ingress", &self.ingress).build()
    }
}

impl ToJson for IngressLoadBalancerIngress {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("ip", &self.ip)
            .string("hostname", &self.hostname)
            .messages("ports", &self.ports)
            .build()
    }
}

impl ToJson for IngressPortStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("port", self.port)
            .string("protocol", &self.protocol)
            .string_ptr("error", &self.error)
            .build()
    }
}

impl ToJson for IngressClass {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .build()
    }
}

impl ToJson for IngressClassSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("controller", &self.controller)
            .message("parameters", &self.parameters)
            .build()
    }
}

impl ToJson for IngressClassParametersReference {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("apiGroup", &self.a_pi_group)
            .string("kind", &self.kind)
            .string("name", &self.name)
            .string_ptr("scope", &self.scope)
            .string_ptr("namespace", &self.namespace)
            .build()
    }
}

impl ToJson for discovery::EndpointSlice {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .string("addressType", &self.address_type)
            .messages("endpoints", &self.endpoints)
            .messages("ports", &self.ports)
            .build()
    }
}

impl ToJson for discovery::Endpoint {
    fn to_json(&self) -> Value {
        Fields::new()
            .strings("addresses", &self.addresses)
            .message("conditions", &self.conditions)
            .string_ptr("hostname", &self.hostname)
            .message("targetRef", &self.target_ref)
            .string_map("deprecatedTopology", &self.deprecated_topology)
            .string_ptr("nodeName", &self.node_name)
            .string_ptr("zone", &self.zone)
            .message("hints", &self.hints)
            .build()
    }
}

impl ToJson for discovery::EndpointConditions {
    fn to_json(&self) -> Value {
        Fields::new()
            .bool_ptr("ready", self.ready)
            .bool_ptr("serving", self.serving)
            .bool_ptr("terminating", self.terminating)
            .build()
    }
}

impl ToJson for discovery::EndpointHints {
    fn to_json(&self) -> Value {
        Fields::new().messages("forZones", &self.for_zones).build()
    }
}

impl ToJson for discovery::ForZone {
    fn to_json(&self) -> Value {
        Fields::new().string("name", &self.name).build()
    }
}

impl ToJson for discovery::EndpointPort {
    /// Every field is a pointer; an unnamed port keeps `"name": ""`, which `kubectl describe`
    /// relies on.
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("name", &self.name)
            .string_ptr("protocol", &self.protocol)
            .int_ptr("port", self.port)
            .string_ptr("appProtocol", &self.app_protocol)
            .build()
    }
}
