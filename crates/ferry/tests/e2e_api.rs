//! End-to-end: the real kubectl against `ferry server` in a lab network namespace.
//! Services as kube-apiserver treats them, the kubectl workflows of the seeds, errors, restart.

mod support;

use std::time::Duration;

use support::Lab;

const KUBIA_SVC: &str = "apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  ports:
  - port: 80
    targetPort: 8080
  selector:
    app: kubia
";

#[test]
fn discovery_version_and_short_names() {
    let lab = Lab::start();
    let version = lab.ok(&["version"]);
    assert!(version.contains("Server Version: v1.32.4"), "{version}");
    let resources = lab.ok(&["api-resources"]);
    for (short, name) in [
        ("svc", "services"),
        ("ep", "endpoints"),
        ("po", "pods"),
        ("rs", "replicasets"),
        ("rc", "replicationcontrollers"),
        ("deploy", "deployments"),
        ("ing", "ingresses"),
        ("ns", "namespaces"),
        ("no", "nodes"),
    ] {
        let line = resources
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or("");
        assert!(
            line.split_whitespace().nth(1) == Some(short),
            "{name}: {line}"
        );
    }
    let info = lab.ok(&["cluster-info"]);
    assert!(
        info.contains("Kubernetes control plane is running at https://127.0.0.1:6443"),
        "{info}"
    );
    let namespaces = lab.ok(&["get", "ns", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            namespaces.contains(&format!("namespace/{ns}\n")),
            "{namespaces}"
        );
    }
    let kubernetes = lab.ok(&["get", "svc", "kubernetes", "--no-headers"]);
    assert_eq!(
        support::columns(&kubernetes)[0][..5],
        ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    );
    // The cluster DNS Service, as kubeadm's CoreDNS addon names it; cluster-info lists it.
    let dns = lab.ok(&[
        "get",
        "svc",
        "-n",
        "kube-system",
        "kube-dns",
        "--no-headers",
    ]);
    assert_eq!(
        support::columns(&dns)[0][..5],
        [
            "kube-dns",
            "ClusterIP",
            "10.96.0.10",
            "<none>",
            "53/UDP,53/TCP"
        ]
    );
    assert!(
        info.contains("CoreDNS is running at https://127.0.0.1:6443/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy"),
        "{info}"
    );
    let old_ingress = lab.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: kubia\nspec: {}\n",
    );
    let stderr = String::from_utf8_lossy(&old_ingress.stderr);
    assert!(
        stderr.contains("no matches for kind \"Ingress\" in version \"extensions/v1beta1\""),
        "{stderr}"
    );
}

#[test]
fn apply_get_describe_update_delete_a_service() {
    let lab = Lab::start();
    assert_eq!(lab.apply(KUBIA_SVC), "service/kubia created\n");
    assert_eq!(lab.apply(KUBIA_SVC), "service/kubia unchanged\n");
    let row = support::columns(&lab.ok(&["get", "svc", "kubia", "-o", "wide", "--no-headers"]));
    let ip = row[0][2].clone();
    assert!(ip.starts_with("10.") && ip != "10.96.0.1", "{row:?}");
    assert_eq!(
        [&row[0][0], &row[0][1], &row[0][3], &row[0][4], &row[0][6]],
        ["kubia", "ClusterIP", "<none>", "80/TCP", "app=kubia"]
    );
    let header = lab.ok(&["get", "svc"]);
    assert!(
        header.starts_with("NAME")
            && header.lines().next().is_some_and(|h| support::columns(h)[0]
                == [
                    "NAME",
                    "TYPE",
                    "CLUSTER-IP",
                    "EXTERNAL-IP",
                    "PORT(S)",
                    "AGE"
                ]),
        "{header}"
    );

    let changed = KUBIA_SVC.replace("port: 80", "port: 8081");
    assert_eq!(lab.apply(&changed), "service/kubia configured\n");
    let yaml = lab.ok(&["get", "svc", "kubia", "-o", "yaml"]);
    assert!(yaml.contains("port: 8081"), "{yaml}");
    assert!(
        yaml.contains(&format!("clusterIP: {ip}")),
        "clusterIP kept across apply: {yaml}"
    );
    assert!(
        yaml.contains("sessionAffinity: None") && yaml.contains("type: ClusterIP"),
        "{yaml}"
    );
    assert!(
        yaml.contains("internalTrafficPolicy: Cluster") && yaml.contains("- IPv4"),
        "{yaml}"
    );
    assert_eq!(lab.apply(KUBIA_SVC), "service/kubia configured\n");

    // kubectl 1.32 builds `Endpoints:` from the service's EndpointSlices; with no pods the
    // controller keeps one empty placeholder slice, which prints as an empty value (`<none>`
    // only when there is no slice at all), as on a real cluster.
    lab.eventually(
        "the placeholder slice",
        std::time::Duration::from_secs(10),
        || {
            let out = lab.kubectl(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=kubia",
                "-o",
                "name",
            ]);
            !out.stdout.is_empty()
        },
    );
    let described = lab.ok(&["describe", "svc", "kubia"]);
    let fields: Vec<String> = described
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for line in [
        "Selector: app=kubia",
        "Type: ClusterIP",
        "Port: <unset> 80/TCP",
        "TargetPort: 8080/TCP",
        "Endpoints:",
        "Session Affinity: None",
        "Events: <none>",
    ] {
        assert!(
            fields.iter().any(|f| f == line),
            "missing {line:?} in\n{described}"
        );
    }
    assert_eq!(
        lab.ok(&["delete", "svc", "kubia"]),
        "service \"kubia\" deleted\n"
    );
    let gone = lab.fails(&["get", "svc", "kubia"]);
    assert!(
        gone.contains("Error from server (NotFound): services \"kubia\" not found"),
        "{gone}"
    );
}

