//! Table printers: the columns and cells of `kubectl get`, as kube-apiserver's
//! `pkg/printers/internalversion/printers.go` computes them.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Namespace, Node, Pod, ReplicationController, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::kind::Printer;

impl Printer for ConfigMap {}
impl Printer for Deployment {}
impl Printer for Endpoints {}
impl Printer for EndpointSlice {}
impl Printer for Event {}
impl Printer for Ingress {}
impl Printer for IngressClass {}
impl Printer for Lease {}
impl Printer for Namespace {}
impl Printer for Node {}
impl Printer for Pod {}
impl Printer for ReplicaSet {}
impl Printer for ReplicationController {}
impl Printer for Secret {}
impl Printer for Service {}
