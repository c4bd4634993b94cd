//! Lab mode: `ferry up --nodes N` and `ferry shell`.
//!
//! The cluster gets a network namespace of its own, `ferry-<hash of the data dir>`, with a
//! bridge (`ferry0`, 172.18.0.1/16) and no route out. Each node is a network namespace
//! `ferry-<hash>-n<i>` whose `eth0` (172.18.0.<i+1>/16) is a veth onto that bridge, with a
//! route to every other node's pod CIDR via that node's address; the cluster namespace routes
//! every pod CIDR to its node, so the control plane reaches pods and pods reach it.
//!
//! The `ferry up` process binds the caller's loopback port first, then moves its main thread
//! (and so every thread it starts later) into the cluster namespace: the control plane runs
//! there, on 127.0.0.1 and 172.18.0.1, where it reaches the nodes' agents; connections to the
//! caller's loopback are forwarded to it. Agents are `ferry agent --netns` child processes,
//! one per node, stopped by PID. Everything is removed on exit, and a start after a crash
//! removes the namespaces of the same data dir first.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use ferry_hostnet::{Ipv4Cidr, Netlink, NextHop, PeerNamespace, Route};
use ferry_pki::{Pki, PkiOptions};

use crate::config::ServerArgs;
use crate::node_network::{NodeNetworkArgs, ProxyMode};

/// The bridge's address: the control plane's address for nodes and pods, and where
/// `ferry shell` runs.
pub const BRIDGE_IP: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 1);
const BRIDGE: &str = "ferry0";
const LAB_PREFIX_LEN: u8 = 16;

/// How long the control plane may take to write the admin kubeconfig.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long an agent may take to stop its pods after SIGTERM.
const AGENT_STOP: Duration = Duration::from_secs(40);

#[derive(Args, Clone, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// How many nodes (each a network namespace on the cluster's bridge, with its own agent).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=200))]
    pub nodes: u8,
    /// Resolvers the nodes' cluster DNS forwards names outside the cluster domain to (`IP` or
    /// `IP:PORT`, repeatable). The lab's network has no way out, so without one such names
    /// fail at once.
    #[arg(long = "upstream-dns", value_parser = crate::node_network::parse_resolver)]
    pub upstream_dns: Vec<std::net::SocketAddr>,
    /// Make this machine itself the cluster's one node (in the caller's network namespace)
    /// instead of building a lab network.
    #[arg(long)]
    pub host: bool,
    /// With `--host`: the node's address (default: the machine's address toward its default
    /// route).
    #[arg(long, requires = "host")]
    pub node_ip: Option<Ipv4Addr>,
}

impl UpArgs {
    /// The service networking every agent runs with: the control plane's ranges.
    pub(crate) fn node_network(&self) -> NodeNetworkArgs {
        NodeNetworkArgs {
            proxy_mode: ProxyMode::Nftables,
            cluster_cidr: self.server.cluster_cidr.clone(),
            service_cidr: self.server.service_cidr.clone(),
            cluster_dns: self.server.cluster_dns.clone(),
            cluster_domain: "cluster.local".to_string(),
            upstream_dns: self.upstream_dns.clone(),
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct ShellArgs {
    /// The cluster's data dir (it names the cluster's network namespace).
    #[arg(long, default_value = "/var/lib/ferry")]
    pub data_dir: PathBuf,
    /// The command to run (default: $SHELL, or /bin/sh).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// One lab node.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    netns: String,
    /// The bridge-side end of its veth, in the cluster namespace.
    port: String,
    ip: Ipv4Addr,
    pod_cidr: Ipv4Cidr,
}

/// The names and addresses of a lab.
#[derive(Clone, Debug)]
struct Lab {
    netns: String,
    nodes: Vec<Node>,
}

/// `ferry-` and 8 hex digits of a stable hash of the absolute data dir: two clusters with
/// different data dirs never share a namespace name.
pub fn cluster_netns(data_dir: &Path) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in data_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
    }
    format!("ferry-{hash:08x}")
}

pub(crate) fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
    std::fs::canonicalize(path).with_context(|| format!("resolve {}", path.display()))
}

