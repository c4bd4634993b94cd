//! What the DNS server is told: the cluster domain, the address `ns.dns.<zone>` names, and
//! where other names go (a resolv.conf or an explicit list).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The resolv.conf that systemd-resolved writes with the real upstream servers; its
/// `/etc/resolv.conf` only names the local stub 127.0.0.53 (kubeadm points kubelet here too).
const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";
/// The address of systemd-resolved's local stub.
const SYSTEMD_STUB: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 53));

/// The DNS server's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    /// The cluster domain the server is authoritative for (`cluster.local`).
    pub zone: String,
    /// Where names outside the cluster domain (and reverse names it does not know) go.
    pub upstream: Upstream,
    /// What `ns.dns.<zone>` (the zone's name server) resolves to: the address the server is
    /// reached at, the kube-dns cluster IP. `None`: no address record for it.
    pub nameserver: Option<IpAddr>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            zone: "cluster.local".to_string(),
            upstream: Upstream::ResolvConf(PathBuf::from("/etc/resolv.conf")),
            nameserver: None,
        }
    }
}

/// The resolvers that names outside the cluster domain are forwarded to.
#[derive(Debug, Clone, PartialEq)]
pub enum Upstream {
    /// The `nameserver` lines of a resolv.conf, read once at start. Loopback addresses are
    /// skipped: the server runs in the node's network namespace, where the host's loopback
    /// resolvers are not reachable, and a loopback resolver may be this server itself (the loop
    /// CoreDNS's `loop` plugin guards against). When the file names only systemd-resolved's stub
    /// 127.0.0.53, the servers come from `/run/systemd/resolve/resolv.conf` instead, as kubeadm
    /// configures kubelet. A missing file means no upstream.
    ResolvConf(PathBuf),
    /// These servers, tried in turn; loopback allowed (tests, a local resolver).
    Servers(Vec<SocketAddr>),
}

impl Upstream {
    /// The upstream servers; empty when none is configured (names outside the cluster domain
    /// then get SERVFAIL).
    pub(crate) fn servers(&self) -> Result<Vec<SocketAddr>, Error> {
        match self {
            Upstream::Servers(servers) => Ok(servers.clone()),
            Upstream::ResolvConf(path) => {
                let Some(text) = read_optional(path)? else {
                    tracing::warn!(path = %path.display(), "no resolv.conf: names outside the cluster domain get SERVFAIL");
                    return Ok(Vec::new());
                };
                let listed = nameservers(&text);
                if !listed.is_empty() && listed.iter().all(|ip| *ip == SYSTEMD_STUB) {
                    let systemd = Path::new(SYSTEMD_RESOLV_CONF);
                    if let Some(text) = read_optional(systemd)? {
                        return Ok(usable(nameservers(&text), systemd));
                    }
                }
                Ok(usable(listed, path))
            }
        }
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::ResolvConf {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The `nameserver` addresses of a resolv.conf, in order (a `%zone` suffix dropped).
fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let address = words.next()?;
            let address = address.split('%').next().unwrap_or(address);
            address.parse().ok()
        })
        .collect()
}

fn usable(listed: Vec<IpAddr>, path: &Path) -> Vec<SocketAddr> {
    listed
        .into_iter()
        .filter(|ip| {
            if ip.is_loopback() {
                tracing::warn!(path = %path.display(), %ip, "skipping a loopback nameserver");
            }
            !ip.is_loopback()
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_without_loopback() {
        let dir = std::env::temp_dir().join(format!("ferry-dns-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(
            &path,
            "# comment\nsearch example.com\nnameserver 192.0.2.1\nnameserver 127.0.0.1\n\
             nameserver fe80::1%eth0\noptions ndots:5\nnameserver ::1\n",
        )
        .unwrap();
        let servers = Upstream::ResolvConf(path.clone()).servers().unwrap();
        assert_eq!(
            servers,
            vec![
                "192.0.2.1:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_resolv_conf_means_no_upstream() {
        let path = PathBuf::from("/nonexistent/ferry/resolv.conf");
        assert!(Upstream::ResolvConf(path).servers().unwrap().is_empty());
    }
}
