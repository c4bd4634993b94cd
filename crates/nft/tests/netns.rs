//! ferry-nft against the kernel, each test in a network namespace of its own: what the batch
//! programs must be exactly what `nft` itself programs for the same text (compared through
//! `nft --debug=netlink list table`, i.e. the kernel's own dump of the expressions), errors name
//! the failing message, and conntrack deletion removes just the matching flows.

mod support;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_nft::{
    build, BaseChain, Batch, ChainType, CmpOp, DynsetOp, Element, ElementData, Error, Expr, Family,
    FlowMatch, HookPoint, KeyField, Netlink, Reg, Reject, SetKind, SetRef, SetSpec, Table, Verdict,
};
use support::{in_netns, run};

/// The same ruleset as the batch in [`ferry_ruleset`], in nft's own syntax.
const NFT_TEXT: &str = r#"
table ip t {
  set aff { type ipv4_addr; flags timeout; timeout 10800s; }
  map svc { type ipv4_addr . inet_proto . inet_service : verdict; }
  set svcset { type ipv4_addr . inet_proto . inet_service; }
  map eps { typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . th dport; }
  set hp { type ipv4_addr . ipv4_addr; }
  chain ep1 {
    ip saddr 10.244.0.5 meta mark set mark or 0x4000
    update @aff { ip saddr }
    meta l4proto tcp dnat to 10.244.0.5:8080
  }
  chain ep2 { }
  chain s {
    ip saddr @aff goto ep1
    numgen random mod 2 vmap { 0 : goto ep1, 1 : goto ep2 }
  }
  chain pick {
    dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @eps
  }
  chain post {
    type nat hook postrouting priority srcnat;
    ct status dnat ip saddr . ip daddr @hp meta mark set mark or 0x4000
    meta mark & 0x4000 == 0 return
    meta mark set mark xor 0x4000
    masquerade fully-random
  }
  chain f {
    type filter hook forward priority -10;
    ct state new ip daddr . meta l4proto . th dport @svcset accept
    meta l4proto tcp reject with tcp reset
    reject
    counter
    notrack
  }
  chain o {
    type nat hook output priority -100;
    ip daddr . meta l4proto . th dport vmap @svc
    fib daddr type local meta l4proto . th dport vmap { tcp . 30080 : goto ep1 }
    ip saddr != 10.244.0.0/16 ip daddr . meta l4proto . th dport @svcset meta mark set mark or 0x4000
    ip daddr != 10.96.0.0/12 drop
  }
}
add element ip t svc { 10.96.0.50 . tcp . 80 : goto s }
add element ip t svcset { 10.96.0.50 . tcp . 80 }
add element ip t eps { 10.96.0.50 . tcp . 80 . 1 : 10.244.0.5 . 8080 }
add element ip t hp { 10.244.0.5 . 10.244.0.5 }
"#;

fn table() -> Table {
    Table {
        family: Family::Ip,
        name: "t".to_string(),
    }
}

