//! The nftables dataplane against the kernel, each test in a network namespace of its own:
//! the table as `nft` lists it, incremental changes touching one service, replacing a
//! leftover table, cleanup, and real TCP/UDP traffic through a ClusterIP (output hook DNAT),
//! masqueraded for hairpins and outside clients.

mod support;

use std::io::{ErrorKind, Read};
use std::net::{SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferry_proxy::{
    ChangedServices, Dataplane, Endpoint, ProxyModel, ServicePort, ServicePortName,
    SessionAffinity, TransportProtocol,
};
use ferry_proxy_nft::{cleanup_leftovers, NftConfig, NftDataplane};
use support::{in_netns, run};

fn name(name: &str, protocol: TransportProtocol) -> ServicePortName {
    ServicePortName {
        namespace: "default".into(),
        name: name.into(),
        port: String::new(),
        protocol,
    }
}

fn port(vip: &str, port: u16, eps: &[&str]) -> ServicePort {
    ServicePort {
        cluster_ip: vip.parse().unwrap(),
        port,
        node_port: None,
        external_ips: vec![],
        session_affinity: None,
        endpoints: eps
            .iter()
            .map(|e| Endpoint {
                address: e.parse().unwrap(),
                ready: true,
                serving: true,
                terminating: false,
                is_local: true,
            })
            .collect(),
    }
}

fn full() -> ChangedServices {
    ChangedServices {
        full: true,
        ..Default::default()
    }
}

fn only(names: &[&ServicePortName]) -> ChangedServices {
    ChangedServices {
        names: names.iter().map(|n| (*n).clone()).collect(),
        full: false,
    }
}

/// Loopback holding the "pod" address 10.244.0.5 and a client address 10.244.0.9, with the
/// service range routed through it (sourced from the client address, so the connections are
/// not hairpins).
fn pod_network() {
    run("ip", &["link", "set", "lo", "up"]);
    run("ip", &["addr", "add", "10.244.0.5/32", "dev", "lo"]);
    run("ip", &["addr", "add", "10.244.0.9/32", "dev", "lo"]);
    run(
        "ip",
        &[
            "route",
            "add",
            "10.96.0.0/12",
            "dev",
            "lo",
            "src",
            "10.244.0.9",
        ],
    );
}

/// Sets the flag when dropped, also when a failed assertion unwinds, so that the servers of a
/// thread scope stop and the scope can end.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// TCP servers that answer each connection with their port number, until `stop`.
fn serve<'s>(scope: &'s std::thread::Scope<'s, '_>, addr: &str, stop: &'s AtomicBool) {
    let listener = TcpListener::bind(addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    scope.spawn(move || {
        let port = listener.local_addr().unwrap().port().to_string();
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    use std::io::Write;
                    let _ = conn.write_all(port.as_bytes());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    });
}

/// Connects to the address and returns the serving port, or the connect error's kind.
fn ask(addr: &str) -> Result<String, ErrorKind> {
    let addr: SocketAddrV4 = addr.parse().unwrap();
    let mut conn =
        TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)).map_err(|e| e.kind())?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).map_err(|e| e.kind())?;
    Ok(answer)
}

#[test]
fn clusterip_traffic_spreads_sticks_and_is_refused() {
    in_netns(|| {
        pod_network();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let _stop = StopOnDrop(&stop);
            serve(scope, "10.244.0.5:8080", &stop);
            serve(scope, "10.244.0.5:8081", &stop);
            let kubia = name("kubia", TransportProtocol::Tcp);
            let mut model = ProxyModel::default();
            model.services.insert(
                kubia.clone(),
                port("10.96.0.50", 80, &["10.244.0.5:8080", "10.244.0.5:8081"]),
            );
            let mut dp = NftDataplane::new(NftConfig::default()).unwrap();
            dp.sync(&model, &full()).unwrap();

            let answers: Vec<String> = (0..40).map(|_| ask("10.96.0.50:80").unwrap()).collect();
            assert!(answers.contains(&"8080".to_string()), "{answers:?}");
            assert!(answers.contains(&"8081".to_string()), "{answers:?}");

            // ClientIP affinity: every connection goes to the first endpoint picked.
            model.services.get_mut(&kubia).unwrap().session_affinity = Some(SessionAffinity {
                timeout: Duration::from_secs(10800),
            });
            dp.sync(&model, &only(&[&kubia])).unwrap();
            let first = ask("10.96.0.50:80").unwrap();
            for _ in 0..20 {
                assert_eq!(ask("10.96.0.50:80").unwrap(), first);
            }
            // nft still lists the table once the affinity set holds clients.
            let affinity = run("nft", &["list", "set", "ip", "ferry", "affinity"]);
            assert!(affinity.contains("10.244.0.9 . 0x"), "{affinity}");
            run("nft", &["list", "ruleset"]);

            // A port the ClusterIP does not serve is refused at once.
            assert_eq!(ask("10.96.0.50:81"), Err(ErrorKind::ConnectionRefused));

            // No endpoints: refused at once, not a timeout.
            model.services.get_mut(&kubia).unwrap().endpoints.clear();
            dp.sync(&model, &only(&[&kubia])).unwrap();
            assert_eq!(ask("10.96.0.50:80"), Err(ErrorKind::ConnectionRefused));

            // Endpoints back.
            model
                .services
                .insert(kubia.clone(), port("10.96.0.50", 80, &["10.244.0.5:8081"]));
            dp.sync(&model, &only(&[&kubia])).unwrap();
            assert_eq!(ask("10.96.0.50:80").unwrap(), "8081");

            dp.remove().unwrap();
        });
        assert_eq!(run("nft", &["list", "tables"]), "");
    });
}

