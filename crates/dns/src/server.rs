//! The DNS server on given sockets: UDP served by one task per core, each with its own memo of
//! encoded answers; TCP with the 2-byte length framing, several queries per connection
//! answered as they complete, and an idle timeout. Forwarded queries run in their own tasks so
//! that a slow upstream never holds up the cluster's answers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cache::Cache;
use crate::config::DnsConfig;
use crate::error::Error;
use crate::forward::Forwarder;
use crate::wire::{self, Memo, Outcome, Transport};

/// How long a TCP connection may stay without a query.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Responses queued for one TCP connection's writer.
const TCP_QUEUE: usize = 64;
/// The largest DNS message.
const MAX_MESSAGE: usize = 65535;
/// TCP connections served at once; more are closed at once (clients fall back to UDP or retry).
const MAX_TCP_CONNECTIONS: usize = 1024;

/// The sockets the server answers on, bound by the caller (the agent binds the kube-dns cluster
/// IP, port 53, in the node's network namespace).
pub struct Sockets {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

/// Serves `cache` on `sockets` until `shutdown`, forwarding other names to the upstream of
/// `config`. Returns early only when a socket fails for good.
pub async fn serve(
    cache: Arc<Cache>,
    config: &DnsConfig,
    sockets: Sockets,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let shared = Shared {
        cache,
        forwarder: Forwarder::new(config.upstream.servers()?),
        tcp_idle: TCP_IDLE,
    };
    serve_shared(Arc::new(shared), sockets, shutdown).await
}

async fn serve_shared(
    shared: Arc<Shared>,
    sockets: Sockets,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let udp = Arc::new(sockets.udp);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Dropping the set aborts the tasks: on shutdown, and when one of them fails. The workers
    // themselves never look at the shutdown token, which keeps it off the per-query path.
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(udp_worker(Arc::clone(&shared), Arc::clone(&udp)));
    }
    tasks.spawn(tcp_acceptor(shared, sockets.tcp));
    loop {
        let result = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            result = tasks.join_next() => result,
        };
        match result {
            None => return Ok(()),
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => return Err(e),
            Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Some(Err(_)) => {}
        }
    }
}

/// What every server task reads.
struct Shared {
    cache: Arc<Cache>,
    forwarder: Forwarder,
    /// How long a TCP connection may stay without a whole query ([`TCP_IDLE`]).
    tcp_idle: Duration,
}

async fn udp_worker(shared: Arc<Shared>, socket: Arc<UdpSocket>) -> Result<(), Error> {
    let mut buffer = vec![0u8; MAX_MESSAGE];
    let mut out = Vec::with_capacity(MAX_MESSAGE);
    let mut memo = Memo::default();
    // Forwarded queries in flight: aborted with the worker when the server stops.
    let mut forwards = JoinSet::new();
    loop {
        while forwards.try_join_next().is_some() {}
        let (len, peer) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(e) if transient(&e) => continue,
            Err(e) => return Err(Error::UdpReceive(e)),
        };
        let raw = &buffer[..len];
        match wire::respond(&shared.cache, &mut memo, raw, Transport::Udp, &mut out) {
            Outcome::Reply => send(&socket, &out, peer).await,
            Outcome::Drop => {}
            outcome => {
                let (shared, socket, raw) =
                    (Arc::clone(&shared), Arc::clone(&socket), raw.to_vec());
                forwards.spawn(async move {
                    let response = upstream_part(&shared, &raw, outcome, Transport::Udp).await;
                    send(&socket, &response, peer).await;
                });
            }
        }
    }
}

/// Errors of one datagram (an ICMP error of an earlier send, a signal), not of the socket.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    )
}

async fn send(socket: &UdpSocket, response: &[u8], peer: SocketAddr) {
    if let Err(e) = socket.send_to(response, peer).await {
        tracing::debug!(%peer, error = %e, "sending a DNS response failed");
    }
}

/// The response for an outcome that needs the upstream: the forwarded answer, or the chased
/// answer completed with the upstream's records.
async fn upstream_part(
    shared: &Shared,
    raw: &[u8],
    outcome: Outcome,
    transport: Transport,
) -> Vec<u8> {
    match outcome {
        Outcome::Chase(chase) => {
            let (local, target, qtype) = *chase;
            let records = shared.forwarder.lookup(&target, qtype).await;
            let mut out = Vec::new();
            wire::complete(&shared.cache, raw, local, records, transport, &mut out);
            out
        }
        _ => shared.forwarder.forward(raw, transport).await,
    }
}

