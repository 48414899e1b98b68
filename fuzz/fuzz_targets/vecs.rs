//! The `.fvecs` / `.bvecs` reader: any bytes give a readable matrix or a typed
//! error.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mmclust_core::format::{VecsFile, VecsKind};

fuzz_target!(|data: &[u8]| {
    for (name, kind) in [
        ("input.fvecs", VecsKind::Fvecs),
        ("input.bvecs", VecsKind::Bvecs),
    ] {
        let path = common::write_input(name, data);
        if let Ok(f) = VecsFile::open_as(&path, kind) {
            let (n, d) = f.shape();
            assert!((n as u64) * (d as u64) <= f.file_len());
            if n * d <= 1 << 18 {
                common::read_all(&f);
            }
        }
    }
});
