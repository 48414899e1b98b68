//! [`Partial`]: partial statistics as flat `f64` buffers, so a pass's subtree
//! results can cross process boundaries (MPI) and be merged on the other side
//! exactly as they would have been in one process.
//!
//! Integers travel as `f64`, exact up to 2⁵³ (counts of rows, row indices);
//! `f64` values travel bit for bit, `f32` values widen exactly.

use crate::error::{CoreError, Result};

/// A value that can be written to and read back from a flat `f64` buffer,
/// bitwise: `decode(encode(x)) == x` for every value, including NaN payloads,
/// signed zeros and infinities.
pub trait Partial: Sized {
    /// Appends this value to `out`.
    fn encode(&self, out: &mut Vec<f64>);
    /// Reads one value written by [`Partial::encode`].
    ///
    /// # Errors
    /// [`CoreError::Communication`] when the buffer ends early or holds a
    /// value out of range (a message mangled in transit, or mismatched code).
    fn decode(r: &mut PartialReader<'_>) -> Result<Self>;

    /// Appends `values` (a `Vec`'s elements); types that are one `f64` each
    /// copy the slice at once.
    fn encode_slice(values: &[Self], out: &mut Vec<f64>) {
        for v in values {
            v.encode(out);
        }
    }

    /// Reads `n` values written by [`Partial::encode_slice`].
    ///
    /// # Errors
    /// As [`Partial::decode`].
    fn decode_vec(r: &mut PartialReader<'_>, n: usize) -> Result<Vec<Self>> {
        (0..n).map(|_| Self::decode(r)).collect()
    }
}

/// Reads values written by [`Partial::encode`] from the front of a buffer.
#[derive(Debug)]
pub struct PartialReader<'a> {
    buf: &'a [f64],
}

impl<'a> PartialReader<'a> {
    /// Reads from the start of `buf`.
    #[must_use]
    pub fn new(buf: &'a [f64]) -> Self {
        PartialReader { buf }
    }

    /// The next value.
    ///
    /// # Errors
    /// When the buffer is exhausted.
    pub fn next_f64(&mut self) -> Result<f64> {
        let (&first, rest) = self.buf.split_first().ok_or_else(truncated)?;
        self.buf = rest;
        Ok(first)
    }

    /// The next `n` values.
    ///
    /// # Errors
    /// When fewer than `n` remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [f64]> {
        if self.buf.len() < n {
            return Err(truncated());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// Values not read yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

fn truncated() -> CoreError {
    CoreError::communication(
        "a partial-statistics message ended early (processes running different builds?)",
    )
}

fn integer(v: f64) -> Result<u64> {
    if v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0 {
        Ok(v as u64)
    } else {
        Err(CoreError::communication(format!(
            "{v} in a partial-statistics message is not a count"
        )))
    }
}

impl Partial for f64 {
    fn encode(&self, out: &mut Vec<f64>) {
        out.push(*self);
    }
    fn decode(r: &mut PartialReader<'_>) -> Result<Self> {
        r.next_f64()
    }
    fn encode_slice(values: &[Self], out: &mut Vec<f64>) {
        out.extend_from_slice(values);
    }
    fn decode_vec(r: &mut PartialReader<'_>, n: usize) -> Result<Vec<Self>> {
        Ok(r.take(n)?.to_vec())
    }
}

impl Partial for f32 {
    fn encode(&self, out: &mut Vec<f64>) {
        out.push(f64::from(*self));
    }
    fn decode(r: &mut PartialReader<'_>) -> Result<Self> {
        // Every f32 widened to f64 narrows back to itself.
        Ok(r.next_f64()? as f32)
    }
}

macro_rules! int_partial {
    ($($t:ty),*) => {$(
        impl Partial for $t {
            fn encode(&self, out: &mut Vec<f64>) {
                out.push(*self as f64);
            }
            fn decode(r: &mut PartialReader<'_>) -> Result<Self> {
                let v = integer(r.next_f64()?)?;
                <$t>::try_from(v).map_err(|_| {
                    CoreError::param("partial", format!("{v} does not fit a {}", stringify!($t)))
                })
            }
        }
    )*};
}
int_partial!(u64, u32, usize);

impl Partial for () {
    fn encode(&self, _out: &mut Vec<f64>) {}
    fn decode(_r: &mut PartialReader<'_>) -> Result<Self> {
        Ok(())
    }
}

impl<T: Partial> Partial for Vec<T> {
    fn encode(&self, out: &mut Vec<f64>) {
        self.len().encode(out);
        T::encode_slice(self, out);
    }
    fn decode(r: &mut PartialReader<'_>) -> Result<Self> {
        let n = usize::decode(r)?;
        if n > r.remaining() {
            return Err(truncated());
        }
        T::decode_vec(r, n)
    }
}

impl<T: Partial> Partial for Option<T> {
    fn encode(&self, out: &mut Vec<f64>) {
        match self {
            None => out.push(0.0),
            Some(v) => {
                out.push(1.0);
                v.encode(out);
            }
        }
    }
    fn decode(r: &mut PartialReader<'_>) -> Result<Self> {
        match integer(r.next_f64()?)? {
            0 => Ok(None),
            _ => Ok(Some(T::decode(r)?)),
        }
    }
}

macro_rules! tuple_partial {
    ($($name:ident),*) => {
        impl<$($name: Partial),*> Partial for ($($name,)*) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Vec<f64>) {
                let ($($name,)*) = self;
                $($name.encode(out);)*
            }
            fn decode(r: &mut PartialReader<'_>) -> Result<Self> {
                Ok(($($name::decode(r)?,)*))
            }
        }
    };
}
tuple_partial!(A, B);
tuple_partial!(A, B, C);
tuple_partial!(A, B, C, D);

