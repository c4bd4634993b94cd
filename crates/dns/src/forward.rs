//! Forwarding names that are not the cluster's to the upstream resolvers, as CoreDNS's
//! `forward` and `cache 30` plugins do with kubeadm's Corefile: the client's query is relayed
//! as it is (under an ID of ours, the client's put back in the answer) over UDP, again over TCP
//! when the answer is truncated; upstreams are tried in turn until one answers, and when none
//! does within [`DEADLINE`] (or none is configured) the client gets SERVFAIL. Answers (also
//! NXDOMAIN and NODATA) are kept for their TTL, at most [`MAX_CACHE_TTL`].

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::wire::{self, Question, Transport};

/// The longest a client waits for a forwarded answer before it gets SERVFAIL.
pub(crate) const DEADLINE: Duration = Duration::from_secs(2);
/// The shortest time one upstream is given.
const MIN_TRY: Duration = Duration::from_millis(400);
/// The longest a forwarded answer is kept (kubeadm's `cache 30`).
const MAX_CACHE_TTL: u32 = 30;
/// The TTL of an answer without records (CoreDNS's `MinimalDefaultTTL`).
const EMPTY_ANSWER_TTL: u32 = 5;
/// Answers kept at most.
const CACHE_SIZE: usize = 10_000;
/// Forwarded queries in flight at most; beyond, clients get REFUSED (CoreDNS's
/// `max_concurrent`).
const MAX_IN_FLIGHT: usize = 1000;

const HEADER: usize = 12;
const TYPE_OPT: u16 = 41;

/// The upstream resolvers and the answers they gave.
pub(crate) struct Forwarder {
    upstreams: Vec<SocketAddr>,
    /// Where the next query starts in `upstreams`, spreading load over them.
    next: AtomicUsize,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
    in_flight: Semaphore,
    ids: RandomState,
    sequence: AtomicU64,
}

/// An upstream answer as received (ID zero), with where its TTLs are.
struct Cached {
    response: Vec<u8>,
    ttl_offsets: Vec<usize>,
    stored: Instant,
    expires: Instant,
}

impl Forwarder {
    pub(crate) fn new(upstreams: Vec<SocketAddr>) -> Forwarder {
        Forwarder {
            upstreams,
            next: AtomicUsize::new(0),
            cache: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            ids: RandomState::new(),
            sequence: AtomicU64::new(0),
        }
    }

    /// The response to the client query `raw`, with the client's ID, cut to its size over
    /// `transport`; SERVFAIL when no upstream answered within [`DEADLINE`].
    pub(crate) async fn forward(&self, raw: &[u8], transport: Transport) -> Vec<u8> {
        let mut out = Vec::new();
        let Ok(query) = wire::parse(raw) else {
            wire::error_reply(raw, ResponseCode::FormErr, &mut out);
            return out;
        };
        if self.upstreams.is_empty() {
            wire::error_reply(raw, ResponseCode::ServFail, &mut out);
            return out;
        }
        let key = cache_key(&query);
        if let Some(response) = self.cached(&key, &query) {
            return fit(&query, response, transport);
        }
        let Ok(_permit) = self.in_flight.try_acquire() else {
            wire::error_reply(raw, ResponseCode::Refused, &mut out);
            return out;
        };
        match self.exchange(raw).await {
            Some(mut response) => {
                self.store(key, &response);
                response[..2].copy_from_slice(&query.id.to_be_bytes());
                fit(&query, response, transport)
            }
            None => {
                wire::error_reply(raw, ResponseCode::ServFail, &mut out);
                out
            }
        }
    }

