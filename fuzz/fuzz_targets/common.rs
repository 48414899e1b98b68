//! Shared by the file-format targets: the readers take paths (they map files),
//! so each input is written to a file in a per-process folder (on /dev/shm
//! when there is one, so it stays in memory).

use std::path::PathBuf;
use std::sync::OnceLock;

use mmclust_core::DataSource;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("mmclust-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz scratch folder");
        d
    })
}

/// Writes `data` to `name` in the scratch folder and returns its path.
pub fn write_input(name: &str, data: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, data).expect("write fuzz input");
    p
}

/// Reads every row of `src` in a few chunkings. A read may fail with a typed
/// error (a `.fvecs` row's dimension is checked when the row is read), but
/// never panic; rows that read must agree bit for bit however they are cut.
pub fn read_all(src: &dyn DataSource) {
    let (n, d) = (src.n_rows(), src.n_cols());
    assert!(n > 0 && d > 0);
    let mut scratch = Vec::new();
    let all = src.rows(0..n, &mut scratch).map(<[f32]>::to_vec);
    let mut scratch = Vec::new();
    for start in (0..n).step_by(3) {
        let end = (start + 3).min(n);
        let Ok(part) = src.rows(start..end, &mut scratch) else {
            assert!(
                all.is_err(),
                "rows {start}..{end} fail alone but not in the full read"
            );
            continue;
        };
        assert_eq!(part.len(), (end - start) * d);
        if let Ok(all) = &all {
            let same = part
                .iter()
                .zip(&all[start * d..end * d])
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "rows {start}..{end} differ when read alone");
        }
    }
}
