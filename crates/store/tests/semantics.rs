//! Data-driven tests of the store's etcd semantics through the public API, run against the
//! in-memory store, a file store, and a file store whose tiny ring forces every catch-up and
//! past list through the on-disk log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_store::{
    EmbeddedStore, Event, EventKind, KeyValue, Op, Store, StoreConfig, StoreError, Txn,
    TxnResponse, Watch,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// The stores every script runs against; the temp dir lives as long as the store.
async fn stores() -> Vec<(&'static str, Arc<EmbeddedStore>, Option<tempfile::TempDir>)> {
    let file_dir = tempfile::tempdir().unwrap();
    let file = EmbeddedStore::open(&file_dir.path().join("store.redb"))
        .await
        .unwrap();
    let tiny_dir = tempfile::tempdir().unwrap();
    let tiny = EmbeddedStore::open_with(
        &tiny_dir.path().join("store.redb"),
        StoreConfig {
            ring_events: 1,
            ..StoreConfig::default()
        },
    )
    .await
    .unwrap();
    vec![
        ("memory", EmbeddedStore::in_memory().await.unwrap(), None),
        ("file", file, Some(file_dir)),
        ("file with a tiny ring", tiny, Some(tiny_dir)),
    ]
}

/// Runs a script of `command => expected` lines on every store.
async fn check(script: &str) {
    for (name, store, _dir) in stores().await {
        let mut watches = HashMap::new();
        for (n, line) in script.lines().map(str::trim).enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (command, want) = line.split_once("=>").unwrap();
            let got = run(&*store, &mut watches, command.trim()).await;
            assert_eq!(got, want.trim(), "{name}, line {}: {command}", n + 1);
        }
        store.close().await;
    }
}

