//! Where blob bytes live: files in the data dir (the default) or an S3-compatible bucket
//! (`--blobs s3://bucket/prefix`), which several berth replicas can share.

use anyhow::Context;
use berth_handlers::blob_store::{BlobStore, S3BlobStore};
use std::sync::Arc;

/// A bucket and a key prefix inside it, from `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

/// Parses `--blobs`: only `s3://bucket[/prefix]` names somewhere other than the data dir.
pub fn parse_blobs(value: &str) -> Result<S3Location, String> {
    let rest = value
        .strip_prefix("s3://")
        .ok_or_else(|| format!("'{value}' is not of the form s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("'{value}' names no bucket: s3://bucket/prefix"));
    }
    Ok(S3Location { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() })
}

/// The S3 store for `location`; see [`S3BlobStore::connect`] for where credentials,
/// region and endpoint come from.
pub fn s3_store(
    location: &S3Location, endpoint: Option<&str>, region: Option<&str>,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    let store = S3BlobStore::connect(&location.bucket, &location.prefix, endpoint, region)
        .with_context(|| format!("cannot configure the S3 bucket {}", location.bucket))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_names_a_bucket_and_an_optional_prefix() {
        let at = |bucket: &str, prefix: &str| {
            Ok(S3Location { bucket: bucket.to_string(), prefix: prefix.to_string() })
        };
        assert_eq!(parse_blobs("s3://images"), at("images", ""));
        assert_eq!(parse_blobs("s3://images/berth/one/"), at("images", "berth/one"));
        for bad in ["images", "s3://", "s3:///prefix", "file:///tmp"] {
            assert!(parse_blobs(bad).is_err(), "{bad}");
        }
    }
}
