#[testdock::container_test(imgae = "redis:7")]
async fn t() {}

fn main() {}
