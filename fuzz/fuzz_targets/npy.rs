//! The `.npy` header parser and reader: any bytes must give a matrix whose
//! rows can all be read, or a typed error; never a panic, a hang or a read
//! past the file. The 1-D label and weight readers get the same bytes.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mmclust_core::format::{NpyFile, read_npy_vector_f32, read_npy_vector_i32};

fuzz_target!(|data: &[u8]| {
    let path = common::write_input("input.npy", data);
    if let Ok(f) = NpyFile::open(&path) {
        let (n, d) = f.shape();
        let elems = (n as u64).checked_mul(d as u64).expect("shape fits");
        let bytes = elems * f.dtype().size() as u64;
        assert!(f.data_offset() as u64 + bytes <= f.file_len());
        // Bounded work: only small matrices are read in full.
        if bytes <= 1 << 20 {
            common::read_all(&f);
        }
    }
    let _ = read_npy_vector_i32(&path);
    let _ = read_npy_vector_f32(&path);
});