    /// The upstream's answer records for `name` and `qtype`; none when it has none or fails.
    pub(crate) async fn lookup(&self, name: &Name, qtype: RecordType) -> Vec<Record> {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name.clone(), qtype));
        let Ok(raw) = message.to_vec() else {
            return Vec::new();
        };
        let response = self.forward(&raw, Transport::Tcp).await;
        match Message::from_vec(&response) {
            Ok(message) if message.metadata.response_code == ResponseCode::NoError => {
                message.answers
            }
            _ => Vec::new(),
        }
    }

    /// Tries the upstreams in turn (twice round at most, as CoreDNS's default
    /// `max_connect_attempts`) until one answers or [`DEADLINE`] passes.
    async fn exchange(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let deadline = Instant::now() + DEADLINE;
        let count = self.upstreams.len();
        let attempts = 2 * count;
        let per_try = (DEADLINE / u32::try_from(count.max(2)).unwrap_or(u32::MAX)).max(MIN_TRY);
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut query = raw.to_vec();
        for attempt in 0..attempts {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let upstream = self.upstreams[(first + attempt) % count];
            let id = self.random_id();
            query[..2].copy_from_slice(&id.to_be_bytes());
            let try_deadline = (now + per_try).min(deadline);
            let answer = match timeout_at(try_deadline, udp_exchange(upstream, &query, id)).await {
                Ok(Some(answer)) => answer,
                _ => {
                    tracing::debug!(%upstream, "upstream did not answer");
                    continue;
                }
            };
            if !is_truncated(&answer) {
                return Some(answer);
            }
            return match timeout_at(deadline, tcp_exchange(upstream, &query, id)).await {
                Ok(Some(full)) => Some(full),
                _ => Some(answer),
            };
        }
        None
    }

    fn random_id(&self) -> u16 {
        let mut hasher = self.ids.build_hasher();
        hasher.write_u64(self.sequence.fetch_add(1, Ordering::Relaxed));
        (hasher.finish() & 0xFFFF) as u16
    }

    /// A kept answer for `key`, its TTLs counted down, with the query's ID and question.
    fn cached(&self, key: &[u8], query: &Question<'_>) -> Option<Vec<u8>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let cached = cache.get(key)?;
        let now = Instant::now();
        if now >= cached.expires {
            return None;
        }
        let elapsed =
            u32::try_from(now.duration_since(cached.stored).as_secs()).unwrap_or(u32::MAX);
        let mut response = cached.response.clone();
        let ttl_offsets = cached.ttl_offsets.clone();
        drop(cache);
        response[..2].copy_from_slice(&query.id.to_be_bytes());
        let question = query.question_bytes();
        if let Some(slot) = response.get_mut(HEADER..HEADER + question.len()) {
            slot.copy_from_slice(question);
        }
        for offset in ttl_offsets {
            let ttl = read_u32(&response, offset).saturating_sub(elapsed);
            response[offset..offset + 4].copy_from_slice(&ttl.to_be_bytes());
        }
        Some(response)
    }

    /// Keeps a NOERROR or NXDOMAIN answer that was not truncated, for its smallest TTL.
    fn store(&self, key: Vec<u8>, response: &[u8]) {
        let rcode = response.get(3).map(|b| b & 0x0F);
        let cacheable = matches!(rcode, Some(0) | Some(3)) && !is_truncated(response);
        let Some(ttl_offsets) = ttl_offsets(response).filter(|_| cacheable) else {
            return;
        };
        let ttl = ttl_offsets
            .iter()
            .map(|offset| read_u32(response, *offset))
            .min()
            .unwrap_or(EMPTY_ANSWER_TTL)
            .min(MAX_CACHE_TTL);
        if ttl == 0 {
            return;
        }
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_SIZE {
            cache.retain(|_, cached| cached.expires > now);
            if cache.len() >= CACHE_SIZE {
                return;
            }
        }
        let mut response = response.to_vec();
        response[..2].copy_from_slice(&[0, 0]);
        cache.insert(
            key,
            Cached {
                response,
                ttl_offsets,
                stored: now,
                expires: now + Duration::from_secs(u64::from(ttl)),
            },
        );
    }
}

/// Answers differ by question (any case), and by whether EDNS, DO and CD were asked for.
fn cache_key(query: &Question<'_>) -> Vec<u8> {
    let mut key = query.key().to_vec();
    key.extend_from_slice(&query.qclass.to_be_bytes());
    let (edns, dnssec_ok) = match query.edns {
        Some(edns) => (1, u8::from(edns.dnssec_ok)),
        None => (0, 0),
    };
    let checking_disabled = query.raw[3] & 0x10;
    key.extend_from_slice(&[edns, dnssec_ok, checking_disabled]);
    key
}

