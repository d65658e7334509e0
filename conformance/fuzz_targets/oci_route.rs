//! libFuzzer target `oci_route` (`cargo xtask fuzz`); the body is `berth_conformance::hostile::oci_route`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_conformance::hostile::oci_route(data));
