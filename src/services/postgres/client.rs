//! Talking to the server with `tokio-postgres`: connection settings, a connection whose
//! driver runs on the caller's runtime, and the readiness probe (a real query over the
//! published port: the server the image starts first, for its init scripts, listens on
//! its socket only and then restarts).

use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use crate::error::{Error, Result};
use crate::probe::Probe;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Who connects where.
#[derive(Debug, Clone)]
pub(super) struct Login {
    pub(super) user: String,
    pub(super) password: String,
    pub(super) database: String,
}

impl Login {
    pub(super) fn config(&self, host: &str, port: u16) -> Config {
        let mut config = Config::new();
        config
            .host(host)
            .port(port)
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.database)
            .connect_timeout(CONNECT_TIMEOUT);
        config
    }
}

/// Connects; the connection's driver is spawned on the current runtime and ends with
/// the client (or the runtime).
pub(super) async fn connect(config: &Config) -> std::result::Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// [`connect`], failing with an [`Error::Service`] naming the container.
pub(super) async fn connect_as(container: &str, what: &str, config: &Config) -> Result<Client> {
    connect(config).await.map_err(|e| Error::Service {
        service: "PostgreSQL".to_owned(),
        container: container.to_owned(),
        action: format!("connecting to {what}"),
        message: describe(&e),
        logs: None,
    })
}

/// Ready once `login` can run `SELECT 1` over the published port 5432.
pub(super) fn probe(login: Login) -> Probe {
    let name = format!("PostgreSQL answers `SELECT 1` as `{}`", login.user);
    Probe::custom(name, move |target| {
        let login = login.clone();
        async move {
            let Some(port) = target.host_port(5432) else {
                return false;
            };
            let Ok(client) = connect(&login.config(target.host(), port)).await else {
                return false;
            };
            client.simple_query("SELECT 1").await.is_ok()
        }
    })
}

/// A server error as PostgreSQL says it (severity, message, detail, hint, where), a
/// client error as text.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        return e.to_string();
    };
    let mut text = format!(
        "{}: {} (SQLSTATE {})",
        db.severity(),
        db.message(),
        db.code().code()
    );
    if let Some(detail) = db.detail() {
        text.push_str(&format!("\n  detail: {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("\n  hint: {hint}"));
    }
    if let Some(at) = db.where_() {
        text.push_str(&format!("\n  where: {at}"));
    }
    text
}