fn plan(data_dir: &Path, count: u8, server: &ServerArgs) -> anyhow::Result<Lab> {
    let netns = cluster_netns(data_dir);
    let cluster: ferry_ipam::Ipv4Cidr = server.cluster_cidr.parse().context("--cluster-cidr")?;
    let nodes = (1..=count)
        .map(|i| {
            Ok(Node {
                name: format!("node-{i}"),
                netns: format!("{netns}-n{i}"),
                port: format!("n{i}"),
                ip: Ipv4Addr::new(172, 18, 0, i + 1),
                pod_cidr: nth_pod_cidr(cluster, server.node_cidr_mask_size, u32::from(i - 1))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Lab { netns, nodes })
}

/// The `n`th (from 0) pod CIDR of prefix length `mask` in the cluster CIDR: the one the node
/// IPAM controller gives the `n`th node, which its agent uses until the assignment arrives.
pub(crate) fn nth_pod_cidr(
    cluster: ferry_ipam::Ipv4Cidr,
    mask: u8,
    n: u32,
) -> anyhow::Result<Ipv4Cidr> {
    let subnet = cluster.nth_subnet(mask, u64::from(n)).with_context(|| {
        format!(
            "the cluster CIDR {cluster} has no pod CIDR #{} of /{mask}",
            n + 1
        )
    })?;
    Ok(Ipv4Cidr::new(subnet.network(), subnet.prefix())?)
}

/// `ferry up`: builds the lab network, runs the control plane in it and an agent per node
/// until SIGINT/SIGTERM, then removes everything.
pub fn up(mut args: UpArgs) -> anyhow::Result<()> {
    if args.host {
        return crate::host::up(args);
    }
    let data_dir = absolute(&args.server.data_dir)?;
    args.server.data_dir = data_dir.clone();
    let lab = plan(&data_dir, args.nodes, &args.server)?;
    let removed = ferry_hostnet::cleanup_namespaces(&lab.netns)
        .context("remove the namespaces an earlier run left")?;
    if !removed.is_empty() {
        println!("removed what an earlier run left: {}", removed.join(", "));
    }
    println!(
        "building the lab network: namespace {}, bridge {BRIDGE_IP}/{LAB_PREFIX_LEN}, {} node(s)",
        lab.netns,
        lab.nodes.len()
    );
    let result = run_lab(&lab, args);
    let removed = teardown(&lab);
    result.and(removed)
}

fn run_lab(lab: &Lab, mut args: UpArgs) -> anyhow::Result<()> {
    let builder = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    builder.block_on(build(lab))?;
    drop(builder);
    // Bound before leaving the caller's namespace: kubectl on the machine connects here.
    let caller = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.server.port))
        .with_context(|| format!("listen on 127.0.0.1:{}", args.server.port))?;
    caller.set_nonblocking(true)?;
    let cluster = ferry_hostnet::open_netns(&lab.netns)?;
    ferry_sys::enter_namespace(&cluster, ferry_sys::Namespace::Net)
        .context("enter the cluster's network namespace")?;
    args.server.advertise_address = BRIDGE_IP;
    if !args.server.listen_addresses.contains(&BRIDGE_IP) {
        args.server.listen_addresses.push(BRIDGE_IP);
    }
    crate::run_async(serve(lab.clone(), args, caller))
}

/// Runs in the cluster namespace: the forwarder, the control plane, the agents.
async fn serve(lab: Lab, args: UpArgs, caller: std::net::TcpListener) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let port = args.server.port;
    let forwarder = tokio::spawn(forward(
        TcpListener::from_std(caller)?,
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        shutdown.clone(),
    ));
    let data_dir = args.server.data_dir.clone();
    let launch = AgentLaunch {
        data_dir: &data_dir,
        server: format!("https://{BRIDGE_IP}:{port}"),
        network: args.node_network().to_flags(),
    };
    let nodes: Vec<AgentNode<'_>> = lab
        .nodes
        .iter()
        .map(|node| AgentNode {
            name: &node.name,
            ip: node.ip,
            pod_cidr: node.pod_cidr,
            netns: Some(&node.netns),
        })
        .collect();
    let result = run_cluster(args.server, &launch, &nodes).await;
    shutdown.cancel();
    let _ = forwarder.await;
    result
}

