//! The error type of `ferry-hostnet`.

use std::io;
use std::path::PathBuf;

/// What failed; each variant names the object and keeps the kernel's answer (boxed: a netlink
/// error carries the whole request message).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid IPv4 prefix {text:?}")]
    Cidr { text: String },
    #[error("open a netlink socket")]
    Connect(#[source] io::Error),
    #[error("start a thread to work in a network namespace")]
    SpawnThread(#[source] io::Error),
    #[error("the thread working in a network namespace ended without an answer")]
    NamespaceThread,
    #[error("enter a network namespace")]
    EnterNetns(#[source] ferry_sys::Error),
    #[error("{operation} network namespace {name}")]
    Netns {
        operation: &'static str,
        name: String,
        #[source]
        source: ferry_sys::Error,
    },
    #[error("{operation} {}", path.display())]
    File {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("network namespace name {name:?} is not a single path component")]
    NetnsName { name: String },
    #[error("network namespace {name} already exists")]
    NetnsExists { name: String },
    #[error("link name {name:?} is empty or longer than 15 bytes")]
    LinkName { name: String },
    #[error("link {name} does not exist")]
    NoSuchLink { name: String },
    #[error("{operation} link {name}")]
    Link {
        operation: &'static str,
        name: String,
        #[source]
        source: Box<rtnetlink::Error>,
    },
    #[error("list links")]
    ListLinks(#[source] Box<rtnetlink::Error>),
    #[error("{operation} address {address} on {link}")]
    Address {
        operation: &'static str,
        address: String,
        link: String,
        #[source]
        source: Box<rtnetlink::Error>,
    },
    #[error("{operation} route to {destination}")]
    Route {
        operation: &'static str,
        destination: String,
        #[source]
        source: Box<rtnetlink::Error>,
    },
    #[error("cleaning up needs a non-empty name prefix")]
    EmptyPrefix,
    #[error("write sysctl {key}")]
    Sysctl {
        key: String,
        #[source]
        source: io::Error,
    },
}

/// The errno of a netlink error reply, if that is what `error` is.
pub(crate) fn netlink_errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| -code.get()),
        _ => None,
    }
}
