//! ferry's node agent: the kubelet's role on a node. Today it holds the streaming server that
//! the API server proxies `kubectl exec`, `attach` and `logs` to; pod workers, probes and the
//! pod network come with the sandbox.
//!
//! An API client: it never touches the store, and reaches the kernel only through the
//! `ContainerRuntime` its pod runtime implements (on `ferry-sys`, `ferry-hostnet` and
//! `ferry-sandbox`).

pub mod streaming;
