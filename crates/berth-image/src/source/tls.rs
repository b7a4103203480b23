//! The registry client's TLS settings, as podman and skopeo make them: trust the bundled roots,
//! the given CA bundles (the system store) and each certificate directory's `*.crt`; present
//! the client certificate of a `*.cert` / `*.key` pair found there; or, with verification off,
//! accept any server certificate (its handshake signatures are still checked).

use crate::error::{ImageError, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
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
        for f in &s.ca_files {
            if f.exists() {
                roots.add_parsable_certificates(certs(f)?);
            }
        }
        // What the user put into a certificate directory must all be usable.
        let mut extra = Vec::new();
        for d in &s.cert_dirs {
            extra.extend(files_with(d, "crt")?);
        }
        for f in extra {
            for c in certs(&f)? {
                roots.add(c).map_err(|e| {
                    ImageError::Invalid(format!("{}: unusable CA certificate: {e}", f.display()))
                })?;
            }
        }
        builder.with_root_certificates(roots)
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
