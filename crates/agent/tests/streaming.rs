//! The streaming server in process, driven the way the API server drives the kubelet, with a
//! host-process runtime: exec exit codes, stdin, terminals and resizes, errors before the
//! upgrade, client authorization, and logs with tail, follow and previous.

mod support;

use http_body_util::BodyExt;
use serde_json::json;

use ferry_agent::streaming::PodRef;

use support::Agent;

fn pod(name: &str) -> PodRef {
    PodRef {
        namespace: "default".into(),
        name: name.into(),
    }
}

/// An agent running pod `p` with a long-lived container `c`.
async fn agent_with_running_pod() -> Agent {
    let agent = Agent::start().await;
    agent.runtime.start(&pod("p"), "c", &["sleep", "600"]).await;
    agent
}

#[tokio::test]
async fn exec_carries_output_and_the_exit_code() {
    let agent = agent_with_running_pod().await;
    let session = agent
        .session("/exec/default/p/c?command=sh&command=-c&command=echo+out%3B+echo+err+%3E%262%3B+exit+3&stdout=1&stderr=1")
        .await
        .unwrap();
    let t = session.finish().await;
    assert_eq!((t.stdout.as_str(), t.stderr.as_str()), ("out\n", "err\n"));
    assert_eq!(t.first, [1], "an empty stdout message opens the session");
    assert_eq!(
        t.status,
        json!({
            "metadata": {},
            "status": "Failure",
            "message": "command terminated with non-zero exit code: error executing command [sh -c echo out; echo err >&2; exit 3], exit code 3",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}
        })
    );

    let t = agent
        .session("/exec/default/p/c?command=true&stderr=1")
        .await
        .unwrap()
        .finish()
        .await;
    assert_eq!(t.status, json!({"metadata": {}, "status": "Success"}));
    assert_eq!(
        t.first,
        [2],
        "without stdout, the empty message goes to stderr"
    );
}

#[tokio::test]
async fn exec_passes_stdin_until_the_close_signal() {
    let agent = agent_with_running_pod().await;
    let mut session = agent
        .session("/exec/default/p/c?command=wc&command=-c&stdin=1&stdout=1&stderr=1")
        .await
        .unwrap();
    session.send(0, b"hello ").await;
    session.send(0, b"world\n").await;
    // v5's close signal: stdin (channel 0) is done.
    session.send(255, &[0]).await;
    let t = session.finish().await;
    assert_eq!(t.stdout.trim(), "12");
    assert_eq!(t.status["status"], "Success");
}

