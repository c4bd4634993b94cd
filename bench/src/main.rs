//! `api-bench`: measures ferry's API server over HTTPS, as remote clients see it — Service
//! create throughput and latency, get latency, lists of the whole collection (JSON and Table)
//! and watch fan-out to many watchers — and prints a table and one `SUMMARY {json}` line.
//!
//! Run it where the server is reachable (`bench/run-api.sh` starts a server in a fresh network
//! namespace and runs this inside it). It creates Services in one namespace, so point it at a
//! throw-away cluster.

mod fanout;
mod phases;
mod stats;
mod watchers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use clap::Parser;
use http::Request;
use serde_json::json;

use ferry_runtime::{Client, HttpsTransport, Transport};

use crate::fanout::{fanout, Fanout};
use crate::phases::{Listed, Timed, TABLE_ACCEPT};
use crate::stats::{ms, Summary};
use crate::watchers::Watchers;

/// The aims this benchmark checks (from the issue that asked for it).
const AIM_CREATE_P99: Duration = Duration::from_millis(10);
const AIM_LIST: Duration = Duration::from_millis(200);
const AIM_WATCH_P99: Duration = Duration::from_millis(10);

/// How long the server may take to answer `/readyz`.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How often readiness and watcher progress are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Parser)]
#[command(about = "Benchmark ferry's API server over HTTPS")]
struct Args {
    /// Admin kubeconfig with embedded CA, client certificate and key.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Namespace to create the Services in.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Services to create.
    #[arg(long, default_value_t = 10_000)]
    services: usize,
    /// Concurrent clients for creates and gets, each on its own connection.
    #[arg(long, short = 'c', default_value_t = 16)]
    clients: usize,
    /// Watchers of the Services, each on its own connection.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Gets to time.
    #[arg(long, default_value_t = 10_000)]
    gets: usize,
    /// Label updates whose fan-out to the watchers is timed.
    #[arg(long, default_value_t = 1_000)]
    updates: usize,
    /// Timed lists of the whole collection, per format.
    #[arg(long, default_value_t = 10)]
    list_runs: usize,
    /// Upper bound for each phase, in seconds.
    #[arg(long, default_value_t = 600)]
    phase_seconds: u64,
}

