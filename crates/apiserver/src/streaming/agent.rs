//! Talking to a node agent: TLS with the API server's kubelet-client certificate (the agent's
//! serving certificate verified against the cluster CA), and the agent's URLs, whose query
//! strings are built as Go's `url.Values.Encode` builds them (sorted keys).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::streaming::location::StreamTarget;

/// How long connecting to an agent may take (Go's default dialer timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to the agent at `addr`; the error is the message kube-apiserver gives.
pub(crate) async fn connect(
    tls: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
) -> Result<TlsStream<TcpStream>, String> {
    let dial_error =
        |e: &dyn std::fmt::Display| format!("error dialing backend: dial tcp {addr}: {e}");
    let tcp = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(dial_error(&e)),
        Err(_) => return Err(dial_error(&"i/o timeout")),
    };
    let _ = tcp.set_nodelay(true);
    TlsConnector::from(tls.clone())
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
        .map_err(|e| format!("error dialing backend: tls: {e}"))
}

/// `/{endpoint}/{namespace}/{pod}/{container}?{query}`, the query's pairs sorted by key.
pub(crate) fn path(
    endpoint: &str,
    target: &StreamTarget,
    mut query: Vec<(&str, String)>,
) -> String {
    query.sort_by(|a, b| a.0.cmp(b.0));
    let encoded: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect();
    let mut path = format!(
        "/{endpoint}/{}/{}/{}",
        target.namespace, target.pod, target.container
    );
    if !encoded.is_empty() {
        path.push('?');
        path.push_str(&encoded.join("&"));
    }
    path
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_as_go_does() {
        let target = StreamTarget {
            namespace: "default".into(),
            pod: "kubia".into(),
            container: "c".into(),
            agent: "127.0.0.1:10250".parse().unwrap(),
        };
        let query = vec![
            ("stdout", "1".to_string()),
            ("command", "sh".to_string()),
            ("command", "-c".to_string()),
            ("command", "exit 3 && echo \"a/b\"".to_string()),
            ("stderr", "1".to_string()),
        ];
        assert_eq!(
            path("exec", &target, query),
            "/exec/default/kubia/c?command=sh&command=-c&command=exit+3+%26%26+echo+%22a%2Fb%22&stderr=1&stdout=1"
        );
        assert_eq!(
            path("containerLogs", &target, vec![]),
            "/containerLogs/default/kubia/c"
        );
    }
}
