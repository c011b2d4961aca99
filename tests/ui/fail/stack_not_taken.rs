// trybuild compiles this in a project of its own, whose root holds a Cargo.toml: a file
// that exists there, so the check reached is the one about the argument.
#[testdock::container_test(compose = "Cargo.toml")]
async fn t() {}

fn main() {}
