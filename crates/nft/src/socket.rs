//! The NETLINK_NETFILTER socket: sends a batch in one `sendmsg`, then reads the kernel's
//! replies by sequence number; also the small dumps ferry needs (table names, conntrack).

use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkMessage, ParseableParametrized, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{NfTablesMessage, TableAttribute, TableMessage};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt};

use crate::batch::{Batch, Family, FinishedBatch, Table};
use crate::Error;

/// A netlink socket to nf_tables and conntrack in the calling thread's network namespace.
pub struct Netlink {
    socket: Socket,
    recv_buf: Vec<u8>,
    send_buf_size: usize,
    recv_buf_size: usize,
}

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// Room for replies: errors carry only the header of the failed message (NETLINK_CAP_ACK),
/// but each takes a socket buffer of its own (~1 KiB of accounting).
const REPLY_ROOM: usize = 1024;
const MIN_SOCKET_BUFFER: usize = 4 << 20;
const RECV_CHUNK: usize = 1 << 20;

impl Netlink {
    /// Opens and binds the socket.
    pub fn open() -> Result<Netlink, Error> {
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(Error::Open)?;
        socket.bind_auto().map_err(Error::Open)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(Error::Open)?;
        // Errors then echo only the failed message's header, and extended acks add the
        // kernel's reason where it gives one.
        socket.set_cap_ack(true).map_err(Error::Open)?;
        socket.set_ext_ack(true).map_err(Error::Open)?;
        let mut netlink = Netlink {
            socket,
            recv_buf: Vec::with_capacity(RECV_CHUNK),
            send_buf_size: 0,
            recv_buf_size: 0,
        };
        netlink.size_buffers(MIN_SOCKET_BUFFER, MIN_SOCKET_BUFFER)?;
        Ok(netlink)
    }

    /// Sends the batch as one transaction and waits for the kernel's verdict. Either every
    /// message took effect or none did; on failure the error names the first message the
    /// kernel rejected, with its errno.
    pub fn apply(&mut self, batch: Batch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = batch.finish();
        self.drain_stale()?;
        self.size_buffers(
            batch.buf.len() + 64 * 1024,
            (batch.acks_expected + 1) * REPLY_ROOM,
        )?;
        let sent = self
            .socket
            .send(&batch.buf, 0)
            .map_err(|source| Error::Send {
                bytes: batch.buf.len(),
                source,
            })?;
        if sent != batch.buf.len() {
            return Err(Error::Send {
                bytes: batch.buf.len(),
                source: io::Error::new(io::ErrorKind::WriteZero, "short netlink send"),
            });
        }
        self.collect_replies(&batch)
    }

    /// Names of the tables of `family`.
    pub fn tables(&mut self, family: Family) -> Result<Vec<String>, Error> {
        let header = NetfilterHeader::new(family_proto(family), 0, 0);
        let request = NetfilterMessage::new(
            header,
            NfTablesMessage::GetTable(TableMessage { attributes: vec![] }),
        );
        let mut names = Vec::new();
        self.dump(request, "list tables", |msg| {
            if let NetfilterMessageInner::NfTables(NfTablesMessage::NewTable(table)) = msg.inner {
                names.extend(table.attributes.into_iter().filter_map(|attr| match attr {
                    TableAttribute::Name(name) => Some(name),
                    _ => None,
                }));
            }
        })?;
        Ok(names)
    }

    /// Deletes the table if it exists; returns whether it did.
    pub fn delete_table_if_exists(&mut self, table: &Table) -> Result<bool, Error> {
        if !self.tables(table.family)?.contains(&table.name) {
            return Ok(false);
        }
        let mut batch = Batch::new();
        batch.delete_table(table);
        self.apply(batch)?;
        Ok(true)
    }

