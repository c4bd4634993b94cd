//! The EndpointSlice controller, as kube-controller-manager's `endpointslice_controller.go`:
//! every Service with a selector gets `discovery.k8s.io/v1` EndpointSlices (named
//! `<service>-<random>`, owned by the Service, labelled `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`) holding its pods
//! with their ready/serving/terminating conditions, at most 100 per slice. What to write is
//! decided by the pure `reconciler`; this file lists, and writes through the API.
//!
//! As upstream, slices of a Service that loses its selector are left as they are (users then
//! own them). Slices whose Service is gone are deleted here as well as by the garbage
//! collector, which would remove them through their ownerReference anyway.

pub(crate) mod endpoint_set;
pub(crate) mod reconciler;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio_util::sync::CancellationToken;

use ferry_api::ResourceInfo;
use ferry_runtime::{Client, ClientError, WatchEvent};

use crate::endpoints::membership;
use crate::endpoints::trigger_time::{self, ServiceKey, TriggerTimes};
use crate::error::{api_message, write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::resources;
use crate::trigger::{next_pass, sooner, Trigger};

use reconciler::{
    desired_slices, SlicePlan, SliceTarget, CONTROLLER_NAME, MANAGED_BY, MAX_ENDPOINTS_PER_SLICE,
    SERVICE_NAME,
};

/// The event source, upstream's controller name.
const COMPONENT: &str = "endpoint-slice-controller";
/// The node label that gives an endpoint its zone.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// How soon to look again for the node of a pod that was left out.
const MISSING_NODE_RETRY: Duration = Duration::from_secs(5);

/// Runs the controller until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let (Ok(services), Ok(pods), Ok(slices), Ok(nodes)) = (
        resources::services(),
        resources::pods(),
        resources::endpoint_slices(),
        resources::nodes(),
    ) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, services, &shutdown);
    trigger.watch(&client, pods, &shutdown);
    trigger.watch(&client, slices, &shutdown);
    // Nodes only matter when they come or go (status heartbeats would wake every pass); a
    // zone label added later is picked up by the periodic resync.
    trigger.watch_filtered(&client, nodes, node_came_or_went, &shutdown);
    let mut controller = SliceController {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        trigger_times: TriggerTimes::default(),
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(COMPONENT, controller.pass().await);
    }
}

fn node_came_or_went(event: &WatchEvent) -> bool {
    matches!(event.event_type.as_str(), "ADDED" | "DELETED")
}

struct SliceController {
    client: Client,
    recorder: EventRecorder,
    trigger_times: TriggerTimes,
}

impl SliceController {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let services: Vec<Service> =
            resources::list(&self.client, resources::services()?, None).await?;
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        let slices: Vec<EndpointSlice> =
            resources::list(&self.client, resources::endpoint_slices()?, None).await?;
        let nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let zones = node_zones(&nodes);
        let mut pods_by_namespace: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for p in &pods {
            let namespace = p.metadata.namespace.as_deref().unwrap_or("");
            pods_by_namespace.entry(namespace).or_default().push(p);
        }
        let mut managed = slices_managed_by(slices, CONTROLLER_NAME);
        let mut requeue = None;
        for svc in &services {
            let key = trigger_time::key_of(svc);
            let existing = managed.remove(&key).unwrap_or_default();
            if !crate::endpoints::manages(svc) {
                continue;
            }
            let in_namespace = pods_by_namespace
                .get(key.0.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let selected = membership::selected_pods(svc, in_namespace);
            let target = SliceTarget {
                service: svc,
                pods: &selected,
                nodes: &zones,
                max_endpoints_per_slice: MAX_ENDPOINTS_PER_SLICE,
                trigger_time: self.trigger_times.compute(svc, &selected),
            };
            let plan = desired_slices(&target, &existing);
            let result = self
                .apply(svc, &plan)
                .await
                .map(|()| (!plan.missing_nodes.is_empty()).then_some(MISSING_NODE_RETRY));
            requeue = sooner(requeue, next_pass(COMPONENT, result));
        }
        let live: HashSet<ServiceKey> = services.iter().map(trigger_time::key_of).collect();
        self.trigger_times.retain(|k| live.contains(k));
        // What is left belongs to Services that are gone.
        for slice in managed.into_values().flatten() {
            let result = self.delete(&slice).await.map(|()| None);
            requeue = sooner(requeue, next_pass(COMPONENT, result));
        }
        Ok(requeue)
    }

    /// `finalize`'s writes in upstream's order (creates, updates, deletes), stopping at the
    /// first failure. A failure, or a pod left out for want of its node, is reported as a
    /// `FailedToUpdateEndpointSlices` event on the Service.
    async fn apply(&self, svc: &Service, plan: &SlicePlan) -> Result<(), Error> {
        if let Err((cause, error)) = self.write(plan).await {
            self.report(svc, &cause).await;
            return Err(error);
        }
        if let Some((pod, node)) = plan.missing_nodes.first() {
            let namespace = svc.metadata.namespace.as_deref().unwrap_or("");
            let name = svc.metadata.name.as_deref().unwrap_or("");
            let cause =
                format!("skipping Pod {pod} for Service {namespace}/{name}: Node {node} Not Found");
            self.report(svc, &cause).await;
        }
        Ok(())
    }

