//! Encodes and signs the three X.509 v3 certificate shapes the cluster needs: the CA, the API
//! serving certificate and client certificates.
//!
//! Encoded here rather than with rcgen's `CertificateParams` because rcgen keeps one value per
//! attribute type in a subject (rustls/rcgen#81), and Kubernetes reads every `O` of a client
//! certificate as a group. Writing the issuer as the CA certificate's own subject bytes also
//! keeps the chain exact when the CA is loaded from disk. rcgen still owns the keys: generation,
//! PEM and signing.

use std::collections::BTreeSet;
use std::net::IpAddr;

use rcgen::{KeyPair, PublicKeyData, SigningKey};
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};

use crate::der::{self, tag};
use crate::error::PkiError;

/// Who a certificate is for: `CN` and one `O` per organization (Kubernetes user and groups).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) common_name: &'a str,
    pub(crate) organizations: &'a [&'a str],
}

/// The names a serving certificate is valid for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SubjectAltNames {
    pub(crate) dns_names: BTreeSet<String>,
    pub(crate) ips: BTreeSet<IpAddr>,
}

/// What the certificate may be used for, which decides its extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Profile<'a> {
    Authority,
    Server(&'a SubjectAltNames),
    Client,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Validity {
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
}

impl Validity {
    /// Valid for `lifetime` from `now`, starting five minutes early so that a peer whose clock
    /// is slightly behind accepts a fresh certificate (kubeadm backdates the same way).
    pub(crate) fn starting(now: OffsetDateTime, lifetime: Duration) -> Self {
        Validity {
            not_before: now - Duration::minutes(5),
            not_after: now + lifetime,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Template<'a> {
    pub(crate) subject: Subject<'a>,
    pub(crate) profile: Profile<'a>,
    pub(crate) validity: Validity,
}

/// The issuing side of a signature.
pub(crate) struct Signer<'a> {
    /// The issuer's encoded subject `Name`, copied verbatim into the new certificate.
    pub(crate) name: &'a [u8],
    /// The issuer's subject key identifier, written as the authority key identifier.
    pub(crate) key_id: &'a [u8],
    pub(crate) key: &'a KeyPair,
}

/// Encodes `template` for `subject_key` and signs it with `signer`; returns the certificate DER.
pub(crate) fn sign(
    template: &Template<'_>,
    subject_key: &KeyPair,
    signer: &Signer<'_>,
) -> Result<Vec<u8>, PkiError> {
    if signer.key.algorithm() != &rcgen::PKCS_ECDSA_P256_SHA256 {
        return Err(PkiError::UnsupportedSigningKey);
    }
    let tbs = der::constructed(
        tag::SEQUENCE,
        &[
            // Version v3 is encoded as the integer 2.
            der::constructed(tag::explicit(0), &[der::tlv(tag::INTEGER, &[2])]),
            der::tlv(tag::INTEGER, &serial_number()?),
            signature_algorithm(),
            signer.name.to_vec(),
            validity(&template.validity),
            encode_name(&template.subject),
            subject_key.subject_public_key_info(),
            extensions(template, subject_key, signer)?,
        ],
    );
    let signature = signer.key.sign(&tbs).map_err(|source| PkiError::Sign {
        common_name: template.subject.common_name.to_owned(),
        source,
    })?;
    Ok(der::constructed(
        tag::SEQUENCE,
        &[tbs, signature_algorithm(), der::bit_string(&signature)],
    ))
}

/// Encodes a subject as a `Name`: the organizations, then the common name, one attribute per RDN,
/// in the order Go's `pkix.Name` writes them.
pub(crate) fn encode_name(subject: &Subject<'_>) -> Vec<u8> {
    let attribute = |oid: &[u8], value: &str| {
        let pair = der::constructed(
            tag::SEQUENCE,
            &[
                der::tlv(tag::OID, oid),
                der::tlv(tag::UTF8_STRING, value.as_bytes()),
            ],
        );
        der::constructed(tag::SET, &[pair])
    };
    let mut rdns: Vec<Vec<u8>> = subject
        .organizations
        .iter()
        .map(|org| attribute(oid::ORGANIZATION, org))
        .collect();
    rdns.push(attribute(oid::COMMON_NAME, subject.common_name));
    der::constructed(tag::SEQUENCE, &rdns)
}

/// Subject key identifier: the first 160 bits of the SHA-256 of the public key (RFC 7093 §2).
pub(crate) fn key_id(key: &impl PublicKeyData) -> Vec<u8> {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.der_bytes());
    digest.as_ref()[..20].to_vec()
}

/// OID contents (without tag and length) used in the certificates.
pub(crate) mod oid {
    pub(crate) const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    pub(crate) const ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
    pub(crate) const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    pub(crate) const SUBJECT_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x0e];
    pub(crate) const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    pub(crate) const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    pub(crate) const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub(crate) const AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x23];
    pub(crate) const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub(crate) const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    pub(crate) const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
}

/// KeyUsage BIT STRING contents: the count of unused trailing bits, then the bits
/// (digitalSignature is bit 0, keyCertSign bit 5, cRLSign bit 6).
const KEY_USAGE_AUTHORITY: &[u8] = &[0x01, 0x86];
const KEY_USAGE_LEAF: &[u8] = &[0x07, 0x80];

/// A random positive serial of 127 bits. Setting the second-highest bit keeps the first byte
/// in 0x40..=0x7f, so the INTEGER is positive and minimally encoded without a leading zero.
fn serial_number() -> Result<[u8; 16], PkiError> {
    let mut serial = [0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| PkiError::Random)?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    Ok(serial)
}

