//! Reads back the fields of a certificate that the PKI decides on: names, validity, public key,
//! key identifier and subject alternative names. Anything malformed yields `None`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::certificate::{oid, SubjectAltNames};
use crate::der::{self, tag, Element, Reader};

/// The parts of a certificate the PKI looks at, borrowed from its DER.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCertificate<'a> {
    /// The encoded issuer `Name`.
    pub(crate) issuer: &'a [u8],
    /// The encoded subject `Name`.
    pub(crate) subject: &'a [u8],
    pub(crate) not_after: OffsetDateTime,
    /// The encoded SubjectPublicKeyInfo.
    pub(crate) public_key_info: &'a [u8],
    pub(crate) subject_key_id: Option<&'a [u8]>,
    pub(crate) alt_names: SubjectAltNames,
    /// The signed part, as encoded, and the signature over it.
    pub(crate) tbs: &'a [u8],
    pub(crate) signature: &'a [u8],
}

/// One attribute of a `Name` whose value is a directory string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameAttribute<'a> {
    pub(crate) oid: &'a [u8],
    /// The decoded string, or `None` when the value is not a string type we read.
    pub(crate) value: Option<String>,
}

pub(crate) fn parse_certificate(der_bytes: &[u8]) -> Option<ParsedCertificate<'_>> {
    let certificate = der::single(der_bytes, tag::SEQUENCE)?;
    let mut outer = Reader::new(certificate.content);
    let tbs = outer.expect(tag::SEQUENCE)?;
    outer.expect(tag::SEQUENCE)?;
    // A signature is whole bytes: the BIT STRING's unused-bits count must be zero.
    let signature = match outer.expect(tag::BIT_STRING)?.content.split_first()? {
        (0, signature) => signature,
        _ => return None,
    };
    let mut fields = Reader::new(tbs.content);
    // The version is absent for v1 certificates.
    fields.optional(tag::explicit(0));
    fields.expect(tag::INTEGER)?;
    fields.expect(tag::SEQUENCE)?;
    let issuer = fields.expect(tag::SEQUENCE)?;
    let not_after = not_after(fields.expect(tag::SEQUENCE)?)?;
    let subject = fields.expect(tag::SEQUENCE)?;
    let public_key_info = fields.expect(tag::SEQUENCE)?;
    // issuerUniqueID and subjectUniqueID, never used in practice.
    fields.optional(tag::implicit(1));
    fields.optional(tag::implicit(2));
    let mut parsed = ParsedCertificate {
        issuer: issuer.encoded,
        subject: subject.encoded,
        not_after,
        public_key_info: public_key_info.encoded,
        subject_key_id: None,
        alt_names: SubjectAltNames::default(),
        tbs: tbs.encoded,
        signature,
    };
    if let Some(extensions) = fields.optional(tag::explicit(3)) {
        read_extensions(extensions, &mut parsed)?;
    }
    Some(parsed)
}

/// The attributes of an encoded `Name`, in order, multi-valued RDNs flattened.
pub(crate) fn name_attributes(name: &[u8]) -> Option<Vec<NameAttribute<'_>>> {
    let name = der::single(name, tag::SEQUENCE)?;
    let mut rdns = Reader::new(name.content);
    let mut attributes = Vec::new();
    while !rdns.is_empty() {
        let rdn = rdns.expect(tag::SET)?;
        let mut pairs = Reader::new(rdn.content);
        while !pairs.is_empty() {
            let pair = pairs.expect(tag::SEQUENCE)?;
            let mut fields = Reader::new(pair.content);
            let oid = fields.expect(tag::OID)?.content;
            let value = fields.next_element()?;
            attributes.push(NameAttribute {
                oid,
                value: directory_string(value),
            });
        }
    }
    Some(attributes)
}

