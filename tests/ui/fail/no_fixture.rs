use testdock::Container;

#[testdock::container_test]
async fn t(c: Container) {
    let _ = c;
}

fn main() {}
