//! Placeholder: readiness-detection benchmark (being written).
fn main() {}
