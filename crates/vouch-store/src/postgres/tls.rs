//! TLS to PostgreSQL (rustls), with libpq's `sslmode` meanings: `disable` (never), `prefer`
//! (the default: encrypted when the server offers it), `require` (encrypted or no connection),
//! `verify-ca` (also the server's certificate chains to a trusted CA) and `verify-full` (also
//! its name matches the host). The trusted CAs are the file in `sslrootcert` (in the URL) or
//! `postgres.ca_file`; without one, `verify-*` trust the public web CAs. As in libpq,
//! `prefer` and `require` encrypt without checking who answers: use `verify-full` against
//! anyone able to sit between vouch and its database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{StoreError, StoreResult};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// The value tokio-postgres understands (it leaves checking the certificate to us).
    fn for_driver(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require | Self::VerifyCa | Self::VerifyFull => "require",
        }
    }
}

/// The URL's TLS settings taken out of it: the URL tokio-postgres is given, and the connector.
pub struct Tls {
    pub url: String,
    pub mode: SslMode,
    pub connector: MakeRustlsConnect,
}

/// Reads `sslmode` and `sslrootcert` from `url` (`ca_file` is used when the URL names none).
pub fn from_url(url: &str, ca_file: Option<&Path>) -> StoreResult<Tls> {
    let bad = |m: String| StoreError::Unavailable(format!("bad PostgreSQL URL: {m}"));
    let mut parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    let mut mode = SslMode::Prefer;
    let mut root: Option<PathBuf> = ca_file.map(Path::to_path_buf);
    let mut kept: Vec<(String, String)> = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "sslmode" => {
                mode = SslMode::parse(&v).ok_or_else(|| {
                    bad(format!(
                        "sslmode={v} (expected disable, prefer, require, verify-ca or verify-full)"
                    ))
                })?
            }
            "sslrootcert" => root = Some(PathBuf::from(v.as_ref())),
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    kept.push(("sslmode".into(), mode.for_driver().into()));
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    let connector = MakeRustlsConnect::new(client_config(mode, root.as_deref())?);
    Ok(Tls {
        url: parsed.into(),
        mode,
        connector,
    })
}

fn client_config(mode: SslMode, root: Option<&Path>) -> StoreResult<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Internal(format!("TLS: {e}")))?;
    let config = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(roots(root)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| StoreError::Internal(format!("TLS: {e}")))?;
            if mode == SslMode::VerifyFull {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(config)
}

/// The CAs in the PEM file `root`, or the public web CAs.
fn roots(root: Option<&Path>) -> StoreResult<RootCertStore> {
    let mut store = RootCertStore::empty();
    let Some(path) = root else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let unreadable =
        |e: String| StoreError::Unavailable(format!("PostgreSQL CA file {}: {e}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certs.is_empty() {
        return Err(unreadable("no certificate in it".into()));
    }
    for c in certs {
        store.add(c).map_err(|e| unreadable(e.to_string()))?;
    }
    Ok(store)
}

/// `prefer` and `require`: the connection is encrypted and the handshake's signatures are
/// checked, but the certificate is not (libpq's meaning of those modes).
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
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

/// `verify-ca`: the chain must lead to a trusted CA; the name in the certificate is not
/// compared with the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_from_the_url_and_given_to_the_driver_as_it_understands_it() {
        let t = from_url(
            "postgres://u:p@db:5432/vouch?sslmode=verify-full&options=-csearch_path%3Dx",
            None,
        )
        .unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert!(t.url.contains("sslmode=require"), "{}", t.url);
        assert!(t.url.contains("options=-csearch_path%3Dx"), "{}", t.url);
        assert_eq!(
            from_url("postgres://db/v", None).unwrap().mode,
            SslMode::Prefer
        );
        let bad = from_url("postgres://db/v?sslmode=always", None)
            .err()
            .unwrap();
        assert!(bad.to_string().contains("sslmode=always"), "{bad}");
        let missing = from_url(
            "postgres://db/v?sslmode=verify-ca&sslrootcert=/nonexistent.pem",
            None,
        )
        .err()
        .unwrap();
        assert!(
            missing.to_string().contains("/nonexistent.pem"),
            "{missing}"
        );
    }
}
