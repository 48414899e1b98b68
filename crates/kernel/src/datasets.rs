//! Two-dimensional data sets on which plain K-means fails: two interleaved
//! half-moons and two concentric rings, generated block by block (each block
//! of [`BLOCK_ROWS`] rows from its own seeded random stream), so any n streams
//! to disk in bounded memory and a seed gives the same bits on any thread count.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Rows per random stream. Part of the data's definition.
pub const BLOCK_ROWS: usize = 4096;

/// A shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// scikit-learn's `make_moons`: the upper half-circle of radius 1 about
    /// (0, 0) (label 0) and the lower one about (1, 0.5) (label 1).
    Moons,
    /// Circles of radius 1 (label 0) and 3 (label 1) about the origin.
    Rings,
}

impl Shape {
    /// The default Gaussian noise per coordinate: 0.05 for moons, 0.1 for rings.
    #[must_use]
    pub fn default_noise(self) -> f64 {
        match self {
            Shape::Moons => 0.05,
            Shape::Rings => 0.1,
        }
    }
}

/// Block `index` of a data set of `n` rows: its rows (2 columns) and labels.
/// Each row's label is 0 or 1 with probability ½, its angle uniform, plus
/// N(0, noise²) per coordinate.
#[must_use]
pub fn block(shape: Shape, n: usize, noise: f64, seed: u64, index: usize) -> (Vec<f32>, Vec<i32>) {
    let start = index * BLOCK_ROWS;
    let rows = BLOCK_ROWS.min(n.saturating_sub(start));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64 + 1);
    let mut data = Vec::with_capacity(rows * 2);
    let mut labels = Vec::with_capacity(rows);
    for _ in 0..rows {
        let label = rng.gen_range(0..2);
        let (x, y) = match shape {
            Shape::Moons => {
                let t = rng.gen_range(0.0..std::f64::consts::PI);
                if label == 0 {
                    (t.cos(), t.sin())
                } else {
                    (1.0 - t.cos(), 0.5 - t.sin())
                }
            }
            Shape::Rings => {
                let t = rng.gen_range(0.0..std::f64::consts::TAU);
                let r = if label == 0 { 1.0 } else { 3.0 };
                (r * t.cos(), r * t.sin())
            }
        };
        let zx: f64 = rng.sample(StandardNormal);
        let zy: f64 = rng.sample(StandardNormal);
        data.push((x + noise * zx) as f32);
        data.push((y + noise * zy) as f32);
        labels.push(label);
    }
    (data, labels)
}

/// A whole data set in memory (for tests and small examples).
#[must_use]
pub fn generate(shape: Shape, n: usize, noise: f64, seed: u64) -> (Vec<f32>, Vec<i32>) {
    let mut data = Vec::with_capacity(n * 2);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n.div_ceil(BLOCK_ROWS) {
        let (d, l) = block(shape, n, noise, seed, i);
        data.extend(d);
        labels.extend(l);
    }
    (data, labels)
}