#[test]
fn invalid_services_are_refused_with_kube_apiserver_messages() {
    let lab = Lab::start();
    let cases = [
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: kubia-nodeport\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    targetPort: 8080\n    nodePort: 80\n",
            "The Service \"kubia-nodeport\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: sticky\nspec:\n  sessionAffinity: Cookie\n  ports:\n  - port: 80\n",
            "The Service \"sticky\" is invalid: spec.sessionAffinity: Unsupported value: \"Cookie\": supported values: \"ClientIP\", \"None\"",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: typo\nspec:\n  prots:\n  - port: 80\n",
            "strict decoding error: unknown field \"spec.prots\"",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\nspec:\n  ports:\n  - port: 80\n",
            "metadata.name: Invalid value: \"Bad_Name\": a DNS-1035 label must consist of lower case alphanumeric characters",
        ),
    ];
    for (manifest, want) in cases {
        let out = lab.kubectl_stdin(&["apply", "-f", "-"], manifest);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(want),
            "want {want:?}\ngot {stderr}"
        );
    }
    let listed = lab.ok(&["get", "svc", "-o", "name"]);
    assert_eq!(listed, "service/kubernetes\n", "nothing was stored");
}

#[test]
fn node_ports_are_allocated_and_never_shared() {
    let lab = Lab::start();
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: kubia-nodeport\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    targetPort: 8080\n    nodePort: 30123\n  selector:\n    app: kubia\n";
    lab.apply(svc);
    let row = support::columns(&lab.ok(&["get", "svc", "kubia-nodeport", "--no-headers"]));
    assert_eq!(row[0][4], "80:30123/TCP");
    let taken = svc.replace("name: kubia-nodeport", "name: other");
    let out = lab.kubectl_stdin(&["apply", "-f", "-"], &taken);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "spec.ports[0].nodePort: Invalid value: 30123: provided port is already allocated"
        ),
        "{stderr}"
    );
    lab.ok(&["create", "service", "nodeport", "auto", "--tcp=80:8080"]);
    let auto = support::columns(&lab.ok(&["get", "svc", "auto", "--no-headers"]));
    let port: u16 = auto[0][4]
        .trim_start_matches("80:")
        .trim_end_matches("/TCP")
        .parse()
        .unwrap_or(0);
    assert!((30000..=32767).contains(&port), "{auto:?}");
    lab.ok(&["delete", "svc", "kubia-nodeport"]);
    lab.apply(&taken);
}

