#[testdock::container_test]
#[test]
async fn t() {}

fn main() {}
