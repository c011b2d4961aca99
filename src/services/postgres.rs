//! PostgreSQL: [`Postgres`] (the configuration), [`PostgresServer`] (a running server),
//! [`TestDatabase`] and [`DatabaseTemplate`] (a fresh database per test in a shared
//! server).
//!
//! ```no_run
//! use testdock::container_test;
//! use testdock::services::postgres::{Postgres, PostgresServer, TestDatabase};
//!
//! // A server of its own for this test, default configuration:
//! #[container_test]
//! async fn own_server(pg: PostgresServer) {
//!     let client = pg.connect().await.unwrap();
//!     client.simple_query("SELECT 1").await.unwrap();
//! }
//!
//! // A fresh database in the run's shared server (dropped after the test):
//! #[container_test]
//! async fn own_database(db: TestDatabase) {
//!     let client = db.connect().await.unwrap();
//!     client.batch_execute("CREATE TABLE t (x int)").await.unwrap();
//! }
//!
//! // By hand, configured:
//! # async fn demo() -> testdock::Result<()> {
//! let pg = Postgres::default()
//!     .version(16)
//!     .user("app")
//!     .password("secret")
//!     .database("app")
//!     .setting("max_connections", "50")
//!     .init_sql("CREATE TABLE users (id serial PRIMARY KEY, name text)")
//!     .start()
//!     .await?;
//! println!("{}", pg.url()); // postgres://app:secret@127.0.0.1:32771/app
//! # Ok(()) }
//! ```
//!
//! The server is ready when a real query succeeds over the published port, as the
//! configured user: init scripts have run, the restart after them is over. A script
//! that fails stops the start with an [`Error::Exited`] whose
//! log lines show `psql`'s error and the failing statement; a `pg_hba.conf` line the
//! server rejects, the same with the server's message and the line number.

mod client;
mod conf;
mod database;
mod image;
mod server;

use std::time::Duration;

pub use database::{DatabaseTemplate, TestDatabase};
pub use server::PostgresServer;

use crate::error::{Error, Result};
use crate::image::ImageSource;
use crate::inject::InjectFile;
use crate::services::{start, Service, ServiceContainer, ServiceSource, SharedService};
use crate::spec::ContainerSpec;

/// The port PostgreSQL listens on in its container.
pub const PORT: u16 = 5432;

/// Where the server keeps its data by default: a tmpfs (PostgreSQL's many small files,
/// created and removed with each database, are slow on an overlay filesystem).
const TMPFS: &str = "/var/lib/postgresql/tmpfs";
const PGDATA_TMPFS: &str = "/var/lib/postgresql/tmpfs/data";

/// Where it keeps them with [`Postgres::keep_data_in_layer`]: in the container's own
/// layer (not the official image's volume), so that
/// [`Container::commit`](crate::Container::commit) snapshots hold them.
const PGDATA_LAYER: &str = "/var/lib/postgresql/testdock";

/// The server [`TestDatabase`] arguments (and [`DatabaseTemplate`]s made on it) use:
/// `Postgres::default()`, shared by the run.
pub static SHARED: SharedService<Postgres> =
    SharedService::new("testdock-postgres", Postgres::default);

/// How TCP clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Auth {
    Scram,
    Trust,
}

/// A PostgreSQL server's configuration: build it, then [`start`](Self::start) it,
/// share it ([`SharedService`]), or take a [`PostgresServer`] argument for the default.
///
/// Defaults: the newest major version the host has binaries of (else 17), user,
/// password and database `postgres`, `scram-sha-256` over TCP, `fsync`,
/// `synchronous_commit` and `full_page_writes` off, the image source from
/// `TESTDOCK_SERVICES` (see [`ServiceSource`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Postgres {
    version: Option<u32>,
    source: Option<ServiceSource>,
    registry: Option<String>,
    image: Option<ImageSource>,
    data_in_layer: bool,
    user: String,
    password: String,
    database: String,
    auth: Auth,
    settings: Vec<(String, String)>,
    hba: Vec<String>,
    init: Vec<(String, String)>,
    startup_timeout: Duration,
}

