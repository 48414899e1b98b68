//! The `.npy` header parser and reader: any bytes must give a matrix whose
//! rows can all be read, or a typed error; never a panic, a hang or a read
//! past the file. The 1-D label and weight readers get the same bytes.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::npy(data));
