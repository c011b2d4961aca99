#[testdock::container_test(image = 7, network = "yes")]
async fn t() {}

fn main() {}
