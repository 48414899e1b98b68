//! The CSV converter's path: `CsvReader` (header detection, quoting, cells),
//! its rows streamed into an `NpyWriter`, and the `.npy` read back: every row
//! parsed must come back bit for bit, or the reader returns a typed error.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mmclust_core::DataSource;
use mmclust_core::format::{CsvOptions, CsvReader, NpyFile, NpyWriter, open_matrix};

fuzz_target!(|data: &[u8]| {
    // First byte picks the options; the rest is the file.
    let Some((&opt, text)) = data.split_first() else {
        return;
    };
    let delimiter = [b',', b';', b'\t', b' ', b'"'][usize::from(opt & 7) % 5];
    let has_header = [None, Some(true), Some(false)][usize::from(opt >> 3) % 3];
    let path = common::write_input("input.csv", text);
    let out = path.with_file_name("converted.npy");
    let Ok(mut reader) = CsvReader::open(
        &path,
        CsvOptions {
            delimiter,
            has_header,
        },
    ) else {
        return;
    };
    let d = reader.n_cols();
    assert!(d > 0);
    let mut writer = NpyWriter::<f32>::create(&out, Some(d), &[path.as_path()]).expect("writer");
    let mut all = Vec::new();
    let mut rows = Vec::new();
    loop {
        rows.clear();
        match reader.next_rows(7, &mut rows) {
            Ok(0) => break,
            Ok(r) => {
                assert_eq!(rows.len(), r * d);
                writer.write(&rows).expect("write rows");
                all.extend_from_slice(&rows);
            }
            Err(_) => return, // the writer's temporary is dropped
        }
    }
    if all.is_empty() {
        return;
    }
    writer.finish().expect("finish");
    let back = NpyFile::open(&out).expect("reopen converted file");
    assert_eq!(back.shape(), (all.len() / d, d));
    let mut scratch = Vec::new();
    let got = back.rows(0..all.len() / d, &mut scratch).expect("rows");
    assert!(
        got.iter()
            .zip(&all)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    // The in-memory path `open_matrix` takes for a .csv argument.
    if delimiter == b',' && has_header.is_none() {
        if let Ok(m) = open_matrix(&path) {
            common::read_all(&m);
        }
    }
});
