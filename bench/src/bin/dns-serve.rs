//! `dns-serve`: ferry's cluster DNS for the DNS benchmark (`bench/sut-dns.sh`). Loads the
//! benchmark's `services.tsv` into the DNS cache as the Services, EndpointSlices and Namespaces
//! they stand for, then serves them with `ferry_dns::serve` (the agent's code path, without the
//! API) on one address, UDP and TCP, until SIGTERM or SIGINT.
//!
//! TSV lines (`gen-dns-data.sh`): `NAME  A  IP[,IP...]` is a Service: a ClusterIP one when the
//! address is in the service range 10.96.0.0/12, else a headless one whose endpoints have those
//! addresses (hostnames `ep-0`, `ep-1`, ... as in the zone file) and port `http` 80;
//! `_PORT._PROTO.NAME  SRV  PRIO WEIGHT PORT TARGET` is a named port of the Service `NAME`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};
use tokio::net::{TcpListener, UdpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use ferry_dns::{serve, Cache, DnsConfig, Sockets, Upstream, Watched};
use ferry_runtime::ReflectorEvent;

#[derive(Parser)]
struct Args {
    /// Address to answer on (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:53")]
    listen: SocketAddr,
    /// The benchmark's services.tsv.
    #[arg(long)]
    services: PathBuf,
    /// The cluster domain.
    #[arg(long, default_value = "cluster.local")]
    zone: String,
}

/// One Service of the TSV.
#[derive(Default)]
struct Service {
    addresses: Vec<IpAddr>,
    /// (name, protocol, port) of its named ports.
    ports: BTreeSet<(String, String, u16)>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.services)
        .with_context(|| format!("read {}", args.services.display()))?;
    let suffix = format!(".svc.{}.", args.zone);
    let services = parse(&text, &suffix)?;
    let config = DnsConfig {
        zone: args.zone.clone(),
        upstream: Upstream::Servers(Vec::new()),
        nameserver: Some(args.listen.ip()),
    };
    let cache = Arc::new(Cache::new(&config)?);
    load(&cache, &services);
    let sockets = Sockets {
        udp: UdpSocket::bind(args.listen)
            .await
            .with_context(|| format!("bind UDP {}", args.listen))?,
        tcp: TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("bind TCP {}", args.listen))?,
    };
    let shutdown = CancellationToken::new();
    let mut terminate = signal(SignalKind::terminate()).context("handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("handle SIGINT")?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        stop.cancel();
    });
    eprintln!(
        "dns-serve: {} services on {} (UDP and TCP)",
        services.len(),
        args.listen
    );
    serve(cache, &config, sockets, shutdown).await?;
    Ok(())
}

/// The Services of the TSV by (namespace, name).
fn parse(text: &str, suffix: &str) -> anyhow::Result<BTreeMap<(String, String), Service>> {
    let mut services: BTreeMap<(String, String), Service> = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, rtype, value] = fields.as_slice() else {
            bail!("line {}: want NAME TYPE VALUE", number + 1);
        };
        let name = name.to_ascii_lowercase();
        match *rtype {
            "A" => {
                let key = service_key(&name, suffix)
                    .with_context(|| format!("line {}: {name} is no service name", number + 1))?;
                let addresses = value
                    .split(',')
                    .map(|ip| ip.parse::<IpAddr>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("line {}: addresses {value}", number + 1))?;
                services.entry(key).or_default().addresses = addresses;
            }
            "SRV" => {
                let mut labels = name.splitn(3, '.');
                let (Some(port), Some(protocol), Some(rest)) =
                    (labels.next(), labels.next(), labels.next())
                else {
                    bail!("line {}: {name} is no SRV name", number + 1);
                };
                let key = service_key(rest, suffix)
                    .with_context(|| format!("line {}: {name} is no SRV name", number + 1))?;
                let number_field = value.split(' ').nth(2).unwrap_or_default();
                let port_number: u16 = number_field
                    .parse()
                    .with_context(|| format!("line {}: SRV {value}", number + 1))?;
                services.entry(key).or_default().ports.insert((
                    port.trim_start_matches('_').to_string(),
                    protocol.trim_start_matches('_').to_uppercase(),
                    port_number,
                ));
            }
            other => bail!("line {}: unknown type {other}", number + 1),
        }
    }
    Ok(services)
}

/// (namespace, name) of `<name>.<namespace>.svc.<zone>.`.
fn service_key(name: &str, suffix: &str) -> Option<(String, String)> {
    let (name, namespace) = name.strip_suffix(suffix)?.split_once('.')?;
    Some((namespace.to_string(), name.to_string()))
}

fn in_service_range(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let base = u32::from(Ipv4Addr::new(10, 96, 0, 0));
            u32::from(v4) & 0xFFF0_0000 == base
        }
        IpAddr::V6(_) => false,
    }
}

/// Fills the cache with the Services' objects, as three relists.
fn load(cache: &Cache, services: &BTreeMap<(String, String), Service>) {
    let mut namespaces = BTreeSet::new();
    let mut service_objects = Vec::new();
    let mut slices = Vec::new();
    for ((namespace, name), service) in services {
        namespaces.insert(namespace.clone());
        let headless = !service.addresses.iter().all(|ip| in_service_range(*ip));
        let mut ports: Vec<Value> = service
            .ports
            .iter()
            .map(|(port, protocol, number)| json!({"name": port, "protocol": protocol, "port": number}))
            .collect();
        if headless && ports.is_empty() {
            ports.push(json!({"name": "http", "protocol": "TCP", "port": 80}));
        }
        let cluster_ip = if headless {
            "None".to_string()
        } else {
            service
                .addresses
                .first()
                .map(IpAddr::to_string)
                .unwrap_or_default()
        };
        service_objects.push(json!({
            "metadata": {"namespace": namespace, "name": name},
            "spec": {"clusterIP": cluster_ip, "ports": ports},
        }));
        if headless {
            let endpoints: Vec<Value> = service
                .addresses
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    json!({"addresses": [ip.to_string()], "hostname": format!("ep-{i}"),
                                      "conditions": {"ready": true}})
                })
                .collect();
            slices.push(json!({
                "metadata": {"namespace": namespace, "name": format!("{name}-bench"),
                             "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "ports": ports,
                "endpoints": endpoints,
            }));
        }
    }
    let namespaces = namespaces
        .into_iter()
        .map(|name| json!({"metadata": {"name": name}}))
        .collect();
    cache.apply(Watched::Namespaces, ReflectorEvent::Relisted(namespaces));
    cache.apply(Watched::Services, ReflectorEvent::Relisted(service_objects));
    cache.apply(Watched::EndpointSlices, ReflectorEvent::Relisted(slices));
}
