//! The CSV converter's path: `CsvReader` (header detection, quoting, cells),
//! its rows streamed into an `NpyWriter`, and the `.npy` read back: every row
//! parsed must come back bit for bit, or the reader returns a typed error.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::csv(data));