fn signature_algorithm() -> Vec<u8> {
    der::constructed(tag::SEQUENCE, &[der::tlv(tag::OID, oid::ECDSA_WITH_SHA256)])
}

fn validity(validity: &Validity) -> Vec<u8> {
    der::constructed(
        tag::SEQUENCE,
        &[time(validity.not_before), time(validity.not_after)],
    )
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC.
fn time(at: OffsetDateTime) -> Vec<u8> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let year = at.year();
    if (1950..2050).contains(&year) {
        der::tlv(tag::UTC_TIME, format!("{:02}{rest}", year % 100).as_bytes())
    } else {
        der::tlv(tag::GENERALIZED_TIME, format!("{year:04}{rest}").as_bytes())
    }
}

fn extensions(
    template: &Template<'_>,
    subject_key: &KeyPair,
    signer: &Signer<'_>,
) -> Result<Vec<u8>, PkiError> {
    let mut list = Vec::new();
    match template.profile {
        Profile::Authority => {
            // cA TRUE, no path length limit.
            let ca_true = der::tlv(tag::BOOLEAN, &[0xff]);
            list.push(extension(
                oid::BASIC_CONSTRAINTS,
                Criticality::Critical,
                der::constructed(tag::SEQUENCE, &[ca_true]),
            ));
            list.push(key_usage(KEY_USAGE_AUTHORITY));
            list.push(extension(
                oid::SUBJECT_KEY_IDENTIFIER,
                Criticality::NonCritical,
                der::tlv(tag::OCTET_STRING, &key_id(subject_key)),
            ));
        }
        Profile::Server(names) => {
            list.extend(leaf_extensions(oid::SERVER_AUTH, signer));
            list.push(subject_alt_names(names)?);
        }
        Profile::Client => list.extend(leaf_extensions(oid::CLIENT_AUTH, signer)),
    }
    let all = der::constructed(tag::SEQUENCE, &list);
    Ok(der::constructed(tag::explicit(3), &[all]))
}

fn leaf_extensions(purpose: &[u8], signer: &Signer<'_>) -> [Vec<u8>; 4] {
    let authority_key_id =
        der::constructed(tag::SEQUENCE, &[der::tlv(tag::implicit(0), signer.key_id)]);
    [
        // An empty BasicConstraints means cA FALSE.
        extension(
            oid::BASIC_CONSTRAINTS,
            Criticality::Critical,
            der::constructed(tag::SEQUENCE, &[]),
        ),
        key_usage(KEY_USAGE_LEAF),
        extension(
            oid::EXT_KEY_USAGE,
            Criticality::NonCritical,
            der::constructed(tag::SEQUENCE, &[der::tlv(tag::OID, purpose)]),
        ),
        extension(
            oid::AUTHORITY_KEY_IDENTIFIER,
            Criticality::NonCritical,
            authority_key_id,
        ),
    ]
}

fn subject_alt_names(names: &SubjectAltNames) -> Result<Vec<u8>, PkiError> {
    let mut general_names = Vec::new();
    for name in &names.dns_names {
        if name.is_empty() || !name.is_ascii() {
            return Err(PkiError::InvalidDnsName { name: name.clone() });
        }
        general_names.push(der::tlv(tag::implicit(2), name.as_bytes()));
    }
    for ip in &names.ips {
        let octets = match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        general_names.push(der::tlv(tag::implicit(7), &octets));
    }
    Ok(extension(
        oid::SUBJECT_ALT_NAME,
        Criticality::NonCritical,
        der::constructed(tag::SEQUENCE, &general_names),
    ))
}

fn key_usage(bits: &[u8]) -> Vec<u8> {
    extension(
        oid::KEY_USAGE,
        Criticality::Critical,
        der::tlv(tag::BIT_STRING, bits),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Criticality {
    Critical,
    NonCritical,
}

/// `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`;
/// DER leaves out a FALSE default.
fn extension(id: &[u8], criticality: Criticality, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![der::tlv(tag::OID, id)];
    if criticality == Criticality::Critical {
        parts.push(der::tlv(tag::BOOLEAN, &[0xff]));
    }
    parts.push(der::tlv(tag::OCTET_STRING, &value));
    der::constructed(tag::SEQUENCE, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_switch_to_generalized_in_2050() {
        assert_eq!(
            time(utc(2049, 12, 31, 23, 59, 59)),
            der::tlv(tag::UTC_TIME, b"491231235959Z")
        );
        assert_eq!(
            time(utc(2050, 1, 1, 0, 0, 0)),
            der::tlv(tag::GENERALIZED_TIME, b"20500101000000Z")
        );
    }

    fn utc(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> OffsetDateTime {
        let date = time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day)
            .unwrap();
        let time = time::Time::from_hms(hour, minute, second).unwrap();
        time::PrimitiveDateTime::new(date, time).assume_utc()
    }

    #[test]
    fn serial_is_positive_and_minimal() {
        for _ in 0..64 {
            let serial = serial_number().unwrap();
            assert!((0x40..=0x7f).contains(&serial[0]), "{serial:?}");
        }
    }

    #[test]
    fn name_lists_organizations_before_the_common_name() {
        let name = encode_name(&Subject {
            common_name: "u",
            organizations: &["a", "b"],
        });
        let expected = [
            "3024",                     // SEQUENCE of three RDNs
            "310a3008060355040a0c0161", // O=a
            "310a3008060355040a0c0162", // O=b
            "310a300806035504030c0175", // CN=u
        ];
        assert_eq!(hex(&name), expected.concat());
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