/// Connects from `source` to `addr` and reads the answer, within two seconds each.
fn ask_from(source: &str, addr: &str) -> String {
    use nix::sys::socket::{
        bind, connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    use nix::sys::time::TimeVal;
    let source: SocketAddrV4 = format!("{source}:0").parse().unwrap();
    let addr: SocketAddrV4 = addr.parse().unwrap();
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    // A connect waits at most the send timeout.
    let limit = TimeVal::new(2, 0);
    setsockopt(&fd, sockopt::SendTimeout, &limit).unwrap();
    setsockopt(&fd, sockopt::ReceiveTimeout, &limit).unwrap();
    bind(fd.as_raw_fd(), &SockaddrIn::from(source)).unwrap();
    connect(fd.as_raw_fd(), &SockaddrIn::from(addr)).unwrap();
    let mut answer = String::new();
    TcpStream::from(fd).read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn hairpin_and_outside_clients_are_masqueraded() {
    in_netns(|| {
        pod_network();
        run("ip", &["addr", "add", "192.168.7.7/32", "dev", "lo"]);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let _stop = StopOnDrop(&stop);
            serve(scope, "10.244.0.5:8080", &stop);
            let kubia = name("kubia", TransportProtocol::Tcp);
            let mut model = ProxyModel::default();
            model
                .services
                .insert(kubia, port("10.96.0.50", 80, &["10.244.0.5:8080"]));
            let mut dp = NftDataplane::new(NftConfig::default()).unwrap();
            dp.sync(&model, &full()).unwrap();

            // The pod itself through its service (hairpin), a client outside the cluster's
            // pods, and another pod.
            for source in ["10.244.0.5", "192.168.7.7", "10.244.0.9"] {
                assert_eq!(ask_from(source, "10.96.0.50:80"), "8080");
            }
            let masqueraded = run("conntrack", &["-L", "--src-nat"]);
            for source in ["10.244.0.5", "192.168.7.7"] {
                let flow = format!("src={source} dst=10.96.0.50 ");
                assert!(masqueraded.contains(&flow), "{flow} in\n{masqueraded}");
            }
            assert!(!masqueraded.contains("src=10.244.0.9 "), "{masqueraded}");
            dp.remove().unwrap();
        });
    });
}

#[test]
fn node_ports_answer_on_local_addresses_and_refuse_without_endpoints() {
    in_netns(|| {
        pod_network();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let _stop = StopOnDrop(&stop);
            serve(scope, "10.244.0.5:8080", &stop);
            serve(scope, "10.244.0.5:8081", &stop);
            let web = name("web", TransportProtocol::Tcp);
            let mut model = ProxyModel::default();
            let mut web_port = port("10.96.0.60", 80, &["10.244.0.5:8080", "10.244.0.5:8081"]);
            web_port.node_port = Some(30080);
            model.services.insert(web.clone(), web_port);
            let mut dp = NftDataplane::new(NftConfig::default()).unwrap();
            dp.sync(&model, &full()).unwrap();

            let answers: Vec<String> = (0..40).map(|_| ask("10.244.0.9:30080").unwrap()).collect();
            assert!(answers.contains(&"8080".to_string()), "{answers:?}");
            assert!(answers.contains(&"8081".to_string()), "{answers:?}");
            // Node port traffic is always masqueraded.
            let masqueraded = run("conntrack", &["-L", "--src-nat"]);
            assert!(masqueraded.contains("dport=30080 "), "{masqueraded}");

            // With affinity, through the port's own chain.
            model.services.get_mut(&web).unwrap().session_affinity = Some(SessionAffinity {
                timeout: Duration::from_secs(60),
            });
            dp.sync(&model, &only(&[&web])).unwrap();
            let first = ask("10.244.0.9:30080").unwrap();
            for _ in 0..10 {
                assert_eq!(ask("10.244.0.9:30080").unwrap(), first);
            }

            model.services.get_mut(&web).unwrap().endpoints.clear();
            dp.sync(&model, &only(&[&web])).unwrap();
            assert_eq!(ask("10.244.0.9:30080"), Err(ErrorKind::ConnectionRefused));
            dp.remove().unwrap();
        });
    });
}