/// Runs the control plane and an agent per node until SIGINT/SIGTERM (or until the control
/// plane fails); then stops every agent at once (each stops its pods and cleans its node up
/// while the API is still there), and only then the control plane.
pub(crate) async fn run_cluster(
    server: ServerArgs,
    launch: &AgentLaunch<'_>,
    nodes: &[AgentNode<'_>],
) -> anyhow::Result<()> {
    // The control plane writes the kubeconfig once its API is up; one left by an earlier run
    // would start the agents too early.
    let _ = std::fs::remove_file(launch.data_dir.join("kubeconfig"));
    let stop = CancellationToken::new();
    let mut control_plane = tokio::spawn(crate::control_plane::run_until(server, stop.clone()));
    let mut agents = Vec::new();
    let started = tokio::select! {
        started = start_agents(launch, nodes, &mut agents) => started,
        ended = &mut control_plane => Err(control_plane_ended(ended)),
    };
    let failed = match started {
        Ok(()) => tokio::select! {
            _ = crate::control_plane::wait_for_signal() => None,
            ended = &mut control_plane => Some(control_plane_ended(ended)),
        },
        Err(e) => Some(e),
    };
    futures_util::future::join_all(
        agents
            .iter_mut()
            .map(|(name, agent)| stop_agent(name, agent)),
    )
    .await;
    stop.cancel();
    if let Some(e) = failed {
        control_plane.abort();
        return Err(e);
    }
    match control_plane.await {
        Ok(result) => result,
        Err(e) => Err(anyhow::Error::from(e).context("control plane task")),
    }
}

/// The error for a control plane that ended before it was asked to.
fn control_plane_ended(ended: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match ended {
        Ok(Ok(())) => anyhow::anyhow!("the control plane stopped"),
        Ok(Err(e)) => e.context("the control plane stopped"),
        Err(e) => anyhow::Error::from(e).context("control plane task"),
    }
}

/// What every agent `ferry up` starts is started with.
pub(crate) struct AgentLaunch<'a> {
    pub data_dir: &'a Path,
    /// The API server's URL as the agents reach it.
    pub server: String,
    /// Service networking flags (`NodeNetworkArgs::to_flags`).
    pub network: Vec<String>,
}

