#[testdock::container_test(image = "redis:7", expose = [6379])]
async fn t() {}

fn main() {}
