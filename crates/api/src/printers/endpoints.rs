//! The Endpoints and EndpointSlice tables: at most three addresses, then ` + N more...`.

use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::jiff::Timestamp;

use super::{list_with_more, name};
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

/// How many addresses or ports a cell lists before ` + N more...`.
const MAX_LISTED: usize = 3;

static ENDPOINTS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Endpoints",
        "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share.",
    ),
    Column::AGE,
];

static ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "AddressType",
        "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type.",
    ),
    Column::text(
        "Ports",
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
    ),
    Column::text(
        "Endpoints",
        "endpoints is a list of unique endpoints in this slice.",
    ),
    Column::AGE,
];

impl Printer for Endpoints {
    fn columns() -> &'static [Column] {
        ENDPOINTS_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        vec![
            name(&self.metadata),
            Cell::Text(format_endpoints(self)),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}

/// `formatEndpoints` for all ports: `ip:port` per ready address and port, bare IPs for a
/// subset without ports (headless), `<none>` without subsets.
fn format_endpoints(endpoints: &Endpoints) -> String {
    let subsets = endpoints.subsets.as_deref().unwrap_or(&[]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    let mut more = false;
    for subset in subsets {
        let addresses = subset.addresses.as_deref().unwrap_or(&[]);
        let ports = subset.ports.as_deref().unwrap_or(&[]);
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX_LISTED {
                    more = true;
                    break;
                }
                list.push(address.ip.clone());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX_LISTED {
                    more = true;
                    break;
                }
                list.push(join_host_port(&address.ip, port.port));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX_LISTED)
    } else {
        joined
    }
}

/// `net.JoinHostPort`: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl Printer for EndpointSlice {
    fn columns() -> &'static [Column] {
        ENDPOINT_SLICE_COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        vec![
            name(&self.metadata),
            Cell::Text(self.address_type.clone()),
            Cell::Text(format_slice_ports(self)),
            Cell::Text(format_slice_endpoints(self)),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}

/// `formatDiscoveryPorts`: the port number, else its name, else `*`.
fn format_slice_ports(slice: &EndpointSlice) -> String {
    let ports = slice.ports.as_deref().unwrap_or(&[]);
    let list: Vec<String> = ports
        .iter()
        .take(MAX_LISTED)
        .map(|p| match (p.port, p.name.as_deref()) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    list_with_more(&list, ports.len(), MAX_LISTED)
}

/// `formatDiscoveryEndpoints`: every address of every endpoint, ready or not.
fn format_slice_endpoints(slice: &EndpointSlice) -> String {
    let addresses: Vec<&String> = slice
        .endpoints
        .iter()
        .flat_map(|e| e.addresses.iter())
        .collect();
    let list: Vec<String> = addresses
        .iter()
        .take(MAX_LISTED)
        .map(|a| a.to_string())
        .collect();
    list_with_more(&list, addresses.len(), MAX_LISTED)
}
