//! Node IPAM, as kube-controller-manager's range allocator: every Node gets a pod CIDR
//! (`spec.podCIDR` and `spec.podCIDRs`) cut from the cluster CIDR (10.244.N.0/24 of
//! 10.244.0.0/16 by default). The allocator's state is derived: rebuilt from the Nodes' CIDRs
//! at start and kept in step as Nodes come and go.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use ferry_ipam::{Ipv4Cidr, PodCidrAllocator};
use ferry_runtime::Client;

use crate::error::{write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::resources;
use crate::trigger::{next_pass, Trigger};

/// The event source of upstream's range allocator.
const COMPONENT: &str = "cidrAllocator";

/// Where pod CIDRs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodCidrs {
    /// The cluster CIDR (`--cluster-cidr`).
    pub cluster: Ipv4Cidr,
    /// The prefix length of each node's CIDR (`--node-cidr-mask-size`).
    pub node_prefix: u8,
}

/// Runs the allocator until shutdown.
pub(crate) async fn run(client: Client, cidrs: PodCidrs, shutdown: CancellationToken) {
    let Ok(nodes) = resources::nodes() else {
        return;
    };
    let allocator = match PodCidrAllocator::new(cidrs.cluster, cidrs.node_prefix) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "node IPAM disabled: the cluster CIDR cannot be cut");
            return;
        }
    };
    let trigger = Trigger::new();
    trigger.watch(&client, nodes, &shutdown);
    let mut ipam = NodeIpam {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        allocator,
        held: HashMap::new(),
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass("node-ipam-controller", ipam.pass().await);
    }
}

struct NodeIpam {
    client: Client,
    recorder: EventRecorder,
    allocator: PodCidrAllocator,
    /// The CIDR each known Node holds, to release it when the Node goes.
    held: HashMap<String, Ipv4Cidr>,
}

/// What a pass does with one Node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CidrAction {
    /// The Node has a CIDR in our range: mark it taken.
    Occupy(Ipv4Cidr),
    /// The Node has none: give it one.
    Allocate,
    /// The Node has a CIDR we do not manage (outside the cluster CIDR, or not IPv4).
    Leave,
}

/// What to do with a Node given its `spec.podCIDRs` (or `spec.podCIDR`).
pub(crate) fn cidr_action(node: &Node, cluster: Ipv4Cidr) -> CidrAction {
    let spec = node.spec.clone().unwrap_or_default();
    let mut cidrs = spec.pod_cidrs.unwrap_or_default();
    if cidrs.is_empty() {
        cidrs.extend(spec.pod_cidr.filter(|c| !c.is_empty()));
    }
    if cidrs.is_empty() {
        return CidrAction::Allocate;
    }
    cidrs
        .iter()
        .filter_map(|c| c.parse::<Ipv4Cidr>().ok())
        .find(|c| cluster.contains(c.network()))
        .map_or(CidrAction::Leave, CidrAction::Occupy)
}

impl NodeIpam {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let cluster = self.allocator.cluster();
        let present: Vec<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        let gone: Vec<String> = self
            .held
            .keys()
            .filter(|name| !present.contains(&name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(cidr) = self.held.remove(&name) {
                self.allocator.release(cidr);
            }
        }
        // Every CIDR in use is taken before any is handed out, so a restart never hands out a
        // CIDR some node already has.
        let mut wanting = Vec::new();
        for node in &nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            match cidr_action(node, cluster) {
                CidrAction::Occupy(cidr) => {
                    if self.allocator.occupy(cidr).is_ok() {
                        self.held.insert(name, cidr);
                    }
                }
                CidrAction::Allocate if node.metadata.deletion_timestamp.is_none() => {
                    wanting.push(name)
                }
                CidrAction::Allocate | CidrAction::Leave => {}
            }
        }
        let mut result = Ok(None);
        for name in wanting {
            if let Err(e) = self.allocate(&name).await {
                result = Err(e);
            }
        }
        result
    }

    async fn allocate(&mut self, name: &str) -> Result<(), Error> {
        let cidr = match self.allocator.allocate_next() {
            Ok(cidr) => cidr,
            Err(e) => {
                tracing::warn!(node = name, error = %e, "no pod CIDR left for node");
                let message = format!("Node {name} status is now: CIDRNotAvailable");
                self.recorder
                    .record(
                        &InvolvedObject::node(name),
                        EventType::Normal,
                        "CIDRNotAvailable",
                        &message,
                    )
                    .await;
                return Ok(());
            }
        };
        let info = resources::nodes()?;
        let patch = json!({"spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}});
        match self.client.merge_patch(info, None, name, &patch).await {
            Ok(_) => {
                tracing::info!(node = name, cidr = %cidr, "assigned pod CIDR");
                self.held.insert(name.to_string(), cidr);
                Ok(())
            }
            Err(e) => {
                self.allocator.release(cidr);
                if e.is_not_found() {
                    return Ok(());
                }
                Err(write_error("patch", info.plural, None, name)(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn node(spec: Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": spec})).unwrap()
    }

    #[test]
    fn nodes_keep_their_cidrs_and_the_rest_get_one() {
        let cluster: Ipv4Cidr = "10.244.0.0/16".parse().unwrap();
        let cases = [
            (json!({}), CidrAction::Allocate),
            (json!({"podCIDR": ""}), CidrAction::Allocate),
            (
                json!({"podCIDR": "10.244.3.0/24"}),
                CidrAction::Occupy("10.244.3.0/24".parse().unwrap()),
            ),
            (
                json!({"podCIDRs": ["10.244.7.0/24"]}),
                CidrAction::Occupy("10.244.7.0/24".parse().unwrap()),
            ),
            (json!({"podCIDRs": ["192.168.0.0/24"]}), CidrAction::Leave),
            (json!({"podCIDRs": ["fd00::/64"]}), CidrAction::Leave),
        ];
        for (spec, want) in cases {
            assert_eq!(cidr_action(&node(spec.clone()), cluster), want, "{spec}");
        }
    }
}
