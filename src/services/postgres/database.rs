//! A fresh database per test in a shared server: [`DatabaseTemplate`] migrates a
//! template database once per server, [`TestDatabase`] is a copy of it
//! (`CREATE DATABASE ... TEMPLATE ...`) for one test, dropped after it.

use tokio::sync::OnceCell;

use super::client::describe;
use super::{Postgres, PostgresServer, SHARED};
use crate::error::{Error, Result};
use crate::runner::{Fixture, TestContext};
use crate::services::SharedService;
use crate::shared::unique_name;

/// A template database on a shared server, migrated once, that each test copies.
/// Declare it in a `static`; take its databases with `#[from(...)]`.
///
/// The template is made once per server (under nextest, whose processes share the
/// server, under an advisory lock): its name holds a hash of the migrations, so a
/// changed migration makes a new template. A migration that fails is an
/// [`Error::Service`] naming it, with PostgreSQL's message; the template is dropped,
/// so the next test tries again.
///
/// ```no_run
/// use testdock::container_test;
/// use testdock::runner::TestContext;
/// use testdock::services::postgres::{DatabaseTemplate, TestDatabase, SHARED};
///
/// static APP: DatabaseTemplate = DatabaseTemplate::new(&SHARED, "app", &[
///     "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)",
///     "INSERT INTO users (name) VALUES ('alice')",
/// ]);
///
/// async fn app_db(_: &TestContext) -> testdock::Result<TestDatabase> {
///     APP.database().await
/// }
///
/// #[container_test]
/// async fn sees_the_seed(#[from(app_db)] db: TestDatabase) {
///     let client = db.connect().await.unwrap();
///     let rows = client.query("SELECT name FROM users", &[]).await.unwrap();
///     assert_eq!(rows.len(), 1);
/// }
/// ```
#[derive(Debug)]
pub struct DatabaseTemplate {
    server: &'static SharedService<Postgres>,
    name: &'static str,
    migrations: &'static [&'static str],
    made: OnceCell<String>,
}

impl DatabaseTemplate {
    /// A template named after `name` on `server`, made by running `migrations` in
    /// order (each may hold several statements).
    pub const fn new(
        server: &'static SharedService<Postgres>,
        name: &'static str,
        migrations: &'static [&'static str],
    ) -> Self {
        DatabaseTemplate {
            server,
            name,
            migrations,
            made: OnceCell::const_new(),
        }
    }

    /// A fresh database for one test: a copy of the template (made first if needed).
    pub async fn database(&'static self) -> Result<TestDatabase> {
        let server = self.server.get().await?;
        let template = self.made.get_or_try_init(|| self.make(server)).await?;
        TestDatabase::create(server, Some(template)).await
    }

    /// The template's database name: the name, and a hash of the migrations.
    fn template_name(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for m in self.migrations {
            hash.update(m.as_bytes());
            hash.update([0]);
        }
        let hex: String = hash
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("template_{}_{hex}", identifier_safe(self.name, 30))
    }

    /// Makes the template unless the server has it.
    async fn make(&self, server: &PostgresServer) -> Result<String> {
        let name = self.template_name();
        let fail = |action: String, e: &tokio_postgres::Error| Error::Service {
            service: "PostgreSQL".to_owned(),
            container: server.container().name().to_owned(),
            action,
            message: describe(e),
            logs: None,
        };
        let admin = server.connect_to("postgres").await?;
        admin
            .query("SELECT pg_advisory_lock(hashtext($1))", &[&name])
            .await
            .map_err(|e| fail(format!("locking template `{name}`"), &e))?;
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(|e| fail(format!("looking for template `{name}`"), &e))?
            .is_some();
        if !exists {
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .map_err(|e| fail(format!("creating template `{name}`"), &e))?;
            if let Err(e) = self.migrate(server, &name).await {
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                return Err(e);
            }
        }
        // The lock ends with the session.
        drop(admin);
        Ok(name)
    }

    /// Runs the migrations in the template, then disconnects (a template being copied
    /// must have no sessions).
    async fn migrate(&self, server: &PostgresServer, template: &str) -> Result<()> {
        let client = server.connect_to(template).await?;
        for (i, migration) in self.migrations.iter().enumerate() {
            client
                .batch_execute(migration)
                .await
                .map_err(|e| Error::Service {
                    service: "PostgreSQL".to_owned(),
                    container: server.container().name().to_owned(),
                    action: format!(
                        "migration {} of template `{}` ({})",
                        i + 1,
                        self.name,
                        first_line(migration)
                    ),
                    message: describe(&e),
                    logs: None,
                })?;
        }
        Ok(())
    }
}

/// A database of one test, in a shared server, dropped (`WITH (FORCE)`, in the
/// background) when this handle is dropped: after the test, also when it panics. If
/// the process ends first, it goes with the server, which is removed when the run
/// ends in any case.
///
/// As an argument (`db: TestDatabase`) it is an empty database in [`SHARED`]; with
/// migrations, see [`DatabaseTemplate`].
#[derive(Debug)]
pub struct TestDatabase {
    server: &'static PostgresServer,
    name: String,
}

impl TestDatabase {
    /// Creates a database for the current test on `server`, copied from `template`
    /// (PostgreSQL's `template1` if `None`).
    async fn create(
        server: &'static PostgresServer,
        template: Option<&str>,
    ) -> Result<TestDatabase> {
        let name = unique_name(&format!("test_{}", identifier_safe(&test_name(), 30)));
        let admin = server.connect_to("postgres").await?;
        let from = template
            .map(|t| format!(" TEMPLATE \"{t}\""))
            .unwrap_or_default();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\"{from}"))
            .await
            .map_err(|e| Error::Service {
                service: "PostgreSQL".to_owned(),
                container: server.container().name().to_owned(),
                action: format!("creating database `{name}`{from}"),
                message: describe(&e),
                logs: None,
            })?;
        Ok(TestDatabase { server, name })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server it is in.
    pub fn server(&self) -> &'static PostgresServer {
        self.server
    }

    /// `postgres://user:password@host:port/<this database>`.
    pub fn url(&self) -> String {
        self.server.url_for(&self.name)
    }

    /// `host=... port=... user=... password=... dbname=<this database>`.
    pub fn connection_string(&self) -> String {
        self.server.connection_string_for(&self.name)
    }

    /// A `tokio-postgres` client of this database.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        self.server.connect_to(&self.name).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server;
        let name = std::mem::take(&mut self.name);
        let drop_it = async move {
            let Ok(admin) = server.connect_to("postgres").await else {
                return;
            };
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = admin.batch_execute(&sql).await {
                tracing::warn!(database = %name, error = %describe(&e), "could not drop the test database");
            }
        };
        crate::services::spawn_cleanup(drop_it);
    }
}

/// A `TestDatabase` argument: an empty database in [`SHARED`].
impl Fixture for TestDatabase {
    async fn setup(_: &TestContext) -> Result<Self> {
        TestDatabase::create(SHARED.get().await?, None).await
    }
}

/// The current test's name (its last path segment), for database names.
fn test_name() -> String {
    let id = crate::labels::current_test_id();
    id.rsplit("::").next().unwrap_or("test").to_owned()
}

/// Lower-case letters, digits and `_`, at most `max` of them.
fn identifier_safe(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

fn first_line(sql: &str) -> String {
    let line = sql.trim().lines().next().unwrap_or("");
    let mut short: String = line.chars().take(60).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}
