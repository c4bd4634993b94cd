//! The typed configuration of each role, parsed once from the command line.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

/// `ferry up` and `ferry server`.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    /// Where ferry keeps everything: store, PKI, kubeconfig.
    #[arg(long, default_value = "/var/lib/ferry")]
    pub data_dir: PathBuf,
    /// The API server's port.
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    /// Extra addresses the API server listens on besides 127.0.0.1 (e.g. the node IP).
    #[arg(long = "listen-address")]
    pub listen_addresses: Vec<Ipv4Addr>,
    /// The address the `kubernetes` Service points at.
    #[arg(long, default_value = "127.0.0.1")]
    pub advertise_address: Ipv4Addr,
    /// The CIDR cluster IPs are allocated from.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// The node port range.
    #[arg(long, default_value = "30000-32767")]
    pub node_port_range: String,
    /// The kube-dns Service's cluster IP, which every node agent answers DNS at (the kubelet's
    /// `--cluster-dns`); empty for a cluster without DNS.
    #[arg(long, default_value = "10.96.0.10")]
    pub cluster_dns: String,
    /// The CIDR nodes' pod CIDRs are cut from.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// The prefix length of each node's pod CIDR.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// How long a node may go without a heartbeat before it is marked Unknown (tests shorten
    /// it; kube-controller-manager's flag of the same name).
    #[arg(long, default_value = "50s", value_parser = parse_duration, hide = true)]
    pub node_monitor_grace_period: Duration,
}

impl ServerArgs {
    pub fn listen(&self) -> Vec<SocketAddr> {
        let mut addrs = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))];
        for ip in &self.listen_addresses {
            let addr = SocketAddr::from((*ip, self.port));
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        addrs
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    /// `--cluster-dns` as an address; `None` when empty.
    pub fn cluster_dns_ip(&self) -> anyhow::Result<Option<Ipv4Addr>> {
        parse_cluster_dns(&self.cluster_dns)
    }

    /// The controllers' configuration.
    pub fn controllers(&self) -> anyhow::Result<ferry_controllers::Config> {
        Ok(ferry_controllers::Config {
            pod_cidrs: ferry_controllers::PodCidrs {
                cluster: self.cluster_cidr.parse().context("--cluster-cidr")?,
                node_prefix: self.node_cidr_mask_size,
            },
            node_monitor: ferry_controllers::NodeMonitor {
                grace_period: self.node_monitor_grace_period,
                ..ferry_controllers::NodeMonitor::default()
            },
        })
    }
}

/// A duration as Go writes them: `40s`, `500ms`, `2m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("missing unit in duration {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("unknown unit {unit:?} in duration {text:?}")),
    }
}

/// `ferry kubeconfig`.
#[derive(Args, Clone, Debug)]
pub struct KubeconfigArgs {
    #[arg(long, default_value = "/var/lib/ferry")]
    pub data_dir: PathBuf,
}

pub fn print_kubeconfig(args: &KubeconfigArgs) -> anyhow::Result<()> {
    let path = args.data_dir.join("kubeconfig");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "read {} (has `ferry up --data-dir {}` run?)",
            path.display(),
            args.data_dir.display()
        )
    })?;
    print!("{text}");
    Ok(())
}

/// A `--cluster-dns` value (of `ferry server` and `ferry agent`): an IPv4 address, or empty for
/// a cluster without DNS.
pub fn parse_cluster_dns(text: &str) -> anyhow::Result<Option<Ipv4Addr>> {
    if text.is_empty() {
        return Ok(None);
    }
    let ip = text
        .parse()
        .with_context(|| format!("--cluster-dns {text:?} is not an IPv4 address"))?;
    Ok(Some(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go_flags() {
        assert_eq!(parse_duration("40s"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("40").is_err());
        assert!(parse_duration("1d").is_err());
    }
}
