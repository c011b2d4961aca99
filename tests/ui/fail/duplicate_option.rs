#[testdock::container_test(image = "a", image = "b")]
async fn t(c: testdock::Container) {
    let _ = c;
}

fn main() {}
