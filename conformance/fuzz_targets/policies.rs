//! libFuzzer target `policies` (`cargo xtask fuzz`); the body is `berth_conformance::hostile::policies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_conformance::hostile::policies(data));
