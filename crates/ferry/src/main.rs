//! `ferry`: Kubernetes service networking in one binary. This file parses the command line
//! and hands each role its typed configuration.

mod agent;
mod apps;
mod config;
mod control_plane;
mod host;
mod in_process;
mod lab;
mod node_network;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use agent::{AgentArgs, NodeCredentialsArgs};
use config::{KubeconfigArgs, ServerArgs};
use lab::{ShellArgs, UpArgs};

/// Kubernetes service networking, real and whole, in one binary.
#[derive(Parser)]
#[command(name = "ferry", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a cluster on this machine: the control plane and N nodes, each a network namespace
    /// on a bridge in a network namespace of the cluster's own (lab mode); or, with --host,
    /// this machine as the one node.
    Up(UpArgs),
    /// Run the control plane: API server, store and controllers.
    Server(ServerArgs),
    /// Run a node: register it, run its pods, serve exec/attach/logs.
    Agent(AgentArgs),
    /// Issue a node's credentials (client and serving certificates) from the cluster CA.
    NodeCredentials(NodeCredentialsArgs),
    /// A built-in app that an image name stands for (kubia, nginx, sleep).
    #[command(hide = true)]
    App { name: String },
    /// The init of a pod sandbox (started by the agent).
    #[command(name = "sandbox-init", hide = true)]
    SandboxInit {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Run a shell (or a command) on the cluster's network, at the bridge's address 172.18.0.1.
    Shell(ShellArgs),
    /// Print the admin kubeconfig of a data dir.
    Kubeconfig(KubeconfigArgs),
    /// Print ferry's version and the Kubernetes version it serves.
    Version,
    /// Show what ferry programmed, for debugging.
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Subcommand)]
enum DebugCommand {
    /// The services and endpoints each node's service proxy programmed last.
    Proxy {
        /// A lab cluster's data dir (every node), or an agent's.
        #[arg(long, default_value = "/var/lib/ferry")]
        data_dir: std::path::PathBuf,
    },
}

fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let targets = std::env::var("FERRY_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(targets),
        )
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!(
                "ferry {} (Kubernetes {})",
                env!("CARGO_PKG_VERSION"),
                ferry_apiserver::GIT_VERSION
            );
            Ok(())
        }
        Command::Kubeconfig(args) => config::print_kubeconfig(&args),
        Command::Debug(DebugCommand::Proxy { data_dir }) => {
            node_network::print_proxy_state(&data_dir)
        }
        Command::NodeCredentials(args) => agent::node_credentials(&args),
        Command::SandboxInit { args } => ferry_sandbox::run_init(args),
        Command::App { name } => run_async(apps::run(&name)),
        Command::Agent(args) => {
            init_logging();
            agent::enter_netns(&args).and_then(|()| run_async(agent::run(args)))
        }
        Command::Shell(args) => match lab::shell(&args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Up(args) => {
            init_logging();
            lab::up(args)
        }
        Command::Server(args) => {
            init_logging();
            run_async(control_plane::run(args))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(fut)
}
