//! Pure allocators for cluster networking: cluster IPs from the service CIDR, node ports from
//! their range, pod CIDRs for nodes, with kube-apiserver's error messages.
//!
//! No IO and no Kubernetes types: the API server persists what these hand out (in the same
//! store transaction as the object) and rebuilds them from the store at start.

mod bitmap;
mod cidr;
mod error;
mod pod_cidr;
mod port;
mod service_ip;

pub use cidr::{parse_ipv4_sloppy, Ipv4Cidr, PortRange};
pub use error::IpamError;
pub use pod_cidr::PodCidrAllocator;
pub use port::PortAllocator;
pub use service_ip::{
    check_service_cidr, static_band_size, ServiceIpAllocator, MIN_SERVICE_PREFIX,
};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;

    /// One step against an allocator: take a free value, or give back the `n`-th held one.
    #[derive(Debug, Clone)]
    enum Op {
        Next,
        Request(u64),
        Release(usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => Just(Op::Next),
            1 => (0u64..300).prop_map(Op::Request),
            2 => any::<usize>().prop_map(Op::Release),
        ];
        proptest::collection::vec(op, 1..400)
    }

    proptest! {
        #[test]
        fn service_ips_are_never_handed_out_twice(seed: u64, ops in ops()) {
            // A /23: 510 usable IPs, 32 of them static, small enough to fill up.
            let cidr: Ipv4Cidr = "10.96.0.0/23".parse().unwrap();
            let mut a = ServiceIpAllocator::with_seed(cidr, seed);
            let mut held: Vec<Ipv4Addr> = Vec::new();
            for op in ops {
                match op {
                    Op::Next => match a.allocate_next() {
                        Ok(ip) => {
                            prop_assert!(!held.contains(&ip), "{ip} handed out twice");
                            prop_assert!(cidr.contains(ip) && ip != cidr.network() && ip != cidr.broadcast());
                            held.push(ip);
                        }
                        Err(e) => prop_assert_eq!((e, held.len()), (IpamError::Full, 510)),
                    },
                    Op::Request(n) => {
                        let Some(ip) = cidr.nth_host(n) else { continue };
                        match a.allocate(ip) {
                            Ok(()) => {
                                prop_assert!(!held.contains(&ip));
                                held.push(ip);
                            }
                            Err(IpamError::IpAllocated) => prop_assert!(held.contains(&ip)),
                            Err(e) => prop_assert!(n == 0, "{e} for {ip}"),
                        }
                    }
                    Op::Release(i) if !held.is_empty() => {
                        let ip = held.swap_remove(i % held.len());
                        a.release(ip);
                        prop_assert!(!a.is_allocated(ip));
                    }
                    Op::Release(_) => {}
                }
                prop_assert_eq!(a.used(), held.len() as u64);
            }
        }

        #[test]
        fn node_ports_are_never_handed_out_twice(seed: u64, ops in ops()) {
            let range = PortRange::new(30000, 30199).unwrap();
            let mut p = PortAllocator::with_seed(range, seed);
            let mut held: HashSet<u16> = HashSet::new();
            let mut order: Vec<u16> = Vec::new();
            for op in ops {
                match op {
                    Op::Next => if let Ok(port) = p.allocate_next() {
                        prop_assert!(range.contains(port));
                        prop_assert!(held.insert(port), "{port} handed out twice");
                        order.push(port);
                    } else {
                        prop_assert_eq!(held.len(), 200);
                    },
                    Op::Request(n) => {
                        let port = 30000 + u16::try_from(n).unwrap();
                        match p.allocate(port) {
                            Ok(()) => { prop_assert!(held.insert(port)); order.push(port); }
                            Err(IpamError::PortAllocated) => prop_assert!(held.contains(&port)),
                            Err(_) => prop_assert!(!range.contains(port)),
                        }
                    }
                    Op::Release(i) if !order.is_empty() => {
                        let port = order.swap_remove(i % order.len());
                        held.remove(&port);
                        p.release(port);
                    }
                    Op::Release(_) => {}
                }
                prop_assert_eq!(p.used(), held.len() as u64);
            }
        }
    }
}
