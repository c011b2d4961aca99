//! Placeholder: the attribute-overhead benchmark (being written).
fn main() {}