#[tokio::test]
async fn exec_with_a_terminal_follows_resizes() {
    let agent = agent_with_running_pod().await;
    let mut session = agent
        .session("/exec/default/p/c?command=sh&stdin=1&stdout=1&stderr=1&tty=1")
        .await
        .unwrap();
    session.send(4, br#"{"Width":100,"Height":30}"#).await;
    session.send(0, b"stty size; tty\n").await;
    let out = session.read_stdout_until("/dev/pts/").await;
    assert!(out.contains("30 100"), "{out:?}");
    session.send(4, br#"{"Width":120,"Height":40}"#).await;
    session.send(0, b"stty size; exit 4\n").await;
    let t = session.finish().await;
    assert!(t.stdout.contains("40 120"), "{:?}", t.stdout);
    assert_eq!(t.stderr, "", "a terminal has one output");
    assert_eq!(t.status["details"]["causes"][0]["message"], "4");
}

#[tokio::test]
async fn errors_before_the_upgrade_are_the_kubelets() {
    let agent = agent_with_running_pod().await;
    agent
        .runtime
        .add_waiting(&pod("p"), "w", "ContainerCreating");
    let cases = [
        (
            "/exec/default/nope/c?command=true&stdout=1",
            404,
            "pod does not exist",
        ),
        (
            "/exec/default/p/w?command=true&stdout=1",
            500,
            r#"container not found ("w")"#,
        ),
        (
            "/exec/default/p/x?command=true&stdout=1",
            500,
            r#"container not found ("x")"#,
        ),
        (
            "/exec/default/p/c?command=true",
            400,
            "you must specify at least 1 of stdin, stdout, stderr",
        ),
        (
            "/attach/default/p/c?stdout=1",
            500,
            r#"container not found ("c")"#,
        ),
    ];
    for (path, code, message) in cases {
        let err = agent.session(path).await.err();
        assert_eq!(err, Some((code, message.to_string())), "{path}");
    }
    let t = agent
        .session("/exec/default/p/c?command=/no/such/program&stdout=1")
        .await
        .unwrap()
        .finish()
        .await;
    assert_eq!(t.status["reason"], "InternalError");
    let message = t.status["message"].as_str().unwrap();
    assert!(
        message.starts_with("Internal error occurred: error executing command in container: start [\"/no/such/program\"]"),
        "{message}"
    );
    let (code, body) = agent.get("/exec/default/p/c?command=true&stdout=1").await;
    assert_eq!((code, body.as_str()), (400, "Upgrade request required"));
    let (code, _) = agent.get("/pods").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn only_allowed_identities_get_in() {
    let agent = agent_with_running_pod().await;
    let (code, body) = agent
        .get_as(
            "system:node:n1",
            &["system:nodes"],
            "/containerLogs/default/p/c",
        )
        .await;
    let body = body.collect().await.unwrap().to_bytes();
    assert_eq!(
        (code, String::from_utf8_lossy(&body).as_ref()),
        (
            403,
            "Forbidden (user=system:node:n1, verb=get, resource=nodes, subresource=proxy)"
        )
    );
    let (code, _) = agent
        .get_as(
            "kube-apiserver-kubelet-client",
            &[],
            "/containerLogs/default/p/c",
        )
        .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn logs_with_tail_previous_and_errors() {
    let agent = Agent::start().await;
    let p = pod("p");
    agent
        .runtime
        .start(&p, "c", &["sh", "-c", "echo one; echo two; printf three"])
        .await;
    agent.runtime.wait_exited(&p, "c").await;
    assert_eq!(
        agent.get("/containerLogs/default/p/c").await,
        (200, "one\ntwo\nthree".to_string())
    );
    assert_eq!(
        agent.get("/containerLogs/default/p/c?tailLines=1").await,
        (200, "three".to_string())
    );
    let (code, body) = agent
        .get("/containerLogs/default/p/c?timestamps=true&limitBytes=35")
        .await;
    assert_eq!(code, 200);
    assert!(body.ends_with("Z one\n"), "{body:?}");

    agent.runtime.start(&p, "c", &["echo", "again"]).await;
    agent.runtime.wait_exited(&p, "c").await;
    assert_eq!(
        agent.get("/containerLogs/default/p/c?previous=true").await,
        (200, "one\ntwo\nthree".to_string())
    );
    assert_eq!(
        agent.get("/containerLogs/default/p/c").await,
        (200, "again\n".to_string())
    );

    agent.runtime.add_waiting(&p, "w", "ContainerCreating");
    let cases = [
        (
            "/containerLogs/default/p/w",
            400,
            r#"container "w" in pod "p" is waiting to start: ContainerCreating"#,
        ),
        (
            "/containerLogs/default/p/w?previous=true",
            400,
            r#"previous terminated container "w" in pod "p" not found"#,
        ),
        (
            "/containerLogs/default/p/x",
            404,
            r#"container "x" not found in pod "p""#,
        ),
        (
            "/containerLogs/default/q/c",
            404,
            r#"pod "q" does not exist"#,
        ),
        (
            "/containerLogs/default/p/c?tailLines=x",
            400,
            r#"{"message": "Unable to decode query."}"#,
        ),
        (
            "/containerLogs/default/p/c?tailLines=-1",
            422,
            r#"{"message": "Invalid request."}"#,
        ),
    ];
    for (path, code, message) in cases {
        assert_eq!(agent.get(path).await, (code, message.to_string()), "{path}");
    }
}

#[tokio::test]
async fn follow_streams_until_the_container_exits() {
    let agent = Agent::start().await;
    let p = pod("p");
    agent.runtime.start(&p, "c", &["cat"]).await;
    agent.runtime.write_stdin(&p, "c", b"first\n").await;
    let (code, mut body) = agent
        .get_as(
            "kube-apiserver-kubelet-client",
            &[],
            "/containerLogs/default/p/c?follow=true",
        )
        .await;
    assert_eq!(code, 200);
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "first\n").await;
    agent.runtime.write_stdin(&p, "c", b"second\n").await;
    read_until(&mut body, &mut seen, "second\n").await;
    agent.runtime.write_stdin(&p, "c", b"last").await;
    agent.runtime.close_stdin(&p, "c").await;
    let rest = body.collect().await.unwrap().to_bytes();
    seen.push_str(&String::from_utf8_lossy(&rest));
    assert_eq!(seen, "first\nsecond\nlast");
}

/// Reads a streamed body into `seen` until it contains `needle`.
async fn read_until(body: &mut hyper::body::Incoming, seen: &mut String, needle: &str) {
    while !seen.contains(needle) {
        let frame = body.frame().await.unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
}
