//! Compile-time behaviour of `#[container_test]`: accepted forms build, bad input is a
//! compile error pointing at the offending token (committed `.stderr` files).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