/// Everything measured, for the table and the summary line.
struct Results {
    create: Timed,
    create_drain: Duration,
    events_after_create: (u64, u64),
    get: Timed,
    list_json: Listed,
    list_table: Listed,
    update: Vec<Duration>,
    fanout: Fanout,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.services == 0
        || args.clients == 0
        || args.watchers == 0
        || args.updates == 0
        || args.list_runs == 0
    {
        bail!("--services, --clients, --watchers, --updates and --list-runs must be positive");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(run(&args))?;
    print_table(&args, &results);
    println!("SUMMARY {}", summary(&args, &results));
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Results> {
    let phase = Duration::from_secs(args.phase_seconds);
    let probe = HttpsTransport::from_kubeconfig(&args.kubeconfig)?;
    wait_ready(&probe).await?;
    let collection = format!("/api/v1/namespaces/{}/services", args.namespace);

    // The watchers start first and stay through every phase, as kube-proxies on 100 nodes would.
    let stop_watchers_by = Instant::now() + 4 * phase;
    let watch_path = format!("{collection}?watch=true");
    let watchers = Watchers::start(
        &args.kubeconfig,
        &watch_path,
        args.watchers,
        args.updates - 1,
        Instant::now() + phase,
        stop_watchers_by,
    )
    .await?;
    let events_before = watchers.min_events();

    let clients = (0..args.clients)
        .map(|_| {
            HttpsTransport::from_kubeconfig(&args.kubeconfig).map(|t| Client::new(Arc::new(t)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let create = phases::create(
        &clients,
        &args.namespace,
        args.services,
        Instant::now() + phase,
    )
    .await?;
    let create_drain = wait_for_events(
        &watchers,
        events_before + args.services as u64,
        Instant::now() + phase,
    )
    .await?;
    let events_after_create = watchers.event_range();

    let get = phases::get(
        &clients,
        &args.namespace,
        args.gets,
        args.services,
        Instant::now() + phase,
    )
    .await?;
    let list_json = phases::list(&probe, &collection, "application/json", args.list_runs).await?;
    let list_table = phases::list(&probe, &collection, TABLE_ACCEPT, args.list_runs).await?;
    for (what, listed) in [("JSON", &list_json), ("Table", &list_table)] {
        if listed.entries < args.services {
            bail!(
                "the {what} list held {} entries, fewer than the {} Services created",
                listed.entries,
                args.services
            );
        }
    }

    let writer = &clients[0];
    let (updates, update) = phases::update(
        writer,
        &args.namespace,
        args.updates,
        args.services,
        Instant::now() + phase,
    )
    .await?;
    let deliveries = watchers.finish().await?;
    let fanout = fanout(&updates, &deliveries);
    Ok(Results {
        create,
        create_drain,
        events_after_create,
        get,
        list_json,
        list_table,
        update,
        fanout,
    })
}

/// Polls `/readyz` until it answers 200.
async fn wait_ready(transport: &HttpsTransport) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        let request = Request::get("/readyz").body(Bytes::new())?;
        match transport.send(request).await {
            Ok(response) if response.status().is_success() => return Ok(()),
            result if Instant::now() > deadline => {
                let why = match result {
                    Ok(response) => response.status().to_string(),
                    Err(e) => format!("{:#}", anyhow::Error::new(e)),
                };
                bail!("the API server was not ready within {READY_DEADLINE:?}: {why}");
            }
            _ => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// Waits until every watcher has seen `events` events; returns how long that took.
async fn wait_for_events(
    watchers: &Watchers,
    events: u64,
    deadline: Instant,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while watchers.min_events() < events {
        if Instant::now() > deadline {
            bail!(
                "watchers saw {:?} events, not {events}, by the deadline",
                watchers.event_range()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(started.elapsed())
}

fn print_table(args: &Args, r: &Results) {
    let create = Summary::of(&mut r.create.latencies.clone());
    let get = Summary::of(&mut r.get.latencies.clone());
    let update = Summary::of(&mut r.update.clone());
    let list_json = Summary::of(&mut r.list_json.durations.clone());
    let list_table = Summary::of(&mut r.list_table.durations.clone());
    let f = &r.fanout;
    println!(
        "api-bench: {} Services in {:?}, {} clients, {} watchers",
        args.services, args.namespace, args.clients, args.watchers
    );
    println!(
        "{:<44} {:>8} {:>10} {:>10} {:>10}   notes",
        "measure", "count", "p50 ms", "p99 ms", "max ms"
    );
    let row = |name: &str, s: &Summary, notes: String| {
        println!(
            "{name:<44} {:>8} {:>10.3} {:>10.3} {:>10.3}   {notes}",
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    };
    let per_second = args.services as f64 / r.create.wall.as_secs_f64();
    row(
        &format!("create (C={})", args.clients),
        &create,
        format!(
            "{per_second:.0}/s, wall {:.3} s, aim p99 <= 10 ms",
            r.create.wall.as_secs_f64()
        ),
    );
    row(
        "  watchers caught up after last create",
        &Summary {
            count: 1,
            p50: r.create_drain,
            p99: r.create_drain,
            max: r.create_drain,
        },
        format!(
            "events per watcher {}..{}",
            r.events_after_create.0, r.events_after_create.1
        ),
    );
    row(
        &format!("get (C={})", args.clients),
        &get,
        format!("{:.0}/s", args.gets as f64 / r.get.wall.as_secs_f64()),
    );
    row(
        "list JSON",
        &list_json,
        format!(
            "{} items, {} bytes, aim p50 <= 200 ms",
            r.list_json.entries, r.list_json.bytes
        ),
    );
    row(
        "list Table",
        &list_table,
        format!(
            "{} rows, {} bytes, aim p50 <= 200 ms",
            r.list_table.entries, r.list_table.bytes
        ),
    );
    row("update (merge patch, sequential)", &update, String::new());
    row(
        "watch: send -> each watcher",
        &f.send_to_delivery,
        format!("missing {}, aim p99 <= 10 ms", f.missing),
    );
    row(
        "watch: ack -> each watcher",
        &f.ack_to_delivery,
        format!("{} arrived before the ack", f.before_ack),
    );
    row(
        &format!("watch: send -> all {} watchers", args.watchers),
        &f.send_to_all,
        String::new(),
    );
}

fn summary(args: &Args, r: &Results) -> serde_json::Value {
    let figures = |s: Summary| json!({"count": s.count, "p50_ms": ms(s.p50), "p99_ms": ms(s.p99), "max_ms": ms(s.max)});
    let create = Summary::of(&mut r.create.latencies.clone());
    let list_json = Summary::of(&mut r.list_json.durations.clone());
    let list_table = Summary::of(&mut r.list_table.durations.clone());
    let f = &r.fanout;
    json!({
        "services": args.services,
        "clients": args.clients,
        "watchers": args.watchers,
        "create": {
            "per_second": (args.services as f64 / r.create.wall.as_secs_f64()).round(),
            "wall_ms": ms(r.create.wall),
            "latency": figures(create),
            "watchers_caught_up_ms": ms(r.create_drain),
        },
        "get": figures(Summary::of(&mut r.get.latencies.clone())),
        "list_json": {"latency": figures(list_json), "items": r.list_json.entries, "bytes": r.list_json.bytes},
        "list_table": {"latency": figures(list_table), "rows": r.list_table.entries, "bytes": r.list_table.bytes},
        "update": figures(Summary::of(&mut r.update.clone())),
        "watch": {
            "send_to_each": figures(f.send_to_delivery),
            "ack_to_each": figures(f.ack_to_delivery),
            "before_ack": f.before_ack,
            "send_to_all": figures(f.send_to_all),
            "missing": f.missing,
        },
        "aims": {
            "create_p99_le_10ms": create.p99 <= AIM_CREATE_P99,
            "list_json_p50_le_200ms": list_json.p50 <= AIM_LIST,
            "list_table_p50_le_200ms": list_table.p50 <= AIM_LIST,
            "watch_p99_le_10ms": f.send_to_delivery.p99 <= AIM_WATCH_P99,
        },
    })
}
