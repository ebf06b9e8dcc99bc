//! TLS as skopeo and podman set it up: the system's roots plus a certificate directory
//! (`--cert-dir DIR`; without it `/etc/containers/certs.d/HOST:PORT` and
//! `/etc/docker/certs.d/HOST:PORT` when they exist) where each `*.crt` is a trusted CA and a
//! `*.cert` with the `*.key` of the same name is a client certificate. Verification is off only
//! when `--tls-verify=false` asks for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

use super::error::RegistryErrorKind;

/// The certificate directories read for `host`, in order.
pub(crate) fn cert_dirs(cert_dir: Option<&Path>, host: &str) -> Vec<PathBuf> {
    match cert_dir {
        Some(dir) => vec![dir.to_path_buf()],
        None => ["/etc/containers/certs.d", "/etc/docker/certs.d"]
            .iter()
            .map(|base| Path::new(base).join(host))
            .filter(|d| d.is_dir())
            .collect(),
    }
}

/// The TLS configuration for `host`.
pub(crate) fn config(cert_dir: Option<&Path>, host: &str, verify: bool) -> Result<TlsConfig, RegistryErrorKind> {
    let problem = |path: &Path, what: String| RegistryErrorKind::Protocol(format!("{}: {what}", path.display()));
    let mut roots: Vec<Certificate<'static>> = Vec::new();
    let native = rustls_native_certs::load_native_certs();
    for der in native.certs {
        roots.push(Certificate::from_der(der.as_ref()).to_owned());
    }
    let mut client: Option<ClientCert> = None;
    for dir in cert_dirs(cert_dir, host) {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => return Err(problem(&dir, format!("cannot read the certificate directory: {e}"))),
        };
        entries.sort();
        for path in entries {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => {
                    let pem = std::fs::read(&path).map_err(|e| problem(&path, e.to_string()))?;
                    let mut any = false;
                    for item in ureq::tls::parse_pem(&pem) {
                        if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                            roots.push(cert.to_owned());
                            any = true;
                        }
                    }
                    if !any {
                        return Err(problem(&path, "no PEM certificate in it".into()));
                    }
                }
                Some("cert") if client.is_none() => {
                    let key_path = path.with_extension("key");
                    let pem = std::fs::read(&path).map_err(|e| problem(&path, e.to_string()))?;
                    let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                        .filter_map(|i| match i {
                            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
                            _ => None,
                        })
                        .collect();
                    // The key's parse error is not shown: it could quote key material.
                    let key_pem = std::fs::read(&key_path)
                        .map_err(|e| problem(&key_path, format!("the client certificate's key: {e}")))?;
                    let key = PrivateKey::from_pem(&key_pem)
                        .map_err(|_| problem(&key_path, "not a PEM private key".into()))?
                        .to_owned();
                    if chain.is_empty() {
                        return Err(problem(&path, "no PEM certificate in it".into()));
                    }
                    client = Some(ClientCert::new_with_certs(&chain, key));
                }
                _ => {}
            }
        }
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .client_cert(client)
        .disable_verification(!verify)
        .build())
}
