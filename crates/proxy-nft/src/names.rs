//! Kernel object names, from one place: stable (the same service port always gets the same
//! name), unique (a hash of the full identity leads), readable (the identity follows), and at
//! most 255 bytes, nft's limit.

use ferry_proxy::ServicePortName;

const MAX_NAME: usize = 255;

/// The chain of one service port with ClientIP affinity: `svc-<hash>-ns/name/proto/port`.
pub(crate) fn service_chain(name: &ServicePortName) -> String {
    named("svc", &identity(name))
}

/// The chain that picks one of `count` endpoints for every service port without affinity
/// that has that many: `endpoints-3`.
pub(crate) fn picker_chain(count: u32) -> String {
    format!("endpoints-{count}")
}

/// The map of the endpoints by slot of the service addresses with `count` endpoints, which
/// [`picker_chain`] looks into: `slots-3`.
pub(crate) fn slots_map(count: u32) -> String {
    format!("slots-{count}")
}

/// The same for node ports: `nodeport-slots-3`.
pub(crate) fn nodeport_slots_map(count: u32) -> String {
    format!("nodeport-slots-{count}")
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
        let long = |port_name: &str| port(&"n".repeat(63), &"s".repeat(250), port_name);
        let one = service_chain(&long("a"));
        assert!(one.len() <= 255);
        assert_ne!(one, service_chain(&long("b")));
        assert_eq!(picker_chain(3), "endpoints-3");
    }
}