#[test]
fn kubectl_generators_and_edits() {
    let lab = Lab::start();
    let dir = tempfile::tempdir().expect("tmp");
    // Any matching certificate and key will do; kubectl checks the pair before sending it.
    let crt = lab.data_dir().join("pki/admin.crt");
    let key = lab.data_dir().join("pki/admin.key");
    let created = lab.ok(&[
        "create",
        "secret",
        "tls",
        "tls-secret",
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ]);
    assert_eq!(created, "secret/tls-secret created\n");
    let secret = support::columns(&lab.ok(&["get", "secret", "tls-secret", "--no-headers"]));
    assert_eq!(secret[0][..3], ["tls-secret", "kubernetes.io/tls", "2"]);
    assert_eq!(
        lab.ok(&["create", "configmap", "cfg", "--from-literal=a=b"]),
        "configmap/cfg created\n"
    );
    assert_eq!(
        lab.ok(&[
            "create",
            "deployment",
            "kubia",
            "--image=luksa/kubia",
            "--port=8080"
        ]),
        "deployment.apps/kubia created\n"
    );
    assert_eq!(
        lab.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]),
        "service/web created\n"
    );
    assert_eq!(
        lab.ok(&[
            "expose",
            "deployment",
            "kubia",
            "--name=kubia-http",
            "--port=80",
            "--target-port=8080"
        ]),
        "service/kubia-http exposed\n"
    );
    let sel = lab.ok(&[
        "get",
        "svc",
        "kubia-http",
        "-o",
        "jsonpath={.spec.selector.app} {.spec.ports[0].targetPort}",
    ]);
    assert_eq!(sel, "kubia 8080");
    assert_eq!(
        lab.ok(&["label", "svc", "web", "tier=front"]),
        "service/web labeled\n"
    );
    assert_eq!(
        lab.ok(&["annotate", "svc", "web", "note=hi"]),
        "service/web annotated\n"
    );
    let labels = lab.ok(&["get", "svc", "-l", "tier=front", "-o", "name"]);
    assert_eq!(labels, "service/web\n");
    let all = lab.ok(&["get", "all"]);
    assert!(
        all.contains("service/kubia-http") && all.contains("deployment.apps/kubia"),
        "{all}"
    );
    assert_eq!(
        lab.ok(&["scale", "deployment", "kubia", "--replicas=3"]),
        "deployment.apps/kubia scaled\n"
    );
    assert_eq!(
        lab.ok(&["get", "deploy", "kubia", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );

    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/sessionAffinity: None/sessionAffinity: ClientIP/' \"$1\"\n",
    )
    .expect("write");
    std::process::Command::new("chmod")
        .args(["+x", &editor.display().to_string()])
        .status()
        .expect("chmod");
    let edited = lab.kubectl_env(
        &["edit", "svc", "web"],
        &[("EDITOR", &editor.display().to_string())],
    );
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    let affinity = lab.ok(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.sessionAffinity} {.spec.sessionAffinityConfig.clientIP.timeoutSeconds}",
    ]);
    assert_eq!(affinity, "ClientIP 10800");

    let dry = lab.kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], KUBIA_SVC);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&dry.stdout),
        "service/kubia created (server dry run)\n"
    );
    lab.fails(&["get", "svc", "kubia"]);
    lab.apply(KUBIA_SVC);
    let diff = lab.kubectl_stdin(&["diff", "-f", "-"], &KUBIA_SVC.replace("8080", "9090"));
    assert_eq!(
        diff.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    assert!(String::from_utf8_lossy(&diff.stdout).contains("targetPort: 9090"));
}

#[test]
fn watch_shows_changes_as_they_happen() {
    use std::io::{BufRead, BufReader};
    let lab = Lab::start();
    let mut watch = lab.kubectl_spawn(&["get", "svc", "-w", "--request-timeout=20s"]);
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("table header");
    assert!(first.starts_with("NAME"), "{first}");
    lab.apply(KUBIA_SVC);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = line.starts_with("kubia ");
            seen.push(line);
            if done {
                break;
            }
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = reader.join();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("kubia ") && l.contains("ClusterIP")),
        "{seen:?}"
    );
}

#[test]
fn restart_keeps_objects_and_cluster_ips() {
    let mut lab = Lab::start();
    lab.apply(KUBIA_SVC);
    let before = lab.ok(&[
        "get",
        "svc",
        "kubia",
        "-o",
        "jsonpath={.spec.clusterIP} {.metadata.uid}",
    ]);
    lab.restart();
    assert_eq!(
        lab.ok(&[
            "get",
            "svc",
            "kubia",
            "-o",
            "jsonpath={.spec.clusterIP} {.metadata.uid}"
        ]),
        before
    );
    lab.crash_and_restart();
    assert_eq!(
        lab.ok(&[
            "get",
            "svc",
            "kubia",
            "-o",
            "jsonpath={.spec.clusterIP} {.metadata.uid}"
        ]),
        before
    );
    let ip = before.split_whitespace().next().unwrap_or("");
    let clash = format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: clash\nspec:\n  clusterIP: {ip}\n  ports:\n  - port: 80\n");
    let out = lab.kubectl_stdin(&["apply", "-f", "-"], &clash);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("provided IP is already allocated"),
        "{stderr}"
    );
}

