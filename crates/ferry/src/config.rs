//! The typed configuration of each role, parsed once from the command line.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

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
