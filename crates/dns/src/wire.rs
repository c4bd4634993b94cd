//! DNS messages on the wire: reads a query's question and EDNS without building a message,
//! encodes cache answers once (with hickory-proto, compressed against the question) and keeps
//! them per name and type until the cache changes, then assembles each response from the
//! query's own header and question, cut to the client's size. This is the hot path: a repeated
//! question costs a hash lookup and a copy.

use std::collections::HashMap;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use crate::cache::Cache;
use crate::records::{resolve, zone_soa, Local, Resolution};

/// The size of a DNS header.
const HEADER: usize = 12;
/// The UDP payload every client accepts (RFC 1035), and the least an EDNS client is held to.
const UDP_MINIMUM: usize = 512;
/// The OPT record this server appends: root name, type, class, TTL, empty RDATA.
const OPT_SIZE: usize = 11;
/// Positive answers kept per server task (pod names are endless).
const MEMO_LIMIT: usize = 65536;

const TYPE_OPT: u16 = 41;
const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_CD: u16 = 0x0010;
const OPCODE_MASK: u16 = 0x7800;

/// How a query arrived: over UDP an answer must fit the client's payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The server's answer to `query` from the cache alone, as it would send it over `transport`.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The response; for an ExternalName alias outside the cluster domain, without the
    /// target's records (the server adds them from upstream).
    Response(Message),
    /// The name is not the cluster's: the server forwards it upstream.
    Forward,
    /// Not a query: the server does not reply.
    Ignored,
}

/// Answers `query` from `cache` exactly as the server would (same encoding, truncation and
/// EDNS handling), without the upstream.
pub fn answer(cache: &Cache, query: &Message, transport: Transport) -> Answer {
    let mut out = Vec::new();
    let outcome = match query.to_vec() {
        Ok(raw) => respond(cache, &mut Memo::default(), &raw, transport, &mut out),
        Err(_) => return Answer::Ignored,
    };
    match outcome {
        Outcome::Reply | Outcome::Chase(_) => match Message::from_vec(&out) {
            Ok(message) => Answer::Response(message),
            Err(_) => Answer::Ignored,
        },
        Outcome::Forward => Answer::Forward,
        Outcome::Drop => Answer::Ignored,
    }
}

/// A query's EDNS(0) OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edns {
    pub(crate) payload: u16,
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
}

/// A parsed query: header fields, the question (its name lowercased in wire form) and EDNS.
pub(crate) struct Question<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) id: u16,
    flags: u16,
    /// Where the question section ends in `raw`.
    question_end: usize,
    /// The question name in wire form, lowercase, then the type: the memo key.
    key: [u8; 257],
    name_len: usize,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
}

impl Question<'_> {
    /// The question name (lowercase) and type, as a memo or cache key.
    pub(crate) fn key(&self) -> &[u8] {
        &self.key[..self.name_len + 2]
    }

    /// The question name, lowercase and fully qualified.
    pub(crate) fn name(&self) -> Option<Name> {
        let mut labels = Vec::new();
        let wire = &self.key[..self.name_len];
        let mut at = 0;
        while at < wire.len() && wire[at] != 0 {
            let len = usize::from(wire[at]);
            labels.push(&wire[at + 1..at + 1 + len]);
            at += 1 + len;
        }
        let mut name = Name::from_labels(labels).ok()?;
        name.set_fqdn(true);
        Some(name)
    }

    /// The largest response the client takes over `transport`.
    pub(crate) fn limit(&self, transport: Transport) -> usize {
        match (transport, self.edns) {
            (Transport::Tcp, _) => usize::from(u16::MAX),
            (Transport::Udp, None) => UDP_MINIMUM,
            (Transport::Udp, Some(edns)) => usize::from(edns.payload).max(UDP_MINIMUM),
        }
    }

    /// The question section as the client sent it.
    pub(crate) fn question_bytes(&self) -> &[u8] {
        &self.raw[HEADER..self.question_end]
    }
}

/// Why a query gets no normal answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Not a query at all (too short, or a response): no reply.
    Drop,
    /// A reply with this code and without a question.
    Error(ResponseCode),
}

