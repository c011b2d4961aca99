#[testdock::container_test(timeout = "30 seconds")]
async fn t() {}

fn main() {}