/// The response if it fits the client's size, else its header with TC and the question.
fn fit(query: &Question<'_>, response: Vec<u8>, transport: Transport) -> Vec<u8> {
    if response.len() <= query.limit(transport) {
        return response;
    }
    let mut out = Vec::new();
    wire::truncated_reply(query, &response, &mut out);
    out
}

fn is_truncated(response: &[u8]) -> bool {
    response.get(2).is_some_and(|b| b & 0x02 != 0)
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// Where the TTL of every record but OPT is in `response`; `None` when it does not parse.
fn ttl_offsets(response: &[u8]) -> Option<Vec<usize>> {
    let count = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *response.get(at)?,
            *response.get(at + 1)?,
        ])))
    };
    let questions = count(4)?;
    let records = count(6)? + count(8)? + count(10)?;
    let mut at = HEADER;
    for _ in 0..questions {
        at = wire::skip_name(response, at)? + 4;
    }
    let mut offsets = Vec::with_capacity(records);
    for _ in 0..records {
        at = wire::skip_name(response, at)?;
        let rtype = u16::from_be_bytes([*response.get(at)?, *response.get(at + 1)?]);
        let rdlen = count(at + 8)?;
        if rtype != TYPE_OPT {
            offsets.push(at + 4);
        }
        at += 10 + rdlen;
        if at > response.len() {
            return None;
        }
    }
    Some(offsets)
}

/// One UDP exchange from a fresh socket (a random source port per query): the first reply
/// with our ID and the query's question; others are ignored.
async fn udp_exchange(upstream: SocketAddr, query: &[u8], id: u16) -> Option<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(upstream).await.ok()?;
    socket.send(query).await.ok()?;
    let mut buffer = vec![0u8; usize::from(u16::MAX)];
    loop {
        let len = socket.recv(&mut buffer).await.ok()?;
        let answer = &buffer[..len];
        if answers(answer, query, id) {
            return Some(answer.to_vec());
        }
    }
}

/// One TCP exchange with the 2-byte length framing.
async fn tcp_exchange(upstream: SocketAddr, query: &[u8], id: u16) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await.ok()?;
    let len = u16::try_from(query.len()).ok()?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.ok()?;
    let len = stream.read_u16().await.ok()?;
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await.ok()?;
    answers(&answer, query, id).then_some(answer)
}