/// Reads a query. Compression pointers in the question, several questions and records in the
/// answer or authority section are format errors; an OPT in the additional section is EDNS,
/// other additional records are ignored.
pub(crate) fn parse(raw: &[u8]) -> Result<Question<'_>, Rejected> {
    if raw.len() < HEADER {
        return Err(Rejected::Drop);
    }
    let flags = u16::from_be_bytes([raw[2], raw[3]]);
    if flags & FLAG_QR != 0 {
        return Err(Rejected::Drop);
    }
    if flags & OPCODE_MASK != 0 {
        return Err(Rejected::Error(ResponseCode::NotImp));
    }
    let count = |at: usize| u16::from_be_bytes([raw[at], raw[at + 1]]);
    if count(4) != 1 || count(6) != 0 || count(8) != 0 {
        return Err(Rejected::Error(ResponseCode::FormErr));
    }
    let mut key = [0u8; 257];
    let mut at = HEADER;
    loop {
        let len = usize::from(*raw.get(at).ok_or(Rejected::Error(ResponseCode::FormErr))?);
        let end = at + 1 + len;
        if len > 63 || end > raw.len() || end - HEADER > 255 {
            return Err(Rejected::Error(ResponseCode::FormErr));
        }
        key[at - HEADER] = raw[at];
        for (i, byte) in raw[at + 1..end].iter().enumerate() {
            key[at - HEADER + 1 + i] = byte.to_ascii_lowercase();
        }
        at = end;
        if len == 0 {
            break;
        }
    }
    let name_len = at - HEADER;
    let fixed = raw
        .get(at..at + 4)
        .ok_or(Rejected::Error(ResponseCode::FormErr))?;
    key[name_len] = fixed[0];
    key[name_len + 1] = fixed[1];
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    let question_end = at + 4;
    let edns = additional_edns(raw, question_end, count(10))?;
    Ok(Question {
        raw,
        id: u16::from_be_bytes([raw[0], raw[1]]),
        flags,
        question_end,
        key,
        name_len,
        qtype,
        qclass,
        edns,
    })
}

/// The OPT record among `count` additional records starting at `at`; two are a format error.
fn additional_edns(raw: &[u8], mut at: usize, count: u16) -> Result<Option<Edns>, Rejected> {
    let formerr = Rejected::Error(ResponseCode::FormErr);
    let mut edns = None;
    for _ in 0..count {
        let root = raw.get(at) == Some(&0);
        at = skip_name(raw, at).ok_or(Rejected::Error(ResponseCode::FormErr))?;
        let fixed = raw
            .get(at..at + 10)
            .ok_or(Rejected::Error(ResponseCode::FormErr))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        at += 10 + rdlen;
        if at > raw.len() {
            return Err(formerr);
        }
        if rtype == TYPE_OPT {
            if edns.is_some() || !root {
                return Err(formerr);
            }
            edns = Some(Edns {
                payload: u16::from_be_bytes([fixed[2], fixed[3]]),
                version: fixed[5],
                dnssec_ok: fixed[6] & 0x80 != 0,
            });
        }
    }
    Ok(edns)
}

/// The offset after a (possibly compressed) name at `at`.
pub(crate) fn skip_name(raw: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *raw.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return raw.get(at + 1).map(|_| at + 2),
            l if l <= 63 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// A cache answer encoded once, reusable for any query with the same question (in any case).
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    rcode: ResponseCode,
    authoritative: bool,
    /// The body has no compression pointers into the question: it fits any question.
    independent: bool,
    /// The question as encoded here (lowercase); the compression pointers in `body` point into
    /// it, so a query's own question must have the same length to replace it.
    question: Vec<u8>,
    /// The records of the three sections, encoded as if following the question.
    body: Vec<u8>,
    /// Where each record ends in `body`.
    ends: Vec<usize>,
    /// Records in the answer, authority and additional sections.
    counts: [usize; 3],
    /// For an answer that the server completes from upstream: the answer itself.
    chase: Option<Box<(Local, Name, RecordType)>>,
}

/// Encodes a cache answer to `qname`/`qtype` (class IN), names compressed against the
/// question.
fn prepare(cache: &Cache, qname: &Name, qtype: RecordType, local: Local) -> Prepared {
    let mut buffer = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buffer);
    let mut query = Query::query(qname.clone(), qtype);
    query.set_query_class(DNSClass::IN);
    // Invariant: only the sizes of names and records can fail to encode, and the cache's
    // names are valid; a record that fails anyway is left out, never half written.
    let mut question_end = HEADER;
    if encoder.emit_vec(&[0u8; HEADER]).is_ok() && query.emit(&mut encoder).is_ok() {
        question_end = encoder.offset();
    }
    let mut prepared = encode_records(&mut encoder, question_end, cache, &local);
    drop(encoder);
    prepared.question = buffer[HEADER..question_end].to_vec();
    prepared.body = buffer[question_end..].to_vec();
    prepared
}

