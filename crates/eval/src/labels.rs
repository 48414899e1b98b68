//! Cluster labels as the scores see them: any integers, re-coded to 0..k.

use crate::error::{EvalError, Result};

/// A labelling of n rows, re-coded to `0..k` in increasing order of the
/// original values (scikit-learn's `LabelEncoder`), with cluster sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    codes: Vec<u32>,
    values: Vec<i64>,
    counts: Vec<u64>,
}

impl Labels {
    /// Re-codes `raw` (any integers; −1 is just another label, as in scikit-learn).
    ///
    /// # Errors
    /// [`EvalError::Labels`] when `raw` is empty.
    pub fn new<T: Copy + Into<i64>>(raw: &[T]) -> Result<Self> {
        if raw.is_empty() {
            return Err(EvalError::Labels {
                what: "labels".into(),
                message: "no labels given".into(),
            });
        }
        let mut values: Vec<i64> = raw.iter().map(|&v| v.into()).collect();
        values.sort_unstable();
        values.dedup();
        let mut counts = vec![0u64; values.len()];
        let codes = raw
            .iter()
            .map(|&v| {
                let c = values.binary_search(&v.into()).unwrap_or(0);
                counts[c] += 1;
                c as u32
            })
            .collect();
        Ok(Labels {
            codes,
            values,
            counts,
        })
    }

    /// Number of labelled rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Always false: a labelling has at least one row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Number of distinct labels.
    #[must_use]
    pub fn k(&self) -> usize {
        self.values.len()
    }

    /// Codes in `0..k`, one per row.
    #[must_use]
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The original label of each code.
    #[must_use]
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// Rows per code.
    #[must_use]
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Checks that there is one label per row of `source_name`'s `n_rows`.
    ///
    /// # Errors
    /// [`EvalError::Labels`] naming both lengths.
    pub fn check_len(&self, n_rows: usize, source_name: &str) -> Result<()> {
        if self.len() != n_rows {
            return Err(EvalError::Labels {
                what: "labels".into(),
                message: format!(
                    "{} labels for the {n_rows} rows of {source_name}; give exactly one label per row",
                    self.len()
                ),
            });
        }
        Ok(())
    }

    /// Checks 2 ≤ k ≤ n − 1, which the silhouette and the cluster scores need.
    ///
    /// # Errors
    /// [`EvalError::Labels`] saying what is wrong.
    pub fn check_cluster_count(&self) -> Result<()> {
        let (k, n) = (self.k(), self.len());
        if k < 2 || k + 1 > n {
            return Err(EvalError::Labels {
                what: "labels".into(),
                message: format!(
                    "{k} distinct label(s) for {n} rows; these scores need between 2 and n − 1 = {} clusters",
                    n.saturating_sub(1)
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recodes_in_sorted_order() {
        let l = Labels::new(&[5i32, -1, 5, 7]).unwrap();
        assert_eq!(l.codes(), &[1, 0, 1, 2]);
        assert_eq!(l.values(), &[-1, 5, 7]);
        assert_eq!(l.counts(), &[1, 2, 1]);
        assert!(l.check_len(3, "x").is_err());
        assert!(l.check_cluster_count().is_ok());
        assert!(
            Labels::new(&[1i32, 1])
                .unwrap()
                .check_cluster_count()
                .is_err()
        );
        assert!(Labels::new::<i32>(&[]).is_err());
    }
}
