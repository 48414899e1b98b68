//! The `.fvecs` / `.bvecs` reader: any bytes give a readable matrix or a typed
//! error.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::vecs(data));
