//! Netlink attributes and nfnetlink messages written straight into a byte buffer: a batch of
//! ten thousands of rules and elements is encoded without building a tree of attribute values
//! first (which cost more than the kernel's work on a full load).

/// The attribute header: 16-bit length (header included, padding excluded), 16-bit type.
const NLA_HEADER: usize = 4;
/// The nlmsghdr (16 bytes) and nfgenmsg (4 bytes) in front of every nfnetlink message.
const MESSAGE_HEADER: usize = 20;
pub(crate) const NLA_F_NESTED: u16 = 1 << 15;

/// Appends one attribute with the given value, padded to 4 bytes.
pub(crate) fn put(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = NLA_HEADER + value.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    pad(buf);
}

/// A 32-bit attribute in network order, as nf_tables wants every integer.
pub(crate) fn put_u32(buf: &mut Vec<u8>, kind: u16, value: u32) {
    put(buf, kind, &value.to_be_bytes());
}

/// A 64-bit attribute in network order.
pub(crate) fn put_u64(buf: &mut Vec<u8>, kind: u16, value: u64) {
    put(buf, kind, &value.to_be_bytes());
}

/// A NUL-terminated string attribute.
pub(crate) fn put_str(buf: &mut Vec<u8>, kind: u16, value: &str) {
    let len = NLA_HEADER + value.len() + 1;
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value.as_bytes());
    buf.push(0);
    pad(buf);
}

/// Opens a nested attribute; [`end_nested`] with the returned offset closes it.
pub(crate) fn begin_nested(buf: &mut Vec<u8>, kind: u16) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    start
}

/// Writes the length of the nested attribute opened at `start`. Nested attributes longer than
/// 64 KiB can not be expressed; callers keep element lists below that.
pub(crate) fn end_nested(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u16;
    buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

/// The header of one nfnetlink message; [`end_message`] writes its length.
pub(crate) struct MessageHeader {
    pub(crate) kind: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) family: u8,
    /// nfgenmsg's res_id: the subsystem id for batch control messages, else 0.
    pub(crate) res_id: u16,
}

/// Starts a message at the end of `buf`; returns its offset.
pub(crate) fn begin_message(buf: &mut Vec<u8>, header: &MessageHeader) -> usize {
    let start = buf.len();
    buf.reserve(MESSAGE_HEADER);
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&header.kind.to_ne_bytes());
    buf.extend_from_slice(&header.flags.to_ne_bytes());
    buf.extend_from_slice(&header.seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(header.family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&header.res_id.to_be_bytes());
    start
}

/// Writes the length of the message started at `start`.
pub(crate) fn end_message(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn pad(buf: &mut Vec<u8>) {
    buf.resize(buf.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested_lengths_cover_their_content() {
        let mut buf = Vec::new();
        let outer = begin_nested(&mut buf, 2);
        put_str(&mut buf, 1, "nat");
        put(&mut buf, 3, &[1]);
        end_nested(&mut buf, outer);
        assert_eq!(
            buf,
            [
                20, 0, 2, 0x80, // nested, 20 bytes
                8, 0, 1, 0, b'n', b'a', b't', 0, // "nat\0"
                5, 0, 3, 0, 1, 0, 0, 0, // one byte, padded
            ]
        );
    }
}
