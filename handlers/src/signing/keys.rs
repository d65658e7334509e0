//! One ECDSA P-256 key pair and self-signed code-signing certificate per signing profile,
//! made on first use and kept in the data dir (`signing/<profile>-<hash>.key` PKCS#8 and
//! `.pem` certificate), so that signatures stay verifiable across restarts.

use super::SigningProfile;
use crate::error::RegistryError;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A profile's key and certificate.
#[derive(Debug)]
pub struct ProfileKey {
    key: EcdsaKeyPair,
    /// DER of the certificate (the JWS `x5c` entry).
    pub certificate_der: Vec<u8>,
    /// The certificate as PEM, for verifiers.
    pub certificate_pem: String,
}

impl ProfileKey {
    /// ES256 over `message`: the JWS form (r || s, 64 bytes).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, RegistryError> {
        self.key
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| RegistryError::Internal("signing failed".into()))
    }

    /// The public key (uncompressed point), for tests.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
}

/// Every profile's key, loaded once.
#[derive(Debug)]
pub struct SigningKeys {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<ProfileKey>>>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Internal(format!("signing key store: {what}: {e}"))
}

/// Writes a file whole and durably (temporary name, fsync, rename).
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary).map_err(|e| internal("create", e))?;
    file.write_all(bytes).map_err(|e| internal("write", e))?;
    file.sync_all().map_err(|e| internal("sync", e))?;
    std::fs::rename(&temporary, path).map_err(|e| internal("rename", e))
}

impl SigningKeys {
    /// Keys kept under `data_dir/signing`.
    pub fn new(data_dir: &Path) -> Self {
        SigningKeys { dir: data_dir.join("signing"), loaded: Mutex::default() }
    }

    /// The profile's key, made (and kept) on first use.
    pub fn key(&self, profile: &SigningProfile) -> Result<Arc<ProfileKey>, RegistryError> {
        self.load(profile, true)?.ok_or_else(|| internal("key", "not made"))
    }

    /// The profile's key if it ever signed (the certificate endpoint makes none, so that
    /// anyone who asks cannot fill the data dir).
    pub fn existing(
        &self, profile: &SigningProfile,
    ) -> Result<Option<Arc<ProfileKey>>, RegistryError> {
        self.load(profile, false)
    }

    fn load(
        &self, profile: &SigningProfile, make: bool,
    ) -> Result<Option<Arc<ProfileKey>>, RegistryError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = loaded.get(&profile.arn) {
            return Ok(Some(key.clone()));
        }
        let (key_path, certificate_path) = self.paths(profile);
        let exists = key_path.is_file() && certificate_path.is_file();
        if !exists && !make {
            return Ok(None);
        }
        if !exists {
            self.make(profile, &key_path, &certificate_path)?;
        }
        let key = Arc::new(self.read(&key_path, &certificate_path)?);
        loaded.insert(profile.arn.clone(), key.clone());
        Ok(Some(key))
    }

    fn paths(&self, profile: &SigningProfile) -> (PathBuf, PathBuf) {
        let hash = hex::encode(&Sha256::digest(profile.arn.as_bytes())[..6]);
        let stem = format!("{}-{hash}", profile.name);
        (self.dir.join(format!("{stem}.key")), self.dir.join(format!("{stem}.pem")))
    }

    fn read(&self, key_path: &Path, certificate_path: &Path) -> Result<ProfileKey, RegistryError> {
        let pkcs8 = std::fs::read(key_path).map_err(|e| internal("read key", e))?;
        let pem = std::fs::read_to_string(certificate_path)
            .map_err(|e| internal("read certificate", e))?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|e| internal("parse key", e))?;
        let certificate_der =
            pem_body(&pem).ok_or_else(|| internal("parse certificate", "no PEM block"))?;
        Ok(ProfileKey { key, certificate_der, certificate_pem: pem })
    }

    fn make(
        &self, profile: &SigningProfile, key_path: &Path, certificate_path: &Path,
    ) -> Result<(), RegistryError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| internal("create dir", e))?;
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|e| internal("generate key", e))?;
        let key_pair = rcgen::KeyPair::try_from(pkcs8.as_ref()).map_err(|e| internal("key", e))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| internal("certificate", e))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, profile.name.clone());
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "berth managed signing");
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2074, 1, 1);
        params.is_ca = rcgen::IsCa::NoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        let certificate = params.self_signed(&key_pair).map_err(|e| internal("self-sign", e))?;
        write_durably(key_path, pkcs8.as_ref())?;
        write_durably(certificate_path, certificate.pem().as_bytes())
    }
}

/// The DER inside the first PEM block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn a_profile_keeps_its_key_across_loads_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let profile = SigningProfile::parse(
            "arn:aws:signer:us-east-1:111122223333:/signing-profiles/release",
        )
        .unwrap();
        assert!(SigningKeys::new(dir.path()).existing(&profile).unwrap().is_none());
        let first = SigningKeys::new(dir.path()).key(&profile).unwrap();
        let again = SigningKeys::new(dir.path()).existing(&profile).unwrap().expect("kept");
        assert_eq!(first.certificate_der, again.certificate_der, "kept in the data dir");
        assert!(first.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let signature = again.sign(b"payload").unwrap();
        assert_eq!(signature.len(), 64);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, first.public_key())
            .verify(b"payload", &signature)
            .expect("the signature verifies with the profile's public key");
    }
}
