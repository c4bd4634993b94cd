//! The Ingress and IngressClass tables: Class `<none>`, Hosts `*`, Ports `80` or `80, 443`.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass, IngressRule};
use k8s_openapi::jiff::Timestamp;

use super::name;
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

/// How many hosts the Hosts cell lists before ` + N more...`.
const MAX_HOSTS: usize = 3;

static INGRESS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Class",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    Column::text(
        "Hosts",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    Column::text(
        "Address",
        "Address is a list containing ingress points for the load-balancer",
    ),
    Column::text("Ports", "Ports of TLS configurations that open"),
    Column::AGE,
];

static INGRESS_CLASS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Controller",
        "Controller that is responsible for handling this class",
    ),
    Column::text(
        "Parameters",
        "A reference to a resource with additional parameters",
    ),
    Column::AGE,
];

impl Printer for Ingress {
    fn columns() -> &'static [Column] {
        INGRESS_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let spec = self.spec.clone().unwrap_or_default();
        let class = spec
            .ingress_class_name
            .unwrap_or_else(|| "<none>".to_string());
        let has_tls = spec.tls.as_ref().is_some_and(|t| !t.is_empty());
        vec![
            name(&self.metadata),
            Cell::Text(class),
            Cell::Text(format_hosts(spec.rules.as_deref().unwrap_or(&[]))),
            Cell::Text(address(self)),
            Cell::from(if has_tls { "80, 443" } else { "80" }),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}

/// `formatHosts`: up to three rule hosts, `*` when no rule names one. Upstream counts every
/// rule, hostless ones included, in the ` + N more...` tail.
fn format_hosts(rules: &[IngressRule]) -> String {
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX_HOSTS {
            more = true;
        }
        let host = rule.host.as_deref().unwrap_or("");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX_HOSTS)
    } else {
        joined
    }
}

/// The load balancer's IPs (or hostnames), deduplicated, sorted and joined by `,`.
fn address(ingress: &Ingress) -> String {
    let entries = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or(&[]);
    let set: BTreeSet<&str> = entries
        .iter()
        .filter_map(|i| {
            let ip = i.ip.as_deref().filter(|s| !s.is_empty());
            ip.or(i.hostname.as_deref().filter(|s| !s.is_empty()))
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

impl Printer for IngressClass {
    fn columns() -> &'static [Column] {
        INGRESS_CLASS_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let spec = self.spec.clone().unwrap_or_default();
        let parameters = match spec.parameters {
            None => "<none>".to_string(),
            Some(p) => match p.api_group {
                Some(group) => format!("{}.{group}/{}", p.kind, p.name),
                None => format!("{}/{}", p.kind, p.name),
            },
        };
        vec![
            name(&self.metadata),
            Cell::Text(spec.controller.unwrap_or_default()),
            Cell::Text(parameters),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}
