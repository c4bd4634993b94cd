//! A node's service networking, beside its pods: the service proxy (one change tracker feeding
//! the nftables dataplane) and the node-local cluster DNS answering at the kube-dns address.
//! Both are API clients of their own; this module only configures, starts and cleans up after
//! them, in the network namespace the agent runs in.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use ferry_hostnet::{Ipv4Cidr, Netlink};
use ferry_proxy::ProxyConfig;
use ferry_proxy_nft::{NftConfig, NftDataplane, PodEgress};
use ferry_runtime::Client;

/// The file in an agent's data dir that shows what its service proxy programmed last, one line
/// per service port; `ferry debug proxy` prints it.
pub(crate) const PROXY_STATE_FILE: &str = "proxy.txt";

/// The link the cluster DNS address is added to on a node: loopback, which every network
/// namespace has (dummy links need a kernel module that is not always there).
const DNS_LINK: &str = "lo";

/// Which dataplane programs Services on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProxyMode {
    /// Ferry's own nftables table, programmed through netlink.
    Nftables,
    /// No service proxy on this node.
    None,
}

/// The agent's service networking flags (kube-proxy's and the kubelet's of the same meaning).
#[derive(Args, Clone, Debug)]
pub(crate) struct NodeNetworkArgs {
    /// The service proxy's dataplane.
    #[arg(long, value_enum, default_value_t = ProxyMode::Nftables)]
    pub proxy_mode: ProxyMode,
    /// The pods' range: traffic to a service from outside it is masqueraded, pod traffic to
    /// outside it (and the service range) is masqueraded behind the node.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// The ClusterIP range: traffic to it that matches no service port is refused at the node.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// The cluster DNS address this node answers at (the kube-dns Service's IP); empty: no
    /// DNS server on this node.
    #[arg(long, default_value = "10.96.0.10")]
    pub cluster_dns: String,
    /// The cluster domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Resolvers for names outside the cluster domain, `IP` or `IP:PORT`, repeatable
    /// (default: the nameservers of /etc/resolv.conf).
    #[arg(long = "upstream-dns", value_parser = parse_resolver)]
    pub upstream_dns: Vec<SocketAddr>,
}

impl NodeNetworkArgs {
    /// The flags that give an agent this configuration.
    pub(crate) fn to_flags(&self) -> Vec<String> {
        let mode = match self.proxy_mode {
            ProxyMode::Nftables => "nftables",
            ProxyMode::None => "none",
        };
        let mut flags = vec![
            format!("--proxy-mode={mode}"),
            format!("--cluster-cidr={}", self.cluster_cidr),
            format!("--service-cidr={}", self.service_cidr),
            format!("--cluster-dns={}", self.cluster_dns),
            format!("--cluster-domain={}", self.cluster_domain),
        ];
        flags.extend(
            self.upstream_dns
                .iter()
                .map(|s| format!("--upstream-dns={s}")),
        );
        flags
    }

    fn dns_ip(&self) -> anyhow::Result<Option<Ipv4Addr>> {
        crate::config::parse_cluster_dns(&self.cluster_dns)
    }

    fn nft_config(&self) -> anyhow::Result<NftConfig> {
        Ok(NftConfig {
            cluster_cidr: cidr(&self.cluster_cidr).context("--cluster-cidr")?,
            service_cidr: cidr(&self.service_cidr).context("--service-cidr")?,
            dns_ip: self.dns_ip()?,
            pod_egress: PodEgress::Masquerade,
            ..NftConfig::default()
        })
    }
}

/// A resolver given as `IP` (port 53) or `IP:PORT`.
pub(crate) fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is neither IP nor IP:PORT"))
}

fn cidr(text: &str) -> anyhow::Result<ferry_ipam::Ipv4Cidr> {
    text.parse()
        .with_context(|| format!("{text:?} is not a CIDR"))
}

/// The node that service networking runs for.
pub(crate) struct NodeContext<'a> {
    pub node_name: &'a str,
    /// The agent's data dir, where [`PROXY_STATE_FILE`] is kept.
    pub data_dir: &'a Path,
}

/// The running service proxy and DNS server of a node.
pub(crate) struct NodeNetwork {
    tasks: JoinSet<anyhow::Result<()>>,
    nft: Option<NftConfig>,
    dns_ip: Option<Ipv4Addr>,
}

