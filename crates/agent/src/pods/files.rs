//! The pod's own `/etc/hosts` and `/etc/resolv.conf`, written as the kubelet writes them.

use k8s_openapi::api::core::v1::{PodDNSConfig, PodSpec};

/// The cluster DNS service (kube-dns) every ClusterFirst pod resolves through.
pub(crate) const CLUSTER_DNS: &str = "10.96.0.10";
pub(crate) const CLUSTER_DOMAIN: &str = "cluster.local";

/// The kubelet's `ndots` for ClusterFirst pods.
const NDOTS: &str = "ndots:5";

/// The kubelet's managed hosts file: localhost lines, the pod's own name (fully qualified
/// when it has a subdomain), then the pod's `hostAliases`.
pub(crate) fn hosts_file(spec: &PodSpec, namespace: &str, hostname: &str, ip: &str) -> String {
    let mut text = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    match spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        Some(sub) => text.push_str(&format!(
            "{ip}\t{hostname}.{sub}.{namespace}.svc.{CLUSTER_DOMAIN}\t{hostname}\n"
        )),
        None => text.push_str(&format!("{ip}\t{hostname}\n")),
    }
    let aliases = spec.host_aliases.as_deref().unwrap_or_default();
    if !aliases.is_empty() {
        text.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names = alias.hostnames.as_deref().unwrap_or_default().join("\t");
            text.push_str(&format!("{}\t{names}\n", alias.ip));
        }
    }
    text
}

/// The pod's resolv.conf for its `dnsPolicy` and `dnsConfig`; `node_resolv` is the node's
/// own resolv.conf (what `Default` inherits).
pub(crate) fn resolv_conf(spec: &PodSpec, namespace: &str, node_resolv: &str) -> String {
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let host_network = spec.host_network.unwrap_or(false);
    let (mut servers, mut searches, mut options) = match policy {
        "None" => (Vec::new(), Vec::new(), Vec::new()),
        "Default" => parse_resolv(node_resolv),
        // ClusterFirstWithHostNet, and ClusterFirst for a pod not on the host network.
        "ClusterFirst" if host_network => parse_resolv(node_resolv),
        _ => {
            let (_, node_searches, _) = parse_resolv(node_resolv);
            let mut searches = vec![
                format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
                format!("svc.{CLUSTER_DOMAIN}"),
                CLUSTER_DOMAIN.to_string(),
            ];
            searches.extend(node_searches);
            (
                vec![CLUSTER_DNS.to_string()],
                searches,
                vec![NDOTS.to_string()],
            )
        }
    };
    if let Some(config) = &spec.dns_config {
        merge_dns_config(config, &mut servers, &mut searches, &mut options);
    }
    let mut text = String::new();
    if !searches.is_empty() {
        text.push_str(&format!("search {}\n", searches.join(" ")));
    }
    for server in &servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

/// The kubelet's `appendDNSConfig`: servers and searches appended without duplicates, options
/// replaced by name.
fn merge_dns_config(
    config: &PodDNSConfig,
    servers: &mut Vec<String>,
    searches: &mut Vec<String>,
    options: &mut Vec<String>,
) {
    for server in config.nameservers.as_deref().unwrap_or_default() {
        if !servers.contains(server) {
            servers.push(server.clone());
        }
    }
    for search in config.searches.as_deref().unwrap_or_default() {
        if !searches.contains(search) {
            searches.push(search.clone());
        }
    }
    for option in config.options.as_deref().unwrap_or_default() {
        let text = match &option.value {
            Some(value) => format!("{}:{value}", option.name.as_deref().unwrap_or_default()),
            None => option.name.clone().unwrap_or_default(),
        };
        let name = option.name.as_deref().unwrap_or_default();
        options.retain(|o| o.split(':').next() != Some(name));
        options.push(text);
    }
}

/// Nameservers, search domains and options of a resolv.conf.
fn parse_resolv(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut servers, mut searches, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => {
                searches = words.map(str::to_string).collect();
            }
            Some("options") => options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    (servers, searches, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{HostAlias, PodDNSConfigOption};

    #[test]
    fn cluster_first_searches_the_namespace_then_the_cluster() {
        let spec = PodSpec::default();
        assert_eq!(
            resolv_conf(&spec, "default", "nameserver 8.8.8.8\n"),
            "search default.svc.cluster.local svc.cluster.local cluster.local\n\
             nameserver 10.96.0.10\n\
             options ndots:5\n"
        );
    }

    #[test]
    fn default_inherits_the_node_and_none_takes_only_dns_config() {
        let node = "search example.org\nnameserver 192.0.2.53\noptions edns0\n";
        let default = PodSpec {
            dns_policy: Some("Default".into()),
            ..PodSpec::default()
        };
        assert_eq!(
            resolv_conf(&default, "ns", node),
            "search example.org\nnameserver 192.0.2.53\noptions edns0\n"
        );
        let none = PodSpec {
            dns_policy: Some("None".into()),
            dns_config: Some(PodDNSConfig {
                nameservers: Some(vec!["1.2.3.4".into()]),
                searches: Some(vec!["a.b".into()]),
                options: Some(vec![PodDNSConfigOption {
                    name: Some("ndots".into()),
                    value: Some("2".into()),
                }]),
            }),
            ..PodSpec::default()
        };
        assert_eq!(
            resolv_conf(&none, "ns", node),
            "search a.b\nnameserver 1.2.3.4\noptions ndots:2\n"
        );
    }

    #[test]
    fn dns_config_options_replace_by_name() {
        let spec = PodSpec {
            dns_config: Some(PodDNSConfig {
                options: Some(vec![PodDNSConfigOption {
                    name: Some("ndots".into()),
                    value: Some("1".into()),
                }]),
                ..PodDNSConfig::default()
            }),
            ..PodSpec::default()
        };
        assert!(resolv_conf(&spec, "x", "").ends_with("options ndots:1\n"));
    }

    #[test]
    fn hosts_file_names_the_pod_and_its_aliases() {
        let spec = PodSpec {
            subdomain: Some("sub".into()),
            host_aliases: Some(vec![HostAlias {
                ip: "10.1.2.3".into(),
                hostnames: Some(vec!["foo.local".into(), "bar.local".into()]),
            }]),
            ..PodSpec::default()
        };
        let text = hosts_file(&spec, "default", "web-0", "10.244.0.7");
        assert!(text.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(text.contains("10.244.0.7\tweb-0.sub.default.svc.cluster.local\tweb-0\n"));
        assert!(
            text.ends_with("\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")
        );
    }
}
