//! Agreement of two labellings: adjusted Rand index and normalised mutual
//! information, from their contingency table (scikit-learn's definitions:
//! `adjusted_rand_score`, `normalized_mutual_info_score` with the arithmetic
//! mean of the entropies as normaliser, its default).

use crate::error::{EvalError, Result};
use crate::labels::Labels;

/// Non-zero cells of the contingency table: (truth code, predicted code, count).
fn contingency(truth: &Labels, pred: &Labels) -> Result<Vec<(u32, u32, u64)>> {
    if truth.len() != pred.len() {
        return Err(EvalError::Labels {
            what: "true labels".into(),
            message: format!(
                "{} true labels but {} predicted ones; give one of each per row",
                truth.len(),
                pred.len()
            ),
        });
    }
    let kp = pred.k() as u64;
    let mut keys: Vec<u64> = truth
        .codes()
        .iter()
        .zip(pred.codes())
        .map(|(&t, &p)| u64::from(t) * kp + u64::from(p))
        .collect();
    keys.sort_unstable();
    let mut cells = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i;
        while j < keys.len() && keys[j] == keys[i] {
            j += 1;
        }
        cells.push(((keys[i] / kp) as u32, (keys[i] % kp) as u32, (j - i) as u64));
        i = j;
    }
    Ok(cells)
}

/// Adjusted Rand index (1 for identical partitions, about 0 for random ones).
///
/// # Errors
/// [`EvalError::Labels`] when the labellings differ in length.
pub fn adjusted_rand_index(truth: &Labels, pred: &Labels) -> Result<f64> {
    let cells = contingency(truth, pred)?;
    // Pair counts, exactly in 128-bit integers (as Python's ints do).
    let n = truth.len() as i128;
    let sum_sq: i128 = cells
        .iter()
        .map(|&(_, _, c)| i128::from(c) * i128::from(c))
        .sum();
    let row_sq: i128 = truth
        .counts()
        .iter()
        .map(|&c| i128::from(c) * i128::from(c))
        .sum();
    let col_sq: i128 = pred
        .counts()
        .iter()
        .map(|&c| i128::from(c) * i128::from(c))
        .sum();
    let tp = sum_sq - n;
    let fp = col_sq - sum_sq;
    let fn_ = row_sq - sum_sq;
    let tn = n * n - fp - fn_ - sum_sq;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let num = 2.0 * ((tp as f64) * (tn as f64) - (fn_ as f64) * (fp as f64));
    let den = ((tp + fn_) as f64) * ((fn_ + tn) as f64) + ((tp + fp) as f64) * ((fp + tn) as f64);
    Ok(num / den)
}

fn entropy(counts: &[u64]) -> f64 {
    if counts.len() <= 1 {
        return 0.0;
    }
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    -counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = c as f64;
            (c / total) * (c.ln() - total.ln())
        })
        .sum::<f64>()
}

/// Mutual information of two labellings, in nats.
fn mutual_info(truth: &Labels, pred: &Labels, cells: &[(u32, u32, u64)]) -> f64 {
    if truth.k() == 1 || pred.k() == 1 {
        return 0.0;
    }
    let n = truth.len() as f64;
    let (pi, pj) = (truth.counts(), pred.counts());
    let mi: f64 = cells
        .iter()
        .map(|&(t, p, c)| {
            let c = c as f64;
            let outer = pi[t as usize] as f64 * pj[p as usize] as f64;
            let term = (c / n) * (c.ln() - n.ln()) + (c / n) * (-outer.ln() + 2.0 * n.ln());
            if term.abs() < f64::EPSILON { 0.0 } else { term }
        })
        .sum();
    mi.max(0.0)
}

/// Normalised mutual information, MI / mean(H(truth), H(pred)).
///
/// # Errors
/// [`EvalError::Labels`] when the labellings differ in length.
pub fn normalized_mutual_info(truth: &Labels, pred: &Labels) -> Result<f64> {
    let cells = contingency(truth, pred)?;
    if truth.k() == pred.k() && truth.k() <= 1 {
        return Ok(1.0);
    }
    let mi = mutual_info(truth, pred, &cells);
    if mi == 0.0 {
        return Ok(0.0);
    }
    let norm = ((entropy(truth.counts()) + entropy(pred.counts())) / 2.0).max(f64::EPSILON);
    Ok(mi / norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_and_permuted_partitions_score_one() {
        let a = Labels::new(&[0i32, 0, 1, 1, 2, 2]).unwrap();
        let b = Labels::new(&[5i32, 5, 3, 3, 9, 9]).unwrap();
        assert_eq!(adjusted_rand_index(&a, &b).unwrap(), 1.0);
        assert!((normalized_mutual_info(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        // sklearn: adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714285714285715
        let t = Labels::new(&[0i32, 0, 1, 1]).unwrap();
        let p = Labels::new(&[0i32, 0, 1, 2]).unwrap();
        assert!((adjusted_rand_index(&t, &p).unwrap() - 0.571_428_571_428_571_5).abs() < 1e-12);
        assert!(adjusted_rand_index(&t, &a).is_err());
    }
}
