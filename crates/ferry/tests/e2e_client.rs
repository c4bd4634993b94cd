//! End-to-end: ferry-runtime's `HttpsTransport` against `ferry server` in a lab network namespace.
//!
//! The server is reachable only inside the lab's namespace, so the test runs itself again there
//! (`nsenter --net` into the server's namespace, the test binary filtered to this one test, the
//! kubeconfig passed in an environment variable); the outer run starts the lab and checks that
//! the inner run passed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use ferry_api::ResourceInfo;
use ferry_runtime::{Client, HttpsTransport};
use support::Lab;

/// Set (to the kubeconfig's path) only for the run inside the lab's namespace.
const INNER_KUBECONFIG: &str = "FERRY_E2E_CLIENT_KUBECONFIG";

/// How long the whole inner run may take.
const INNER_DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn https_transport_lists_creates_gets_deletes_and_watches() {
    match std::env::var_os(INNER_KUBECONFIG) {
        Some(kubeconfig) => inside_the_lab(Path::new(&kubeconfig)),
        None => run_inside_a_lab("https_transport_lists_creates_gets_deletes_and_watches"),
    }
}

/// Starts a lab and runs `test` of this binary inside its network namespace.
fn run_inside_a_lab(test: &str) {
    let lab = Lab::start();
    let pid = ferry_pid(&lab.data_dir());
    let out = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER_KUBECONFIG, lab.data_dir().join("kubeconfig"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "inner run failed:\n{stdout}\n{}\nferry log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        lab.log()
    );
}

/// The PID of the `ferry server` serving `data_dir` (the lab keeps its own PID private; the
/// data dir is a fresh temporary path, so it names exactly one process).
fn ferry_pid(data_dir: &Path) -> u32 {
    let wanted = data_dir.as_os_str().as_encoded_bytes();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args
            .windows(2)
            .any(|w| w[0] == b"--data-dir" && w[1] == wanted)
            && args.contains(&b"server".as_slice())
        {
            return pid;
        }
    }
    panic!("no ferry server process for {}", data_dir.display());
}

fn inside_the_lab(kubeconfig: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(INNER_DEADLINE, client_round_trip(kubeconfig.to_path_buf()))
            .await
            .expect("the inner run finished in time");
    });
}

fn resource(plural: &str) -> &'static ResourceInfo {
    ferry_api::resource::find("", "v1", plural).unwrap()
}

async fn client_round_trip(kubeconfig: PathBuf) {
    let client = Client::new(Arc::new(
        HttpsTransport::from_kubeconfig(&kubeconfig).unwrap(),
    ));
    let namespaces = resource("namespaces");
    let configmaps = resource("configmaps");

    let (items, _) = client.list(namespaces, None, None).await.unwrap();
    let names: Vec<&str> = items
        .iter()
        .filter_map(|ns| ns.pointer("/metadata/name")?.as_str())
        .collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&ns), "{names:?}");
    }

    let (_, rv) = client
        .list(configmaps, Some("default"), None)
        .await
        .unwrap();
    let mut watch = client
        .watch(configmaps, Some("default"), &rv)
        .await
        .unwrap();

    let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e2e-client"}, "data": {"a": "1"}});
    let created = client
        .create(configmaps, Some("default"), &object)
        .await
        .unwrap();
    let uid = created
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    assert_eq!(
        created.pointer("/metadata/namespace"),
        Some(&json!("default"))
    );

    let got = client
        .get(configmaps, Some("default"), "e2e-client")
        .await
        .unwrap();
    assert_eq!(got.pointer("/data/a"), Some(&json!("1")));
    assert_eq!(got.pointer("/metadata/uid"), Some(&json!(uid)));

    let mut seen = Vec::new();
    while let Some(event) = watch.next().await {
        let event = event.unwrap();
        let name = event
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        seen.push(format!("{} {name}", event.event_type));
        if event.event_type == "ADDED" && name == "e2e-client" {
            break;
        }
        assert!(seen.len() < 10, "no ADDED event for e2e-client: {seen:?}");
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("ADDED e2e-client"),
        "{seen:?}"
    );

    concurrent_gets_share_one_connection(&client).await;

    client
        .delete(configmaps, Some("default"), "e2e-client", Some(&uid))
        .await
        .unwrap();
    let gone = client
        .get(configmaps, Some("default"), "e2e-client")
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

/// With h2 negotiated, a burst of requests (and the open watch) use one TCP connection.
async fn concurrent_gets_share_one_connection(client: &Client) {
    let gets = (0..50).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .get(resource("configmaps"), Some("default"), "e2e-client")
                .await
        })
    });
    for get in gets.collect::<Vec<_>>() {
        get.await.unwrap().unwrap();
    }
    assert_eq!(established_connections_to(6443), 1);
}

/// Client-side TCP connections in this network namespace that are established to `port`.
fn established_connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let remote_port = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Fields: sl, local address, remote address, state (01 = ESTABLISHED), ...
            fields.len() > 3 && fields[2].ends_with(&remote_port) && fields[3] == "01"
        })
        .count()
}