impl Default for Postgres {
    fn default() -> Self {
        Postgres {
            version: None,
            source: None,
            registry: None,
            image: None,
            data_in_layer: false,
            user: "postgres".to_owned(),
            password: "postgres".to_owned(),
            database: "postgres".to_owned(),
            auth: Auth::Scram,
            settings: Vec::new(),
            hba: Vec::new(),
            init: Vec::new(),
            startup_timeout: Duration::from_secs(60),
        }
    }
}

impl Postgres {
    /// The major version (`15`, `16`, ...): host binaries from
    /// `/usr/lib/postgresql/<major>`, or `postgres:<major>-alpine`.
    pub fn version(mut self, major: u32) -> Self {
        self.version = Some(major);
        self
    }

    /// Where the image comes from, overriding `TESTDOCK_SERVICES`.
    pub fn source(mut self, source: ServiceSource) -> Self {
        self.source = Some(source);
        self
    }

    /// The official image's reference, for a mirror or a private registry (default
    /// `postgres:<major>-alpine`): used as the official image is, under every
    /// [`ServiceSource`].
    pub fn registry(mut self, reference: impl Into<String>) -> Self {
        self.registry = Some(reference.into());
        self
    }

    /// Starts from `image` instead of choosing one: an image that honours the official
    /// image's contract, such as a [`Container::commit`](crate::Container::commit) snapshot of a server that was
    /// initialised and migrated once with [`keep_data_in_layer`](Self::keep_data_in_layer)
    /// (and stopped, so the snapshot is clean): a container of the snapshot skips
    /// `initdb` and the init scripts. The user, password, database and
    /// `keep_data_in_layer` must be the snapshot's.
    ///
    /// ```no_run
    /// # use testdock::services::postgres::Postgres;
    /// # async fn demo() -> testdock::Result<()> {
    /// let seeded = Postgres::default()
    ///     .keep_data_in_layer()
    ///     .init_sql("CREATE TABLE t (x int)")
    ///     .start()
    ///     .await?;
    /// seeded.container().stop().await?;
    /// let snapshot = seeded.container().commit("myapp/pg-seeded", "v1", &[]).await?;
    /// let pg = Postgres::default()
    ///     .keep_data_in_layer()
    ///     .image(testdock::LocalImage::new("myapp/pg-seeded:v1"))
    ///     .start()
    ///     .await?;
    /// # let _ = (snapshot, pg); Ok(()) }
    /// ```
    pub fn image(mut self, image: impl Into<ImageSource>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Keeps the data directory in the container's filesystem instead of a tmpfs, so
    /// that a [`Container::commit`](crate::Container::commit) snapshot holds the
    /// databases (and a server started from the snapshot finds them). Slower: creating
    /// and dropping databases touches hundreds of files, which an overlay filesystem
    /// handles much more slowly than memory.
    pub fn keep_data_in_layer(mut self) -> Self {
        self.data_in_layer = true;
        self
    }

    /// The superuser to create (default `postgres`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Its password (default `postgres`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// The database to create and connect to (default `postgres`).
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// Lets every TCP client in without a password (`trust`), instead of
    /// `scram-sha-256`.
    pub fn trust(mut self) -> Self {
        self.auth = Auth::Trust;
        self
    }

    /// A `postgresql.conf` setting (`max_connections`, `shared_buffers`, ...), over the
    /// test defaults (`fsync`, `synchronous_commit`, `full_page_writes` off).
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// A `pg_hba.conf` line, checked before the catch-all `host all all all <method>`
    /// (e.g. `host all reader 0.0.0.0/0 reject`).
    pub fn hba_line(mut self, line: impl Into<String>) -> Self {
        self.hba.push(line.into());
        self
    }

    /// SQL run once when the server is first initialised, in the configured database,
    /// before it is ready (scripts run in the order added; a failing statement fails
    /// the start).
    pub fn init_sql(self, sql: impl Into<String>) -> Self {
        let name = format!("init-{}", self.init.len() + 1);
        self.init_script(name, sql)
    }

    /// [`init_sql`](Self::init_sql) under a name of your own (shown in errors).
    pub fn init_script(mut self, name: impl Into<String>, sql: impl Into<String>) -> Self {
        self.init.push((name.into(), sql.into()));
        self
    }

    /// Limit for the start (image, init, readiness; default 60 s).
    pub fn startup_timeout(mut self, limit: Duration) -> Self {
        self.startup_timeout = limit;
        self
    }

    /// Starts a server of its own, removed when the handle is dropped.
    pub async fn start(self) -> Result<PostgresServer> {
        start(self).await
    }

    /// The major version this config runs: the chosen one, else the host's newest,
    /// else 17.
    pub fn resolved_version(&self) -> u32 {
        self.version
            .or_else(image::newest_on_host)
            .unwrap_or(image::FALLBACK_VERSION)
    }

    fn login(&self) -> client::Login {
        client::Login {
            user: self.user.clone(),
            password: self.password.clone(),
            database: self.database.clone(),
        }
    }

    /// The spec for `image`, and what cannot work found before anything starts.
    fn spec_for(&self, image: ImageSource) -> Result<ContainerSpec> {
        let invalid = |message: String| Error::InvalidInput {
            container: format!("(not created) PostgreSQL {}", self.resolved_version()),
            message,
        };
        for line in &self.hba {
            conf::check_hba_line(line).map_err(invalid)?;
        }
        if self.user.is_empty() || self.database.is_empty() {
            return Err(invalid("the user and the database need a name".to_owned()));
        }
        if self.auth == Auth::Scram && self.password.is_empty() {
            return Err(invalid(
                "scram-sha-256 needs a password: set one, or call `.trust()`".to_owned(),
            ));
        }
        let method = match self.auth {
            Auth::Scram => "scram-sha-256",
            Auth::Trust => "trust",
        };
        let scripts = self.init.iter().enumerate().map(|(i, (name, sql))| {
            let file = format!(
                "/docker-entrypoint-initdb.d/{:03}-{}.sql",
                i + 1,
                file_safe(name)
            );
            InjectFile::from_bytes(file, sql.clone().into_bytes()).mode(0o644)
        });
        let (spec, pgdata) = if self.data_in_layer {
            (ContainerSpec::new(image), PGDATA_LAYER)
        } else {
            (ContainerSpec::new(image).tmpfs(TMPFS, None), PGDATA_TMPFS)
        };
        Ok(spec
            .name_prefix("testdock-postgres")
            .env("POSTGRES_USER", &self.user)
            .env("POSTGRES_PASSWORD", &self.password)
            .env("POSTGRES_DB", &self.database)
            .env("POSTGRES_HOST_AUTH_METHOD", method)
            .env(
                "POSTGRES_INITDB_ARGS",
                "--encoding=UTF8 --locale=C --no-sync",
            )
            .env("PGDATA", pgdata)
            .file(
                InjectFile::from_bytes(conf::CONF_PATH, conf::postgresql_conf(&self.settings))
                    .mode(0o644),
            )
            .file(
                InjectFile::from_bytes(conf::HBA_PATH, conf::pg_hba_conf(&self.hba, method))
                    .mode(0o644),
            )
            .files(scripts)
            .cmd([
                "postgres",
                "-c",
                &format!("config_file={}", conf::CONF_PATH),
            ])
            .expose(PORT)
            .wait_for(client::probe(self.login()))
            .startup_timeout(self.startup_timeout))
    }
}

/// A name usable in a file name: letters, digits, `-` and `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Service for Postgres {
    type Server = PostgresServer;

    async fn spec(&self) -> Result<ContainerSpec> {
        let image = match &self.image {
            Some(image) => image.clone(),
            None => {
                image::choice(self.resolved_version(), self.registry.as_deref())
                    .choose(self.source)
                    .await?
            }
        };
        self.spec_for(image)
    }

    fn server(self, container: ServiceContainer) -> Result<PostgresServer> {
        let port = container.host_port(PORT)?;
        Ok(PostgresServer {
            config: self,
            container,
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_refused_before_anything_starts() {
        let image = crate::image::ImageSource::from("postgres:16-alpine");
        let err = Postgres::default()
            .password("")
            .spec_for(image.clone())
            .unwrap_err();
        assert!(err.to_string().contains(".trust()"), "{err}");
        assert!(Postgres::default()
            .password("")
            .trust()
            .spec_for(image.clone())
            .is_ok());
        let err = Postgres::default()
            .hba_line("")
            .spec_for(image)
            .unwrap_err();
        assert!(err.to_string().contains("pg_hba.conf"), "{err}");
    }

    #[test]
    fn init_script_names_are_file_safe() {
        assert_eq!(file_safe("001 seed/users"), "001_seed_users");
    }
}
