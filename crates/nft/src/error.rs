//! The crate's error type.

use std::io;

/// What failed while talking to nf_tables or conntrack.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("open netfilter netlink socket")]
    Open(#[source] io::Error),
    #[error("size netlink socket buffers to {bytes} bytes")]
    SocketBuffer {
        bytes: usize,
        #[source]
        source: nix::Error,
    },
    #[error("send {bytes} bytes to netlink")]
    Send {
        bytes: usize,
        #[source]
        source: io::Error,
    },
    #[error("receive from netlink")]
    Receive(#[source] io::Error),
    #[error("kernel reply lost: the socket's receive buffer overflowed")]
    RepliesLost,
    #[error("kernel did not answer message {seq} of the batch")]
    MissingReply { seq: u32 },
    #[error("malformed netlink reply")]
    Decode(#[source] netlink_packet_core::DecodeError),
    #[error("kernel rejected the batch as a whole")]
    BatchRejected(#[source] io::Error),
    #[error("kernel rejected message {seq} of the batch ({what}); {failed} message(s) failed")]
    Rejected {
        seq: u32,
        what: String,
        failed: usize,
        #[source]
        source: io::Error,
    },
    #[error("kernel rejected the {what} request")]
    Request {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}
