//! Node-local cluster DNS per the Kubernetes DNS-Based Service Discovery specification.
