//! One module per served kind: its defaults, validation and selectable fields ([`crate::Kind`]).

mod configmap;
mod deployment;
mod endpoints;
mod endpointslice;
mod event;
mod ingress;
mod ingressclass;
mod lease;
mod namespace;
mod node;
mod pod;
mod replicaset;
mod replicationcontroller;
mod secret;
mod service;