async fn start_agents(
    launch: &AgentLaunch<'_>,
    nodes: &[AgentNode<'_>],
    agents: &mut Vec<(String, Child)>,
) -> anyhow::Result<()> {
    let pki = wait_for_control_plane(launch.data_dir).await?;
    for node in nodes {
        let child = spawn_agent(&pki, launch, node)?;
        agents.push((node.name.to_string(), child));
    }
    Ok(())
}

/// Waits for the control plane to write the admin kubeconfig (its API is up), then loads the
/// cluster PKI that node credentials are issued from.
pub(crate) async fn wait_for_control_plane(data_dir: &Path) -> anyhow::Result<Pki> {
    let kubeconfig = data_dir.join("kubeconfig");
    let deadline = Instant::now() + START_DEADLINE;
    while !kubeconfig.exists() {
        anyhow::ensure!(Instant::now() < deadline, "the control plane did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Pki::load_or_create(&data_dir.join("pki"), &PkiOptions::default())
        .context("load the cluster PKI")
}

/// One node's agent as `ferry up` starts it.
pub(crate) struct AgentNode<'a> {
    pub name: &'a str,
    pub ip: Ipv4Addr,
    pub pod_cidr: Ipv4Cidr,
    /// The node's named network namespace; `None`: the caller's own (`--host`).
    pub netns: Option<&'a str>,
}

/// Issues the node's credentials and starts `ferry agent` for it (stopped with the caller,
/// even if the caller is killed), logging to `<data-dir>/nodes/<name>/agent.log`.
pub(crate) fn spawn_agent(
    pki: &Pki,
    launch: &AgentLaunch<'_>,
    node: &AgentNode<'_>,
) -> anyhow::Result<Child> {
    let dir = launch.data_dir.join("nodes").join(node.name);
    let credentials = dir.join("credentials");
    crate::agent::write_credentials(pki, node.name, node.ip, &credentials)?;
    let log_path = dir.join("agent.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("create {}", log_path.display()))?;
    let ferry = std::env::current_exe().context("find the ferry binary")?;
    let mut command = Command::new(&ferry);
    command.args(["agent", "--exit-with-parent"]);
    if let Some(netns) = node.netns {
        command.args(["--netns", netns]);
    }
    let child = command
        .args(["--server", &launch.server])
        .args(["--node-name", node.name])
        .args(["--node-ip", &node.ip.to_string()])
        .args(["--pod-cidr", &node.pod_cidr.to_string()])
        .args(&launch.network)
        .arg("--data-dir")
        .arg(&dir)
        .arg("--credentials")
        .arg(&credentials)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("start the agent of {}", node.name))?;
    println!(
        "node {} at {} (pods {}): agent pid {}, log {}",
        node.name,
        node.ip,
        node.pod_cidr,
        child.id(),
        log_path.display()
    );
    Ok(child)
}

/// SIGTERM, then SIGKILL if the agent has not stopped its pods in time.
pub(crate) async fn stop_agent(name: &str, agent: &mut Child) {
    let Ok(pid) = i32::try_from(agent.id()) else {
        return;
    };
    let _ = ferry_sys::kill(pid, ferry_sys::Signal::SIGTERM);
    let deadline = Instant::now() + AGENT_STOP;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = agent.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("the agent of {name} did not stop in time; killing it");
    let _ = agent.kill();
    let _ = agent.wait();
}

/// Copies connections from `listener` (the caller's loopback) to `target` (the API server in
/// the cluster namespace) until `shutdown`.
async fn forward(listener: TcpListener, target: SocketAddr, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut inbound, _)) = accepted else {
            // Out of file descriptors, most likely: give connections time to close instead of
            // spinning on accept.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// The cluster namespace with its bridge, the node namespaces on it, and the routes.
async fn build(lab: &Lab) -> anyhow::Result<()> {
    ferry_hostnet::create_netns(&lab.netns)?;
    let cluster_fd = ferry_hostnet::open_netns(&lab.netns)?;
    let cluster = Netlink::connect_in(&cluster_fd).await?;
    cluster.set_up("lo").await?;
    cluster.create_bridge(BRIDGE).await?;
    cluster
        .add_address(BRIDGE, Ipv4Cidr::new(BRIDGE_IP, LAB_PREFIX_LEN)?)
        .await?;
    cluster.set_up(BRIDGE).await?;
    let mut node_links = Vec::new();
    for node in &lab.nodes {
        ferry_hostnet::create_netns(&node.netns)?;
        let fd = ferry_hostnet::open_netns(&node.netns)?;
        cluster
            .create_veth(
                &node.port,
                "eth0",
                PeerNamespace::Fd(std::os::fd::AsFd::as_fd(&fd)),
            )
            .await?;
        cluster.attach_to_bridge(&node.port, BRIDGE).await?;
        cluster.set_up(&node.port).await?;
        let link = Netlink::connect_in(&fd).await?;
        link.set_up("lo").await?;
        link.add_address("eth0", Ipv4Cidr::new(node.ip, LAB_PREFIX_LEN)?)
            .await?;
        link.set_up("eth0").await?;
        node_links.push(link);
    }
    for (node, link) in lab.nodes.iter().zip(&node_links) {
        cluster.add_route(&route_to(node)).await?;
        for other in lab.nodes.iter().filter(|o| o.name != node.name) {
            link.add_route(&route_to(other)).await?;
        }
    }
    Ok(())
}

fn route_to(node: &Node) -> Route {
    Route {
        destination: node.pod_cidr.network(),
        next_hop: NextHop::Gateway(node.ip),
    }
}

/// Deletes the node namespaces and the cluster namespace (their links and routes go with
/// them).
fn teardown(lab: &Lab) -> anyhow::Result<()> {
    let removed = ferry_hostnet::cleanup_namespaces(&lab.netns)
        .context("remove the lab's network namespaces")?;
    if !removed.is_empty() {
        println!("removed the lab network ({} namespaces)", removed.len());
    }
    Ok(())
}

/// `ferry shell`: runs a shell or the command in the cluster's network namespace, at the
/// bridge's address, outside every node.
pub fn shell(args: &ShellArgs) -> anyhow::Result<std::process::ExitCode> {
    let data_dir = std::fs::canonicalize(&args.data_dir)
        .with_context(|| format!("no cluster data dir {}", args.data_dir.display()))?;
    let netns = cluster_netns(&data_dir);
    let fd = ferry_hostnet::open_netns(&netns)
        .with_context(|| format!("the cluster of {} is not running", data_dir.display()))?;
    ferry_sys::enter_namespace(&fd, ferry_sys::Namespace::Net)
        .context("enter the cluster's network namespace")?;
    let mut command = match args.command.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest);
            command
        }
        None => Command::new(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".to_string())),
    };
    let status = command
        .env("KUBECONFIG", data_dir.join("kubeconfig"))
        .status()
        .context("run the command")?;
    Ok(std::process::ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_cidrs_are_cut_from_the_cluster_cidr_in_order() {
        let cluster: ferry_ipam::Ipv4Cidr = "10.244.0.0/16".parse().unwrap();
        let cidr = |n| nth_pod_cidr(cluster, 24, n).unwrap().to_string();
        assert_eq!(cidr(0), "10.244.0.0/24");
        assert_eq!(cidr(3), "10.244.3.0/24");
        let wide: ferry_ipam::Ipv4Cidr = "10.32.0.0/12".parse().unwrap();
        assert_eq!(
            nth_pod_cidr(wide, 20, 2).unwrap().to_string(),
            "10.32.32.0/20"
        );
        assert!(nth_pod_cidr(cluster, 24, 256).is_err());
        assert!(nth_pod_cidr(cluster, 8, 0).is_err());
    }
}