/// Whether `answer` is a response to `query`: our ID, QR set, the same question.
fn answers(answer: &[u8], query: &[u8], id: u16) -> bool {
    let Some(question_end) = wire::skip_name(query, HEADER).map(|at| at + 4) else {
        return false;
    };
    answer.len() >= question_end
        && answer[..2] == id.to_be_bytes()
        && answer[2] & 0x80 != 0
        && answer[HEADER..question_end].eq_ignore_ascii_case(&query[HEADER..question_end])
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use hickory_proto::op::{Message, MessageType, Query};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use tokio::net::{TcpListener, UdpSocket};

    use super::*;

    /// How a fake upstream answers.
    #[derive(Clone, Copy, PartialEq)]
    pub(crate) enum Behaviour {
        /// `A 192.0.2.1` with TTL 60; NXDOMAIN for names starting with `nx`.
        Answer,
        /// Nothing at all.
        Silent,
        /// TC over UDP, the answer over TCP.
        Truncate,
    }

    /// A fake upstream on loopback (UDP and TCP on one port) counting the queries it got.
    pub(crate) async fn upstream(behaviour: Behaviour) -> (SocketAddr, Arc<AtomicUsize>) {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = udp.local_addr().unwrap();
        let tcp = TcpListener::bind(address).await.unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 65535];
            loop {
                let (len, peer) = udp.recv_from(&mut buffer).await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                if behaviour == Behaviour::Silent {
                    continue;
                }
                let response = reply(&buffer[..len], behaviour == Behaviour::Truncate);
                udp.send_to(&response, peer).await.unwrap();
            }
        });
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = tcp.accept().await.unwrap();
                let len = stream.read_u16().await.unwrap();
                let mut query = vec![0u8; usize::from(len)];
                stream.read_exact(&mut query).await.unwrap();
                let response = reply(&query, false);
                let len = u16::try_from(response.len()).unwrap();
                stream.write_all(&len.to_be_bytes()).await.unwrap();
                stream.write_all(&response).await.unwrap();
            }
        });
        (address, count)
    }

    fn reply(query: &[u8], truncate: bool) -> Vec<u8> {
        let query = Message::from_vec(query).unwrap();
        let mut response = Message::response(query.metadata.id, query.metadata.op_code);
        response.metadata.recursion_available = true;
        response.add_queries(query.queries.clone());
        let name = query.queries[0].name().clone();
        if truncate {
            response.metadata.truncation = true;
        } else if name.to_ascii().starts_with("nx") {
            response.metadata.response_code = ResponseCode::NXDomain;
        } else {
            let a = RData::A("192.0.2.1".parse().unwrap());
            response.add_answer(Record::from_rdata(name, 60, a));
        }
        response.to_vec().unwrap()
    }

    fn query(name: &str) -> Vec<u8> {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        message.to_vec().unwrap()
    }

    #[tokio::test]
    async fn relays_with_the_client_id_and_keeps_answers_for_their_ttl() {
        let (address, count) = upstream(Behaviour::Answer).await;
        let forwarder = Forwarder::new(vec![address]);
        let raw = query("Example.COM.");
        let first = Message::from_vec(&forwarder.forward(&raw, Transport::Udp).await).unwrap();
        let client_id = Message::from_vec(&raw).unwrap().metadata.id;
        assert_eq!(first.metadata.id, client_id);
        assert_eq!(first.metadata.message_type, MessageType::Response);
        assert_eq!(first.answers.len(), 1);
        assert_eq!(first.answers[0].ttl, 60);

        // Another client, another case: from the cache, its own ID and question.
        let again = query("example.com.");
        let second = Message::from_vec(&forwarder.forward(&again, Transport::Udp).await).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(
            second.metadata.id,
            Message::from_vec(&again).unwrap().metadata.id
        );
        assert_eq!(second.queries[0].name().to_ascii(), "example.com.");
        assert!(second.answers[0].ttl <= 60);

        // NXDOMAIN is kept too.
        for _ in 0..2 {
            let nx = Message::from_vec(
                &forwarder
                    .forward(&query("nx.example.com."), Transport::Udp)
                    .await,
            )
            .unwrap();
            assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        }
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn kept_answers_expire_after_at_most_30_seconds() {
        let (address, _) = upstream(Behaviour::Answer).await;
        let forwarder = Forwarder::new(vec![address]);
        let raw = query("example.com.");
        forwarder.forward(&raw, Transport::Udp).await;
        let cache = forwarder.cache.lock().unwrap();
        let cached = cache.values().next().unwrap();
        assert_eq!(cached.expires - cached.stored, Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_silent_upstream_gives_servfail_within_the_deadline() {
        let (address, count) = upstream(Behaviour::Silent).await;
        let forwarder = Forwarder::new(vec![address]);
        let started = Instant::now();
        let response = forwarder
            .forward(&query("example.com."), Transport::Udp)
            .await;
        let elapsed = started.elapsed();
        let response = Message::from_vec(&response).unwrap();
        assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
        assert!(
            elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_millis(2500),
            "{elapsed:?}"
        );
        // Retried once within the deadline (one upstream gets two tries of half of it).
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn truncated_udp_answers_are_fetched_again_over_tcp() {
        let (address, _) = upstream(Behaviour::Truncate).await;
        let forwarder = Forwarder::new(vec![address]);
        let response = Message::from_vec(
            &forwarder
                .forward(&query("example.com."), Transport::Udp)
                .await,
        )
        .unwrap();
        assert!(!response.metadata.truncation);
        assert_eq!(response.answers.len(), 1);
    }

    #[tokio::test]
    async fn no_upstream_gives_servfail_at_once() {
        let forwarder = Forwarder::new(Vec::new());
        let response = Message::from_vec(
            &forwarder
                .forward(&query("example.com."), Transport::Udp)
                .await,
        )
        .unwrap();
        assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(response.queries.len(), 1);
    }

    #[tokio::test]
    async fn lookup_returns_the_answer_records() {
        let (address, _) = upstream(Behaviour::Answer).await;
        let forwarder = Forwarder::new(vec![address]);
        let records = forwarder
            .lookup(
                &Name::from_ascii("api.example.com.").unwrap(),
                RecordType::A,
            )
            .await;
        assert_eq!(records.len(), 1);
    }
}
