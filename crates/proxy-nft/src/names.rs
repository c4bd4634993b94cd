//! Kernel object names, from one place: stable (the same service port always gets the same
//! name), unique (a hash of the full identity leads), readable (the identity follows), and at
//! most 255 bytes, nft's limit.

use std::net::SocketAddrV4;

use ferry_proxy::ServicePortName;

const MAX_NAME: usize = 255;

/// The chain of one service port: `svc-<hash>-ns/name/proto/port`.
pub(crate) fn service_chain(name: &ServicePortName) -> String {
    named("svc", &identity(name))
}

/// The chain of one endpoint of a service port: `ep-<hash>-ns/name/proto/port__ip/port`.
pub(crate) fn endpoint_chain(name: &ServicePortName, endpoint: SocketAddrV4) -> String {
    named("ep", &endpoint_identity(name, endpoint))
}

fn identity(name: &ServicePortName) -> String {
    format!(
        "{}/{}/{}/{}",
        name.namespace,
        name.name,
        name.protocol.as_str(),
        name.port
    )
}

fn endpoint_identity(name: &ServicePortName, endpoint: SocketAddrV4) -> String {
    format!("{}__{}/{}", identity(name), endpoint.ip(), endpoint.port())
}

fn named(prefix: &str, identity: &str) -> String {
    let mut name = format!("{prefix}-{:016x}-{identity}", fnv1a(identity.as_bytes()));
    if name.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// FNV-1a, 64 bits: small, stable across versions and platforms.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proxy::TransportProtocol;

    fn port(namespace: &str, name: &str, port: &str) -> ServicePortName {
        ServicePortName {
            namespace: namespace.into(),
            name: name.into(),
            port: port.into(),
            protocol: TransportProtocol::Tcp,
        }
    }

    #[test]
    fn names_are_stable_unique_and_bounded() {
        let a = service_chain(&port("default", "kubia", "http"));
        assert_eq!(a, service_chain(&port("default", "kubia", "http")));
        assert!(
            a.starts_with("svc-") && a.ends_with("-default/kubia/tcp/http"),
            "{a}"
        );
        assert_ne!(a, service_chain(&port("default", "kubia", "https")));
        let long = port(&"n".repeat(63), &"s".repeat(63), &"p".repeat(15));
        let ep = endpoint_chain(&long, "10.244.255.255:65535".parse().unwrap());
        assert!(ep.len() <= 255);
        let other = endpoint_chain(&long, "10.244.255.254:65535".parse().unwrap());
        assert_ne!(ep, other);
    }
}