async fn tcp_acceptor(shared: Arc<Shared>, listener: TcpListener) -> Result<(), Error> {
    // Dropped with the acceptor, which aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        match accepted {
            Ok((stream, _)) if connections.len() < MAX_TCP_CONNECTIONS => {
                connections.spawn(tcp_connection(Arc::clone(&shared), stream));
            }
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "too many DNS connections: closing a new one");
                drop(stream);
            }
            Err(e) if transient(&e) || e.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning, as Go's and
                // tokio's servers do.
                tracing::warn!(error = %e, "accepting a DNS connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One TCP connection: reads queries until the client closes it or stays idle for
/// `tcp_idle`; cluster answers are written at once, forwarded ones when they arrive.
async fn tcp_connection(shared: Arc<Shared>, stream: TcpStream) {
    let (mut reader, mut writer) = stream.into_split();
    let (responses, mut queued) = mpsc::channel::<Vec<u8>>(TCP_QUEUE);
    let write = async move {
        while let Some(response) = queued.recv().await {
            let Ok(len) = u16::try_from(response.len()) else {
                continue;
            };
            let mut framed = Vec::with_capacity(response.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&response);
            if writer.write_all(&framed).await.is_err() {
                return;
            }
        }
    };
    let read = async move {
        let mut memo = Memo::default();
        let mut out = Vec::new();
        let mut pending = JoinSet::new();
        loop {
            // A query must arrive whole within the idle time, so a stalled client is dropped too.
            let read = async {
                let len = reader.read_u16().await?;
                let mut raw = vec![0u8; usize::from(len)];
                reader.read_exact(&mut raw).await?;
                Ok::<_, io::Error>(raw)
            };
            let Ok(Ok(raw)) = tokio::time::timeout(shared.tcp_idle, read).await else {
                break;
            };
            match wire::respond(&shared.cache, &mut memo, &raw, Transport::Tcp, &mut out) {
                Outcome::Reply => {
                    if responses.send(out.clone()).await.is_err() {
                        break;
                    }
                }
                Outcome::Drop => {}
                outcome => {
                    // A client that pipelines queries without reading answers gets no more
                    // forwarding work than its queue holds.
                    while pending.len() >= TCP_QUEUE {
                        pending.join_next().await;
                    }
                    let (shared, responses) = (Arc::clone(&shared), responses.clone());
                    pending.spawn(async move {
                        let response = upstream_part(&shared, &raw, outcome, Transport::Tcp).await;
                        // The connection may be gone by now; nothing to do then.
                        let _ = responses.send(response).await;
                    });
                }
            }
        }
        // Forwarded answers still on their way are written before the connection closes.
        while pending.join_next().await.is_some() {}
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Message, Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, RecordType};
    use serde_json::json;

    use super::*;
    use crate::cache::tests::cache_with;
    use crate::config::Upstream;
    use crate::forward::tests::{upstream, Behaviour};

    /// A server on loopback with one Service, one ExternalName and a fake upstream; returns
    /// its UDP and TCP addresses.
    async fn server(shutdown: &CancellationToken) -> (SocketAddr, SocketAddr) {
        let cache = Arc::new(cache_with(vec![
            json!({"kind": "Namespace", "metadata": {"name": "default"}}),
            json!({"kind": "Service", "metadata": {"namespace": "default", "name": "kubia"},
                   "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}}),
            json!({"kind": "Service", "metadata": {"namespace": "default", "name": "external"},
                   "spec": {"type": "ExternalName", "externalName": "api.example.com"}}),
        ]));
        let (upstream, _) = upstream(Behaviour::Answer).await;
        let config = DnsConfig {
            upstream: Upstream::Servers(vec![upstream]),
            ..DnsConfig::default()
        };
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addresses = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        let shutdown = shutdown.clone();
        tokio::spawn(async move { serve(cache, &config, Sockets { udp, tcp }, shutdown).await });
        addresses
    }

    fn query(name: &str, rtype: RecordType) -> Message {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        message
    }

    async fn over_udp(server: SocketAddr, query: &Message) -> Message {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(&query.to_vec().unwrap(), server)
            .await
            .unwrap();
        let mut buffer = vec![0u8; 65535];
        let len = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        Message::from_vec(&buffer[..len]).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_over_udp_and_forwards_other_names() {
        let shutdown = CancellationToken::new();
        let (udp, _) = server(&shutdown).await;
        let q = query("kubia.default.svc.cluster.local.", RecordType::A);
        let response = over_udp(udp, &q).await;
        assert_eq!(response.metadata.id, q.metadata.id);
        assert!(response.metadata.authoritative);
        assert_eq!(
            response.answers[0].data,
            RData::A("10.96.0.20".parse().unwrap())
        );

        let nx = over_udp(
            udp,
            &query("nope.default.svc.cluster.local.", RecordType::A),
        )
        .await;
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);

        let outside = over_udp(udp, &query("example.org.", RecordType::A)).await;
        assert_eq!(
            outside.answers[0].data,
            RData::A("192.0.2.1".parse().unwrap())
        );
        assert!(!outside.metadata.authoritative);

        // The spec's ExternalName answer: the CNAME, then the target's records from upstream.
        let external = over_udp(
            udp,
            &query("external.default.svc.cluster.local.", RecordType::A),
        )
        .await;
        let kinds: Vec<RecordType> = external.answers.iter().map(|r| r.record_type()).collect();
        assert_eq!(kinds, vec![RecordType::CNAME, RecordType::A]);
        assert_eq!(external.answers[1].name.to_ascii(), "api.example.com.");
        shutdown.cancel();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_several_queries_on_one_tcp_connection() {
        let shutdown = CancellationToken::new();
        let (_, tcp) = server(&shutdown).await;
        let mut stream = TcpStream::connect(tcp).await.unwrap();
        let queries = [
            query("example.org.", RecordType::A),
            query("kubia.default.svc.cluster.local.", RecordType::A),
            query(
                "_http._tcp.kubia.default.svc.cluster.local.",
                RecordType::SRV,
            ),
        ];
        // All at once (pipelined): the forwarded one may come back last.
        let mut framed = Vec::new();
        for q in &queries {
            let raw = q.to_vec().unwrap();
            framed.extend_from_slice(&u16::try_from(raw.len()).unwrap().to_be_bytes());
            framed.extend_from_slice(&raw);
        }
        stream.write_all(&framed).await.unwrap();
        let mut ids = Vec::new();
        for _ in &queries {
            let len = stream.read_u16().await.unwrap();
            let mut raw = vec![0u8; usize::from(len)];
            stream.read_exact(&mut raw).await.unwrap();
            let response = Message::from_vec(&raw).unwrap();
            assert_eq!(response.metadata.response_code, ResponseCode::NoError);
            assert!(!response.answers.is_empty());
            ids.push(response.metadata.id);
        }
        ids.sort_unstable();
        let mut want: Vec<u16> = queries.iter().map(|q| q.metadata.id).collect();
        want.sort_unstable();
        assert_eq!(ids, want);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn idle_and_stalled_tcp_connections_are_closed() {
        let shutdown = CancellationToken::new();
        let shared = Shared {
            cache: Arc::new(cache_with(Vec::new())),
            forwarder: Forwarder::new(Vec::new()),
            tcp_idle: Duration::from_millis(200),
        };
        let sockets = Sockets {
            udp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            tcp: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let address = sockets.tcp.local_addr().unwrap();
        tokio::spawn(serve_shared(Arc::new(shared), sockets, shutdown.clone()));
        // Idle, then a length without its message: both are closed after the idle time.
        for prefix in [&[][..], &[0u8, 40][..]] {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream.write_all(prefix).await.unwrap();
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest));
            assert_eq!(read.await.unwrap().unwrap(), 0);
        }
        shutdown.cancel();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dig_reads_the_answers() {
        let shutdown = CancellationToken::new();
        let (udp, tcp) = server(&shutdown).await;
        let dig = |args: Vec<String>| {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new("dig").args(args).output()
            })
        };
        let port = |address: SocketAddr| format!("-p{}", address.port());
        let Ok(output) = dig(vec![
            "@127.0.0.1".into(),
            port(udp),
            "+short".into(),
            "_http._tcp.kubia.default.svc.cluster.local".into(),
            "SRV".into(),
        ])
        .await
        .unwrap() else {
            eprintln!("dig is not installed: the answers are checked with hickory-proto only");
            return;
        };
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "0 100 80 kubia.default.svc.cluster.local.\n"
        );
        let output = dig(vec![
            "@127.0.0.1".into(),
            port(tcp),
            "+tcp".into(),
            "KUBIA.default.svc.cluster.local".into(),
        ])
        .await
        .unwrap()
        .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).replace('\t', " ");
        assert!(text.contains("status: NOERROR"), "{text}");
        assert!(text.contains("flags: qr aa rd;"), "{text}");
        assert!(
            text.contains("KUBIA.default.svc.cluster.local. 30 IN A 10.96.0.20"),
            "{text}"
        );
        shutdown.cancel();
    }
}
