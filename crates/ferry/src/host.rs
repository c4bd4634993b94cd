//! `ferry up --host`: this machine itself as the cluster's one node. The control plane and one
//! `ferry agent` run in the caller's own network namespace: pods get veths and routes on the
//! machine, the service proxy writes its table into the machine's nftables, the cluster DNS
//! address goes on the machine's `lo`, and IP forwarding is turned on (as a kubelet and CNI
//! would). Everything but the forwarding sysctl is removed again when ferry stops; a crashed
//! run's pods, links and table are removed by the next start's agent.
//!
//! Never start it in a machine's own network namespace unless that machine is meant to be a
//! node: the end-to-end test runs it inside a namespace made for the test.

use std::net::{Ipv4Addr, UdpSocket};

use anyhow::Context;

use crate::lab::{absolute, nth_pod_cidr, run_cluster, AgentLaunch, AgentNode, UpArgs};

/// An address the kernel routes by the default route; connecting a UDP socket to it sends
/// nothing, it only asks the routing table which source address it would use.
const ROUTE_PROBE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// Runs the control plane and this machine's agent until SIGINT/SIGTERM.
pub(crate) fn up(mut args: UpArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.nodes == 1,
        "--host runs this machine as the cluster's only node; --nodes does not apply"
    );
    let data_dir = absolute(&args.server.data_dir)?;
    args.server.data_dir = data_dir;
    let node_ip = match args.node_ip {
        Some(ip) => ip,
        None => default_route_address()?,
    };
    let name = hostname()?;
    println!("running this machine as node {name} at {node_ip}");
    ferry_hostnet::enable_ip_forwarding().context("turn on IP forwarding")?;
    args.server.advertise_address = node_ip;
    if !args.server.listen_addresses.contains(&node_ip) {
        args.server.listen_addresses.push(node_ip);
    }
    crate::run_async(serve(args, name, node_ip))
}

async fn serve(args: UpArgs, name: String, node_ip: Ipv4Addr) -> anyhow::Result<()> {
    let data_dir = args.server.data_dir.clone();
    let cluster: ferry_ipam::Ipv4Cidr =
        args.server.cluster_cidr.parse().context("--cluster-cidr")?;
    let pod_cidr = nth_pod_cidr(cluster, args.server.node_cidr_mask_size, 0)?;
    let launch = AgentLaunch {
        data_dir: &data_dir,
        server: format!("https://127.0.0.1:{}", args.server.port),
        network: args.node_network().to_flags(),
    };
    let node = AgentNode {
        name: &name,
        ip: node_ip,
        pod_cidr,
        netns: None,
    };
    run_cluster(args.server, &launch, &[node]).await
}

/// The machine's address toward its default route.
fn default_route_address() -> anyhow::Result<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("open a UDP socket")?;
    socket
        .connect((ROUTE_PROBE, 53))
        .context("no default route to take the node's address from; pass --node-ip")?;
    match socket.local_addr().context("the node's address")?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Ok(ip),
        other => anyhow::bail!("the default route's address {other} is not usable; pass --node-ip"),
    }
}

/// The machine's host name, lower-cased, as the kubelet names its Node.
fn hostname() -> anyhow::Result<String> {
    let name =
        std::fs::read_to_string("/proc/sys/kernel/hostname").context("read the host name")?;
    Ok(name.trim().to_lowercase())
}
