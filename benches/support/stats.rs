//! Statistics of the samples: median, nearest-rank 90th percentile, extremes, and the
//! conversions the reports print (milliseconds, ratios).

use std::cmp::Ordering;
use std::time::Duration;

/// A sample value: a [`Duration`] or milliseconds as `f64`.
pub trait Value: Copy {
    /// What a statistic of no samples is (zero, or NaN for `f64`).
    const NONE: Self;
    /// A total order (`f64::total_cmp` for floats).
    fn order(&self, other: &Self) -> Ordering;
    /// The midpoint of two values (the median of an even count).
    fn midpoint(a: Self, b: Self) -> Self;
}

impl Value for Duration {
    const NONE: Self = Duration::ZERO;

    fn order(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }

    fn midpoint(a: Self, b: Self) -> Self {
        (a + b) / 2
    }
}

impl Value for f64 {
    const NONE: Self = f64::NAN;

    fn order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }

    fn midpoint(a: Self, b: Self) -> Self {
        (a + b) / 2.0
    }
}

/// The values in ascending order.
pub fn sorted<T: Value>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_by(T::order);
    v
}

/// The median (the mean of the middle two for an even count); [`Value::NONE`] if empty.
pub fn median<T: Value>(v: &[T]) -> T {
    let v = sorted(v);
    let n = v.len();
    if n == 0 {
        T::NONE
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        T::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

/// Nearest-rank 90th percentile; [`Value::NONE`] if empty.
pub fn p90<T: Value>(v: &[T]) -> T {
    let v = sorted(v);
    if v.is_empty() {
        return T::NONE;
    }
    let rank = (v.len() * 9).div_ceil(10).max(1);
    v[rank - 1]
}

/// The smallest value; [`Value::NONE`] if empty.
pub fn min<T: Value>(v: &[T]) -> T {
    v.iter().copied().min_by(T::order).unwrap_or(T::NONE)
}

/// The largest value; [`Value::NONE`] if empty.
pub fn max<T: Value>(v: &[T]) -> T {
    v.iter().copied().max_by(T::order).unwrap_or(T::NONE)
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `a / b`, with `b` kept above zero.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    ms(a) / ms(b).max(f64::MIN_POSITIVE)
}
