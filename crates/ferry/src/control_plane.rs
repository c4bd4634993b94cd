//! The control plane role: PKI, store, API server, controllers, until SIGINT/SIGTERM.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use ferry_apiserver::{ApiConfig, ApiMetrics, ApiServer};
use ferry_pki::{Pki, PkiOptions};
use ferry_runtime::Client;
use ferry_store::EmbeddedStore;

use crate::config::ServerArgs;
use crate::in_process::InProcess;

/// `ferry server`: runs the control plane until SIGINT/SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stopping.cancel();
    });
    run_until(args, stop).await
}

/// Runs the control plane until `stop` is cancelled (`ferry up` stops its agents first).
pub async fn run_until(args: ServerArgs, stop: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("create data dir {}", args.data_dir.display()))?;
    say(&format!(
        "ferry {}: data dir {}",
        env!("CARGO_PKG_VERSION"),
        args.data_dir.display()
    ));

    say("preparing certificates (cluster CA, API serving and admin certificates)");
    let mut options = PkiOptions::default();
    options.extra_ips.push(args.advertise_address.into());
    options.extra_ips.extend(
        args.listen_addresses
            .iter()
            .map(|ip| std::net::IpAddr::from(*ip)),
    );
    let pki =
        Pki::load_or_create(&args.data_dir.join("pki"), &options).context("prepare the PKI")?;

    say("opening the store");
    let store = EmbeddedStore::open(&args.data_dir.join("store.redb"))
        .await
        .context("open the embedded store")?;

    let registry = Arc::new(Mutex::new(prometheus_client::registry::Registry::default()));
    let metrics = ApiMetrics::new(registry);
    // The API server's identity toward node agents (exec, attach, logs), as kubeadm's
    // apiserver-kubelet-client certificate.
    let kubelet_client = pki
        .issue_client_cert("kube-apiserver-kubelet-client", &["system:masters"])
        .context("issue the kubelet client certificate")?;
    let kubelet_tls = pki
        .client_config(Some(&kubelet_client))
        .context("TLS configuration toward node agents")?;
    let controllers = args.controllers()?;
    let config = ApiConfig {
        service_cidr: args.service_cidr.parse().context("--service-cidr")?,
        node_ports: args.node_port_range.parse().context("--node-port-range")?,
        advertise_address: args.advertise_address,
        secure_port: args.port,
        cluster_dns: args.cluster_dns_ip()?,
        listen: args.listen(),
        kubelet_client: Arc::new(kubelet_tls),
    };
    say("starting the API server");
    let server = ApiServer::start(store.clone(), config, metrics)
        .await
        .context("start the API server")?;

    let server_url = format!("https://127.0.0.1:{}", args.port);
    let kubeconfig = ferry_pki::kubeconfig(&server_url, &pki, "ferry");
    crate::agent::write_private(&args.kubeconfig_path(), &kubeconfig)?;

    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let tls = pki.server_config().context("TLS configuration")?;
    let serving = tokio::spawn(ferry_apiserver::serve(
        server.clone(),
        tls,
        shutdown.clone(),
    ));

    let client = Client::new(Arc::new(InProcess::new(
        server.clone(),
        "system:kube-controller-manager",
        &[],
    )));
    ferry_controllers::spawn_all(client, &controllers, shutdown.clone(), &mut tasks);

    say(&format!("the cluster is ready: API at {server_url}"));
    say(&format!(
        "  export KUBECONFIG={}",
        args.kubeconfig_path().display()
    ));

    stop.cancelled().await;
    say("stopping");
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    match serving.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e).context("serve the API"),
        Err(e) => return Err(e).context("API server task"),
    }
    store.close().await;
    say("stopped");
    Ok(())
}

/// Progress for the person who typed `ferry up`, on stdout; logs go to stderr.
fn say(line: &str) {
    println!("{line}");
}

/// Resolves at the first SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
