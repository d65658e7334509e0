//! The two byte ranges clients send on /v2, parsed at the edge: `Range: bytes=a-b` on a
//! blob GET (RFC 9110, one range) and `Content-Range: a-b` on an upload PATCH. Pure
//! functions over text, so that they can be fuzzed on their own.

/// One `bytes=` range (`a-b`, `a-`, `-n`), clamped to a blob of `size` bytes: the first and
/// last byte. `None` when it cannot be satisfied (or is not one `bytes=` range).
pub fn blob_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 {
            return None;
        }
        return Some((size.saturating_sub(suffix), size - 1));
    }
    let start: u64 = first.parse().ok()?;
    let end: u64 = if last.is_empty() { size - 1 } else { last.parse::<u64>().ok()?.min(size - 1) };
    (start <= end && start < size).then_some((start, end))
}

/// The first byte of a PATCH `Content-Range: <start>-<end>` (with or without a `bytes `
/// prefix or a `/<total>` suffix), when it is well formed and, given a Content-Length,
/// spans exactly that many bytes.
pub fn upload_chunk_start(value: &str, content_length: Option<u64>) -> Option<u64> {
    let spec = value.trim().trim_start_matches("bytes ").trim_start_matches("bytes=");
    let (start, end) = spec.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.split('/').next().unwrap_or("").trim().parse().ok()?;
    // A chunk ends before byte 2^64 - 1 (the offset after it must exist): 0-18446744073709551615
    // and 5-18446744073709551615 (whose start + length overflows) cannot be chunks.
    let span = end.checked_add(1)?.checked_sub(start)?;
    if content_length.is_some_and(|length| length != span) {
        return None;
    }
    Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ranges() {
        assert_eq!(blob_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(blob_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(blob_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(blob_range("bytes=-1000", 100), Some((0, 99)));
        assert_eq!(blob_range("bytes=50-500", 100), Some((50, 99)));
        for unsatisfiable in [
            "bytes=100-",
            "bytes=5-1",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-0",
            "bytes=-",
            "bytes=--1",
            "bytes=-1-2",
            "bytes=18446744073709551616-",
            "bytes=0-18446744073709551616",
            "bytes=١-٢",
        ] {
            assert_eq!(blob_range(unsatisfiable, 100), None, "{unsatisfiable}");
        }
        assert_eq!(blob_range("bytes=0-", 0), None);
        assert_eq!(blob_range("bytes=0-18446744073709551615", u64::MAX), Some((0, u64::MAX - 1)));
    }

    #[test]
    fn upload_chunks() {
        assert_eq!(upload_chunk_start("0-9", Some(10)), Some(0));
        assert_eq!(upload_chunk_start("bytes 10-19/100", Some(10)), Some(10));
        assert_eq!(upload_chunk_start("10-19", None), Some(10));
        for bad in [
            ("10-19", Some(11)),
            ("19-10", None),
            ("a-b", None),
            ("-5", None),
            ("5", None),
            ("-1-5", None),
            // The regression the fuzzer would find: a span of 2^64 bytes overflowed.
            ("0-18446744073709551615", None),
            ("0-18446744073709551615", Some(0)),
            ("0-99999999999999999999", None),
            // What the fuzzer found next: start + length past 2^64 - 1.
            ("bytes=5-18446744073709551615/*", Some(18446744073709551611)),
            ("5-18446744073709551615", None),
        ] {
            assert_eq!(upload_chunk_start(bad.0, bad.1), None, "{bad:?}");
        }
    }
}