impl NodeNetwork {
    /// Starts what `args` asks for; both stop when `shutdown` is cancelled, after which
    /// [`NodeNetwork::stop`] removes what they left in the kernel.
    pub(crate) async fn start(
        args: &NodeNetworkArgs,
        node: &NodeContext<'_>,
        client: &Client,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<NodeNetwork> {
        let mut network = NodeNetwork {
            tasks: JoinSet::new(),
            nft: None,
            dns_ip: None,
        };
        let dns_ip = args.dns_ip()?;
        let mut started = Ok(());
        if args.proxy_mode == ProxyMode::Nftables {
            started = network.start_proxy(args, node, client, shutdown);
        }
        if let (Ok(()), Some(ip)) = (&started, dns_ip) {
            started = network.start_dns(args, ip, client, shutdown).await;
        }
        if let Err(e) = started {
            // Whatever did start is stopped and removed: nothing is left in the kernel.
            shutdown.cancel();
            if let Err(cleanup) = network.stop().await {
                tracing::warn!(error = %format!("{cleanup:#}"), "cleaning up after a failed start");
            }
            return Err(e);
        }
        Ok(network)
    }

    fn start_proxy(
        &mut self,
        args: &NodeNetworkArgs,
        node: &NodeContext<'_>,
        client: &Client,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let config = args.nft_config()?;
        if ferry_proxy_nft::cleanup_leftovers(&config)
            .context("remove a leftover nftables table")?
        {
            tracing::info!(table = %config.table, "removed the service proxy table an earlier run left");
        }
        let dataplane = NftDataplane::new(config.clone()).context("the nftables dataplane")?;
        let proxy_config = ProxyConfig {
            node_name: node.node_name.to_string(),
            excluded_cluster_ips: self.dns_ip.into_iter().collect::<BTreeSet<_>>(),
        };
        let (programmed, proxying) =
            ferry_proxy::proxy(client.clone(), proxy_config, dataplane, shutdown.clone());
        self.tasks
            .spawn(async move { proxying.await.context("service proxy") });
        self.tasks.spawn(write_proxy_state(
            programmed,
            node.data_dir.join(PROXY_STATE_FILE),
            shutdown.clone(),
        ));
        self.nft = Some(config);
        tracing::info!("service proxy started (nftables)");
        Ok(())
    }

    async fn start_dns(
        &mut self,
        args: &NodeNetworkArgs,
        ip: Ipv4Addr,
        client: &Client,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let netlink = Netlink::connect().context("netlink")?;
        netlink
            .add_address(DNS_LINK, Ipv4Cidr::host(ip))
            .await
            .with_context(|| format!("add the cluster DNS address {ip} to {DNS_LINK}"))?;
        self.dns_ip = Some(ip);
        let address = SocketAddr::new(IpAddr::V4(ip), 53);
        let sockets = ferry_dns::Sockets {
            udp: tokio::net::UdpSocket::bind(address)
                .await
                .with_context(|| format!("bind DNS to udp {address}"))?,
            tcp: tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("bind DNS to tcp {address}"))?,
        };
        let upstream = if args.upstream_dns.is_empty() {
            ferry_dns::Upstream::ResolvConf("/etc/resolv.conf".into())
        } else {
            ferry_dns::Upstream::Servers(args.upstream_dns.clone())
        };
        let config = ferry_dns::DnsConfig {
            zone: args.cluster_domain.clone(),
            upstream,
            nameserver: Some(IpAddr::V4(ip)),
        };
        let serving = ferry_dns::run(client.clone(), config, sockets, shutdown.clone());
        self.tasks
            .spawn(async move { serving.await.context("cluster DNS") });
        tracing::info!(%address, "cluster DNS answering");
        Ok(())
    }

    /// Waits for both to stop (after shutdown), then removes the nftables table and the DNS
    /// address.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        while let Some(done) = self.tasks.join_next().await {
            let failed = match done {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(panicked) => anyhow::Error::from(panicked),
            };
            tracing::warn!(error = %format!("{failed:#}"), "node networking stopped with an error");
            result = Err(failed);
        }
        // Both removals are attempted whatever the other did; the first error is reported.
        if let Some(config) = &self.nft {
            let removed = ferry_proxy_nft::cleanup_leftovers(config)
                .map(|_| ())
                .context("remove the nftables table");
            result = result.and(removed);
        }
        if let Some(ip) = self.dns_ip {
            result = result.and(remove_dns_address(ip).await);
        }
        result
    }
}

async fn remove_dns_address(ip: Ipv4Addr) -> anyhow::Result<()> {
    let netlink = Netlink::connect().context("netlink")?;
    netlink
        .delete_address(DNS_LINK, Ipv4Cidr::host(ip))
        .await
        .with_context(|| format!("remove the cluster DNS address {ip}"))?;
    Ok(())
}

/// How often at most [`PROXY_STATE_FILE`] is rewritten: rendering 10,000 services costs a few
/// milliseconds, which a burst of syncs should not pay each time.
const PROXY_STATE_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps [`PROXY_STATE_FILE`] equal to what the proxy programmed last (at most a second late;
/// rendered on a blocking thread, written aside and renamed, so a reader never sees half a
/// file); removes it when the proxy stops.
async fn write_proxy_state(
    mut programmed: tokio::sync::watch::Receiver<Arc<ferry_proxy::ProxyModel>>,
    path: PathBuf,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let model = Arc::clone(&programmed.borrow_and_update());
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            let aside = target.with_extension("txt.new");
            std::fs::write(&aside, model.to_string())
                .and_then(|()| std::fs::rename(&aside, &target))
                .with_context(|| format!("write {}", target.display()))
        })
        .await
        .context("proxy state writer")??;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(PROXY_STATE_PERIOD) => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = programmed.changed() => if changed.is_err() { break },
        }
    }
    let _ = tokio::fs::remove_file(&path).await;
    Ok(())
}

/// `ferry debug proxy`: what the service proxy of each node programmed last. `data_dir` is an
/// agent's data dir, or a lab cluster's (whose nodes keep theirs under `nodes/<name>`).
pub(crate) fn print_proxy_state(data_dir: &Path) -> anyhow::Result<()> {
    let own = data_dir.join(PROXY_STATE_FILE);
    if own.exists() {
        let text =
            std::fs::read_to_string(&own).with_context(|| format!("read {}", own.display()))?;
        print!("{text}");
        return Ok(());
    }
    let nodes = data_dir.join("nodes");
    let mut names: Vec<String> = std::fs::read_dir(&nodes)
        .with_context(|| format!("no agent or lab data in {}", data_dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = nodes.join(&name).join(PROXY_STATE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => print!("node {name}:\n{text}"),
            Err(_) => println!("node {name}: no service proxy running"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_take_a_default_port() {
        assert_eq!(
            parse_resolver("172.18.0.1"),
            Ok("172.18.0.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("10.0.0.2:5353"),
            Ok("10.0.0.2:5353".parse().unwrap())
        );
        assert!(parse_resolver("resolver").is_err());
    }
}
