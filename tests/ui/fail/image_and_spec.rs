fn my_spec() -> testdock::ContainerSpec {
    testdock::ContainerSpec::new("redis:7")
}

#[testdock::container_test(image = "redis:7", spec = my_spec())]
async fn t(c: testdock::Container) {
    let _ = c;
}

fn main() {}
