//! The nftables dataplane of the service proxy.
