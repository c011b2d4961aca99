use testdock::compose::Stack;

#[testdock::container_test]
async fn t(stack: Stack) {
    let _ = stack;
}

fn main() {}