fn ferry_ruleset() -> Batch {
    let t = table();
    let mut b = Batch::new();
    b.add_table(&t);
    let concat = vec![
        KeyField::Ipv4Addr,
        KeyField::InetProto,
        KeyField::InetService,
    ];
    b.add_set(
        &t,
        &SetSpec {
            name: "aff".into(),
            key: vec![KeyField::Ipv4Addr],
            kind: SetKind::Dynamic {
                timeout: Duration::from_secs(10800),
            },
        },
    );
    b.add_set(
        &t,
        &SetSpec {
            name: "svc".into(),
            key: concat.clone(),
            kind: SetKind::VerdictMap,
        },
    );
    b.add_set(
        &t,
        &SetSpec {
            name: "svcset".into(),
            key: concat.clone(),
            kind: SetKind::Set,
        },
    );
    b.add_set(
        &t,
        &SetSpec {
            name: "eps".into(),
            key: [concat.as_slice(), &[KeyField::Tag32]].concat(),
            kind: SetKind::Map {
                data: &[KeyField::Ipv4Addr, KeyField::InetService],
            },
        },
    );
    b.add_set(
        &t,
        &SetSpec {
            name: "hp".into(),
            key: vec![KeyField::Ipv4Addr, KeyField::Ipv4Addr],
            kind: SetKind::Set,
        },
    );
    for chain in ["ep1", "ep2", "s", "pick"] {
        b.add_chain(&t, chain, None);
    }
    let base = |chain_type, hook, priority| BaseChain {
        chain_type,
        hook,
        priority,
    };
    b.add_chain(
        &t,
        "post",
        Some(&base(ChainType::Nat, HookPoint::Postrouting, 100)),
    );
    b.add_chain(
        &t,
        "f",
        Some(&base(ChainType::Filter, HookPoint::Forward, -10)),
    );
    b.add_chain(
        &t,
        "o",
        Some(&base(ChainType::Nat, HookPoint::Output, -100)),
    );

    let ep = Ipv4Addr::new(10, 244, 0, 5);
    let mut r = build::ip_addr_cmp(build::IpField::Source, CmpOp::Eq, ep);
    r.extend(build::mark_or(0x4000));
    b.add_rule(&t, "ep1", &r);
    b.add_rule(
        &t,
        "ep1",
        &[
            build::ip_addr(build::IpField::Source, Reg::R1),
            Expr::Dynset {
                op: DynsetOp::Update,
                set: "aff".into(),
                sreg_key: Reg::R1,
                timeout: None,
            },
        ],
    );
    b.add_rule(&t, "ep1", &build::dnat_to(6, ep, 8080));

    b.add_rule(
        &t,
        "s",
        &[
            build::ip_addr(build::IpField::Source, Reg::R1),
            Expr::Lookup {
                sreg: Reg::R1,
                set: SetRef::Name("aff".into()),
                dreg: None,
                invert: false,
            },
            Expr::Verdict(Verdict::Goto("ep1".into())),
        ],
    );
    let vmap = b.add_anonymous_vmap(
        &t,
        &[KeyField::Integer32],
        &[
            Element {
                key: 0u32.to_ne_bytes().to_vec(),
                data: Some(ElementData::Verdict(Verdict::Goto("ep1".into()))),
            },
            Element {
                key: 1u32.to_ne_bytes().to_vec(),
                data: Some(ElementData::Verdict(Verdict::Goto("ep2".into()))),
            },
        ],
    );
    b.add_rule(
        &t,
        "s",
        &[
            Expr::NumgenRandom {
                dreg: Reg::R1,
                modulus: 2,
            },
            Expr::Lookup {
                sreg: Reg::R1,
                set: vmap,
                dreg: Some(Reg::VERDICT),
                invert: false,
            },
        ],
    );

    // dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @eps
    let mut r = build::daddr_proto_dport();
    r.push(Expr::NumgenRandom {
        dreg: Reg(11),
        modulus: 2,
    });
    r.push(Expr::Lookup {
        sreg: Reg::R1,
        set: SetRef::Name("eps".into()),
        dreg: Some(Reg::R1),
        invert: false,
    });
    r.push(Expr::DnatMapped {
        addr: Reg::R1,
        port: Reg(9),
    });
    b.add_rule(&t, "pick", &r);

    let mut r = build::ct_status_any(build::CT_STATUS_DNAT);
    r.push(build::ip_addr(build::IpField::Source, Reg::R1));
    r.push(build::ip_addr(build::IpField::Destination, Reg(9)));
    r.push(Expr::Lookup {
        sreg: Reg::R1,
        set: SetRef::Name("hp".into()),
        dreg: None,
        invert: false,
    });
    r.extend(build::mark_or(0x4000));
    b.add_rule(&t, "post", &r);
    let mut r = build::mark_clear(0x4000);
    r.push(Expr::Verdict(Verdict::Return));
    b.add_rule(&t, "post", &r);
    b.add_rule(&t, "post", &build::mark_xor(0x4000));
    b.add_rule(&t, "post", &[Expr::Masquerade { fully_random: true }]);

    let svc_lookup = |set: &str, dreg| Expr::Lookup {
        sreg: Reg::R1,
        set: SetRef::Name(set.into()),
        dreg,
        invert: false,
    };
    let mut r = build::ct_state_new();
    r.extend(build::daddr_proto_dport());
    r.push(svc_lookup("svcset", None));
    r.push(Expr::Verdict(Verdict::Accept));
    b.add_rule(&t, "f", &r);
    let mut r = build::l4proto_eq(6);
    r.push(Expr::Reject(Reject::TcpReset));
    b.add_rule(&t, "f", &r);
    b.add_rule(&t, "f", &[Expr::Reject(Reject::IcmpPortUnreachable)]);
    b.add_rule(&t, "f", &[Expr::Counter]);
    b.add_rule(&t, "f", &[Expr::Notrack]);

    let mut r = build::daddr_proto_dport();
    r.push(svc_lookup("svc", Some(Reg::VERDICT)));
    b.add_rule(&t, "o", &r);
    let nodeports = b.add_anonymous_vmap(
        &t,
        &[KeyField::InetProto, KeyField::InetService],
        &[Element {
            key: Element::concat_key(&[&[6], &30080u16.to_be_bytes()]),
            data: Some(ElementData::Verdict(Verdict::Goto("ep1".into()))),
        }],
    );
    let mut r = vec![
        Expr::FibDaddrType { dreg: Reg::R1 },
        Expr::Cmp {
            sreg: Reg::R1,
            op: CmpOp::Eq,
            data: 2u32.to_ne_bytes().to_vec(),
        },
    ];
    r.extend(build::proto_dport());
    r.push(Expr::Lookup {
        sreg: Reg::R1,
        set: nodeports,
        dreg: Some(Reg::VERDICT),
        invert: false,
    });
    b.add_rule(&t, "o", &r);
    // nft shortens a /16 match to a 2-byte load; the generic form (4-byte load, mask, compare)
    // is checked on the /12 below, the /16 here mirrors nft's shortcut.
    let mut r = vec![
        Expr::Payload {
            base: ferry_nft::PayloadBase::Network,
            offset: 12,
            len: 2,
            dreg: Reg::R1,
        },
        Expr::Cmp {
            sreg: Reg::R1,
            op: CmpOp::Neq,
            data: vec![10, 244],
        },
    ];
    r.extend(build::daddr_proto_dport());
    r.push(svc_lookup("svcset", None));
    r.extend(build::mark_or(0x4000));
    b.add_rule(&t, "o", &r);
    let mut r = build::ip_prefix_cmp(
        build::IpField::Destination,
        CmpOp::Neq,
        Ipv4Addr::new(10, 96, 0, 0),
        12,
    );
    r.push(Expr::Verdict(Verdict::Drop));
    b.add_rule(&t, "o", &r);

    let key = Element::concat_key(&[&[10, 96, 0, 50], &[6], &80u16.to_be_bytes()]);
    b.add_elements(
        &t,
        &SetRef::Name("svc".into()),
        &[Element {
            key: key.clone(),
            data: Some(ElementData::Verdict(Verdict::Goto("s".into()))),
        }],
    );
    b.add_elements(
        &t,
        &SetRef::Name("svcset".into()),
        &[Element {
            key: key.clone(),
            data: None,
        }],
    );
    b.add_elements(
        &t,
        &SetRef::Name("eps".into()),
        &[Element {
            key: [key.as_slice(), &1u32.to_ne_bytes()].concat(),
            data: Some(ElementData::Value(Element::concat_key(&[
                &[10, 244, 0, 5],
                &8080u16.to_be_bytes(),
            ]))),
        }],
    );
    let hairpin = Element::concat_key(&[&[10, 244, 0, 5], &[10, 244, 0, 5]]);
    b.add_elements(
        &t,
        &SetRef::Name("hp".into()),
        &[Element {
            key: hairpin,
            data: None,
        }],
    );
    b
}

