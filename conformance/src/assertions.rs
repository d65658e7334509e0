//! Comparing what berth answered with what the reference model expects.

use crate::fixtures::{blob_digest, IMAGE_BLOBS};
use crate::reference::Expected;
use crate::sut::Answer;
use crate::transitions::Transition;
use std::collections::BTreeMap;

/// The OCI error code or the ECR `__type` of an error body.
fn error_code(answer: &Answer) -> Option<String> {
    let body = answer.json();
    body["errors"][0]["code"].as_str().or_else(|| body["__type"].as_str()).map(str::to_string)
}

/// Panics (so proptest shrinks) when `answer` is not what `expected` says.
pub fn check(transition: &Transition, expected: &Expected, answer: &Answer) {
    let context = || {
        format!(
            "{transition:?}: expected {expected:?}, got {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
    };
    match expected {
        Expected::Nothing => {}
        Expected::Each(_) => panic!("{transition:?}: check each request on its own"),
        Expected::Outcome { status, code } => {
            assert_eq!(answer.status, *status, "{}", context());
            if let Some(code) = code {
                assert_eq!(error_code(answer).as_deref(), Some(*code), "{}", context());
            }
        }
        Expected::Bytes(bytes) => {
            assert_eq!(answer.status, 200, "{}", context());
            assert!(answer.body.as_ref() == bytes.as_slice(), "{}", context());
        }
        Expected::Tags { tags, next } => {
            assert_eq!(answer.status, 200, "{}", context());
            assert_eq!(answer.headers.contains_key("link"), *next, "Link header: {}", context());
            let got: Vec<String> = answer.json()["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            assert_eq!(&got, tags, "{}", context());
        }
        Expected::Images(images) => {
            assert_eq!(answer.status, 200, "{}", context());
            let mut got = BTreeMap::new();
            for d in answer.json()["imageDetails"].as_array().cloned().unwrap_or_default() {
                let digest = d["imageDigest"].as_str().unwrap_or("").to_string();
                let mut tags: Vec<String> = d["imageTags"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                tags.sort();
                got.insert(digest, tags);
            }
            assert_eq!(&got, images, "{}", context());
        }
        Expected::Availability(available) => {
            assert_eq!(answer.status, 200, "{}", context());
            let layers = answer.json()["layers"].as_array().cloned().unwrap_or_default();
            assert_eq!(layers.len(), IMAGE_BLOBS, "{}", context());
            for (i, layer) in layers.iter().enumerate() {
                assert_eq!(
                    layer["layerDigest"].as_str(),
                    Some(blob_digest(i).as_str()),
                    "{}",
                    context()
                );
                let is = layer["layerAvailability"] == "AVAILABLE";
                assert_eq!(is, available[i], "blob {i}: {}", context());
            }
        }
        Expected::Deleted { ids, failures } => {
            assert_eq!(answer.status, 200, "{}", context());
            let body = answer.json();
            let got_ids = body["imageIds"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(got_ids, *ids, "{}", context());
            let got_failures: Vec<String> = body["failures"]
                .as_array()
                .map(|a| {
                    a.iter().filter_map(|f| f["failureCode"].as_str().map(str::to_string)).collect()
                })
                .unwrap_or_default();
            assert_eq!(got_failures, *failures, "{}", context());
        }
    }
}