#[test]
fn garbage_collection_and_namespace_deletion() {
    let lab = Lab::start();
    lab.ok(&["create", "namespace", "scratch"]);
    lab.ok(&[
        "-n",
        "scratch",
        "create",
        "configmap",
        "owner",
        "--from-literal=a=b",
    ]);
    let uid = lab.ok(&[
        "-n",
        "scratch",
        "get",
        "cm",
        "owner",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let dependent = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dependent\n  namespace: scratch\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {uid}\n"
    );
    lab.apply(&dependent);
    lab.ok(&["-n", "scratch", "delete", "cm", "owner"]);
    lab.eventually("dependent collected", Duration::from_secs(10), || {
        !lab.ok(&["-n", "scratch", "get", "cm", "-o", "name"])
            .contains("dependent")
    });
    lab.ok(&[
        "-n",
        "scratch",
        "create",
        "service",
        "clusterip",
        "inside",
        "--tcp=80:80",
    ]);
    lab.ok(&["delete", "namespace", "scratch"]);
    lab.eventually("namespace gone", Duration::from_secs(10), || {
        lab.kubectl(&["get", "ns", "scratch"]).status.code() == Some(1)
    });
    let refused = lab.fails(&["delete", "namespace", "default"]);
    assert!(
        refused.contains("this namespace may not be deleted"),
        "{refused}"
    );
}

#[test]
fn every_example_manifest_is_accepted() {
    let lab = Lab::start();
    let dir = support::example("");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for path in names {
        let path = path.display().to_string();
        let out = lab.kubectl(&["apply", "-f", &path]);
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn manual_endpoints_for_a_service_without_selector() {
    let lab = Lab::start();
    for f in ["external-service.yaml", "external-service-endpoints.yaml"] {
        lab.ok(&["apply", "-f", &support::example(f).display().to_string()]);
    }
    let ep = support::columns(&lab.ok(&["get", "ep", "external-service", "--no-headers"]));
    assert_eq!(
        ep[0][..2],
        ["external-service", "11.11.11.11:80,22.22.22.22:80"]
    );
    let svc = support::columns(&lab.ok(&[
        "get",
        "svc",
        "external-service",
        "-o",
        "wide",
        "--no-headers",
    ]));
    assert_eq!(svc[0][6], "<none>", "no selector: {svc:?}");
}

#[test]
fn expose_rc_and_pod() {
    let lab = Lab::start();
    lab.apply(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: kubia\nspec:\n  replicas: 3\n  selector:\n    app: kubia\n  template:\n    metadata:\n      labels:\n        app: kubia\n    spec:\n      containers:\n      - name: kubia\n        image: luksa/kubia\n        ports:\n        - containerPort: 8080\n",
    );
    assert_eq!(
        lab.ok(&[
            "expose",
            "rc",
            "kubia",
            "--type=LoadBalancer",
            "--name",
            "kubia-http"
        ]),
        "service/kubia-http exposed\n"
    );
    let row = support::columns(&lab.ok(&["get", "svc", "kubia-http", "--no-headers"]));
    assert_eq!([&row[0][1], &row[0][3]], ["LoadBalancer", "<pending>"]);
    assert!(
        row[0][4].starts_with("8080:") && row[0][4].ends_with("/TCP"),
        "{row:?}"
    );
    lab.apply(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: solo\n  labels:\n    app: solo\nspec:\n  containers:\n  - name: web\n    image: nginx\n    ports:\n    - containerPort: 80\n",
    );
    assert_eq!(
        lab.ok(&["expose", "pod", "solo", "--port=80"]),
        "service/solo exposed\n"
    );
    assert_eq!(
        lab.ok(&["get", "svc", "solo", "-o", "jsonpath={.spec.selector.app}"]),
        "solo"
    );
    let again = lab.fails(&["expose", "pod", "solo", "--port=80"]);
    assert!(
        again.contains("Error from server (AlreadyExists): services \"solo\" already exists"),
        "{again}"
    );
    assert_eq!(
        lab.ok(&["scale", "rc", "kubia", "--replicas=5"]),
        "replicationcontroller/kubia scaled\n"
    );
}