/// `nft --debug=netlink list table ip t` with rule handles and anonymous set numbers removed and
/// the elements of each set sorted (they come in hash order).
fn kernel_dump() -> Vec<String> {
    let out = run("nft", &["--debug=netlink", "list", "table", "ip", "t"]);
    let mut lines: Vec<String> = Vec::new();
    let mut elements: Vec<String> = Vec::new();
    for line in out.lines() {
        if line.starts_with("table ip t") {
            break;
        }
        if line.starts_with("\telement") {
            elements.push(line.to_string());
            continue;
        }
        elements.sort();
        lines.append(&mut elements);
        let line = if line.starts_with("ip t ") {
            line.split_whitespace()
                .take_while(|w| !w.chars().all(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            line.to_string()
        };
        lines.push(line.replace("__map1", "__mapN").replace("__map0", "__mapN"));
    }
    elements.sort();
    lines.append(&mut elements);
    lines
}

fn nft_load(text: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nft -f failed");
}

#[test]
fn batch_programs_what_nft_programs() {
    let expected = in_netns(|| {
        nft_load(NFT_TEXT);
        kernel_dump()
    });
    let (ours, listing) = in_netns(|| {
        Netlink::open().unwrap().apply(ferry_ruleset()).unwrap();
        (kernel_dump(), run("nft", &["list", "table", "ip", "t"]))
    });
    assert_eq!(ours, expected);
    assert!(
        listing.contains("numgen random mod 2 vmap { 0 : goto ep1, 1 : goto ep2 }"),
        "{listing}"
    );
    for want in [
        "10.96.0.50 . tcp . 80 : goto s",
        "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @eps",
        "10.96.0.50 . tcp . 80 . 0x00000001 : 10.244.0.5 . 8080",
        "ct status dnat ip saddr . ip daddr @hp",
    ] {
        assert!(listing.contains(want), "missing {want:?} in\n{listing}");
    }
}

#[test]
fn every_message_acknowledged_and_errors_name_the_message() {
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let mut batch = ferry_ruleset();
        batch.ack_every_message();
        nl.apply(batch).unwrap();

        // A rule in a chain that does not exist: the batch fails as a whole, and the error
        // names the message.
        let t = table();
        let mut batch = Batch::new();
        batch.add_chain(&t, "fresh", None);
        batch.add_rule(&t, "missing", &[Expr::Counter]);
        let err = nl.apply(batch).unwrap_err();
        match &err {
            Error::Rejected {
                seq, what, source, ..
            } => {
                assert_eq!(*seq, 2);
                assert_eq!(what, "add rule to chain t missing");
                assert_eq!(source.raw_os_error(), Some(nix::libc::ENOENT));
            }
            other => panic!("unexpected error {other:?}"),
        }
        let chains = run("nft", &["list", "chains", "ip"]);
        assert!(!chains.contains("fresh"), "batch was not atomic: {chains}");
    });
}

