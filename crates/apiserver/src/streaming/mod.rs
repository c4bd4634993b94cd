//! Pod streams: `exec` and `attach` (WebSocket `v5.channel.k8s.io` upgrades) and `log`
//! (chunked text), proxied to the node agent of the pod's node over TLS with the API server's
//! kubelet-client certificate, as kube-apiserver proxies them to the kubelet.
//!
//! kube-apiserver 1.32 terminates a v5 WebSocket itself (its stream translator) once the pod,
//! container and node are known, and reports anything that fails after that as a `Status` on
//! the error channel; ferry does the same, with the agent speaking v5 on the other side.

mod agent;
mod exec;
mod location;
mod logs;

pub(crate) use exec::{is_stream_upgrade, upgrade, without_upgrade};
pub(crate) use logs::get as log;