async fn run(store: &dyn Store, watches: &mut HashMap<String, Watch>, command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    let rev = |i: usize| words[i].parse::<i64>().unwrap();
    let txn = |t: Txn| async { render_txn(store.txn(t).await) };
    match words[0] {
        "create" => txn(Txn::create(words[1], words[2].to_owned())).await,
        "update" => txn(Txn::update(words[1], rev(2), words[3].to_owned())).await,
        "put" => txn(Txn::put(words[1], words[2].to_owned())).await,
        "delete" => txn(Txn::delete(words[1], rev(2))).await,
        "puts" => {
            let success = words[1..]
                .chunks(2)
                .map(|kv| Op::Put {
                    key: kv[0].into(),
                    value: kv[1].to_owned().into(),
                })
                .collect();
            txn(Txn {
                success,
                ..Txn::default()
            })
            .await
        }
        "get" => match store.get(words[1]).await {
            Ok(kv) => kv.as_ref().map_or("none".into(), render_kv),
            Err(e) => format!("error: {e}"),
        },
        "list" => {
            let at = words.get(2).map(|_| rev(2));
            match store.list(words[1], at).await {
                Ok(list) => format!(
                    "@{} [{}]",
                    list.revision,
                    list.kvs
                        .iter()
                        .map(render_kv)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(e) => format!("error: {e}"),
            }
        }
        "compact" => match store.compact(rev(1)).await {
            Ok(()) => "ok".into(),
            Err(e) => format!("error: {e}"),
        },
        "revisions" => format!(
            "current {} compacted {}",
            store.current_revision(),
            store.compacted_revision()
        ),
        // watch NAME PREFIX START
        "watch" => match store.watch(words[2], rev(3)).await {
            Ok(watch) => {
                watches.insert(words[1].to_owned(), watch);
                "ok".into()
            }
            Err(e) => format!("error: {e}"),
        },
        // next NAME COUNT
        "next" => {
            let watch = watches.get_mut(words[1]).unwrap();
            let mut events = Vec::new();
            for _ in 0..rev(2) {
                match tokio::time::timeout(DEADLINE, watch.next()).await {
                    Ok(Some(Ok(event))) => events.push(render_event(&event)),
                    Ok(Some(Err(e))) => events.push(format!("error: {e}")),
                    Ok(None) => events.push("end".into()),
                    Err(_) => events.push("timeout".into()),
                }
            }
            events.join(", ")
        }
        other => panic!("unknown command {other}"),
    }
}

fn render_txn(result: Result<TxnResponse, StoreError>) -> String {
    match result {
        Ok(r) if r.succeeded => format!("ok @{}", r.revision),
        Ok(r) => {
            let current: Vec<String> = r
                .current
                .iter()
                .map(|kv| kv.as_ref().map_or("none".into(), render_kv))
                .collect();
            format!("conflict @{} [{}]", r.revision, current.join(", "))
        }
        Err(e) => format!("error: {e}"),
    }
}

fn render_kv(kv: &KeyValue) -> String {
    format!(
        "{}={} c{} m{} v{}",
        kv.key,
        String::from_utf8_lossy(&kv.value),
        kv.create_revision,
        kv.mod_revision,
        kv.version
    )
}

fn render_event(event: &Event) -> String {
    let kind = match event.kind {
        EventKind::Put => "PUT",
        EventKind::Delete => "DELETE",
    };
    let prev = event
        .prev
        .as_ref()
        .map_or("none".into(), |p| format!("m{}", p.mod_revision));
    format!("{kind} {} prev {prev}", render_kv(&event.kv))
}

#[tokio::test]
async fn create_update_delete() {
    check(
        "
        revisions               => current 0 compacted 0
        create /a x             => ok @1
        create /a y             => conflict @1 [/a=x c1 m1 v1]
        update /a 1 y           => ok @2
        update /a 1 z           => conflict @2 [/a=y c1 m2 v2]
        get /a                  => /a=y c1 m2 v2
        delete /a 1             => conflict @2 [/a=y c1 m2 v2]
        delete /a 2             => ok @3
        get /a                  => none
        delete /a 3             => conflict @3 [none]
        update /b 0 fresh       => ok @4
        create /a again         => ok @5
        get /a                  => /a=again c5 m5 v1
        put /a blind            => ok @6
        get /a                  => /a=blind c5 m6 v2
        puts /p/1 a /p/2 b      => ok @7
        list /p/                => @7 [/p/1=a c7 m7 v1, /p/2=b c7 m7 v1]
        revisions               => current 7 compacted 0
        ",
    )
    .await;
}

#[tokio::test]
async fn list_by_prefix_at_revisions() {
    check(
        "
        create /registry/pods/a 1     => ok @1
        create /registry/pods/b 2     => ok @2
        create /registry/podsx/c 3    => ok @3
        update /registry/pods/a 1 1b  => ok @4
        delete /registry/pods/b 2     => ok @5
        list /registry/pods/          => @5 [/registry/pods/a=1b c1 m4 v2]
        list /registry/pods/ 0        => @5 [/registry/pods/a=1b c1 m4 v2]
        list /registry/pods/ 4        => @4 [/registry/pods/a=1b c1 m4 v2, /registry/pods/b=2 c2 m2 v1]
        list /registry/pods/ 3        => @3 [/registry/pods/a=1 c1 m1 v1, /registry/pods/b=2 c2 m2 v1]
        list /registry/pods/ 1        => @1 [/registry/pods/a=1 c1 m1 v1]
        list /registry/ 3             => @3 [/registry/pods/a=1 c1 m1 v1, /registry/pods/b=2 c2 m2 v1, /registry/podsx/c=3 c3 m3 v1]
        list /nothing/                => @5 []
        list /registry/pods/ 6        => error: required revision 6 is a future revision (current revision 5)
        ",
    )
    .await;
}

#[tokio::test]
async fn watch_catch_up_then_live() {
    check(
        "
        create /a/1 x           => ok @1
        create /b/1 y           => ok @2
        update /a/1 1 x2        => ok @3
        watch all /a/ 2         => ok
        watch now /a/ 0         => ok
        watch old / 1           => ok
        delete /a/1 3           => ok @4
        puts /a/2 p /b/2 q /a/3 r => ok @5
        next all 3              => PUT /a/1=x2 c1 m3 v2 prev m1, DELETE /a/1=x2 c1 m4 v0 prev m3, PUT /a/2=p c5 m5 v1 prev none
        next all 1              => PUT /a/3=r c5 m5 v1 prev none
        next now 3              => DELETE /a/1=x2 c1 m4 v0 prev m3, PUT /a/2=p c5 m5 v1 prev none, PUT /a/3=r c5 m5 v1 prev none
        next old 3              => PUT /a/1=x c1 m1 v1 prev none, PUT /b/1=y c2 m2 v1 prev none, PUT /a/1=x2 c1 m3 v2 prev m1
        next old 4              => DELETE /a/1=x2 c1 m4 v0 prev m3, PUT /a/2=p c5 m5 v1 prev none, PUT /b/2=q c5 m5 v1 prev none, PUT /a/3=r c5 m5 v1 prev none
        watch future /a/ 7      => ok
        put /a/4 s              => ok @6
        put /a/5 t              => ok @7
        next future 1           => PUT /a/5=t c7 m7 v1 prev none
        ",
    )
    .await;
}

#[tokio::test]
async fn compaction() {
    check(
        "
        create /a 1             => ok @1
        update /a 1 2           => ok @2
        create /b 3             => ok @3
        update /a 2 4           => ok @4
        compact 5               => error: required revision 5 is a future revision (current revision 4)
        compact 2               => ok
        compact 2               => error: required revision 2 has been compacted (compacted revision 2)
        revisions               => current 4 compacted 2
        list / 1                => error: required revision 1 has been compacted (compacted revision 2)
        list / 2                => @2 [/a=2 c1 m2 v2]
        list / 3                => @3 [/a=2 c1 m2 v2, /b=3 c3 m3 v1]
        watch w / 2             => error: required revision 2 has been compacted (compacted revision 2)
        watch w / 3             => ok
        next w 2                => PUT /b=3 c3 m3 v1 prev none, PUT /a=4 c1 m4 v3 prev m2
        watch z / 0             => ok
        compact 4               => ok
        put /c 5                => ok @5
        next z 1                => PUT /c=5 c5 m5 v1 prev none
        list / 4                => @4 [/a=4 c1 m4 v3, /b=3 c3 m3 v1]
        list / 3                => error: required revision 3 has been compacted (compacted revision 4)
        ",
    )
    .await;
}

#[tokio::test]
async fn events_of_one_txn_arrive_in_op_order_and_prefix_filters() {
    check(
        "
        watch w /x/ 0             => ok
        puts /x/3 c /y/1 d /x/1 a => ok @1
        puts /x/2 b               => ok @2
        next w 3                  => PUT /x/3=c c1 m1 v1 prev none, PUT /x/1=a c1 m1 v1 prev none, PUT /x/2=b c2 m2 v1 prev none
        ",
    )
    .await;
}

/// Writes `n` puts of `/k/<i>` from one task.
async fn write_stream(store: Arc<EmbeddedStore>, n: usize) {
    for i in 0..n {
        store
            .txn(Txn::put(format!("/k/{}", i % 50), format!("{i}")))
            .await
            .unwrap();
    }
}

/// Watchers opened at random points while writes stream in see every revision from their start
/// exactly once, whether their catch-up comes from the ring, the log, or a resync after lagging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_started_mid_stream_see_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        ring_events: 64,
        watch_buffer: 8,
        ..StoreConfig::default()
    };
    let store = EmbeddedStore::open_with(&dir.path().join("s.redb"), config)
        .await
        .unwrap();
    const WRITES: usize = 600;
    let writer = tokio::spawn(write_stream(store.clone(), WRITES));
    let mut readers = Vec::new();
    for i in 0..12 {
        // Wait until the stream has progressed, by polling to a deadline.
        let target = (i * 45) as i64;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while store.current_revision() < target && tokio::time::Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        let start = if i % 3 == 0 {
            0
        } else {
            (target - (i as i64 * 7)).max(1)
        };
        let mut watch = store.watch("/k/", start).await.unwrap();
        if start == 0 && store.current_revision() >= WRITES as i64 {
            continue;
        }
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.last().copied().unwrap_or(0) < WRITES as i64 {
                match tokio::time::timeout(DEADLINE, watch.next()).await {
                    Ok(Some(Ok(event))) => seen.push(event.revision()),
                    Ok(Some(Err(StoreError::Lagged))) => return (start, seen, true),
                    other => panic!("watch from {start}: {other:?}"),
                }
            }
            (start, seen, false)
        }));
    }
    writer.await.unwrap();
    let mut lagged_watchers = 0;
    for reader in readers {
        let (start, seen, lagged) = reader.await.unwrap();
        // Every revision writes under /k/, so the revisions seen must be consecutive.
        assert!(
            seen.windows(2).all(|w| w[1] == w[0] + 1),
            "from {start}: {seen:?}"
        );
        if start > 0 {
            assert_eq!(
                seen.first().copied().unwrap_or(start),
                start,
                "watch from {start}"
            );
        }
        if lagged {
            lagged_watchers += 1;
        } else {
            assert_eq!(seen.last().copied(), Some(WRITES as i64), "from {start}");
        }
    }
    println!("{lagged_watchers} watchers lagged");
    store.close().await;
}