#[test]
fn large_batch_replaces_table_in_one_transaction() {
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let t = table();
        let build_batch = |chains: usize| {
            let mut b = Batch::new();
            // add + delete + add: replaces whatever table an earlier run left, atomically.
            b.add_table(&t);
            b.delete_table(&t);
            b.add_table(&t);
            for i in 0..chains {
                let name = format!("chain-{i}");
                b.add_chain(&t, &name, None);
                b.add_rule(
                    &t,
                    &name,
                    &build::dnat_to(6, Ipv4Addr::new(10, 244, 1, 1), 80),
                );
            }
            b
        };
        nl.apply(build_batch(50_000)).unwrap();
        nl.apply(build_batch(10)).unwrap();
        let listing = run("nft", &["list", "chains", "ip"]);
        assert_eq!(listing.matches("chain chain-").count(), 10);
        assert!(nl.delete_table_if_exists(&t).unwrap());
        assert!(!nl.delete_table_if_exists(&t).unwrap());
        assert!(nl.tables(Family::Ip).unwrap().is_empty());
    });
}

#[test]
fn deletes_only_matching_udp_flows() {
    in_netns(|| {
        run("ip", &["link", "set", "lo", "up"]);
        // Conntrack only tracks a namespace once some rule needs it.
        let mut nl = Netlink::open().unwrap();
        let t = table();
        let mut b = Batch::new();
        b.add_table(&t);
        let base = BaseChain {
            chain_type: ChainType::Filter,
            hook: HookPoint::Output,
            priority: 0,
        };
        b.add_chain(&t, "out", Some(&base));
        b.add_rule(&t, "out", &build::ct_state_new());
        nl.apply(b).unwrap();

        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"x", server.local_addr().unwrap()).unwrap();
        client.send_to(b"x", other.local_addr().unwrap()).unwrap();
        let flows = || run("conntrack", &["-L", "-p", "udp"]);
        let port = |s: &UdpSocket| s.local_addr().unwrap().port();
        assert!(flows().contains(&format!("dport={}", port(&server))));

        let target = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port(&server));
        let deleted = nl
            .delete_flows(17, &[FlowMatch::OriginalDestination(target)])
            .unwrap();
        assert_eq!(deleted, 1);
        let left = flows();
        assert!(
            !left.contains(&format!("dport={} ", port(&server))),
            "{left}"
        );
        assert!(left.contains(&format!("dport={} ", port(&other))), "{left}");

        let other_addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port(&other));
        let deleted = nl
            .delete_flows(17, &[FlowMatch::ReplySource(other_addr)])
            .unwrap();
        assert_eq!(deleted, 1);
        assert!(!flows().contains("udp"));
    });
}
