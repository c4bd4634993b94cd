//! Crash safety: a child process streams durable writes and prints each acknowledged one; it is
//! killed with SIGKILL mid-stream, and every acknowledged write must be in the reopened file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use ferry_store::{EmbeddedStore, Store, Txn};

/// When set (to a file path), `crash_child` is the writer process instead of a no-op.
const CHILD_ENV: &str = "FERRY_STORE_CRASH_CHILD";
const WRITERS: usize = 8;
const WRITES_PER_WRITER: usize = 100_000;
const KILL_AFTER: usize = 400;

/// The child's body: concurrent writers creating keys, one `acked KEY REVISION` line per
/// acknowledged write, printed only after the store answered.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(Path::new(&path)).await.unwrap();
        let value = vec![b'x'; 1024];
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, value) = (Arc::clone(&store), value.clone());
                tokio::spawn(async move {
                    for i in 0..WRITES_PER_WRITER {
                        let key = format!("/crash/{w}/{i}");
                        let response = store
                            .txn(Txn::create(key.clone(), value.clone()))
                            .await
                            .unwrap();
                        assert!(response.succeeded);
                        println!("acked {key} {}", response.revision);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked: Vec<(String, i64)> = Vec::new();
    let mut killed = false;
    // Lines still in the pipe after the kill were acknowledged before it: read to the end.
    for line in stdout.lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("acked ") else {
            continue;
        };
        let (key, revision) = rest.split_once(' ').unwrap();
        acked.push((key.to_owned(), revision.parse().unwrap()));
        if acked.len() == KILL_AFTER && !killed {
            child.kill().unwrap(); // SIGKILL to the child's PID
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed && !status.success(),
        "the child was killed mid-stream: {status:?}"
    );
    assert!(acked.len() < WRITERS * WRITES_PER_WRITER);

    let store = EmbeddedStore::open(&path).await.unwrap();
    for (key, revision) in &acked {
        let kv = store.get(key).await.unwrap();
        assert_eq!(kv.map(|kv| kv.mod_revision), Some(*revision), "{key}");
    }
    let max = acked.iter().map(|(_, r)| *r).max().unwrap();
    assert!(store.current_revision() >= max);
    let listed = store.list("/crash/", None).await.unwrap().kvs.len();
    assert!(listed >= acked.len());
    println!(
        "{} acknowledged before SIGKILL, {listed} found after reopening",
        acked.len()
    );
    // The reopened store still writes at the next revision.
    let next = store.txn(Txn::put("/after", "crash")).await.unwrap();
    assert_eq!(next.revision, store.current_revision());
    store.close().await;
}
