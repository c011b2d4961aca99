use testdock::runner::{Fixture, TestContext};
use testdock::{container_test, Container, ContainerSpec, InjectFile, Probe};

struct Db(Container);

impl Fixture for Db {
    async fn setup(ctx: &TestContext) -> testdock::Result<Self> {
        Ok(Db(ctx.spec("db:1").start().await?))
    }
}

async fn other_db(ctx: &TestContext) -> testdock::Result<Db> {
    Db::setup(ctx).await
}

/// A user type that happens to be called `Container`: just another fixture.
mod mine {
    pub struct Container;

    impl testdock::runner::Fixture for Container {
        async fn setup(_: &testdock::runner::TestContext) -> testdock::Result<Self> {
            Ok(Container)
        }
    }
}

fn my_spec() -> ContainerSpec {
    ContainerSpec::new("redis:7").expose(6379)
}

#[container_test(
    image = "redis:7",
    cmd = ["redis-server"],
    env = ["MODE=test"],
    expose = [6379],
    files = [InjectFile::from_bytes("/etc/app.conf", "k=v\n").mode(0o600)],
    ready = Probe::all([Probe::log("Ready").times(2), Probe::tcp(6379)]),
    startup_timeout = "20s",
    timeout = "1m"
)]
async fn inline(c: Container) {
    let _ = c;
}

#[container_test(spec = my_spec(), ready = Probe::tcp(6379))]
async fn whole_spec(db: Db, c: Container) {
    let _ = (db, c);
}

#[container_test(network = true)]
async fn fixtures(a: Db, #[from(other_db)] b: Db, c: mine::Container) -> Result<(), String> {
    let _ = (a, b, c);
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
