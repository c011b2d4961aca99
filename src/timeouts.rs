//! Time limits and the global scale for slow machines.
//!
//! Every limit testdock applies (startup, readiness, image pull and build, teardown),
//! whether a default or given by the caller, is multiplied by `TESTDOCK_TIMEOUT_SCALE`
//! (a positive number, default 1): `TESTDOCK_TIMEOUT_SCALE=3` on a slow CI runner
//! triples them all without touching the tests.

use std::time::Duration;

use once_cell::sync::Lazy;

/// Environment variable holding the multiplier.
pub const SCALE_ENV: &str = "TESTDOCK_TIMEOUT_SCALE";

static SCALE: Lazy<f64> = Lazy::new(|| parse_scale(std::env::var(SCALE_ENV).ok().as_deref()));

/// The multiplier in force (read once per process).
pub fn scale() -> f64 {
    *SCALE
}

/// `limit` multiplied by the scale.
pub fn scaled(limit: Duration) -> Duration {
    scale_by(limit, scale())
}

/// The longest limit testdock applies: a year, i.e. none, yet still safe to add to an
/// `Instant` (`Duration::MAX` is not).
pub const MAX_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

fn scale_by(limit: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(limit.as_secs_f64() * factor)
        .unwrap_or(MAX_LIMIT)
        .min(MAX_LIMIT)
}

/// Parses the variable's value; anything but a finite positive number means 1, with a
/// warning on stderr for a value that was set but unusable.
fn parse_scale(value: Option<&str>) -> f64 {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return 1.0;
    };
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => f,
        _ => {
            // Kept on stderr: a setting is being ignored, and only the user can fix it.
            tracing::warn!(
                variable = SCALE_ENV,
                value = text,
                "ignoring the timeout scale: expected a positive number"
            );
            eprintln!("testdock: ignoring {SCALE_ENV}={text:?}: expected a positive number such as 2 or 0.5");
            1.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_is_a_positive_number_or_one() {
        assert_eq!(parse_scale(None), 1.0);
        assert_eq!(parse_scale(Some("")), 1.0);
        assert_eq!(parse_scale(Some("3")), 3.0);
        assert_eq!(parse_scale(Some(" 0.5 ")), 0.5);
        assert_eq!(parse_scale(Some("0")), 1.0);
        assert_eq!(parse_scale(Some("-2")), 1.0);
        assert_eq!(parse_scale(Some("fast")), 1.0);
        assert_eq!(parse_scale(Some("inf")), 1.0);
    }

    #[test]
    fn limits_are_multiplied() {
        assert_eq!(
            scale_by(Duration::from_secs(10), 3.0),
            Duration::from_secs(30)
        );
        assert_eq!(
            scale_by(Duration::from_millis(100), 0.5),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn huge_limits_saturate_instead_of_panicking() {
        assert_eq!(scale_by(Duration::MAX, 3.0), MAX_LIMIT);
        assert_eq!(scale_by(Duration::MAX, 1.0), MAX_LIMIT);
        assert_eq!(
            scale_by(Duration::from_secs(u64::MAX / 2), 1e300),
            MAX_LIMIT
        );
        let _ = std::time::Instant::now() + scale_by(Duration::MAX, 2.0);
    }
}
