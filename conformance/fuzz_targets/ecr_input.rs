//! libFuzzer target `ecr_input` (`cargo xtask fuzz`); the body is `berth_conformance::hostile::ecr_input`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_conformance::hostile::ecr_input(data));
