//! What can stop the DNS server. A query that cannot be answered is not an error here: it gets
//! an error response code.

use std::io;
use std::path::PathBuf;

/// Why the DNS server could not start or stopped before its shutdown was asked for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured cluster domain is not a domain name.
    #[error("invalid cluster domain {zone:?}")]
    Zone {
        zone: String,
        #[source]
        source: hickory_proto::ProtoError,
    },
    /// The resolv.conf naming the upstream resolvers could not be read.
    #[error("read {}", path.display())]
    ResolvConf {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The API table does not serve a resource the DNS server reflects.
    #[error("resource {0} is not served")]
    UnknownResource(&'static str),
    /// A reflector's channel closed although the DNS server is still running.
    #[error("the {0} reflector stopped")]
    ReflectorStopped(&'static str),
    /// Receiving on the UDP socket failed for good.
    #[error("receive on the UDP socket")]
    UdpReceive(#[source] io::Error),
    /// Accepting on the TCP listener failed for good.
    #[error("accept on the TCP listener")]
    TcpAccept(#[source] io::Error),
}
