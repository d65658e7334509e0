//! A Notary Project signature (the format `notation` writes and verifies): a JWS envelope
//! (JSON serialization, ES256, the `notary.x509` signing scheme, the certificate in
//! `x5c`) over the target image's descriptor, carried by an OCI manifest of artifact type
//! `application/vnd.cncf.notary.signature` whose subject is the image.

use super::keys::ProfileKey;
use crate::digest::Digest;
use crate::error::RegistryError;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest as _, Sha256};

/// The signature manifest's artifact type.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The envelope layer's media type.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// The payload's content type.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// The empty config of artifacts (`{}`).
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// What is signed: the image's descriptor.
#[derive(Debug, Clone)]
pub struct Target {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Target {
    fn descriptor(&self) -> serde_json::Value {
        serde_json::json!({
            "mediaType": self.media_type,
            "digest": self.digest.as_str(),
            "size": self.size,
        })
    }
}

/// The two blobs and the manifest of one signature.
#[derive(Debug, Clone)]
pub struct Signature {
    /// The JWS envelope (the manifest's one layer).
    pub envelope: Vec<u8>,
    /// The signature manifest, whose subject is the target.
    pub manifest: Vec<u8>,
}

/// Signs `target` with the profile's key at `signing_time` (RFC 3339).
pub fn sign(
    key: &ProfileKey, target: &Target, signing_time: &str,
) -> Result<Signature, RegistryError> {
    let payload = serde_json::json!({ "targetArtifact": target.descriptor() }).to_string();
    let protected = serde_json::json!({
        "alg": "ES256",
        "crit": ["io.cncf.notary.signingScheme"],
        "cty": PAYLOAD_CONTENT_TYPE,
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": signing_time,
    })
    .to_string();
    let (protected, payload) = (URL_SAFE_NO_PAD.encode(protected), URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(format!("{protected}.{payload}").as_bytes())?;
    let envelope = serde_json::json!({
        "payload": payload,
        "protected": protected,
        "header": {
            "x5c": [STANDARD.encode(&key.certificate_der)],
            "io.cncf.notary.signingAgent": concat!("berth/", env!("CARGO_PKG_VERSION")),
        },
        "signature": URL_SAFE_NO_PAD.encode(signature),
    })
    .to_string()
    .into_bytes();
    let thumbprint = hex::encode(Sha256::digest(&key.certificate_der));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": SIGNATURE_ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_CONFIG_MEDIA_TYPE,
            "digest": Digest::of(EMPTY_CONFIG).as_str(),
            "size": EMPTY_CONFIG.len(),
        },
        "layers": [{
            "mediaType": JWS_MEDIA_TYPE,
            "digest": Digest::of(&envelope).as_str(),
            "size": envelope.len(),
        }],
        "subject": target.descriptor(),
        "annotations": {
            "io.cncf.notary.x509chain.thumbprint#S256": format!("[\"{thumbprint}\"]"),
            "org.opencontainers.image.created": signing_time,
        },
    })
    .to_string()
    .into_bytes();
    Ok(Signature { envelope, manifest })
}

#[cfg(test)]
mod tests {
    use super::super::keys::SigningKeys;
    use super::super::SigningProfile;
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[tokio::test]
    async fn the_envelope_verifies_and_names_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::metadata::SqlMetadataStore::open(dir.path()).await.unwrap();
        let profile = SigningProfile::parse(
            "arn:aws:signer:us-east-1:111122223333:/signing-profiles/release",
        )
        .unwrap();
        let key = SigningKeys::new(dir.path()).key(&store, &profile).await.unwrap();
        let target = Target {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: Digest::of(b"image"),
            size: 5,
        };
        let signature = sign(&key, &target, "2026-11-30T00:00:00Z").unwrap();
        let envelope: serde_json::Value = serde_json::from_slice(&signature.envelope).unwrap();
        let (protected, payload) =
            (envelope["protected"].as_str().unwrap(), envelope["payload"].as_str().unwrap());
        let raw = URL_SAFE_NO_PAD.decode(envelope["signature"].as_str().unwrap()).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key())
            .verify(format!("{protected}.{payload}").as_bytes(), &raw)
            .unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(payload["targetArtifact"]["digest"], target.digest.as_str());
        let manifest: serde_json::Value = serde_json::from_slice(&signature.manifest).unwrap();
        assert_eq!(manifest["subject"]["digest"], target.digest.as_str());
        assert_eq!(manifest["artifactType"], SIGNATURE_ARTIFACT_TYPE);
        let parsed = crate::manifest::parse_manifest(&signature.manifest, None).unwrap();
        assert_eq!(parsed.subject, Some(target.digest));
    }
}
