#[testdock::container_test(expose = [80], ready = log("up"))]
async fn t() {}

fn main() {}
