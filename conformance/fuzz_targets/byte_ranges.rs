//! libFuzzer target `byte_ranges` (`cargo xtask fuzz`); the body is `berth_conformance::hostile::byte_ranges`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_conformance::hostile::byte_ranges(data));
