//! The pull-through cache: a plain distribution upstream holds an image with a 1 GiB layer;
//! berth (a `quay` rule, `--upstream-endpoint quay.io=...`) and distribution (its `proxy`
//! mode) each cache it, fresh, and the first pull of the layer is measured: throughput
//! and the cache's peak RSS (upstream's bytes must stream, never be held whole).

use super::api;
use super::servers::{Kind, Server};
use super::workloads::{self, Blob};
use super::{mb_per_s, Samples};
use std::path::Path;

/// One round: the upstream, then each cache in `order`.
pub fn round(
    samples: &mut Samples, binaries: (&Path, &Path), blob: &Blob, order: [Kind; 2],
) -> Result<(), String> {
    let (distribution, berth) = binaries;
    let upstream = Server::distribution(distribution)?;
    workloads::push_image_of(&upstream, "library/big", "v1", blob)?;
    for kind in order {
        let (cache, name) = match kind {
            Kind::Berth => {
                let endpoint = format!("quay.io={}", upstream.base);
                let cache = Server::berth_with(berth, &["--upstream-endpoint", &endpoint])?;
                api::call(
                    &ureq::Agent::new(),
                    &cache.base,
                    "CreatePullThroughCacheRule",
                    &serde_json::json!({
                        "ecrRepositoryPrefix": "quay",
                        "upstreamRegistryUrl": "quay.io",
                    }),
                )?;
                (cache, "quay/library/big")
            }
            Kind::Distribution => {
                let proxy = format!("proxy:\n  remoteurl: {}\n", upstream.base);
                (Server::distribution_with(distribution, &proxy)?, "library/big")
            }
        };
        workloads::get_manifest(&cache, name, "v1")?;
        let d = workloads::pull(&cache, name, blob)?;
        samples.add(
            "pull-through 1 GiB, first pull (from upstream)",
            "MB/s",
            true,
            kind,
            mb_per_s(blob.size, d),
        );
        samples.add(
            "peak RSS through the 1 GiB pull-through",
            "MiB",
            false,
            kind,
            cache.peak_rss() as f64 / 1048576.0,
        );
        let d = workloads::pull(&cache, name, blob)?;
        samples.add(
            "pull-through 1 GiB, second pull (cached)",
            "MB/s",
            true,
            kind,
            mb_per_s(blob.size, d),
        );
    }
    Ok(())
}
