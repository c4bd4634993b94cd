//! Tests of named namespaces, veth pairs, bridges, addresses, routes, sysctls and cleanup
//! against the real kernel. Runs as root; everything happens in network namespaces each test
//! creates under a unique name and deletes at the end, never in the machine's own.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use ferry_hostnet::{
    cleanup_leftovers, create_netns, delete_netns, enable_ip_forwarding, enable_proxy_arp,
    in_netns, netns_names, netns_path, open_netns, Error, Ipv4Cidr, Netlink, NextHop,
    PeerNamespace, Route,
};

/// A network namespace for one test, deleted when dropped (also when the test fails).
struct TestNetns {
    name: String,
}

impl TestNetns {
    fn new(tag: &str) -> TestNetns {
        let name = format!("ferrytest-{}-{tag}", std::process::id());
        create_netns(&name).unwrap();
        TestNetns { name }
    }

    fn fd(&self) -> OwnedFd {
        open_netns(&self.name).unwrap()
    }

    async fn netlink(&self) -> Netlink {
        Netlink::connect_in(self.fd()).await.unwrap()
    }

    /// `ip -n NAME ARGS...` output: the tests check what iproute2 sees.
    fn ip(&self, args: &[&str]) -> String {
        let output = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "ip {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        delete_netns(&self.name).unwrap();
    }
}

fn cidr(text: &str) -> Ipv4Cidr {
    text.parse().unwrap()
}

#[tokio::test]
async fn named_namespaces_are_mounted_listed_and_removed() {
    let netns = TestNetns::new("named");
    let path = netns_path(&netns.name);
    assert!(netns_names().unwrap().contains(&netns.name));
    assert!(ferry_sys::mountpoints().unwrap().contains(&path));
    let listed = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&netns.name));
    let inside = std::fs::metadata(&path).unwrap();
    let own = std::fs::metadata("/proc/self/ns/net").unwrap();
    assert_ne!(
        std::os::unix::fs::MetadataExt::ino(&inside),
        std::os::unix::fs::MetadataExt::ino(&own)
    );
    assert!(matches!(
        create_netns(&netns.name),
        Err(Error::NetnsExists { .. })
    ));
    assert!(netns.ip(&["-o", "link"]).contains("lo:"));

    let name = netns.name.clone();
    drop(netns);
    assert!(!netns_names().unwrap().contains(&name));
    assert!(!ferry_sys::mountpoints().unwrap().contains(&path));
    delete_netns(&name).unwrap();
    assert!(matches!(create_netns("a/b"), Err(Error::NetnsName { .. })));
}

#[tokio::test]
async fn a_routed_veth_carries_tcp_both_ways_between_node_and_pod() {
    let node = TestNetns::new("node");
    let pod = TestNetns::new("pod");
    let pod_fd = pod.fd();
    let n = node.netlink().await;
    let p = pod.netlink().await;
    let veth = "fpodtest0";
    let pod_ip = Ipv4Addr::new(10, 244, 0, 2);
    let gateway = Ipv4Addr::new(169, 254, 1, 1);
    let to_pod = Route {
        destination: Ipv4Cidr::host(pod_ip),
        next_hop: NextHop::Device(veth.to_string()),
    };
    let default = Route {
        destination: cidr("0.0.0.0/0"),
        next_hop: NextHop::OnLinkGateway {
            gateway,
            device: "eth0".to_string(),
        },
    };

    n.create_veth(veth, "eth0", PeerNamespace::Fd(pod_fd.as_fd()))
        .await
        .unwrap();
    assert_eq!(n.link_index("eth0").await.unwrap(), None);
    n.add_address(veth, Ipv4Cidr::host(gateway)).await.unwrap();
    n.set_up(veth).await.unwrap();
    n.add_route(&to_pod).await.unwrap();
    p.set_up("lo").await.unwrap();
    p.set_up("eth0").await.unwrap();
    p.add_address("eth0", Ipv4Cidr::host(pod_ip)).await.unwrap();
    p.add_route(&default).await.unwrap();
    // Doing it all again changes nothing and fails nothing.
    n.add_address(veth, Ipv4Cidr::host(gateway)).await.unwrap();
    n.add_route(&to_pod).await.unwrap();

    assert!(pod
        .ip(&["-o", "-4", "addr", "show", "eth0"])
        .contains("10.244.0.2/32"));
    let routes = pod.ip(&["route"]);
    assert!(
        routes.contains("default via 169.254.1.1 dev eth0 proto static onlink"),
        "{routes}"
    );
    assert!(node
        .ip(&["route"])
        .contains("10.244.0.2 dev fpodtest0 proto static scope link"));

    // Pod to node (default route via the link-local gateway), then node to pod (/32 route).
    let reply = echo_through(&node, gateway, &pod).await;
    assert_eq!(reply, "hello via 169.254.1.1");
    let reply = echo_through(&pod, pod_ip, &node).await;
    assert_eq!(reply, "hello via 10.244.0.2");

    assert!(n.delete_route(&to_pod).await.unwrap());
    assert!(!n.delete_route(&to_pod).await.unwrap());
    assert!(n
        .delete_address(veth, Ipv4Cidr::host(gateway))
        .await
        .unwrap());
    assert!(!n
        .delete_address(veth, Ipv4Cidr::host(gateway))
        .await
        .unwrap());
    assert!(n.delete_link(veth).await.unwrap());
    assert!(!n.delete_link(veth).await.unwrap());
    // Deleting the node end took the pod end with it.
    assert_eq!(p.link_index("eth0").await.unwrap(), None);
    assert!(matches!(
        n.set_up(veth).await,
        Err(Error::NoSuchLink { .. })
    ));
}

