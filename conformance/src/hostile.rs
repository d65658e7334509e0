//! The bodies of the fuzz targets (`cargo xtask fuzz`): each takes arbitrary bytes, feeds
//! them to one of berth's parsers of client input, and checks what must hold for any input:
//! no panic, an answer (a value or the client's error), and the invariants of what was
//! accepted. libFuzzer drives them from `fuzz_targets/`; this crate's tests run them over
//! the checked-in corpora (`fuzz/corpus/<target>/`), so every input ever kept, crashes
//! included, is a regression test on the stable toolchain without libFuzzer.

use berth_generated::ecr::strategies::UnimplementedService;
use berth_generated::ecr::{dispatch, Operation};
use berth_generated::oci::OciRoute;
use berth_generated::runtime::ErrorShape;
use berth_handlers::byte_range::{blob_range, upload_chunk_start};

/// A target: arbitrary bytes in, a panic when something that must hold does not.
pub type Target = fn(&[u8]);

/// The targets by name, as `cargo xtask fuzz` and the corpus tests know them.
pub const TARGETS: [(&str, Target); 5] = [
    ("oci_route", oci_route),
    ("manifest", manifest),
    ("byte_ranges", byte_ranges),
    ("ecr_input", ecr_input),
    ("policies", policies),
];

/// The /v2 route table: any path either names a route or none.
pub fn oci_route(data: &[u8]) {
    if let Ok(path) = std::str::from_utf8(data) {
        if let Some(route) = OciRoute::parse(path) {
            assert!(!route.methods().is_empty(), "{path:?}");
        }
    }
}

/// The manifest parser and validator, under each media type a client may send.
pub fn manifest(data: &[u8]) {
    const MEDIA_TYPES: [Option<&str>; 6] = [
        None,
        Some("application/vnd.oci.image.manifest.v1+json"),
        Some("application/vnd.oci.image.index.v1+json"),
        Some("application/vnd.docker.distribution.manifest.v2+json"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json"),
        Some("text/plain; charset=utf-8"),
    ];
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let media_type = MEDIA_TYPES[usize::from(*first) % MEDIA_TYPES.len()];
    let _ = berth_handlers::manifest::parse_manifest(body, media_type);
}

/// Range and Content-Range: an accepted range lies inside the blob, an accepted chunk
/// spans what its Content-Length says.
pub fn byte_ranges(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    let (size, text) = data.split_at(8);
    let size = u64::from_le_bytes(size.try_into().unwrap_or_default());
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Some((first, last)) = blob_range(text, size) {
        assert!(first <= last && last < size, "{text:?} of {size}: {first}-{last}");
    }
    let length = (size % 3 != 0).then_some(size);
    if let (Some(start), Some(length)) = (upload_chunk_start(text, length), length) {
        assert!(start.checked_add(length).is_some(), "{text:?}: {start}+{length}");
    }
}

/// The AWS JSON input of any of the 62 operations, parsed and validated as the dispatcher
/// does: whatever passes reaches a handler (here one that implements nothing); whatever
/// fails is a client error (4xx), never a server error.
pub fn ecr_input(data: &[u8]) {
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let operation = Operation::ALL[usize::from(*first) % Operation::ALL.len()];
    let answer = block_on(dispatch(&UnimplementedService, &(), operation, body, |_| {
        ErrorShape::NotImplemented
    }));
    match answer {
        Ok(_) => panic!("{operation:?} answered without a handler"),
        Err(e) if e.type_name == "NotImplementedException" => {}
        Err(e) => assert!(
            (400..500).contains(&e.status),
            "{operation:?}: {} {} for {:?}",
            e.status,
            e.type_name,
            String::from_utf8_lossy(body)
        ),
    }
}

/// The IAM policy (repository and registry policies) and lifecycle policy parsers.
pub fn policies(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = berth_handlers::access_policy::PolicyDocument::parse(text);
    if let Ok(policy) = berth_handlers::lifecycle::LifecyclePolicy::parse(text) {
        // What was accepted is accepted again in its stored (compact) form.
        let compact = berth_handlers::lifecycle::compact(text);
        assert!(
            berth_handlers::lifecycle::LifecyclePolicy::parse(&compact).is_ok(),
            "{text:?} -> {compact:?} ({} rules)",
            policy.rules.len()
        );
    }
}

/// Runs a future that never waits on I/O (the dispatcher over a handler that answers at
/// once) to completion on this thread.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every checked-in input of every target, as a plain test.
    #[test]
    fn the_corpora_pass() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut inputs = 0;
        for (name, target) in super::TARGETS {
            let dir = root.join(name);
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()));
            for entry in entries {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                inputs += 1;
            }
        }
        assert!(inputs >= super::TARGETS.len(), "only {inputs} corpus inputs");
    }
}
