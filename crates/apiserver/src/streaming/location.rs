//! Where a pod's stream goes: the pod (404 as upstream), the container (defaulted when the pod
//! has one, else upstream's messages), and the node agent's address from the Node's
//! InternalIP and kubelet endpoint port.

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use ferry_api::ApiError;

use crate::object::object_key;
use crate::ApiServer;

/// The kubelet port kube-apiserver assumes when a Node reports none.
const DEFAULT_AGENT_PORT: u16 = 10250;

/// A pod's container on a node: everything a stream URL needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamTarget {
    pub(crate) namespace: String,
    pub(crate) pod: String,
    pub(crate) container: String,
    pub(crate) agent: SocketAddr,
}

/// The pod and its validated container; `node` is `None` for a pod not yet scheduled.
pub(crate) struct PodContainer {
    pub(crate) namespace: String,
    pub(crate) pod: String,
    pub(crate) container: String,
    pub(crate) node: Option<String>,
}

impl ApiServer {
    /// The pod and container a stream request names (kube-apiserver's `validateContainer`).
    pub(crate) async fn pod_container(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
    ) -> Result<PodContainer, ApiError> {
        let info =
            ferry_api::resource::find("", "v1", "pods").ok_or_else(ApiError::no_such_path)?;
        let key = object_key(info, Some(namespace), name);
        let (pod, _) = self
            .load(&key)
            .await?
            .ok_or_else(|| ApiError::not_found(&info.group_resource(), name))?;
        let container = choose_container(&pod, name, container)?;
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        Ok(PodContainer {
            namespace: namespace.to_string(),
            pod: name.to_string(),
            container,
            node,
        })
    }

    /// The stream target of a scheduled pod's container.
    pub(crate) async fn stream_target(&self, pc: PodContainer) -> Result<StreamTarget, ApiError> {
        let Some(node) = pc.node else {
            return Err(ApiError::bad_request(format!(
                "pod {} does not have a host assigned",
                pc.pod
            )));
        };
        let agent = self.agent_address(&node).await?;
        Ok(StreamTarget {
            namespace: pc.namespace,
            pod: pc.pod,
            container: pc.container,
            agent,
        })
    }

    /// The node agent's address: the Node's first InternalIP (then ExternalIP; node names are
    /// not resolvable in a lab) and its kubelet endpoint port.
    async fn agent_address(&self, node_name: &str) -> Result<SocketAddr, ApiError> {
        let info =
            ferry_api::resource::find("", "v1", "nodes").ok_or_else(ApiError::no_such_path)?;
        let (node, _) = self
            .load(&object_key(info, None, node_name))
            .await?
            .ok_or_else(|| ApiError::not_found(&info.group_resource(), node_name))?;
        node_address(&node).map_err(ApiError::internal)
    }
}

/// The requested container if the pod has it, or the only container when none was named.
fn choose_container(
    pod: &Value,
    pod_name: &str,
    requested: Option<&str>,
) -> Result<String, ApiError> {
    let names = container_names(pod);
    match requested.filter(|c| !c.is_empty()) {
        Some(c) if names.iter().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None => {
            let regular: Vec<&str> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            match regular.as_slice() {
                [only] => Ok((*only).to_string()),
                [] => Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}"
                ))),
                _ => Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    names.join(" ")
                ))),
            }
        }
    }
}

/// Every container of the pod as upstream visits them: init, regular, ephemeral.
fn container_names(pod: &Value) -> Vec<String> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|list| {
            pod.pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn node_address(node: &Value) -> Result<SocketAddr, String> {
    let addresses = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let of_type = |wanted: &str| {
        addresses
            .iter()
            .filter(|a| a["type"] == wanted)
            .find_map(|a| a["address"].as_str()?.parse::<IpAddr>().ok())
    };
    let ip = of_type("InternalIP")
        .or_else(|| of_type("ExternalIP"))
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .iter()
                .map(|a| {
                    format!(
                        "{{{} {}}}",
                        a["type"].as_str().unwrap_or(""),
                        a["address"].as_str().unwrap_or("")
                    )
                })
                .collect();
            format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            )
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_AGENT_PORT);
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containers_are_chosen_as_upstream() {
        let one = json!({"spec": {"containers": [{"name": "a"}]}});
        let two = json!({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}, {"name": "b"}]}});
        let none = json!({"spec": {"containers": []}});
        let msg = |r: Result<String, ApiError>| r.unwrap_or_else(|e| e.message);
        assert_eq!(msg(choose_container(&one, "p", None)), "a");
        assert_eq!(msg(choose_container(&two, "p", Some("i"))), "i");
        assert_eq!(
            msg(choose_container(&two, "p", None)),
            "a container name must be specified for pod p, choose one of: [i a b]"
        );
        assert_eq!(
            msg(choose_container(&none, "p", None)),
            "a container name must be specified for pod p"
        );
        assert_eq!(
            msg(choose_container(&one, "p", Some("x"))),
            "container x is not valid for pod p"
        );
    }

    #[test]
    fn agent_addresses() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}
        }});
        assert_eq!(node_address(&node), Ok("10.0.0.5:10251".parse().unwrap()));
        let default_port =
            json!({"status": {"addresses": [{"type": "ExternalIP", "address": "192.0.2.1"}]}});
        assert_eq!(
            node_address(&default_port),
            Ok("192.0.2.1:10250".parse().unwrap())
        );
        let hostname_only =
            json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}});
        assert_eq!(
            node_address(&hostname_only),
            Err("no preferred addresses found; known addresses: [{Hostname n1}]".to_string())
        );
    }
}