/// Listens in `server` on `addr`, connects from `client`, and returns what came back.
async fn echo_through(server: &TestNetns, addr: Ipv4Addr, client: &TestNetns) -> String {
    let listener = in_netns(server.fd(), move || TcpListener::bind((addr, 0)))
        .await
        .unwrap()
        .unwrap();
    let target = listener.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).unwrap();
        stream.write_all(&buf[..n]).unwrap();
    });
    let reply = in_netns(client.fd(), move || {
        exchange(target, &format!("hello via {addr}"))
    })
    .await
    .unwrap();
    echo.join().unwrap();
    reply
}

fn exchange(target: SocketAddr, message: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(message.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn bridges_take_ports_and_gateway_routes_go_via_a_neighbour() {
    let node = TestNetns::new("bridge");
    let n = node.netlink().await;
    n.create_bridge("ferrytest-br").await.unwrap();
    n.create_veth(
        "ferrytest-a",
        "ferrytest-b",
        PeerNamespace::Fd(node.fd().as_fd()),
    )
    .await
    .unwrap();
    n.attach_to_bridge("ferrytest-a", "ferrytest-br")
        .await
        .unwrap();
    n.set_up("ferrytest-a").await.unwrap();
    assert!(node
        .ip(&["-o", "link", "show", "ferrytest-a"])
        .contains("master ferrytest-br"));

    // Another node's pod CIDR through that node's address on the bridge network.
    n.add_address("ferrytest-br", cidr("172.18.0.2/16"))
        .await
        .unwrap();
    let other_node = Route {
        destination: cidr("10.244.1.0/24"),
        next_hop: NextHop::Gateway(Ipv4Addr::new(172, 18, 0, 3)),
    };
    n.add_route(&other_node).await.unwrap();
    assert!(node
        .ip(&["route"])
        .contains("10.244.1.0/24 via 172.18.0.3 dev ferrytest-br proto static"));
    assert!(n.delete_route(&other_node).await.unwrap());
    assert!(n.delete_link("ferrytest-br").await.unwrap());
}

#[tokio::test]
async fn sysctls_apply_to_the_namespace_they_run_in() {
    let node = TestNetns::new("sysctl");
    let own_forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let n = node.netlink().await;
    n.create_veth(
        "ferrytest-s",
        "ferrytest-t",
        PeerNamespace::Fd(node.fd().as_fd()),
    )
    .await
    .unwrap();
    in_netns(node.fd(), || {
        enable_ip_forwarding()?;
        enable_proxy_arp("ferrytest-s")
    })
    .await
    .unwrap()
    .unwrap();
    let (forwarding, proxy_arp) = in_netns(node.fd(), || {
        (
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            std::fs::read_to_string("/proc/sys/net/ipv4/conf/ferrytest-s/proxy_arp").unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!((forwarding.trim(), proxy_arp.trim()), ("1", "1"));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        own_forwarding
    );
}

#[tokio::test]
async fn cleanup_removes_only_what_has_the_prefix() {
    let node = TestNetns::new("cleanup");
    let n = node.netlink().await;
    let prefix = format!("ft{}", std::process::id());
    let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));
    n.create_veth(&a, &b, PeerNamespace::Fd(node.fd().as_fd()))
        .await
        .unwrap();
    n.create_veth("keep0", "keep1", PeerNamespace::Fd(node.fd().as_fd()))
        .await
        .unwrap();
    let leftover_netns = format!("{prefix}-netns");
    create_netns(&leftover_netns).unwrap();

    let removed = cleanup_leftovers(&n, &prefix).await.unwrap();
    assert_eq!(removed.links.len(), 1, "one end of the pair: {removed:?}");
    assert_eq!(removed.namespaces, vec![leftover_netns.clone()]);
    let mut left = n.link_names().await.unwrap();
    left.sort();
    assert_eq!(left, ["keep0", "keep1", "lo"]);
    assert!(!netns_names().unwrap().contains(&leftover_netns));
    assert!(netns_names().unwrap().contains(&node.name));
    assert!(matches!(
        cleanup_leftovers(&n, "").await,
        Err(Error::EmptyPrefix)
    ));
}
