//! The registry client's TLS settings, as podman and skopeo make them: trust the bundled roots,
//! the given CA bundles (the system store) and each certificate directory's `*.crt`; present
//! the client certificate of a `*.cert` / `*.key` pair found there; or, with verification off,
//! accept any server certificate (its handshake signatures are still checked).
//!
//! A server certificate that is itself one of the trusted certificates is accepted when it
//! names the server and is within its validity, whatever its basic constraints: what the
//! registry docs have users do (`openssl req -x509` for the registry, its certificate copied
//! to `certs.d/HOST:PORT/ca.crt`) makes a self-signed certificate marked CA:TRUE, which Go's
//! verifier (podman, skopeo, docker) accepts as a root that is also the leaf, and webpki
//! alone refuses (`CaUsedAsEndEntity`).

use crate::error::{ImageError, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to set up TLS for one registry.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSettings {
    /// Accept any server certificate.
    pub skip_verify: bool,
    /// PEM bundles of extra roots (the system store).
    pub ca_files: Vec<PathBuf>,
    /// certs.d-style directories: `*.crt` roots, `NAME.cert` + `NAME.key` client pairs.
    pub cert_dirs: Vec<PathBuf>,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |e: rustls::pki_types::pem::Error| {
        ImageError::Invalid(format!(
            "{}: not a PEM certificate file: {e}",
            path.display()
        ))
    };
    CertificateDer::pem_file_iter(path)
        .map_err(bad)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(bad)
}

/// The files of `dir` ending in `ext`, sorted; a missing directory has none.
fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImageError::io(format!("read {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let p = e
            .map_err(|e| ImageError::io(format!("read {}", dir.display()), e))?
            .path();
        if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// A verifier that accepts every server certificate (`--tls-verify=false`).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The parts of a DER certificate [`Pinned`] looks at.
struct CertFacts<'a> {
    issuer: &'a [u8],
    subject: &'a [u8],
    not_before: u64,
    not_after: u64,
}

/// One DER TLV at the start of `b`: (tag, contents, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let (len_bytes, rest) = b.split_at(n);
        b = rest;
        len_bytes
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// Seconds since the epoch of an X.509 UTCTime (tag 0x17, `YYMMDDHHMMSSZ`) or
/// GeneralizedTime (0x18, `YYYYMMDDHHMMSSZ`).
fn der_time(tag: u8, v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy: i64 = s[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &s[2..])
        }
        0x18 if s.len() == 14 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let num = |i: usize| rest.get(i..i + 2)?.parse::<i64>().ok();
    let (month, day, h, m, sec) = (num(0)?, num(2)?, num(4)?, num(6)?, num(8)?);
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + sec).ok()
}

/// Issuer, subject and validity of a DER certificate; `None` if it does not parse.
fn cert_facts(der: &[u8]) -> Option<CertFacts<'_>> {
    let (0x30, cert, _) = der_tlv(der)? else {
        return None;
    };
    let (0x30, tbs, _) = der_tlv(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version, when present.
    if rest.first() == Some(&0xa0) {
        rest = der_tlv(rest)?.2;
    }
    let (_, _serial, rest) = der_tlv(rest)?;
    let (_, _sig_alg, rest) = der_tlv(rest)?;
    let (0x30, _, after_issuer) = der_tlv(rest)? else {
        return None;
    };
    let issuer = &rest[..rest.len() - after_issuer.len()];
    let (0x30, validity, rest) = der_tlv(after_issuer)? else {
        return None;
    };
    let (0x30, _, after_subject) = der_tlv(rest)? else {
        return None;
    };
    let subject = &rest[..rest.len() - after_subject.len()];
    let (t1, nb, v) = der_tlv(validity)?;
    let (t2, na, _) = der_tlv(v)?;
    Some(CertFacts {
        issuer,
        subject,
        not_before: der_time(t1, nb)?,
        not_after: der_time(t2, na)?,
    })
}

/// webpki's verifier, plus the certificates the user trusts as they are (see the module
/// documentation).
#[derive(Debug)]
struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let err =
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
        let ca_as_leaf = matches!(
            &err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))
                if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
        );
        if !ca_as_leaf {
            return Err(err);
        }
        let facts = cert_facts(end_entity.as_ref());
        if !self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            // A self-signed certificate nobody trusts: say so as Go does ("certificate signed
            // by unknown authority") rather than complain about its basic constraints.
            return Err(match facts {
                Some(f) if f.issuer == f.subject => rustls::CertificateError::UnknownIssuer.into(),
                _ => err,
            });
        }
        let Some(facts) = facts else {
            return Err(rustls::CertificateError::BadEncoding.into());
        };
        let t = now.as_secs();
        if t < facts.not_before {
            return Err(rustls::CertificateError::NotValidYet.into());
        }
        if t > facts.not_after {
            return Err(rustls::CertificateError::Expired.into());
        }
        let leaf = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::from(rustls::CertificateError::BadEncoding))?;
        leaf.verify_is_valid_for_subject_name(server_name)
            .map_err(|_| rustls::Error::from(rustls::CertificateError::NotValidForName))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the client config for `s`.
pub(crate) fn client_config(s: &TlsSettings) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_err = |what: &str, e: rustls::Error| ImageError::Invalid(format!("TLS {what}: {e}"));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("protocol versions", e))?;
    let builder = if s.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // The system store: what webpki cannot use (an odd old root) is left out, as
        // rustls-native-certs users do, rather than failing every pull.
        let mut pinned = Vec::new();
        for f in &s.ca_files {
            if f.exists() {
                let c = certs(f)?;
                pinned.extend(c.iter().cloned());
                roots.add_parsable_certificates(c);
            }
        }
        // What the user put into a certificate directory must all be usable.
        let mut extra = Vec::new();
        for d in &s.cert_dirs {
            extra.extend(files_with(d, "crt")?);
        }
        for f in extra {
            for c in certs(&f)? {
                pinned.push(c.clone());
                roots.add(c).map_err(|e| {
                    ImageError::Invalid(format!("{}: unusable CA certificate: {e}", f.display()))
                })?;
            }
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| ImageError::Invalid(format!("TLS certificate verifier: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                inner,
                pinned,
                provider,
            }))
    };
    // The first NAME.cert with its NAME.key is the client certificate.
    let mut pair = None;
    for d in &s.cert_dirs {
        if let Some(cert) = files_with(d, "cert")?.into_iter().next() {
            let key = cert.with_extension("key");
            let k = PrivateKeyDer::from_pem_file(&key).map_err(|e| {
                ImageError::Invalid(format!(
                    "{}: no private key for {}: {e}",
                    key.display(),
                    cert.display()
                ))
            })?;
            pair = Some((certs(&cert)?, k));
            break;
        }
    }
    let config = match pair {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls_err("client certificate", e))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_times() {
        assert_eq!(der_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(der_time(0x18, b"20380119031407Z"), Some(2_147_483_647));
        assert_eq!(der_time(0x17, b"000229120000Z"), Some(951_825_600));
        assert_eq!(der_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(der_time(0x17, b"700101000000"), None);
        assert_eq!(der_time(0x18, b"700101000000Z"), None);
    }

    #[test]
    fn truncated_der_is_refused() {
        assert!(der_tlv(&[0x30, 0x82, 0x01]).is_none());
        assert!(der_tlv(&[0x30, 0x05, 1, 2]).is_none());
        assert!(cert_facts(&[0x30, 0x00]).is_none());
    }
}
