//! The cluster certificate authority and the certificate-plus-key pairs it hands out.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rcgen::{KeyPair, PublicKeyData};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::certificate::{self, Profile, Signer, Subject, Template, Validity};
use crate::error::PkiError;
use crate::parse::{parse_certificate, ParsedCertificate};

/// A certificate and its private key, both as PEM (PKCS#8 for the key).
pub struct CertifiedKey {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

impl CertifiedKey {
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    pub(crate) fn new(cert_der: Vec<u8>, key: &KeyPair) -> Self {
        CertifiedKey {
            cert_pem: pem_encode("CERTIFICATE", &cert_der),
            key_pem: key.serialize_pem(),
            cert_der: CertificateDer::from(cert_der),
            key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// The pair read back from PEM, or `None` unless both parse and the key belongs to the
    /// certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Option<Self> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).ok()?;
        let key = KeyPair::from_pem(key_pem).ok()?;
        let parsed = parse_certificate(&cert_der)?;
        if parsed.public_key_info != key.subject_public_key_info() {
            return None;
        }
        Some(CertifiedKey::new(cert_der.to_vec(), &key))
    }

    pub(crate) fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key_der.clone_key())
    }
}

impl fmt::Debug for CertifiedKey {
    // The key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The CA: its certificate and key, plus the two values every issued certificate copies.
pub(crate) struct CertificateAuthority {
    certified: CertifiedKey,
    key: KeyPair,
    /// The CA certificate's encoded subject, written verbatim as the issuer of what it signs.
    name: Vec<u8>,
    key_id: Vec<u8>,
}

/// Where the CA came from, for error messages.
pub(crate) struct CaFiles<'a> {
    pub(crate) cert: &'a Path,
    pub(crate) key: &'a Path,
}

impl CertificateAuthority {
    /// A new self-signed CA with a fresh key.
    pub(crate) fn create(common_name: &str, validity: Validity) -> Result<Self, PkiError> {
        let key = KeyPair::generate().map_err(PkiError::GenerateKey)?;
        let subject = Subject {
            common_name,
            organizations: &[],
        };
        let name = certificate::encode_name(&subject);
        let key_id = certificate::key_id(&key);
        let template = Template {
            subject,
            profile: Profile::Authority,
            validity,
        };
        let signer = Signer {
            name: &name,
            key_id: &key_id,
            key: &key,
        };
        let der = certificate::sign(&template, &key, &signer)?;
        Ok(CertificateAuthority {
            certified: CertifiedKey::new(der, &key),
            key,
            name,
            key_id,
        })
    }

    /// The CA read back from its files' contents.
    pub(crate) fn load(
        cert_pem: &str,
        key_pem: &str,
        files: &CaFiles<'_>,
    ) -> Result<Self, PkiError> {
        let malformed = || PkiError::MalformedCaCertificate {
            path: files.cert.to_owned(),
        };
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|_| malformed())?;
        let parsed = parse_certificate(&cert_der).ok_or_else(malformed)?;
        let key = KeyPair::from_pem(key_pem).map_err(|source| PkiError::MalformedCaKey {
            path: files.key.to_owned(),
            source,
        })?;
        if parsed.public_key_info != key.subject_public_key_info() {
            return Err(PkiError::CaKeyMismatch {
                cert: files.cert.to_owned(),
                key: files.key.to_owned(),
            });
        }
        let key_id = parsed
            .subject_key_id
            .map_or_else(|| certificate::key_id(&key), <[u8]>::to_vec);
        Ok(CertificateAuthority {
            name: parsed.subject.to_vec(),
            key_id,
            certified: CertifiedKey::new(cert_der.to_vec(), &key),
            key,
        })
    }

    /// Issues a certificate for a fresh key.
    pub(crate) fn issue(&self, template: &Template<'_>) -> Result<CertifiedKey, PkiError> {
        let key = KeyPair::generate().map_err(PkiError::GenerateKey)?;
        let signer = Signer {
            name: &self.name,
            key_id: &self.key_id,
            key: &self.key,
        };
        let der = certificate::sign(template, &key, &signer)?;
        Ok(CertifiedKey::new(der, &key))
    }

    /// Whether this CA issued the certificate: its name is the issuer and its key made the
    /// signature.
    pub(crate) fn is_issuer_of(&self, parsed: &ParsedCertificate<'_>) -> bool {
        let public_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, self.key.public_key_raw());
        parsed.issuer == self.name.as_slice()
            && public_key.verify(parsed.tbs, parsed.signature).is_ok()
    }

    pub(crate) fn certified(&self) -> &CertifiedKey {
        &self.certified
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // Base64 output is ASCII, so splitting at any byte offset stays on character boundaries.
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_64_characters() {
        let pem = pem_encode("CERTIFICATE", &[7; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(back.as_ref(), &[7; 100]);
    }
}
