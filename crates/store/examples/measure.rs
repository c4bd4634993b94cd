//! A quick measurement of the embedded store, printing figures (it asserts no timings):
//! `cargo run --release -p ferry-store --example measure [DIR]`. DIR (default: a temp dir)
//! should be on the disk whose fsync cost is of interest.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_store::{EmbeddedStore, Store, Txn};

const VALUE_SIZE: usize = 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| temp.path().to_owned(), PathBuf::from);
    let path = dir.join("measure.redb");
    let _ = std::fs::remove_file(&path);
    let store = EmbeddedStore::open(&path).await?;
    let value = vec![b'v'; VALUE_SIZE];

    sequential(&store, &value).await?;
    concurrent(&store, &value).await?;
    lists(&store).await?;
    watchers(&store, &value).await?;

    store.close().await;
    let start = Instant::now();
    let store = EmbeddedStore::open(&path).await?;
    println!(
        "reopen with {} keys: {:.1} ms",
        store.list("/", None).await?.kvs.len(),
        ms(start.elapsed())
    );
    store.close().await;
    Ok(())
}

/// 2,000 durable creates, one after another: one commit each.
async fn sequential(store: &EmbeddedStore, value: &[u8]) -> anyhow::Result<()> {
    let mut latencies = Vec::with_capacity(2000);
    let start = Instant::now();
    for i in 0..2000 {
        let t = Instant::now();
        store
            .txn(Txn::create(format!("/registry/seq/{i:05}"), value.to_vec()))
            .await?;
        latencies.push(t.elapsed());
    }
    let total = start.elapsed();
    latencies.sort();
    println!(
        "2,000 sequential durable writes: {:.3} s total, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        total.as_secs_f64(),
        ms(latencies[1000]),
        ms(latencies[1980]),
        ms(latencies[1999])
    );
    Ok(())
}

/// 10,000 creates from 100 concurrent tasks: grouped into few commits.
async fn concurrent(store: &Arc<EmbeddedStore>, value: &[u8]) -> anyhow::Result<()> {
    let commits_before = store.commit_count();
    let start = Instant::now();
    let tasks: Vec<_> = (0..100)
        .map(|t| {
            let (store, value) = (Arc::clone(store), value.to_vec());
            tokio::spawn(async move {
                for i in 0..100 {
                    let key = format!("/registry/pods/default/pod-{t:03}-{i:03}");
                    store.txn(Txn::create(key, value.clone())).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed();
    let commits = store.commit_count() - commits_before;
    println!(
        "10,000 concurrent creates from 100 tasks: {:.3} s, {:.0} writes/s, {commits} commits ({:.1} writes per commit)",
        elapsed.as_secs_f64(),
        10_000.0 / elapsed.as_secs_f64(),
        10_000.0 / commits as f64
    );
    Ok(())
}

/// Lists of the 10,000 keys: latest from memory, and at a past revision.
async fn lists(store: &EmbeddedStore) -> anyhow::Result<()> {
    let prefix = "/registry/pods/";
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let list = store.list(prefix, None).await?;
        best = best.min(start.elapsed());
        anyhow::ensure!(list.kvs.len() == 10_000, "listed {}", list.kvs.len());
    }
    println!(
        "list of 10,000 keys (latest, best of 5): {:.2} ms",
        ms(best)
    );
    let past = store.current_revision() - 5_000;
    let start = Instant::now();
    let list = store.list(prefix, Some(past)).await?;
    println!(
        "list at a past revision (undoing 5,000 events, {} keys): {:.2} ms",
        list.kvs.len(),
        ms(start.elapsed())
    );
    Ok(())
}

/// 1,000 watchers on one prefix, 100 writes: every watcher gets every event.
async fn watchers(store: &Arc<EmbeddedStore>, value: &[u8]) -> anyhow::Result<()> {
    let mut handles = Vec::new();
    for _ in 0..1000 {
        let mut watch = store.watch("/registry/watched/", 0).await?;
        handles.push(tokio::spawn(async move {
            for _ in 0..100 {
                match watch.next().await {
                    Some(Ok(_)) => {}
                    other => anyhow::bail!("watch ended early: {other:?}"),
                }
            }
            anyhow::Ok(())
        }));
    }
    let start = Instant::now();
    for i in 0..100 {
        store
            .txn(Txn::put(format!("/registry/watched/{i}"), value.to_vec()))
            .await?;
    }
    for handle in handles {
        handle.await??;
    }
    println!(
        "1,000 watchers x 100 sequential writes: all 100,000 deliveries in {:.1} ms",
        ms(start.elapsed())
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
