#[testdock::container_test(compose = "tests/no_such_stack.yml")]
async fn t(stack: testdock::compose::Stack) {
    let _ = stack;
}

fn main() {}
