#[testdock::container_test(expose = [80], ready = Probe::log("up"))]
async fn t() {}

fn main() {}
