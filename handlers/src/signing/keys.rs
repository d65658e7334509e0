//! One ECDSA P-256 key pair and self-signed code-signing certificate per signing profile,
//! made on first use and kept in the metadata store (table `signing_keys`), so that
//! signatures stay verifiable across restarts and every replica sharing the store signs
//! with the same key. Keys an older berth kept in the data dir (`signing/<profile>-<hash>.key`
//! PKCS#8 and `.pem` certificate) move into the store on first use.

use super::SigningProfile;
use crate::error::RegistryError;
use crate::metadata::{SigningKeyMaterial, SigningStore};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
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
    /// Where an older berth kept keys in the data dir.
    legacy_dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<ProfileKey>>>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Internal(format!("signing key store: {what}: {e}"))
}

impl SigningKeys {
    /// Keys of the metadata store; `data_dir/signing` holds those of an older berth.
    pub fn new(data_dir: &Path) -> Self {
        SigningKeys { legacy_dir: data_dir.join("signing"), loaded: Mutex::default() }
    }

    /// The profile's key, made (and kept in `store`) on first use.
    pub async fn key(
        &self, store: &impl SigningStore, profile: &SigningProfile,
    ) -> Result<Arc<ProfileKey>, RegistryError> {
        self.load(store, profile, true).await?.ok_or_else(|| internal("key", "not made"))
    }

    /// The profile's key if it ever signed (the certificate endpoint makes none, so that
    /// anyone who asks cannot fill the store).
    pub async fn existing(
        &self, store: &impl SigningStore, profile: &SigningProfile,
    ) -> Result<Option<Arc<ProfileKey>>, RegistryError> {
        self.load(store, profile, false).await
    }

    async fn load(
        &self, store: &impl SigningStore, profile: &SigningProfile, make: bool,
    ) -> Result<Option<Arc<ProfileKey>>, RegistryError> {
        if let Some(key) = self.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(&profile.arn) {
            return Ok(Some(key.clone()));
        }
        let material = match store.signing_key(&profile.arn).await? {
            Some(material) => material,
            None => {
                let made = match self.legacy(profile)? {
                    Some(material) => material,
                    None if make => make_key(profile)?,
                    None => return Ok(None),
                };
                // Another process may have kept one first: everyone signs with that one.
                store.keep_signing_key(&profile.arn, &made).await?
            }
        };
        let key = Arc::new(parse(&material)?);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Some(loaded.entry(profile.arn.clone()).or_insert(key).clone()))
    }

    /// The key an older berth kept in the data dir for this profile, if any.
    fn legacy(
        &self, profile: &SigningProfile,
    ) -> Result<Option<SigningKeyMaterial>, RegistryError> {
        let hash = hex::encode(&Sha256::digest(profile.arn.as_bytes())[..6]);
        let stem = format!("{}-{hash}", profile.name);
        let key_path = self.legacy_dir.join(format!("{stem}.key"));
        let certificate_path = self.legacy_dir.join(format!("{stem}.pem"));
        if !(key_path.is_file() && certificate_path.is_file()) {
            return Ok(None);
        }
        let pkcs8 = std::fs::read(&key_path).map_err(|e| internal("read key", e))?;
        let certificate_pem = std::fs::read_to_string(&certificate_path)
            .map_err(|e| internal("read certificate", e))?;
        Ok(Some(SigningKeyMaterial { pkcs8, certificate_pem }))
    }
}

/// The key pair and certificate of kept material.
fn parse(material: &SigningKeyMaterial) -> Result<ProfileKey, RegistryError> {
    let key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &material.pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|e| internal("parse key", e))?;
    let certificate_der = pem_body(&material.certificate_pem)
        .ok_or_else(|| internal("parse certificate", "no PEM block"))?;
    Ok(ProfileKey { key, certificate_der, certificate_pem: material.certificate_pem.clone() })
}

/// A new key pair and self-signed code-signing certificate named after the profile.
fn make_key(profile: &SigningProfile) -> Result<SigningKeyMaterial, RegistryError> {
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
    Ok(SigningKeyMaterial { pkcs8: pkcs8.as_ref().to_vec(), certificate_pem: certificate.pem() })
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
    use crate::metadata::SqlMetadataStore;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn release() -> SigningProfile {
        SigningProfile::parse("arn:aws:signer:us-east-1:111122223333:/signing-profiles/release")
            .unwrap()
    }

    #[tokio::test]
    async fn processes_sharing_a_store_sign_with_one_key_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let profile = release();
        // Two processes (each its own SigningKeys, their own data dirs) on one store.
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (first, second) = (SigningKeys::new(one.path()), SigningKeys::new(two.path()));
        assert!(first.existing(&store, &profile).await.unwrap().is_none(), "made on first use");
        let made = first.key(&store, &profile).await.unwrap();
        let seen = second.existing(&store, &profile).await.unwrap().expect("kept in the store");
        assert_eq!(made.certificate_der, seen.certificate_der);
        assert!(made.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let signature = seen.sign(b"payload").unwrap();
        assert_eq!(signature.len(), 64);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, made.public_key())
            .verify(b"payload", &signature)
            .expect("the signature verifies with the profile's public key");
    }

    #[tokio::test]
    async fn the_first_key_kept_wins_a_race() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let profile = release();
        let (a, b) = (make_key(&profile).unwrap(), make_key(&profile).unwrap());
        assert_ne!(a, b);
        assert_eq!(store.keep_signing_key(&profile.arn, &a).await.unwrap(), a);
        assert_eq!(store.keep_signing_key(&profile.arn, &b).await.unwrap(), a, "a kept key stays");
    }

    #[tokio::test]
    async fn a_key_an_older_berth_kept_in_the_data_dir_moves_into_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let profile = release();
        let old = make_key(&profile).unwrap();
        let hash = hex::encode(&Sha256::digest(profile.arn.as_bytes())[..6]);
        let signing = dir.path().join("signing");
        std::fs::create_dir(&signing).unwrap();
        std::fs::write(signing.join(format!("release-{hash}.key")), &old.pkcs8).unwrap();
        std::fs::write(signing.join(format!("release-{hash}.pem")), &old.certificate_pem).unwrap();
        let key = SigningKeys::new(dir.path()).existing(&store, &profile).await.unwrap();
        assert_eq!(key.expect("the old key").certificate_pem, old.certificate_pem);
        assert_eq!(store.signing_key(&profile.arn).await.unwrap(), Some(old));
    }
}