/// Encodes a negative answer (no records but maybe the SOA) without compression, so that one
/// encoding serves every question.
fn prepare_negative(cache: &Cache, local: &Local) -> Prepared {
    let mut buffer = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut buffer);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    let mut prepared = encode_records(&mut encoder, 0, cache, local);
    drop(encoder);
    prepared.independent = true;
    prepared.body = buffer;
    prepared
}

/// The records of `local`, encoded after `start`: sets everything but the question and body.
fn encode_records(
    encoder: &mut BinEncoder<'_>,
    start: usize,
    cache: &Cache,
    local: &Local,
) -> Prepared {
    let soa: Vec<Record> = if local.with_soa {
        vec![zone_soa(cache)]
    } else {
        Vec::new()
    };
    let mut ends = Vec::new();
    let mut counts = [0usize; 3];
    let sections = [&local.answers, &soa, &local.additionals];
    for (section, records) in sections.into_iter().enumerate() {
        for record in records {
            let rollback = encoder.offset();
            if record.emit(encoder).is_ok() {
                ends.push(encoder.offset() - start);
                counts[section] += 1;
            } else {
                encoder.set_offset(rollback);
            }
        }
    }
    let chase = local
        .chase
        .clone()
        .map(|(name, rtype)| Box::new((local.clone(), name, rtype)));
    Prepared {
        rcode: local.rcode,
        authoritative: local.authoritative,
        independent: false,
        question: Vec::new(),
        body: Vec::new(),
        ends,
        counts,
        chase,
    }
}

/// Writes the response to `query` from `prepared` into `out`, cut to `limit` bytes: records
/// that do not fit are left out, with TC set when an answer or authority record is among them
/// (a missing additional record is no reason to retry over TCP).
fn assemble(query: &Question<'_>, prepared: &Prepared, limit: usize, out: &mut Vec<u8>) {
    out.clear();
    let own_question = query.question_bytes();
    let question = if prepared.independent || own_question.len() == prepared.question.len() {
        own_question
    } else {
        &prepared.question
    };
    let opt = if query.edns.is_some() { OPT_SIZE } else { 0 };
    let room = limit.saturating_sub(HEADER + question.len() + opt);
    let kept = prepared.ends.iter().take_while(|end| **end <= room).count();
    let [answers, authorities, _] = prepared.counts;
    let truncated = kept < answers + authorities;
    let kept_answers = kept.min(answers);
    let kept_authorities = kept.saturating_sub(answers).min(authorities);
    let kept_additionals = kept - kept_answers - kept_authorities;
    let mut flags = reply_flags(query, prepared.rcode);
    if prepared.authoritative {
        flags |= FLAG_AA;
    }
    if truncated {
        flags |= FLAG_TC;
    }
    let body_end = if kept == 0 {
        0
    } else {
        prepared.ends[kept - 1]
    };
    let additionals = kept_additionals + usize::from(query.edns.is_some());
    write_header(
        out,
        query.id,
        flags,
        [1, kept_answers, kept_authorities, additionals],
    );
    out.extend_from_slice(question);
    out.extend_from_slice(&prepared.body[..body_end]);
    if let Some(edns) = query.edns {
        write_opt(out, edns, prepared.rcode);
    }
}

/// A reply without records: `rcode`, with the question and EDNS when the query had them.
pub(crate) fn error_reply(raw: &[u8], rcode: ResponseCode, out: &mut Vec<u8>) {
    out.clear();
    let Ok(query) = parse(raw) else {
        rejected_reply(raw, rcode, out);
        return;
    };
    let flags = reply_flags(&query, rcode);
    let additionals = usize::from(query.edns.is_some());
    write_header(out, query.id, flags, [1, 0, 0, additionals]);
    out.extend_from_slice(query.question_bytes());
    if let Some(edns) = query.edns {
        write_opt(out, edns, rcode);
    }
}

