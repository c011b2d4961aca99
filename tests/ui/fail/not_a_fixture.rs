#[testdock::container_test]
async fn t(port: u16) {
    let _ = port;
}

fn main() {}
