//! The node role: `ferry agent` (typed [`AgentArgs`]), the credentials a node needs
//! (`ferry node-credentials`, and lab mode), and the hidden sandbox init subcommand.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use ferry_agent::streaming::{server_tls, AllowedClients};
use ferry_agent::{AgentConfig, Streaming};
use ferry_pki::{CertifiedKey, Pki, PkiOptions};
use ferry_runtime::{Client, HttpsTransport};
use ferry_sandbox::InitCommand;

use crate::node_network::{NodeContext, NodeNetwork, NodeNetworkArgs};

/// The hidden subcommand every pod sandbox's init runs as.
pub const SANDBOX_INIT: &str = "sandbox-init";

/// The files of a node's credentials, in its credentials directory.
const CA_FILE: &str = "ca.crt";
const CLIENT_CERT: &str = "node.crt";
const CLIENT_KEY: &str = "node.key";
const SERVING_CERT: &str = "serving.crt";
const SERVING_KEY: &str = "serving.key";

#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// The API server, e.g. https://172.18.0.1:6443.
    #[arg(long)]
    pub server: String,
    /// This node's name.
    #[arg(long)]
    pub node_name: String,
    /// This node's address (InternalIP), where the API server reaches the agent.
    #[arg(long)]
    pub node_ip: Ipv4Addr,
    /// The pod CIDR to use until the control plane assigns one (Node spec.podCIDR).
    #[arg(long)]
    pub pod_cidr: Option<String>,
    /// Where the agent keeps pod sandboxes and logs.
    #[arg(long, default_value = "/var/lib/ferry/agent")]
    pub data_dir: PathBuf,
    /// The node's credentials (ca.crt, node.crt/node.key as system:node:<name>,
    /// serving.crt/serving.key), as `ferry node-credentials` writes them. Default:
    /// <data-dir>/credentials.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// A named network namespace (/run/netns/NAME) to run in: the node's, in lab mode.
    #[arg(long)]
    pub netns: Option<String>,
    /// Stop (and stop the pods) when the parent process goes away: lab mode's agents end with
    /// the `ferry up` that started them, even if it was killed.
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
    /// The streaming (kubelet API) port.
    #[arg(long, default_value_t = ferry_agent::streaming::DEFAULT_PORT)]
    pub port: u16,
    #[command(flatten)]
    pub network: NodeNetworkArgs,
}

#[derive(Args, Debug, Clone)]
pub struct NodeCredentialsArgs {
    /// The control plane's data dir (its CA is in <data-dir>/pki).
    #[arg(long, default_value = "/var/lib/ferry")]
    pub data_dir: PathBuf,
    #[arg(long)]
    pub node_name: String,
    #[arg(long)]
    pub node_ip: Ipv4Addr,
    /// Where to write the credentials.
    #[arg(long)]
    pub out: PathBuf,
}

/// `ferry node-credentials`: issues a node's client and serving certificates from the
/// cluster CA.
pub fn node_credentials(args: &NodeCredentialsArgs) -> anyhow::Result<()> {
    let pki = Pki::load_or_create(&args.data_dir.join("pki"), &PkiOptions::default())
        .context("load the cluster PKI")?;
    write_credentials(&pki, &args.node_name, args.node_ip, &args.out)
}

/// Writes a node's credentials into `dir`: the CA, a client certificate for
/// `system:node:<name>` in `system:nodes` (as the kubelet's), and a serving certificate for
/// the node's address and name.
pub fn write_credentials(pki: &Pki, node: &str, ip: Ipv4Addr, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let user = format!("system:node:{node}");
    let client = pki
        .issue_client_cert(&user, &["system:nodes"])
        .context("issue the node's client certificate")?;
    let serving = pki
        .issue_serving_cert(
            &user,
            &["system:nodes"],
            &[IpAddr::V4(ip)],
            &[node.to_string()],
        )
        .context("issue the node's serving certificate")?;
    write_private(&dir.join(CA_FILE), pki.ca_cert_pem())?;
    write_private(&dir.join(CLIENT_CERT), client.cert_pem())?;
    write_private(&dir.join(CLIENT_KEY), client.key_pem())?;
    write_private(&dir.join(SERVING_CERT), serving.cert_pem())?;
    write_private(&dir.join(SERVING_KEY), serving.key_pem())
}

fn read(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
}

/// Moves the process into the node's network namespace, before any other thread exists (so
/// every thread and socket of the agent lives there).
pub fn enter_netns(args: &AgentArgs) -> anyhow::Result<()> {
    let Some(name) = &args.netns else {
        return Ok(());
    };
    let fd = ferry_hostnet::open_netns(name)
        .with_context(|| format!("open the network namespace {name}"))?;
    ferry_sys::enter_namespace(&fd, ferry_sys::Namespace::Net)
        .with_context(|| format!("enter the network namespace {name}"))
}

/// `ferry agent`: runs the node until SIGINT/SIGTERM, then stops its pods.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let credentials = args
        .credentials
        .clone()
        .unwrap_or_else(|| args.data_dir.join("credentials"));
    let ca = read(&credentials, CA_FILE)?;
    let transport = HttpsTransport::new(
        &args.server,
        &ca,
        &read(&credentials, CLIENT_CERT)?,
        &read(&credentials, CLIENT_KEY)?,
    )
    .context("the API client")?;
    let client = Client::new(Arc::new(transport));
    let serving = CertifiedKey::from_pem(
        &read(&credentials, SERVING_CERT)?,
        &read(&credentials, SERVING_KEY)?,
    )
    .context("the serving certificate and key do not parse or do not match")?;
    let tls = server_tls(&ca, &serving).context("the streaming server's TLS")?;
    let ferry = std::env::current_exe().context("find the ferry binary")?;
    let config = AgentConfig {
        node_name: args.node_name.clone(),
        node_ip: args.node_ip,
        pod_cidr: args.pod_cidr.clone(),
        data_dir: args.data_dir.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        init: InitCommand {
            program: ferry.clone(),
            args: vec![SANDBOX_INIT.into()],
        },
        ferry,
        streaming_port: args.port,
    };
    let streaming = Streaming {
        listen: SocketAddr::new(IpAddr::V4(args.node_ip), args.port),
        tls,
        allowed: AllowedClients::default(),
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let parent = std::os::unix::process::parent_id();
    let exit_with_parent = args.exit_with_parent;
    tokio::spawn(async move {
        tokio::select! {
            _ = crate::control_plane::wait_for_signal() => {}
            _ = parent_gone(parent), if exit_with_parent => {
                tracing::warn!("the parent process is gone; stopping");
            }
        }
        stop.cancel();
    });
    tracing::info!(node = %args.node_name, server = %args.server, "agent starting");
    let node = NodeContext {
        node_name: &args.node_name,
        data_dir: &args.data_dir,
    };
    let network = NodeNetwork::start(&args.network, &node, &client, &shutdown)
        .await
        .context("service networking")?;
    let ran = ferry_agent::run(config, client, streaming, shutdown.clone())
        .await
        .context("node agent");
    // The proxy and DNS server stop with the agent, whatever ended it.
    shutdown.cancel();
    let stopped = network.stop().await.context("stop service networking");
    ran.and(stopped)
}

/// Writes a file only its owner may read (keys, certificates beside them, kubeconfigs).
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("write {}", path.display()))
}

/// Resolves once this process has been re-parented (its parent `parent` exited).
async fn parent_gone(parent: u32) {
    while std::os::unix::process::parent_id() == parent {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
