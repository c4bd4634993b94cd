//! The few DER primitives the certificate code needs: writing a tag-length-value element and
//! walking the elements of a constructed one. Only single-byte tags and definite lengths, which is
//! all X.509 uses; malformed input yields `None`, never a panic.

/// Universal and context tags used by X.509.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTF8_STRING: u8 = 0x0c;
    pub(crate) const PRINTABLE_STRING: u8 = 0x13;
    pub(crate) const IA5_STRING: u8 = 0x16;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const BMP_STRING: u8 = 0x1e;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;

    /// `[n] EXPLICIT` (constructed, context-specific).
    pub(crate) const fn explicit(n: u8) -> u8 {
        0xa0 | n
    }

    /// `[n] IMPLICIT` over a primitive type (context-specific).
    pub(crate) const fn implicit(n: u8) -> u8 {
        0x80 | n
    }
}

/// Encodes one element: `tag`, the definite length of `content`, `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Encodes a constructed element (SEQUENCE, SET, explicit tag) from already encoded parts.
pub(crate) fn constructed(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// A BIT STRING whose content is whole bytes (signatures, public keys).
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &content)
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Short form; the cast cannot truncate below 0x80.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let significant = &bytes[first..];
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// One decoded element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub(crate) tag: u8,
    pub(crate) content: &'a [u8],
    /// The whole element including tag and length, for comparing names byte for byte.
    pub(crate) encoded: &'a [u8],
}

/// Reads the elements of a constructed element's content one after another.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, or `None` at the end or on malformed input.
    pub(crate) fn next_element(&mut self) -> Option<Element<'a>> {
        let (element, rest) = split_element(self.rest)?;
        self.rest = rest;
        Some(element)
    }

    /// The next element if it has `tag`; otherwise nothing is consumed.
    pub(crate) fn optional(&mut self, tag: u8) -> Option<Element<'a>> {
        let (element, rest) = split_element(self.rest)?;
        if element.tag != tag {
            return None;
        }
        self.rest = rest;
        Some(element)
    }

    /// The next element, which must have `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Option<Element<'a>> {
        let element = self.next_element()?;
        (element.tag == tag).then_some(element)
    }
}

/// Parses `input` as exactly one element with `tag` and nothing after it.
pub(crate) fn single(input: &[u8], tag: u8) -> Option<Element<'_>> {
    let (element, rest) = split_element(input)?;
    (element.tag == tag && rest.is_empty()).then_some(element)
}

fn split_element(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    // High tag numbers (0x1f) never occur in X.509.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (len, after_len) = read_length(after_tag)?;
    if len > after_len.len() {
        return None;
    }
    let (content, rest) = after_len.split_at(len);
    let header_len = input.len() - after_len.len();
    let element = Element {
        tag,
        content,
        encoded: &input[..header_len + len],
    };
    Some((element, rest))
}

fn read_length(input: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first < 0x80 {
        return Some((usize::from(first), rest));
    }
    // 0x80 is the indefinite length, which DER forbids; more than four length bytes would
    // describe a certificate larger than anything we read.
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 || rest.len() < count {
        return None;
    }
    let (bytes, rest) = rest.split_at(count);
    let len = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((len, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let content = vec![0x5a; len];
            let encoded = tlv(tag::OCTET_STRING, &content);
            let element = single(&encoded, tag::OCTET_STRING).unwrap();
            assert_eq!(element.content.len(), len, "length {len}");
            assert_eq!(element.encoded, &encoded[..]);
        }
    }

    #[test]
    fn long_form_uses_the_fewest_bytes() {
        assert_eq!(&tlv(tag::OCTET_STRING, &[0; 128])[..3], &[0x04, 0x81, 0x80]);
        assert_eq!(
            &tlv(tag::OCTET_STRING, &[0; 256])[..4],
            &[0x04, 0x82, 0x01, 0x00]
        );
    }

    #[test]
    fn malformed_input_is_rejected() {
        let cases: &[(&str, &[u8])] = &[
            ("empty", &[]),
            ("no length", &[0x30]),
            ("indefinite length", &[0x30, 0x80, 0x00, 0x00]),
            ("content shorter than length", &[0x04, 0x03, 0x01]),
            ("length bytes missing", &[0x04, 0x82, 0x01]),
            ("high tag number", &[0x1f, 0x01, 0x00]),
            ("trailing bytes", &[0x05, 0x00, 0x00]),
        ];
        for (name, input) in cases {
            assert_eq!(
                single(input, input.first().copied().unwrap_or(0)),
                None,
                "{name}"
            );
        }
    }

    #[test]
    fn reader_walks_a_sequence_and_skips_absent_optionals() {
        let seq = constructed(
            tag::SEQUENCE,
            &[tlv(tag::INTEGER, &[1]), tlv(tag::BOOLEAN, &[0xff])],
        );
        let outer = single(&seq, tag::SEQUENCE).unwrap();
        let mut reader = Reader::new(outer.content);
        assert_eq!(reader.optional(tag::explicit(0)), None);
        assert_eq!(reader.expect(tag::INTEGER).unwrap().content, &[1]);
        assert_eq!(reader.expect(tag::INTEGER), None);
        assert!(reader.is_empty());
    }
}
