//! The specification's records, question by question, against one small cluster; answers go
//! through the server's own encoding and are shown as `dig` would list them (SOA serials as 0).

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::{json, Value};

use crate::cache::tests::cache_with;
use crate::cache::Cache;
use crate::wire::{answer, Answer, Transport};

fn namespace(name: &str) -> Value {
    json!({"kind": "Namespace", "metadata": {"name": name}})
}

fn service(ns: &str, name: &str, spec: Value) -> Value {
    json!({"kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": spec})
}

fn slice(ns: &str, service: &str, ports: Value, endpoints: Value) -> Value {
    json!({"kind": "EndpointSlice", "metadata": {"namespace": ns, "name": format!("{service}-x1"),
           "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4", "ports": ports, "endpoints": endpoints})
}

fn cluster() -> Cache {
    cache_with(vec![
        namespace("default"),
        namespace("kube-system"),
        namespace("empty"),
        service(
            "default",
            "kubia",
            json!({"clusterIP": "10.96.0.20", "ports": [
            {"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443}]}),
        ),
        slice(
            "default",
            "kubia",
            json!([{"name": "http", "port": 8080}, {"name": "https", "port": 8443}]),
            json!([{"addresses": ["10.244.1.5"], "conditions": {"ready": true}},
                     {"addresses": ["10.244.2.6"], "conditions": {"ready": false}}]),
        ),
        service(
            "default",
            "kubia-headless",
            json!({"clusterIP": "None", "ports": [
            {"name": "http", "port": 80}]}),
        ),
        slice(
            "default",
            "kubia-headless",
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
            json!([{"addresses": ["10.244.1.10"], "hostname": "web-0", "conditions": {"ready": true}},
                     {"addresses": ["10.244.1.11"], "conditions": {}},
                     {"addresses": ["10.244.1.12"], "conditions": {"ready": false}}]),
        ),
        service(
            "default",
            "unready",
            json!({"clusterIP": "None", "publishNotReadyAddresses": true,
            "ports": [{"name": "http", "port": 80}]}),
        ),
        slice(
            "default",
            "unready",
            json!([{"name": "http", "port": 80}]),
            json!([{"addresses": ["10.244.3.1"], "conditions": {"ready": false}}]),
        ),
        service(
            "default",
            "no-endpoints",
            json!({"clusterIP": "None", "ports": [{"port": 80}]}),
        ),
        service("default", "portless", json!({"clusterIP": "None"})),
        slice(
            "default",
            "portless",
            json!([]),
            json!([{"addresses": ["10.244.4.1"]}]),
        ),
        service(
            "default",
            "external-service",
            json!({"type": "ExternalName",
            "externalName": "api.somecompany.com"}),
        ),
        service(
            "default",
            "alias",
            json!({"type": "ExternalName",
            "externalName": "kubia.default.svc.cluster.local"}),
        ),
        service(
            "default",
            "dual",
            json!({"clusterIP": "10.96.0.30",
            "clusterIPs": ["10.96.0.30", "fd00:10:96::30"], "ports": [{"name": "http", "port": 80}]}),
        ),
        service(
            "kube-system",
            "kube-dns",
            json!({"clusterIP": "10.96.0.10", "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}),
        ),
    ])
}

/// The question `name type` as a query with RD set.
fn query(question: &str) -> Message {
    let (name, rtype) = question.rsplit_once(' ').unwrap();
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(
        Name::from_ascii(name).unwrap(),
        rtype.parse().unwrap(),
    ));
    message
}

/// A response as text: rcode and flags, then one line per record (`auth:`/`add:` for the
/// authority and additional sections).
fn render(response: &Answer) -> String {
    let message = match response {
        Answer::Response(message) => message,
        Answer::Forward => return "forward".to_string(),
        Answer::Ignored => return "ignored".to_string(),
    };
    let m = &message.metadata;
    let mut out = match m.response_code {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        other => format!("{other:?}"),
    };
    for (set, flag) in [
        (m.authoritative, " aa"),
        (m.truncation, " tc"),
        (m.recursion_available, " ra"),
    ] {
        if set {
            out.push_str(flag);
        }
    }
    let line = |r: &Record| match &r.data {
        RData::SOA(soa) => {
            let mut soa = soa.clone();
            soa.serial = 0;
            format!("{} {} SOA {soa}", r.name, r.ttl)
        }
        data => format!("{} {} {} {data}", r.name, r.ttl, r.record_type()),
    };
    for r in &message.answers {
        out.push('\n');
        out.push_str(&line(r));
    }
    for r in &message.authorities {
        out.push_str("\nauth: ");
        out.push_str(&line(r));
    }
    for r in &message.additionals {
        out.push_str("\nadd: ");
        out.push_str(&line(r));
    }
    out
}

const NXDOMAIN: &str = "NXDOMAIN aa\nauth: cluster.local. 30 SOA ns.dns.cluster.local. hostmaster.cluster.local. 0 7200 1800 86400 30";
const NODATA: &str = "NOERROR aa\nauth: cluster.local. 30 SOA ns.dns.cluster.local. hostmaster.cluster.local. 0 7200 1800 86400 30";

#[test]
fn records_of_the_specification() {
    let cache = cluster();
    let cases: &[(&str, &str)] = &[
        // 2.2: the schema version.
        ("dns-version.cluster.local. TXT", "NOERROR aa\ndns-version.cluster.local. 28800 TXT 1.1.0"),
        ("dns-version.cluster.local. A", NODATA),
        // 2.3.1: a ClusterIP Service; the name exists for every type.
        ("kubia.default.svc.cluster.local. A", "NOERROR aa\nkubia.default.svc.cluster.local. 30 A 10.96.0.20"),
        ("kubia.default.svc.cluster.local. AAAA", NODATA),
        ("kubia.default.svc.cluster.local. TXT", NODATA),
        ("kubia.default.svc.cluster.local. MX", NODATA),
        ("dual.default.svc.cluster.local. AAAA", "NOERROR aa\ndual.default.svc.cluster.local. 30 AAAA fd00:10:96::30"),
        ("dual.default.svc.cluster.local. A", "NOERROR aa\ndual.default.svc.cluster.local. 30 A 10.96.0.30"),
        // 2.3.2: SRV for named ports, targeting the Service, its address as additional.
        ("_http._tcp.kubia.default.svc.cluster.local. SRV",
         "NOERROR aa\n_http._tcp.kubia.default.svc.cluster.local. 30 SRV 0 100 80 kubia.default.svc.cluster.local.\n\
          add: kubia.default.svc.cluster.local. 30 A 10.96.0.20"),
        ("_dns._udp.kube-dns.kube-system.svc.cluster.local. SRV",
         "NOERROR aa\n_dns._udp.kube-dns.kube-system.svc.cluster.local. 30 SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.\n\
          add: kube-dns.kube-system.svc.cluster.local. 30 A 10.96.0.10"),
        ("_dns._tcp.kube-dns.kube-system.svc.cluster.local. SRV", NXDOMAIN),
        ("_smtp._tcp.kubia.default.svc.cluster.local. SRV", NXDOMAIN),
        // CoreDNS: the SRV question without port and protocol lists every port.
        ("kubia.default.svc.cluster.local. SRV",
         "NOERROR aa\nkubia.default.svc.cluster.local. 30 SRV 0 50 80 kubia.default.svc.cluster.local.\n\
          kubia.default.svc.cluster.local. 30 SRV 0 50 443 kubia.default.svc.cluster.local.\n\
          add: kubia.default.svc.cluster.local. 30 A 10.96.0.20"),
        // 2.4.1: a headless Service: one A per ready endpoint (unknown readiness is ready).
        ("kubia-headless.default.svc.cluster.local. A",
         "NOERROR aa\nkubia-headless.default.svc.cluster.local. 30 A 10.244.1.10\n\
          kubia-headless.default.svc.cluster.local. 30 A 10.244.1.11"),
        ("web-0.kubia-headless.default.svc.cluster.local. A",
         "NOERROR aa\nweb-0.kubia-headless.default.svc.cluster.local. 30 A 10.244.1.10"),
        ("10-244-1-11.kubia-headless.default.svc.cluster.local. A",
         "NOERROR aa\n10-244-1-11.kubia-headless.default.svc.cluster.local. 30 A 10.244.1.11"),
        ("10-244-1-10.kubia-headless.default.svc.cluster.local. A", NXDOMAIN),
        ("10-244-1-12.kubia-headless.default.svc.cluster.local. A", NXDOMAIN),
        ("unready.default.svc.cluster.local. A", "NOERROR aa\nunready.default.svc.cluster.local. 30 A 10.244.3.1"),
        ("no-endpoints.default.svc.cluster.local. A", NXDOMAIN),
        ("portless.default.svc.cluster.local. A", "NOERROR aa\nportless.default.svc.cluster.local. 30 A 10.244.4.1"),
        ("portless.default.svc.cluster.local. SRV", NODATA),
        // CoreDNS also names the endpoints of a ClusterIP Service.
        ("10-244-1-5.kubia.default.svc.cluster.local. A",
         "NOERROR aa\n10-244-1-5.kubia.default.svc.cluster.local. 30 A 10.244.1.5"),
        // 2.4.2: one SRV per ready endpoint and named port, targeting the endpoint's name.
        ("_http._tcp.kubia-headless.default.svc.cluster.local. SRV",
         "NOERROR aa\n_http._tcp.kubia-headless.default.svc.cluster.local. 30 SRV 0 50 8080 web-0.kubia-headless.default.svc.cluster.local.\n\
          _http._tcp.kubia-headless.default.svc.cluster.local. 30 SRV 0 50 8080 10-244-1-11.kubia-headless.default.svc.cluster.local.\n\
          add: web-0.kubia-headless.default.svc.cluster.local. 30 A 10.244.1.10\n\
          add: 10-244-1-11.kubia-headless.default.svc.cluster.local. 30 A 10.244.1.11"),
        // 2.3.3 and 2.4.3: PTR for cluster IPs and endpoint addresses; others go upstream.
        ("20.0.96.10.in-addr.arpa. PTR", "NOERROR aa\n20.0.96.10.in-addr.arpa. 30 PTR kubia.default.svc.cluster.local."),
        ("10.1.244.10.in-addr.arpa. PTR",
         "NOERROR aa\n10.1.244.10.in-addr.arpa. 30 PTR web-0.kubia-headless.default.svc.cluster.local."),
        ("5.1.244.10.in-addr.arpa. PTR", "NOERROR aa\n5.1.244.10.in-addr.arpa. 30 PTR 10-244-1-5.kubia.default.svc.cluster.local."),
        ("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. PTR",
         "NOERROR aa\n0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. 30 PTR dual.default.svc.cluster.local."),
        ("12.1.244.10.in-addr.arpa. PTR", "forward"),
        ("1.1.1.1.in-addr.arpa. PTR", "forward"),
        ("20.0.96.10.in-addr.arpa. A", "forward"),
        // 2.5: ExternalName; the upstream part of the answer is added by the server.
        ("external-service.default.svc.cluster.local. CNAME",
         "NOERROR aa\nexternal-service.default.svc.cluster.local. 30 CNAME api.somecompany.com."),
        ("external-service.default.svc.cluster.local. A",
         "NOERROR aa\nexternal-service.default.svc.cluster.local. 30 CNAME api.somecompany.com."),
        ("external-service.default.svc.cluster.local. SRV", NODATA),
        ("_http._tcp.external-service.default.svc.cluster.local. SRV", NXDOMAIN),
        ("alias.default.svc.cluster.local. A",
         "NOERROR aa\nalias.default.svc.cluster.local. 30 CNAME kubia.default.svc.cluster.local.\n\
          kubia.default.svc.cluster.local. 30 A 10.96.0.20"),
        // CoreDNS's pod records (`pods insecure`).
        ("10-244-1-99.default.pod.cluster.local. A", "NOERROR aa\n10-244-1-99.default.pod.cluster.local. 30 A 10.244.1.99"),
        ("fd00--1.default.pod.cluster.local. AAAA", "NOERROR aa\nfd00--1.default.pod.cluster.local. 30 AAAA fd00::1"),
        ("10-244-1-99.default.pod.cluster.local. AAAA", NODATA),
        ("10-244-1-99.nonexistent.pod.cluster.local. A", NXDOMAIN),
        ("not-an-ip.default.pod.cluster.local. A", NXDOMAIN),
        // Names between the zone and the objects.
        ("cluster.local. A", NODATA),
        ("svc.cluster.local. A", NODATA),
        ("pod.cluster.local. A", NODATA),
        ("default.svc.cluster.local. A", NODATA),
        ("empty.svc.cluster.local. A", NODATA),
        ("nonexistent.svc.cluster.local. A", NXDOMAIN),
        ("nonexistent.default.svc.cluster.local. A", NXDOMAIN),
        ("kubia.empty.svc.cluster.local. A", NXDOMAIN),
        ("foo.cluster.local. A", NXDOMAIN),
        ("a.b._http._tcp.kubia.default.svc.cluster.local. A", NXDOMAIN),
        // Search-path expansions of a full name never resolve.
        ("kubia.default.svc.cluster.local.default.svc.cluster.local. A", NXDOMAIN),
        ("kubia.default.svc.cluster.local.svc.cluster.local. A", NXDOMAIN),
        ("kubia.default.svc.cluster.local.cluster.local. A", NXDOMAIN),
        // The zone's own records.
        ("cluster.local. SOA",
         "NOERROR aa\ncluster.local. 30 SOA ns.dns.cluster.local. hostmaster.cluster.local. 0 7200 1800 86400 30"),
        ("cluster.local. NS", "NOERROR aa\ncluster.local. 30 NS ns.dns.cluster.local.\nadd: ns.dns.cluster.local. 30 A 10.96.0.10"),
        ("ns.dns.cluster.local. A", "NOERROR aa\nns.dns.cluster.local. 30 A 10.96.0.10"),
        ("cluster.local. AXFR", "REFUSED"),
        // Not the cluster's.
        ("example.com. A", "forward"),
        ("local. A", "forward"),
    ];
    let mut failures = Vec::new();
    for (question, want) in cases {
        let got = render(&answer(&cache, &query(question), Transport::Tcp));
        let want = want.replace("\n          ", "\n");
        if got != want {
            failures.push(format!("{question}\n  want: {want:?}\n  got:  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn names_are_case_insensitive_and_the_question_is_echoed() {
    let cache = cluster();
    let Answer::Response(response) = answer(
        &cache,
        &query("KuBiA.Default.SVC.cluster.LOCAL. A"),
        Transport::Udp,
    ) else {
        panic!("no response");
    };
    assert_eq!(
        response.queries[0].name().to_ascii(),
        "KuBiA.Default.SVC.cluster.LOCAL."
    );
    assert_eq!(response.answers.len(), 1);
    assert_eq!(
        response.answers[0].data,
        RData::A("10.96.0.20".parse().unwrap())
    );
    assert!(response.metadata.recursion_desired);
}

#[test]
fn not_synced_yet_is_servfail_not_nxdomain() {
    let cache = Cache::new(&crate::DnsConfig::default()).unwrap();
    let got = render(&answer(
        &cache,
        &query("kubia.default.svc.cluster.local. A"),
        Transport::Udp,
    ));
    assert!(
        got.starts_with("SERVFAIL aa\nauth: cluster.local. 30 SOA"),
        "{got}"
    );
}

/// A headless Service with `count` ready endpoints.
fn wide_cluster(count: usize) -> Cache {
    let endpoints: Vec<Value> = (0..count)
        .map(|i| json!({"addresses": [format!("10.244.{}.{}", i / 200, i % 200 + 1)]}))
        .collect();
    cache_with(vec![
        namespace("default"),
        service(
            "default",
            "wide",
            json!({"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}),
        ),
        slice(
            "default",
            "wide",
            json!([{"name": "http", "port": 80}]),
            Value::Array(endpoints),
        ),
    ])
}

#[test]
fn udp_answers_are_cut_to_512_bytes_or_the_edns_size() {
    let cache = wide_cluster(100);
    let plain = query("wide.default.svc.cluster.local. A");
    let Answer::Response(cut) = answer(&cache, &plain, Transport::Udp) else {
        panic!()
    };
    assert!(cut.metadata.truncation);
    assert!(cut.to_vec().unwrap().len() <= 512);
    assert!(!cut.answers.is_empty() && cut.answers.len() < 100);
    assert!(cut.edns.is_none());

    let Answer::Response(full) = answer(&cache, &plain, Transport::Tcp) else {
        panic!()
    };
    assert!(!full.metadata.truncation);
    assert_eq!(full.answers.len(), 100);

    let mut with_edns = plain.clone();
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns.set_dnssec_ok(true);
    with_edns.set_edns(edns);
    let Answer::Response(large) = answer(&cache, &with_edns, Transport::Udp) else {
        panic!()
    };
    assert!(!large.metadata.truncation);
    assert_eq!(large.answers.len(), 100);
    let echoed = large.edns.as_ref().expect("OPT echoed");
    assert_eq!(echoed.max_payload(), 4096);
    assert!(echoed.flags().dnssec_ok);
}

#[test]
fn srv_additional_records_are_dropped_before_answers_without_tc() {
    // SRV targets are never compressed (RFC 2782): 7 answers fit in 512 bytes, their 7 A
    // records do not.
    let cache = wide_cluster(7);
    let question = query("_http._tcp.wide.default.svc.cluster.local. SRV");
    let Answer::Response(response) = answer(&cache, &question, Transport::Udp) else {
        panic!()
    };
    assert_eq!(
        response.answers.len(),
        7,
        "{}",
        render(&Answer::Response(response.clone()))
    );
    assert!(response.additionals.len() < 7);
    assert!(!response.metadata.truncation);
}

#[test]
fn edns_versions_and_malformed_queries() {
    let cache = cluster();
    let mut newer = query("kubia.default.svc.cluster.local. A");
    let mut edns = Edns::new();
    edns.set_version(1);
    newer.set_edns(edns);
    let Answer::Response(response) = answer(&cache, &newer, Transport::Udp) else {
        panic!()
    };
    // BADVERS and BADSIG share the value 16, which hickory decodes as BADSIG.
    assert_eq!(u16::from(response.metadata.response_code), 16);

    let mut two = query("kubia.default.svc.cluster.local. A");
    two.add_query(Query::query(Name::from_ascii("a.").unwrap(), RecordType::A));
    let Answer::Response(response) = answer(&cache, &two, Transport::Udp) else {
        panic!()
    };
    assert_eq!(response.metadata.response_code, ResponseCode::FormErr);

    let mut reply = query("kubia.default.svc.cluster.local. A");
    reply.metadata.message_type = MessageType::Response;
    assert_eq!(answer(&cache, &reply, Transport::Udp), Answer::Ignored);
}
