//! How long programming takes at scale: 10,000 service ports with 5 endpoints each in one
//! full sync, then a one-service change on top, in a network namespace of the test's own.

mod support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use ferry_proxy::{
    ChangedServices, Dataplane, Endpoint, ProxyModel, ServicePort, ServicePortName,
    TransportProtocol,
};
use ferry_proxy_nft::{NftConfig, NftDataplane};
use support::{in_netns, run};

fn name(i: u32) -> ServicePortName {
    ServicePortName {
        namespace: format!("ns-{}", i % 100),
        name: format!("svc-{i}"),
        port: "p80".into(),
        protocol: TransportProtocol::Tcp,
    }
}

fn port(i: u32, first_endpoint: u32) -> ServicePort {
    let vip = u32::from(Ipv4Addr::new(10, 96, 0, 10)) + i;
    ServicePort {
        cluster_ip: Ipv4Addr::from(vip),
        port: 80,
        node_port: None,
        external_ips: vec![],
        session_affinity: None,
        endpoints: (first_endpoint..first_endpoint + 5)
            .map(|e| Endpoint {
                address: SocketAddrV4::new(
                    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + e),
                    8080,
                ),
                ready: true,
                serving: true,
                terminating: false,
                is_local: false,
            })
            .collect(),
    }
}

#[test]
fn ten_thousand_services() {
    in_netns(|| {
        let mut model = ProxyModel::default();
        for i in 0..10_000 {
            model.services.insert(name(i), port(i, i * 5));
        }
        let mut dp = NftDataplane::new(NftConfig::default()).unwrap();
        let start = Instant::now();
        dp.sync(
            &model,
            &ChangedServices {
                full: true,
                ..Default::default()
            },
        )
        .unwrap();
        let full = start.elapsed();

        // One service's last endpoint replaced.
        let fresh = SocketAddrV4::new(Ipv4Addr::new(10, 200, 0, 1), 8080);
        let mut changed_port = port(5000, 5000 * 5);
        changed_port.endpoints[4].address = fresh;
        model.services.insert(name(5000), changed_port);
        let changed = ChangedServices {
            names: [name(5000)].into(),
            full: false,
        };
        let start = Instant::now();
        dp.sync(&model, &changed).unwrap();
        let incremental = start.elapsed();
        eprintln!("10k x 5: full sync {full:?}, one-service change {incremental:?}");

        let chain = run("nft", &["list", "chain", "ip", "ferry", "endpoints-5"]);
        assert!(
            chain.contains("numgen random mod 5 map @slots-5"),
            "{chain}"
        );
        let listing = run("nft", &["list", "map", "ip", "ferry", "service-ips"]);
        assert_eq!(listing.matches(": goto endpoints-5").count(), 10_000);
        // The replaced endpoint took the slot of the one it replaced.
        let endpoints = run("nft", &["list", "map", "ip", "ferry", "slots-5"]);
        let slot = format!(
            "{} . tcp . 80 . 0x00000004 : {} . {}",
            port(5000, 0).cluster_ip,
            fresh.ip(),
            fresh.port()
        );
        assert!(endpoints.contains(&slot), "missing {slot}");
        // Generous bounds: a debug build on a shared 2-core machine; the bench measures
        // the release build.
        assert!(full < Duration::from_secs(30), "full sync took {full:?}");
        assert!(
            incremental < Duration::from_millis(500),
            "change took {incremental:?}"
        );
        dp.remove().unwrap();
        assert_eq!(run("nft", &["list", "tables"]), "");
    });
}