#[tokio::test]
async fn slow_watcher_resumes_from_the_ring_or_gets_lagged() {
    let roomy = StoreConfig {
        watch_buffer: 2,
        ring_events: 1000,
        ..StoreConfig::default()
    };
    let cramped = StoreConfig {
        watch_buffer: 2,
        ring_events: 4,
        ..StoreConfig::default()
    };
    for (config, want_lagged) in [(roomy, false), (cramped, true)] {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open_with(&dir.path().join("s.redb"), config)
            .await
            .unwrap();
        let mut watch = store.watch("/", 0).await.unwrap();
        write_stream(store.clone(), 20).await;
        let mut got = Vec::new();
        for _ in 0..20 {
            match watch.next().await {
                Some(Ok(event)) => got.push(event.revision()),
                Some(Err(StoreError::Lagged)) => {
                    assert!(
                        watch.next().await.is_none(),
                        "the stream ends after lagging"
                    );
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        if want_lagged {
            assert!(got.is_empty(), "{got:?}");
        } else {
            assert_eq!(got, (1..=20).collect::<Vec<_>>());
        }
        store.close().await;
    }
}

/// Reopening restores records, history and counters; with a ring too small for the history,
/// catch-up and past lists come from the log on disk, otherwise from the ring loaded at open.
#[tokio::test]
async fn reopen_keeps_records_history_and_revision() {
    for (ring_events, want_log_reads) in [(1, 2), (1000, 0)] {
        reopen_case(
            StoreConfig {
                ring_events,
                ..StoreConfig::default()
            },
            want_log_reads,
        )
        .await;
    }
}

async fn reopen_case(config: StoreConfig, want_log_reads: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = EmbeddedStore::open_with(&path, config).await.unwrap();
    for (i, txn) in [
        Txn::create("/a", "1"),
        Txn::create("/b", "2"),
        Txn::update("/a", 1, "3"),
        Txn::delete("/b", 2),
        Txn::create("/c", "4"),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(store.txn(txn).await.unwrap().revision, i as i64 + 1);
    }
    store.compact(2).await.unwrap();
    let before = store.list("/", None).await.unwrap();
    let at_three = store.list("/", Some(3)).await.unwrap();
    store.close().await;
    assert!(matches!(store.get("/a").await, Err(StoreError::Closed)));
    assert!(matches!(
        store.txn(Txn::put("/z", "z")).await,
        Err(StoreError::Closed)
    ));

    let store = EmbeddedStore::open_with(&path, config).await.unwrap();
    assert_eq!(
        (store.current_revision(), store.compacted_revision()),
        (5, 2)
    );
    assert_eq!(store.list("/", None).await.unwrap(), before);
    assert_eq!(store.list("/", Some(3)).await.unwrap(), at_three);
    let mut watch = store.watch("/", 3).await.unwrap();
    let mut revisions = Vec::new();
    for _ in 0..3 {
        revisions.push(watch.next().await.unwrap().unwrap().revision());
    }
    assert_eq!(revisions, [3, 4, 5]);
    assert_eq!(store.stats().log_reads, want_log_reads, "{config:?}");
    assert!(matches!(
        store.watch("/", 2).await,
        Err(StoreError::Compacted {
            requested: 2,
            compacted: 2
        })
    ));
    assert_eq!(store.txn(Txn::put("/d", "5")).await.unwrap().revision, 6);
    assert_eq!(watch.next().await.unwrap().unwrap().revision(), 6);
    store.close().await;
    assert!(watch.next().await.is_none(), "close ends the watch");
}

/// Many concurrent writers share commits: fewer fsyncs than writes, and every write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("s.redb"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let r = store
                        .txn(Txn::create(format!("/c/{t}/{i}"), "v"))
                        .await
                        .unwrap();
                    assert!(r.succeeded);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = store.stats();
    assert_eq!(store.current_revision(), 2000);
    assert_eq!(store.list("/c/", None).await.unwrap().kvs.len(), 2000);
    assert_eq!(stats.txns, 2000);
    assert!(stats.commits < 2000, "{stats:?}");
    assert_eq!(store.commit_count(), stats.commits);
    store.close().await;
}

#[tokio::test]
async fn the_store_works_as_a_trait_object() {
    let store: Arc<dyn Store> = EmbeddedStore::in_memory().await.unwrap();
    assert!(store.txn(Txn::create("/a", "1")).await.unwrap().succeeded);
    assert_eq!(store.get("/a").await.unwrap().unwrap().version, 1);
}
