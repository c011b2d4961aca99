use testdock::runner::{Fixture, TestContext};
use testdock::{container_test, Container};

struct Db(Container);

impl Fixture for Db {
    async fn setup(ctx: &TestContext) -> testdock::Result<Self> {
        Ok(Db(ctx.spec("db:1").start().await?))
    }
}

async fn other_db(ctx: &TestContext) -> testdock::Result<Db> {
    Db::setup(ctx).await
}

#[container_test(
    image = "redis:7",
    cmd = ["redis-server"],
    env = ["MODE=test"],
    expose = [6379],
    ready = all([log("Ready").times(2), tcp(6379)]),
    startup_timeout = "20s",
    timeout = "1m"
)]
async fn inline(c: Container) {
    let _ = c;
}

#[container_test(network = true)]
async fn fixtures(a: Db, #[from(other_db)] b: Db) -> Result<(), String> {
    let _ = (a, b);
    Ok(())
}

#[container_test]
#[ignore]
fn plain() {}

#[container_test(crate = "testdock")]
#[should_panic]
async fn renamed_crate_path() {
    panic!("x");
}

fn main() {}