/// Implements [`Partial`] for a struct whose fields are all [`Partial`]:
/// the fields listed are encoded one after another, in the order listed, and
/// decoded in the same order (list every field).
///
/// ```
/// use mmclust_core::partial::{Partial, PartialReader};
///
/// #[derive(Debug, PartialEq)]
/// struct Sums {
///     n: u64,
///     total: Vec<f64>,
/// }
/// mmclust_core::partial_struct!(Sums { n, total });
///
/// let s = Sums { n: 3, total: vec![1.5, -2.0] };
/// let mut buf = Vec::new();
/// s.encode(&mut buf);
/// assert_eq!(Sums::decode(&mut PartialReader::new(&buf))?, s);
/// # Ok::<(), mmclust_core::CoreError>(())
/// ```
#[macro_export]
macro_rules! partial_struct {
    ($name:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::partial::Partial for $name {
            fn encode(&self, out: &mut ::std::vec::Vec<f64>) {
                $($crate::partial::Partial::encode(&self.$field, out);)+
            }
            fn decode(r: &mut $crate::partial::PartialReader<'_>) -> $crate::Result<Self> {
                Ok($name {
                    $($field: $crate::partial::Partial::decode(r)?,)+
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Partial + PartialEq + std::fmt::Debug>(v: T) {
        let mut buf = Vec::new();
        v.encode(&mut buf);
        let mut r = PartialReader::new(&buf);
        assert_eq!(T::decode(&mut r).unwrap(), v);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn values_survive_the_trip_bitwise() {
        round_trip(vec![(1.5f32, 7usize, 3u32), (-0.0, 0, u32::MAX)]);
        round_trip((
            Some((4usize, 2usize)),
            9u64,
            vec![f64::INFINITY, -0.0, 1e-300],
        ));
        round_trip(Option::<u64>::None);
        let mut buf = Vec::new();
        f64::NAN.encode(&mut buf);
        assert!(f64::decode(&mut PartialReader::new(&buf)).unwrap().is_nan());
        let neg_zero = f64::decode(&mut PartialReader::new(&[-0.0])).unwrap();
        assert!(neg_zero.is_sign_negative());
    }

    #[test]
    fn short_or_bad_buffers_are_errors() {
        assert!(Vec::<f64>::decode(&mut PartialReader::new(&[3.0, 1.0])).is_err());
        assert!(u64::decode(&mut PartialReader::new(&[-1.0])).is_err());
        assert!(u32::decode(&mut PartialReader::new(&[1e10])).is_err());
        assert!(usize::decode(&mut PartialReader::new(&[0.5])).is_err());
    }
}