#[test]
fn table_is_programmed_incrementally_replaced_and_removed() {
    in_netns(|| {
        // A table a crashed run left behind, with a chain ferry would never write.
        run("nft", &["add", "table", "ip", "ferry"]);
        run("nft", &["add", "chain", "ip", "ferry", "junk"]);

        let a = name("a", TransportProtocol::Tcp);
        let b = name("b", TransportProtocol::Tcp);
        let mut model = ProxyModel::default();
        model.services.insert(
            a.clone(),
            port("10.96.0.1", 80, &["10.244.0.5:80", "10.244.0.6:80"]),
        );
        model
            .services
            .insert(b.clone(), port("10.96.0.2", 80, &["10.244.0.7:80"]));
        let mut dp = NftDataplane::new(NftConfig::default()).unwrap();
        dp.sync(&model, &full()).unwrap();
        let listing = run("nft", &["list", "table", "ip", "ferry"]);
        assert!(!listing.contains("junk"), "{listing}");
        for want in [
            "10.96.0.1 . tcp . 80 : goto endpoints-2",
            "10.96.0.2 . tcp . 80 : goto endpoints-1",
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @slots-2",
            "10.96.0.1 . tcp . 80 . 0x00000001 : 10.244.0.6 . 80",
            "10.244.0.7 . 10.244.0.7",
            "ct status dnat ip saddr . ip daddr @hairpin meta mark set meta mark | 0x00004000",
            "masquerade fully-random",
            "ip daddr @cluster-ips goto reject-chain",
            "ip daddr 10.96.0.0/12 drop",
        ] {
            assert!(listing.contains(want), "missing {want:?} in\n{listing}");
        }

        // Replacing one of a's endpoints rewrites no rule and no chain (their handles stay):
        // it is one element of the endpoint map, and b's are left alone.
        let rules = || {
            let listing = run("nft", &["-a", "list", "table", "ip", "ferry"]);
            listing
                .lines()
                .filter(|l| l.contains("# handle"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let before = rules();
        model.services.insert(
            a.clone(),
            port("10.96.0.1", 80, &["10.244.0.5:80", "10.244.0.8:80"]),
        );
        dp.sync(&model, &only(&[&a])).unwrap();
        assert_eq!(rules(), before);
        let check = |listing: &str| {
            for want in [
                "10.96.0.1 . tcp . 80 . 0x00000001 : 10.244.0.8 . 80",
                "10.96.0.2 . tcp . 80 . 0x00000000 : 10.244.0.7 . 80",
            ] {
                assert!(listing.contains(want), "missing {want:?} in\n{listing}");
            }
            assert!(!listing.contains("10.244.0.6"), "{listing}");
        };
        check(&run("nft", &["list", "table", "ip", "ferry"]));

        // A full resync gives the same table.
        dp.sync(&model, &full()).unwrap();
        check(&run("nft", &["list", "table", "ip", "ferry"]));

        assert!(cleanup_leftovers(&NftConfig::default()).unwrap());
        assert!(!cleanup_leftovers(&NftConfig::default()).unwrap());
        assert_eq!(run("nft", &["list", "tables"]), "");
    });
}

#[test]
fn udp_flows_to_a_removed_endpoint_are_deleted() {
    in_netns(|| {
        pod_network();
        let server = UdpSocket::bind("10.244.0.5:5353").unwrap();
        let dns = name("dns", TransportProtocol::Udp);
        let mut model = ProxyModel::default();
        model
            .services
            .insert(dns.clone(), port("10.96.0.53", 53, &["10.244.0.5:5353"]));
        let mut dp = NftDataplane::new(NftConfig::default()).unwrap();
        dp.sync(&model, &full()).unwrap();

        let client = UdpSocket::bind("10.244.0.9:0").unwrap();
        client.send_to(b"q", "10.96.0.53:53").unwrap();
        let mut buf = [0; 8];
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let (_, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(from.ip().to_string(), "10.244.0.9");
        let flows = run("conntrack", &["-L", "-p", "udp"]);
        assert!(
            flows.contains("dst=10.96.0.53") && flows.contains("sport=5353"),
            "{flows}"
        );

        model.services.get_mut(&dns).unwrap().endpoints.clear();
        dp.sync(&model, &only(&[&dns])).unwrap();
        let flows = run("conntrack", &["-L", "-p", "udp"]);
        assert!(!flows.contains("dst=10.96.0.53"), "{flows}");
        dp.remove().unwrap();
    });
}
