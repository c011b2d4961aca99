use testdock::Container;

#[testdock::container_test(image = "redis:7")]
async fn t(a: Container, b: Container) {
    let _ = (a, b);
}

fn main() {}