    async fn report(&self, svc: &Service, cause: &str) {
        let namespace = svc.metadata.namespace.as_deref().unwrap_or("");
        let name = svc.metadata.name.as_deref().unwrap_or("");
        let message =
            format!("Error updating Endpoint Slices for Service {namespace}/{name}: {cause}");
        let about = InvolvedObject::of("v1", "Service", &svc.metadata);
        self.recorder
            .record(
                &about,
                EventType::Warning,
                "FailedToUpdateEndpointSlices",
                &message,
            )
            .await;
    }

    /// The writes of a plan; a failure comes with upstream's description of it.
    async fn write(&self, plan: &SlicePlan) -> Result<(), (String, Error)> {
        let info = resources::endpoint_slices().map_err(|e| (e.to_string(), e))?;
        for slice in &plan.create {
            let namespace = slice.metadata.namespace.as_deref();
            let body =
                resources::to_body("endpointslice", slice).map_err(|e| (e.to_string(), e))?;
            if let Err(e) = self.client.create(info, namespace, &body).await {
                let prefix = slice.metadata.generate_name.as_deref().unwrap_or("");
                let message = format!(
                    "failed to create EndpointSlice for Service {}/{}: {}",
                    namespace.unwrap_or(""),
                    service_of(slice),
                    api_message(&e)
                );
                return Err((
                    message,
                    write_error("create", info.plural, namespace, prefix)(e),
                ));
            }
        }
        for slice in &plan.update {
            let namespace = slice.metadata.namespace.as_deref();
            let name = slice.metadata.name.as_deref().unwrap_or("");
            let body =
                resources::to_body("endpointslice", slice).map_err(|e| (e.to_string(), e))?;
            if let Err(e) = self.client.update(info, namespace, name, &body).await {
                let message = format!(
                    "failed to update {name} EndpointSlice for Service {}/{}: {}",
                    namespace.unwrap_or(""),
                    service_of(slice),
                    api_message(&e)
                );
                return Err((
                    message,
                    write_error("update", info.plural, namespace, name)(e),
                ));
            }
        }
        for slice in &plan.delete {
            let namespace = slice.metadata.namespace.as_deref();
            let name = slice.metadata.name.as_deref().unwrap_or("");
            if let Err(e) = self.delete_slice(info, slice).await {
                let message = format!(
                    "failed to delete {name} EndpointSlice for Service {}/{}: {}",
                    namespace.unwrap_or(""),
                    service_of(slice),
                    api_message(&e)
                );
                return Err((
                    message,
                    write_error("delete", info.plural, namespace, name)(e),
                ));
            }
        }
        Ok(())
    }

    async fn delete(&self, slice: &EndpointSlice) -> Result<(), Error> {
        let info = resources::endpoint_slices()?;
        let namespace = slice.metadata.namespace.as_deref();
        let name = slice.metadata.name.as_deref().unwrap_or("");
        self.delete_slice(info, slice).await.map_err(write_error(
            "delete",
            info.plural,
            namespace,
            name,
        ))
    }

    /// Deletes a slice; one already gone is fine.
    async fn delete_slice(
        &self,
        info: &'static ResourceInfo,
        slice: &EndpointSlice,
    ) -> Result<(), ClientError> {
        let namespace = slice.metadata.namespace.as_deref();
        let name = slice.metadata.name.as_deref().unwrap_or("");
        match self.client.delete(info, namespace, name, None).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }
}

/// The slices `manager` (a `managed-by` label value) manages that are not being deleted, by
/// the Service they name.
pub(crate) fn slices_managed_by(
    slices: Vec<EndpointSlice>,
    manager: &str,
) -> HashMap<ServiceKey, Vec<EndpointSlice>> {
    let mut by_service: HashMap<ServiceKey, Vec<EndpointSlice>> = HashMap::new();
    for slice in slices {
        let labels = slice.metadata.labels.clone().unwrap_or_default();
        let (Some(managed_by), Some(service)) = (labels.get(MANAGED_BY), labels.get(SERVICE_NAME))
        else {
            continue;
        };
        if managed_by != manager || slice.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let namespace = slice.metadata.namespace.clone().unwrap_or_default();
        by_service
            .entry((namespace, service.clone()))
            .or_default()
            .push(slice);
    }
    by_service
}

fn service_of(slice: &EndpointSlice) -> String {
    slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME))
        .cloned()
        .unwrap_or_default()
}

/// Every node's zone label, if it has one.
fn node_zones(nodes: &[Node]) -> BTreeMap<String, Option<String>> {
    nodes
        .iter()
        .map(|n| {
            let zone = n
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(ZONE_LABEL))
                .filter(|z| !z.is_empty())
                .cloned();
            (n.metadata.name.clone().unwrap_or_default(), zone)
        })
        .collect()
}
