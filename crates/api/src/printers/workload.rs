//! The Deployment, ReplicaSet and ReplicationController tables.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::ReplicationController;
use k8s_openapi::jiff::Timestamp;

use super::{
    format_label_selector, format_labels, layout_containers, name, selector_string,
    InvalidSelector, CONTAINERS, IMAGES,
};
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

static DEPLOYMENT_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text("Ready", "Number of the pod with ready state"),
    Column::text(
        "Up-to-date",
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
    ),
    Column::text(
        "Available",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    Column::AGE,
    CONTAINERS,
    IMAGES,
    Column::wide(
        "Selector",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
    ),
];

impl Printer for Deployment {
    fn columns() -> &'static [Column] {
        DEPLOYMENT_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let spec = self.spec.as_ref();
        let status = self.status.as_ref();
        let desired = spec.and_then(|s| s.replicas).unwrap_or(0);
        let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
        let containers = spec
            .and_then(|s| s.template.spec.as_ref())
            .map(|p| p.containers.as_slice())
            .unwrap_or(&[]);
        let (names, images) = layout_containers(containers);
        // printDeployment prints the selector without the `<none>` of FormatLabelSelector.
        let selector = match selector_string(spec.map(|s| &s.selector)) {
            Ok(s) => s,
            Err(InvalidSelector) => "<invalid>".to_string(),
        };
        vec![
            name(&self.metadata),
            Cell::Text(format!("{ready}/{desired}")),
            Cell::from(status.and_then(|s| s.updated_replicas).unwrap_or(0)),
            Cell::from(status.and_then(|s| s.available_replicas).unwrap_or(0)),
            age(self.metadata.creation_timestamp.as_ref(), now),
            names,
            images,
            Cell::Text(selector),
        ]
    }
}

/// Desired / Current / Ready / Age / Containers / Images / Selector, shared by ReplicaSet and
/// ReplicationController with their own descriptions.
macro_rules! replica_columns {
    ($selector:expr) => {
        &[
            Column::NAME,
            Column::integer(
                "Desired",
                "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1.",
            ),
            Column::integer(
                "Current",
                "Replicas is the most recently observed number of replicas.",
            ),
            Column::integer(
                "Ready",
                "The number of ready replicas for this replica set.",
            ),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            Column::wide("Selector", $selector),
        ]
    };
}

static REPLICA_SET_COLUMNS: &[Column] = replica_columns!(
    "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set."
);

static REPLICATION_CONTROLLER_COLUMNS: &[Column] = replica_columns!(
    "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template."
);

impl Printer for ReplicaSet {
    fn columns() -> &'static [Column] {
        REPLICA_SET_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let spec = self.spec.as_ref();
        let status = self.status.as_ref();
        let containers = spec
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .map(|p| p.containers.as_slice())
            .unwrap_or(&[]);
        let (names, images) = layout_containers(containers);
        vec![
            name(&self.metadata),
            Cell::from(spec.and_then(|s| s.replicas).unwrap_or(0)),
            Cell::from(status.map_or(0, |s| s.replicas)),
            Cell::from(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
            age(self.metadata.creation_timestamp.as_ref(), now),
            names,
            images,
            Cell::Text(format_label_selector(spec.map(|s| &s.selector))),
        ]
    }
}

impl Printer for ReplicationController {
    fn columns() -> &'static [Column] {
        REPLICATION_CONTROLLER_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let spec = self.spec.as_ref();
        let status = self.status.as_ref();
        let containers = spec
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .map(|p| p.containers.as_slice())
            .unwrap_or(&[]);
        let (names, images) = layout_containers(containers);
        vec![
            name(&self.metadata),
            Cell::from(spec.and_then(|s| s.replicas).unwrap_or(0)),
            Cell::from(status.map_or(0, |s| s.replicas)),
            Cell::from(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
            age(self.metadata.creation_timestamp.as_ref(), now),
            names,
            images,
            Cell::Text(format_labels(spec.and_then(|s| s.selector.as_ref()))),
        ]
    }
}
