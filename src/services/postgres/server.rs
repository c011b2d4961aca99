//! [`PostgresServer`]: a running server, where it is, how to log in, a client; and the
//! default server a `PostgresServer` argument gets.

use super::{client, Postgres};
use crate::container::Container;
use crate::error::Result;
use crate::runner::{Fixture, TestContext};
use crate::services::{percent_encode, start_for_test, ServiceContainer};

/// A running PostgreSQL server: where it is, how to log in, a client.
#[derive(Debug)]
pub struct PostgresServer {
    pub(super) config: Postgres,
    pub(super) container: ServiceContainer,
    pub(super) port: u16,
}

impl PostgresServer {
    /// The container it runs in (exec `psql`, logs, commit, ...).
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// The host it is reached on.
    pub fn host(&self) -> &str {
        self.container.host()
    }

    /// The host port of its 5432.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The configured user.
    pub fn user(&self) -> &str {
        &self.config.user
    }

    /// The configured password.
    pub fn password(&self) -> &str {
        &self.config.password
    }

    /// The configured database.
    pub fn database(&self) -> &str {
        &self.config.database
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Postgres {
        &self.config
    }

    /// `postgres://user:password@host:port/database` (user and password
    /// percent-encoded), for `sqlx`, `diesel`, `psql`.
    pub fn url(&self) -> String {
        self.url_for(&self.config.database)
    }

    /// `host=... port=... user=... password=... dbname=...`, for `tokio-postgres`
    /// and libpq.
    pub fn connection_string(&self) -> String {
        self.connection_string_for(&self.config.database)
    }

    /// A `tokio-postgres` client of the configured database; its connection runs on
    /// the current runtime.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        self.connect_to(&self.config.database).await
    }

    pub(super) fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}",
            percent_encode(&self.config.user),
            percent_encode(&self.config.password),
            self.host(),
            self.port,
            percent_encode(database)
        )
    }

    pub(super) fn connection_string_for(&self, database: &str) -> String {
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        format!(
            "host={} port={} user={} password={} dbname={}",
            self.host(),
            self.port,
            quote(&self.config.user),
            quote(&self.config.password),
            quote(database)
        )
    }

    pub(super) async fn connect_to(&self, database: &str) -> Result<tokio_postgres::Client> {
        let mut login = self.config.login();
        login.database = database.to_owned();
        let config = login.config(self.host(), self.port);
        client::connect_as(
            self.container.name(),
            &format!("database `{database}`"),
            &config,
        )
        .await
    }

    /// Removes its container now (when it is its own; a shared one stays for the run).
    pub async fn remove(self) -> Result<()> {
        self.container.remove().await
    }
}

/// A `PostgresServer` argument: a server of the test's own, `Postgres::default()`.
impl Fixture for PostgresServer {
    async fn setup(ctx: &TestContext) -> Result<Self> {
        start_for_test(Postgres::default(), ctx).await
    }
}
