//! HTTPS: the rustls acceptor of `--tls-cert`/`--tls-key`, and `berth certs init`, which
//! makes a local CA and a certificate for `localhost`, the loopback addresses and the
//! ECR-shaped names `*.dkr.ecr.<region>.localhost` (one wildcard per region: a wildcard
//! covers one label, the account).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The regions `berth certs init` names when given none: AWS's commercial regions.
pub const DEFAULT_REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
];

/// The acceptor for the PEM certificate chain and key at these paths.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What `certs init` wrote.
pub struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes `ca.pem`/`ca.key` (kept when they exist, so that trust once given lasts) and a
/// new `server.pem`/`server.key` signed by the CA into `dir`.
pub fn init(dir: &Path, regions: &[String]) -> Result<CertFiles, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the directory", &e))?;
    let (ca_pem, ca_key_pem) = (dir.join("ca.pem"), dir.join("ca.key"));
    let ca_key = if ca_key_pem.exists() {
        let text = std::fs::read_to_string(&ca_key_pem).map_err(|e| fail("ca.key", &e))?;
        KeyPair::from_pem(&text).map_err(|e| fail("ca.key", &e))?
    } else {
        KeyPair::generate().map_err(|e| fail("key", &e))?
    };
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "berth local CA");
    ca_params.distinguished_name = ca_name;
    if !ca_pem.exists() {
        let ca = ca_params.self_signed(&ca_key).map_err(|e| fail("CA certificate", &e))?;
        write_private(&ca_key_pem, &ca_key.serialize_pem())?;
        std::fs::write(&ca_pem, ca.pem()).map_err(|e| fail("ca.pem", &e))?;
    }
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["localhost".to_string()];
    names.extend(regions.iter().map(|r| format!("*.dkr.ecr.{r}.localhost")));
    let mut params = CertificateParams::new(names).map_err(|e| fail("certificate names", &e))?;
    for address in ["127.0.0.1", "::1"] {
        let ip = address.parse().map_err(|e| fail("address", &e))?;
        params.subject_alt_names.push(SanType::IpAddress(ip));
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "berth");
    params.distinguished_name = name;
    let key = KeyPair::generate().map_err(|e| fail("key", &e))?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| fail("server certificate", &e))?;
    let files = CertFiles { ca: ca_pem, cert: dir.join("server.pem"), key: dir.join("server.key") };
    write_private(&files.key, &key.serialize_pem())?;
    std::fs::write(&files.cert, cert.pem()).map_err(|e| fail("server.pem", &e))?;
    Ok(files)
}

/// A key file only its owner may read.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// How to run berth with the files and make each client trust the CA.
pub fn instructions(files: &CertFiles, regions: &[String]) -> String {
    let (ca, cert, key) = (files.ca.display(), files.cert.display(), files.key.display());
    let region = regions.first().map_or("us-east-1", String::as_str);
    let host = format!("000000000000.dkr.ecr.{region}.localhost:4566");
    format!(
        "Wrote {cert} and {key}, signed by the CA {ca}.\n\
         \n\
         Serve HTTPS:\n  berth --tls-cert {cert} --tls-key {key}\n\
         Repository URIs then name <account>.dkr.ecr.<region>.localhost:<port>. Those names\n\
         must reach 127.0.0.1: most resolvers do so for *.localhost; otherwise add a line to\n\
         /etc/hosts, e.g. `127.0.0.1 {}`.\n\
         \n\
         Trust the CA:\n\
         - docker:  mkdir -p /etc/docker/certs.d/{host} && cp {ca} /etc/docker/certs.d/{host}/ca.crt\n\
         - podman:  mkdir -p /etc/containers/certs.d/{host} && cp {ca} /etc/containers/certs.d/{host}/ca.crt\n\
         - skopeo:  skopeo copy --dest-cert-dir DIR ... (DIR holding {ca} as ca.crt), or the podman path above\n\
         - AWS CLI: export AWS_CA_BUNDLE={ca}; aws --endpoint-url https://localhost:4566 ecr ...\n\
         - the system: cp {ca} /usr/local/share/ca-certificates/berth.crt && update-ca-certificates\n",
        host.trim_end_matches(":4566"),
    )
}