/// A reply to a query that `parse` rejected: the header alone (the question could not be read).
fn rejected_reply(raw: &[u8], rcode: ResponseCode, out: &mut Vec<u8>) {
    out.clear();
    if raw.len() < 4 {
        return;
    }
    let query_flags = u16::from_be_bytes([raw[2], raw[3]]);
    let flags =
        FLAG_QR | (query_flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | u16::from(rcode.low());
    write_header(out, u16::from_be_bytes([raw[0], raw[1]]), flags, [0; 4]);
}

/// What a client gets for an upstream `response` too large for it: the response's header with
/// TC set, and the question (and OPT) alone, so that it retries over TCP.
pub(crate) fn truncated_reply(query: &Question<'_>, response: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let flags = response
        .get(2..4)
        .map(|f| u16::from_be_bytes([f[0], f[1]]))
        .unwrap_or(FLAG_QR);
    let additionals = usize::from(query.edns.is_some());
    write_header(out, query.id, flags | FLAG_TC, [1, 0, 0, additionals]);
    out.extend_from_slice(query.question_bytes());
    if let Some(edns) = query.edns {
        write_opt(out, edns, ResponseCode::NoError);
    }
}

/// QR, the query's opcode, RD and CD, and the low bits of `rcode`. RA stays clear, as CoreDNS
/// leaves it for the cluster's answers.
fn reply_flags(query: &Question<'_>, rcode: ResponseCode) -> u16 {
    FLAG_QR | (query.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | u16::from(rcode.low())
}

fn write_header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [usize; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        let count = u16::try_from(count).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
    }
}

/// The response's OPT record, as CoreDNS writes it: the client's payload size echoed, version
/// 0, the DO bit copied, no options; the high bits of an extended `rcode`.
fn write_opt(out: &mut Vec<u8>, edns: Edns, rcode: ResponseCode) {
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&edns.payload.max(UDP_MINIMUM as u16).to_be_bytes());
    out.push(rcode.high());
    out.push(0);
    out.push(if edns.dnssec_ok { 0x80 } else { 0 });
    out.push(0);
    out.extend_from_slice(&0u16.to_be_bytes());
}

/// The encoded cache answers of one server task, valid for one cache generation: positive
/// ones by question, negative ones (the same for every name) by response code and flags.
#[derive(Default)]
pub(crate) struct Memo {
    generation: u64,
    entries: HashMap<Box<[u8]>, Memoized>,
    negative: HashMap<NegativeKey, Prepared>,
}

/// A negative answer's response code, AA flag and whether it carries the SOA.
type NegativeKey = (u16, bool, bool);

/// What the memo knows of a question.
enum Memoized {
    /// Boxed, so that growing the table moves two words per entry.
    Positive(Box<Prepared>),
    /// The negative answer filed under this key.
    Negative(NegativeKey),
}

/// What the server does with a query.
pub(crate) enum Outcome {
    /// The response is in `out`.
    Reply,
    /// No response at all.
    Drop,
    /// The upstream answers it.
    Forward,
    /// `out` holds the response so far; the upstream's records for the alias target complete
    /// it (see [`complete`]).
    Chase(Box<(Local, Name, RecordType)>),
}

