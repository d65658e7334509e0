//! libFuzzer target `manifest` (`cargo xtask fuzz`); the body is `berth_conformance::hostile::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_conformance::hostile::manifest(data));
