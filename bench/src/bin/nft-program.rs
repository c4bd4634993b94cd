//! `nft-program`: ferry's nftables dataplane for the benchmark kit's SUT hook (bench/sut-nft.sh).
//!
//! `serve REQUEST-FIFO REPLY-FIFO` keeps one `NftDataplane` in memory, as the agent does, and
//! answers requests read from the request FIFO: `program ALL.tsv` (full sync of the services
//! TSV), `program ALL.tsv CHANGED.tsv` (just the services in CHANGED, an incremental sync),
//! `reset` (remove the table, forget the state), `quit`; each reply is `ok SECONDS` or
//! `error MESSAGE`. `service [--affinity] VIP:PORT BACKEND...` programs one service and exits
//! (http; with ClientIP affinity for tcp-throughput, whose two iperf3 connections must meet
//! the same backend); `cleanup` removes the table. All act in the calling network
//! namespace; run them with `ip netns exec`.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use ferry_proxy::{
    ChangedServices, Dataplane, Endpoint, ProxyModel, ServicePort, ServicePortName,
    SessionAffinity, TransportProtocol,
};
use ferry_proxy_nft::{cleanup_leftovers, NftConfig, NftDataplane};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer program/reset/quit requests from a FIFO, keeping the dataplane in memory.
    Serve { requests: PathBuf, replies: PathBuf },
    /// Program one service and exit.
    Service {
        /// Give it ClientIP affinity.
        #[arg(long)]
        affinity: bool,
        vip: SocketAddrV4,
        backends: Vec<SocketAddrV4>,
    },
    /// Remove ferry's table.
    Cleanup,
}

/// sessionAffinityConfig.clientIP.timeoutSeconds' default.
const AFFINITY_TIMEOUT: Duration = Duration::from_secs(10800);

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Serve { requests, replies } => serve(&requests, &replies),
        Command::Service {
            affinity,
            vip,
            backends,
        } => {
            let mut model = ProxyModel::default();
            let (name, mut port) = service(
                "bench/sut/tcp/p".to_string() + &vip.port().to_string(),
                vip,
                &backends,
            );
            if affinity {
                port.session_affinity = Some(SessionAffinity {
                    timeout: AFFINITY_TIMEOUT,
                });
            }
            model.services.insert(name, port);
            let mut dataplane = NftDataplane::new(NftConfig::default())?;
            dataplane.sync(&model, &full())?;
            Ok(())
        }
        Command::Cleanup => {
            cleanup_leftovers(&NftConfig::default())?;
            Ok(())
        }
    }
}

fn serve(requests: &Path, replies: &Path) -> anyhow::Result<()> {
    let mut dataplane = NftDataplane::new(NftConfig::default())?;
    let mut model = ProxyModel::default();
    loop {
        // Each writer opens the FIFO, writes one line and closes it.
        let request = BufReader::new(File::open(requests).context("open request FIFO")?);
        for line in request.lines() {
            let line = line?;
            let words: Vec<&str> = line.split_whitespace().collect();
            let answer: anyhow::Result<String> = match words.as_slice() {
                ["quit"] => {
                    reply(replies, "ok 0")?;
                    return Ok(());
                }
                ["reset"] => {
                    model = ProxyModel::default();
                    dataplane
                        .remove()
                        .map(|()| "ok 0".to_string())
                        .map_err(anyhow::Error::from)
                }
                ["program", all] => {
                    let start = Instant::now();
                    read_tsv(Path::new(all)).and_then(|m| {
                        model = m;
                        dataplane.sync(&model, &full())?;
                        Ok(format!("ok {:.6}", start.elapsed().as_secs_f64()))
                    })
                }
                ["program", _, changed] => {
                    let start = Instant::now();
                    read_tsv(Path::new(changed)).and_then(|delta| {
                        let names: BTreeSet<ServicePortName> =
                            delta.services.keys().cloned().collect();
                        model.services.extend(delta.services);
                        let changed = ChangedServices { names, full: false };
                        dataplane.sync(&model, &changed)?;
                        Ok(format!("ok {:.6}", start.elapsed().as_secs_f64()))
                    })
                }
                _ => Err(anyhow::anyhow!("unknown request {line:?}")),
            };
            match answer {
                Ok(text) => reply(replies, &text)?,
                Err(err) => reply(replies, &format!("error {err:#}"))?,
            }
        }
    }
}

fn reply(replies: &Path, text: &str) -> anyhow::Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .open(replies)
        .context("open reply FIFO")?;
    writeln!(out, "{text}")?;
    Ok(())
}

fn full() -> ChangedServices {
    ChangedServices {
        full: true,
        ..Default::default()
    }
}

/// Reads `ns/name/tcp/pPORT  clusterIP  tcp  port  ep:port,...` lines into a model.
fn read_tsv(path: &Path) -> anyhow::Result<ProxyModel> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut model = ProxyModel::default();
    for line in BufReader::new(file).lines() {
        let line = line?;
        let fields: Vec<&str> = line.split('\t').collect();
        let [id, vip, proto, port, endpoints] = fields.as_slice() else {
            bail!("malformed line {line:?} in {}", path.display());
        };
        if *proto != "tcp" {
            bail!("unsupported protocol {proto:?}");
        }
        let vip: Ipv4Addr = vip.parse().context("cluster IP")?;
        let port: u16 = port.parse().context("port")?;
        let backends = endpoints
            .split(',')
            .map(|e| e.parse().context("endpoint"))
            .collect::<anyhow::Result<Vec<SocketAddrV4>>>()?;
        let (name, service) = service(id.to_string(), SocketAddrV4::new(vip, port), &backends);
        model.services.insert(name, service);
    }
    Ok(model)
}

/// A ready TCP service port named after `id` (`ns/name/tcp/pPORT`).
fn service(
    id: String,
    vip: SocketAddrV4,
    backends: &[SocketAddrV4],
) -> (ServicePortName, ServicePort) {
    let mut parts = id.splitn(4, '/');
    let namespace = parts.next().unwrap_or("bench").to_string();
    let name = parts.next().unwrap_or("svc").to_string();
    let port_name = parts.nth(1).unwrap_or("").to_string();
    let name = ServicePortName {
        namespace,
        name,
        port: port_name,
        protocol: TransportProtocol::Tcp,
    };
    let port = ServicePort {
        cluster_ip: *vip.ip(),
        port: vip.port(),
        node_port: None,
        external_ips: vec![],
        session_affinity: None,
        endpoints: backends
            .iter()
            .map(|address| Endpoint {
                address: *address,
                ready: true,
                serving: true,
                terminating: false,
                is_local: false,
            })
            .collect(),
    };
    (name, port)
}