    /// Sends a dump request and hands every reply message to `each` until NLMSG_DONE.
    pub(crate) fn dump(
        &mut self,
        request: NetfilterMessage,
        what: &'static str,
        mut each: impl FnMut(NetfilterMessage),
    ) -> Result<(), Error> {
        self.drain_stale()?;
        let mut nl = NetlinkMessage::from(request);
        nl.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        nl.header.sequence_number = 1;
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(|source| Error::Send {
            bytes: buf.len(),
            source,
        })?;
        loop {
            self.recv(0)?;
            let mut done = false;
            for reply in replies(&self.recv_buf) {
                let reply = reply?;
                match reply.kind {
                    NLMSG_DONE => done = true,
                    NLMSG_ERROR if reply.errno != 0 => {
                        return Err(Error::Request {
                            what,
                            source: io::Error::from_raw_os_error(reply.errno),
                        })
                    }
                    NLMSG_ERROR => {}
                    kind => each(
                        NetfilterMessage::parse_with_param(reply.payload, kind)
                            .map_err(Error::Decode)?,
                    ),
                }
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Sends a request that asks for an acknowledgement and waits for it.
    pub(crate) fn request(
        &mut self,
        request: NetfilterMessage,
        flags: u16,
        what: &'static str,
    ) -> Result<(), Error> {
        let mut nl = NetlinkMessage::from(request);
        nl.header.flags = NLM_F_REQUEST | netlink_packet_core::NLM_F_ACK | flags;
        nl.header.sequence_number = 1;
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(|source| Error::Send {
            bytes: buf.len(),
            source,
        })?;
        loop {
            self.recv(0)?;
            for reply in replies(&self.recv_buf) {
                let reply = reply?;
                if reply.kind == NLMSG_ERROR {
                    if reply.errno == 0 {
                        return Ok(());
                    }
                    return Err(Error::Request {
                        what,
                        source: io::Error::from_raw_os_error(reply.errno),
                    });
                }
            }
        }
    }

    /// Reads the replies of a batch. The kernel handles a batch inside `sendmsg`, so every
    /// reply is queued by the time `send` returns and the reads never need to wait.
    fn collect_replies(&mut self, batch: &FinishedBatch) -> Result<(), Error> {
        let last = batch.offsets.len() as u32 - 2;
        let mut acked = vec![false; batch.offsets.len()];
        let mut pending = batch.acks_expected;
        let mut first_error: Option<(u32, i32)> = None;
        let mut failed = 0;
        while pending > 0 {
            if !self.recv(libc_dontwait())? {
                return Err(Error::MissingReply { seq: last });
            }
            for reply in replies(&self.recv_buf) {
                let reply = reply?;
                if reply.kind != NLMSG_ERROR {
                    continue;
                }
                let seq = reply.seq;
                if seq == 0 || seq > last {
                    // An error on BATCH_BEGIN or BATCH_END concerns the whole batch (for
                    // example ENOMEM while queueing errors, or EPERM).
                    return Err(Error::BatchRejected(io::Error::from_raw_os_error(
                        reply.errno,
                    )));
                }
                if reply.errno != 0 {
                    failed += 1;
                    if first_error.is_none_or(|(first, _)| seq < first) {
                        first_error = Some((seq, reply.errno));
                    }
                }
                let asked = batch.acks_expected > 1 || seq == last;
                if asked && !acked[seq as usize] {
                    acked[seq as usize] = true;
                    pending -= 1;
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some((seq, errno)) => Err(Error::Rejected {
                seq,
                what: batch
                    .message(seq)
                    .map(describe)
                    .unwrap_or_else(|| "unknown message".to_string()),
                failed,
                source: io::Error::from_raw_os_error(errno),
            }),
        }
    }

    /// Discards replies left over from an earlier exchange.
    fn drain_stale(&mut self) -> Result<(), Error> {
        while self.recv(libc_dontwait())? {}
        Ok(())
    }

    /// Receives one datagram into `recv_buf`; `false` when none is waiting (non-blocking).
    fn recv(&mut self, flags: i32) -> Result<bool, Error> {
        self.recv_buf.clear();
        match self.socket.recv(&mut self.recv_buf, flags) {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(err) if err.raw_os_error() == Some(nix::libc::ENOBUFS) => Err(Error::RepliesLost),
            Err(err) => Err(Error::Receive(err)),
        }
    }

    /// Grows the socket buffers (never shrinks them); SO_*BUFFORCE lifts the sysctl limits,
    /// which a multi-megabyte batch exceeds.
    fn size_buffers(&mut self, send: usize, recv: usize) -> Result<(), Error> {
        if send > self.send_buf_size {
            setsockopt(&self.socket, sockopt::SndBufForce, &send).map_err(|source| {
                Error::SocketBuffer {
                    bytes: send,
                    source,
                }
            })?;
            self.send_buf_size = send;
        }
        if recv > self.recv_buf_size {
            setsockopt(&self.socket, sockopt::RcvBufForce, &recv).map_err(|source| {
                Error::SocketBuffer {
                    bytes: recv,
                    source,
                }
            })?;
            self.recv_buf_size = recv;
        }
        Ok(())
    }
}

fn libc_dontwait() -> i32 {
    nix::libc::MSG_DONTWAIT
}

pub(crate) fn family_proto(family: Family) -> NetfilterProtoFamily {
    match family {
        Family::Ip => NetfilterProtoFamily::IPv4,
        Family::Inet => NetfilterProtoFamily::Inet,
    }
}

/// One message of a received datagram.
struct Reply<'a> {
    kind: u16,
    seq: u32,
    /// For NLMSG_ERROR: the positive errno, 0 for an acknowledgement.
    errno: i32,
    payload: &'a [u8],
}

/// Splits a datagram into its netlink messages.
fn replies(buf: &[u8]) -> impl Iterator<Item = Result<Reply<'_>, Error>> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        if offset >= buf.len() {
            return None;
        }
        let parsed = NetlinkBuffer::new_checked(&buf[offset..]).map_err(Error::Decode);
        Some(parsed.map(|msg| {
            let len = msg.length() as usize;
            offset += len.next_multiple_of(4).max(4);
            let payload = msg.payload();
            let kind = msg.message_type();
            let errno = if kind == NLMSG_ERROR && payload.len() >= 4 {
                -i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]])
            } else {
                0
            };
            Reply {
                kind,
                seq: msg.sequence_number(),
                errno,
                payload,
            }
        }))
    })
}

/// A one-line description of a serialized batch message, for error reports.
fn describe(bytes: &[u8]) -> String {
    let Ok(buf) = NetlinkBuffer::new_checked(bytes) else {
        return "undecodable message".to_string();
    };
    match NetfilterMessage::parse_with_param(buf.payload(), buf.message_type()) {
        Ok(NetfilterMessage {
            inner: NetfilterMessageInner::NfTables(msg),
            ..
        }) => crate::describe::nftables_message(&msg),
        Ok(other) => format!("{other:?}"),
        Err(_) => "undecodable message".to_string(),
    }
}
