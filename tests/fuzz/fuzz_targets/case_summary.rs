#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sprechtag_schemas::fuzz::case_summary(data));