/// Answers `raw` from the cache into `out`, or says who does.
pub(crate) fn respond(
    cache: &Cache,
    memo: &mut Memo,
    raw: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> Outcome {
    let query = match parse(raw) {
        Ok(query) => query,
        Err(Rejected::Drop) => return Outcome::Drop,
        Err(Rejected::Error(rcode)) => {
            rejected_reply(raw, rcode, out);
            return Outcome::Reply;
        }
    };
    if query.edns.is_some_and(|e| e.version != 0) {
        error_reply(raw, ResponseCode::BADVERS, out);
        return Outcome::Reply;
    }
    if query.qclass != u16::from(DNSClass::IN) {
        error_reply(raw, ResponseCode::Refused, out);
        return Outcome::Reply;
    }
    let generation = cache.generation();
    if memo.generation != generation {
        memo.entries.clear();
        memo.negative.clear();
        memo.generation = generation;
    }
    match memo.entries.get(query.key()) {
        Some(Memoized::Positive(prepared)) => return finish(&query, prepared, transport, out),
        Some(Memoized::Negative(key)) => {
            if let Some(prepared) = memo.negative.get(key) {
                return finish(&query, prepared, transport, out);
            }
        }
        None => {}
    }
    let Some(name) = query.name() else {
        error_reply(raw, ResponseCode::FormErr, out);
        return Outcome::Reply;
    };
    let qtype = RecordType::from(query.qtype);
    let local = match resolve(cache, &name, qtype) {
        Resolution::Forward => return Outcome::Forward,
        Resolution::Local(local) => local,
    };
    // A full memo keeps what it has: names queried once (pods, typos) must not push out the
    // Services queried all the time, and the next change of the cache empties it anyway.
    let room = memo.entries.len() < MEMO_LIMIT;
    if local.is_negative() && local.chase.is_none() {
        let key = (u16::from(local.rcode), local.authoritative, local.with_soa);
        if room {
            memo.entries
                .insert(query.key().into(), Memoized::Negative(key));
        }
        let prepared = memo
            .negative
            .entry(key)
            .or_insert_with(|| prepare_negative(cache, &local));
        return finish(&query, prepared, transport, out);
    }
    let prepared = prepare(cache, &name, qtype, local);
    let outcome = finish(&query, &prepared, transport, out);
    if room {
        memo.entries
            .insert(query.key().into(), Memoized::Positive(Box::new(prepared)));
    }
    outcome
}

fn finish(
    query: &Question<'_>,
    prepared: &Prepared,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Outcome {
    assemble(query, prepared, query.limit(transport), out);
    match &prepared.chase {
        Some(chase) => Outcome::Chase(chase.clone()),
        None => Outcome::Reply,
    }
}

/// Completes a chased answer with the upstream's `records` for the alias target.
pub(crate) fn complete(
    cache: &Cache,
    raw: &[u8],
    mut local: Local,
    records: Vec<Record>,
    transport: Transport,
    out: &mut Vec<u8>,
) {
    let Ok(query) = parse(raw) else {
        return;
    };
    let Some(name) = query.name() else {
        return;
    };
    local.answers.extend(records);
    local.chase = None;
    let prepared = prepare(cache, &name, RecordType::from(query.qtype), local);
    assemble(&query, &prepared, query.limit(transport), out);
}

#[cfg(test)]
mod tests {
    use ferry_runtime::ReflectorEvent;
    use hickory_proto::op::Message;
    use hickory_proto::rr::RData;
    use serde_json::json;

    use super::*;
    use crate::cache::tests::cache_with;
    use crate::cache::Watched;

    fn service(ip: &str) -> serde_json::Value {
        json!({"kind": "Service", "metadata": {"namespace": "default", "name": "kubia"},
               "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})
    }

    fn ask(cache: &Cache, memo: &mut Memo, name: &str) -> Message {
        let mut query = Message::query();
        query.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        let mut out = Vec::new();
        let raw = query.to_vec().unwrap();
        assert!(matches!(
            respond(cache, memo, &raw, Transport::Udp, &mut out),
            Outcome::Reply
        ));
        Message::from_vec(&out).unwrap()
    }

    #[test]
    fn a_change_of_the_cache_is_answered_at_once() {
        let cache = cache_with(vec![
            json!({"kind": "Namespace", "metadata": {"name": "default"}}),
            service("10.96.0.20"),
        ]);
        let mut memo = Memo::default();
        let name = "kubia.default.svc.cluster.local.";
        for _ in 0..2 {
            let answer = ask(&cache, &mut memo, name);
            assert_eq!(
                answer.answers[0].data,
                RData::A("10.96.0.20".parse().unwrap())
            );
        }
        let missing = ask(&cache, &mut memo, "other.default.svc.cluster.local.");
        assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);

        cache.apply(
            Watched::Services,
            ReflectorEvent::Applied(service("10.96.0.21")),
        );
        let answer = ask(&cache, &mut memo, name);
        assert_eq!(
            answer.answers[0].data,
            RData::A("10.96.0.21".parse().unwrap())
        );

        let mut other = service("10.96.0.22");
        other["metadata"]["name"] = json!("other");
        cache.apply(Watched::Services, ReflectorEvent::Applied(other));
        let found = ask(&cache, &mut memo, "other.default.svc.cluster.local.");
        assert_eq!(found.answers.len(), 1);
    }

    #[test]
    fn the_question_is_echoed_in_the_clients_case_from_the_memo() {
        let cache = cache_with(vec![
            json!({"kind": "Namespace", "metadata": {"name": "default"}}),
            service("10.96.0.20"),
        ]);
        let mut memo = Memo::default();
        ask(&cache, &mut memo, "kubia.default.svc.cluster.local.");
        let answer = ask(&cache, &mut memo, "KUBIA.default.svc.cluster.local.");
        assert_eq!(
            answer.queries[0].name().to_ascii(),
            "KUBIA.default.svc.cluster.local."
        );
        assert_eq!(
            answer.answers[0].name.to_ascii(),
            "KUBIA.default.svc.cluster.local."
        );
        let nx = ask(&cache, &mut memo, "Nope.default.svc.cluster.local.");
        assert_eq!(
            nx.queries[0].name().to_ascii(),
            "Nope.default.svc.cluster.local."
        );
        assert_eq!(nx.authorities.len(), 1);
    }
}