fn directory_string(value: Element<'_>) -> Option<String> {
    match value.tag {
        tag::UTF8_STRING => String::from_utf8(value.content.to_vec()).ok(),
        tag::PRINTABLE_STRING | tag::IA5_STRING if value.content.is_ascii() => {
            String::from_utf8(value.content.to_vec()).ok()
        }
        tag::BMP_STRING => {
            let pairs = value.content.chunks_exact(2);
            if !pairs.remainder().is_empty() {
                return None;
            }
            let units = pairs.map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

fn not_after(validity: Element<'_>) -> Option<OffsetDateTime> {
    let mut times = Reader::new(validity.content);
    times.next_element()?;
    let not_after = times.next_element()?;
    parse_time(not_after)
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(element: Element<'_>) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(element.content).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (element.tag, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy: i32 = digits[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (tag::GENERALIZED_TIME, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let field = |i: usize| rest[i..i + 2].parse::<u8>().ok();
    let date = Date::from_calendar_date(year, Month::try_from(field(0)?).ok()?, field(2)?).ok()?;
    let time = Time::from_hms(field(4)?, field(6)?, field(8)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

fn read_extensions<'a>(explicit: Element<'a>, parsed: &mut ParsedCertificate<'a>) -> Option<()> {
    let list = der::single(explicit.content, tag::SEQUENCE)?;
    let mut extensions = Reader::new(list.content);
    while !extensions.is_empty() {
        let extension = extensions.expect(tag::SEQUENCE)?;
        let mut fields = Reader::new(extension.content);
        let id = fields.expect(tag::OID)?.content;
        fields.optional(tag::BOOLEAN);
        let value = fields.expect(tag::OCTET_STRING)?.content;
        if id == oid::SUBJECT_ALT_NAME {
            parsed.alt_names = alt_names(value)?;
        } else if id == oid::SUBJECT_KEY_IDENTIFIER {
            parsed.subject_key_id = Some(der::single(value, tag::OCTET_STRING)?.content);
        }
    }
    Some(())
}

/// DNS names (`[2] IA5String`) and IP addresses (`[7] OCTET STRING`); other name forms are
/// skipped.
fn alt_names(value: &[u8]) -> Option<SubjectAltNames> {
    let names = der::single(value, tag::SEQUENCE)?;
    let mut reader = Reader::new(names.content);
    let mut alt_names = SubjectAltNames::default();
    while let Some(name) = reader.next_element() {
        if name.tag == tag::implicit(2) {
            let dns = std::str::from_utf8(name.content).ok()?;
            alt_names.dns_names.insert(dns.to_owned());
        } else if name.tag == tag::implicit(7) {
            alt_names.ips.insert(ip_address(name.content)?);
        }
    }
    reader.is_empty().then_some(alt_names)
}

fn ip_address(octets: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(octets) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = <[u8; 16]>::try_from(octets).ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(v6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(tag: u8, content: &str) -> Vec<u8> {
        der::tlv(tag, content.as_bytes())
    }

    #[test]
    fn times() {
        let cases = [
            (
                element(tag::UTC_TIME, "491231235959Z"),
                Some("2049-12-31 23:59:59.0 +00:00:00"),
            ),
            (
                element(tag::UTC_TIME, "500101000000Z"),
                Some("1950-01-01 0:00:00.0 +00:00:00"),
            ),
            (
                element(tag::GENERALIZED_TIME, "20500101000000Z"),
                Some("2050-01-01 0:00:00.0 +00:00:00"),
            ),
            (element(tag::UTC_TIME, "491231235959"), None),
            (element(tag::UTC_TIME, "20500101000000Z"), None),
            (element(tag::UTC_TIME, "491331235959Z"), None),
            (element(tag::GENERALIZED_TIME, "2050010100000+Z"), None),
        ];
        for (encoded, want) in cases {
            let got = parse_time(der::single(&encoded, encoded[0]).unwrap());
            assert_eq!(got.map(|t| t.to_string()).as_deref(), want, "{encoded:?}");
        }
    }

    #[test]
    fn directory_strings() {
        let bmp = der::tlv(tag::BMP_STRING, &[0x00, 0x61, 0x00, 0xe9]);
        let cases = [
            (element(tag::UTF8_STRING, "système"), Some("système")),
            (element(tag::PRINTABLE_STRING, "kubelet"), Some("kubelet")),
            (element(tag::IA5_STRING, "a@b"), Some("a@b")),
            (bmp, Some("aé")),
            (der::tlv(tag::BMP_STRING, &[0x00]), None),
            (der::tlv(tag::PRINTABLE_STRING, &[0xe9]), None),
            (der::tlv(tag::INTEGER, &[1]), None),
        ];
        for (encoded, want) in cases {
            let value = der::single(&encoded, encoded[0]).unwrap();
            assert_eq!(directory_string(value).as_deref(), want, "{encoded:?}");
        }
    }

    #[test]
    fn damaged_certificates_never_panic() {
        use crate::authority::CertificateAuthority;
        use crate::certificate::{Profile, Subject, Template, Validity};

        let now = OffsetDateTime::now_utc();
        let validity = Validity::starting(now, time::Duration::days(1));
        let ca = CertificateAuthority::create("ca", validity).unwrap();
        let names = SubjectAltNames {
            dns_names: ["a.example".to_owned()].into(),
            ips: ["10.0.0.1".parse().unwrap()].into(),
        };
        let leaf = ca
            .issue(&Template {
                subject: Subject {
                    common_name: "u",
                    organizations: &["g"],
                },
                profile: Profile::Server(&names),
                validity,
            })
            .unwrap();
        let der = leaf.cert_der().to_vec();
        assert_eq!(parse_certificate(&der).unwrap().alt_names, names);
        for len in 0..der.len() {
            assert!(parse_certificate(&der[..len]).is_none(), "prefix {len}");
        }
        for i in 0..der.len() {
            for bit in 0..8 {
                let mut damaged = der.clone();
                damaged[i] ^= 1 << bit;
                if let Some(parsed) = parse_certificate(&damaged) {
                    let _ = name_attributes(parsed.subject);
                }
            }
        }
    }

    #[test]
    fn ip_addresses_are_four_or_sixteen_bytes() {
        assert_eq!(
            ip_address(&[10, 96, 0, 1]),
            Some("10.96.0.1".parse().unwrap())
        );
        assert_eq!(ip_address(&[0; 16]), Some("::".parse().unwrap()));
        assert_eq!(ip_address(&[1, 2, 3]), None);
    }
}
