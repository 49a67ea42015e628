//! Connecting to PostgreSQL.

use tokio_postgres::{Client, NoTls};
use tracing::warn;

use crate::error::{Error, Result};

/// Connects and drives the connection on a task of its own; the task ends
/// when the client is dropped.
pub async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(Error::pg(format!("connect to {}", redact(url))))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            warn!(error = %e, "postgres connection closed with an error");
        }
    });
    Ok(client)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
