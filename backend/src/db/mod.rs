//! The database: connection, pragmas, migrations, and the entities (persistence only — they
//! never leave this module tree; services convert them into domain values).

pub mod entities;

use std::path::Path;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the database at {path} was written by a newer sipwarden (it has migrations this binary \
         does not know: {unknown}); refusing to start. Run the newer version, or restore a backup \
         made by this one"
    )]
    NewerSchema { path: String, unknown: String },
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: String,
        source: sea_orm::DbErr,
    },
    #[error("cannot migrate the database at {path}: {source}")]
    Migrate {
        path: String,
        source: sea_orm::DbErr,
    },
}

/// Opens (creating if needed) the SQLite file and brings its schema up to date.
///
/// Refuses, without writing anything, a database that has migrations this binary does not
/// know: a downgrade must never half-understand a newer schema.
pub async fn open_and_migrate(path: &Path) -> Result<DatabaseConnection, OpenError> {
    let shown = path.display().to_string();
    let open_err = |source| OpenError::Open {
        path: shown.clone(),
        source,
    };
    // Look before writing: an existing file is first read with a read-only connection, so a
    // database from a newer sipwarden is refused byte-for-byte untouched (opening it for
    // writing would already switch journal modes or create WAL files).
    if path.exists() {
        let url = format!("sqlite://{}?mode=ro", path.display());
        let reader = Database::connect(ConnectOptions::new(url).sqlx_logging(false).to_owned())
            .await
            .map_err(open_err)?;
        let applied = applied_migrations(&reader).await.map_err(open_err)?;
        let _ = reader.close().await;
        let known = migrations::known_migration_names();
        let unknown: Vec<String> = applied.into_iter().filter(|m| !known.contains(m)).collect();
        if !unknown.is_empty() {
            return Err(OpenError::NewerSchema {
                path: shown,
                unknown: unknown.join(", "),
            });
        }
    }
    let db = open(path).await.map_err(open_err)?;
    Migrator::up(&db, None)
        .await
        .map_err(|source| OpenError::Migrate {
            path: shown,
            source,
        })?;
    Ok(db)
}

/// Opens the database without migrating (for `healthcheck`-style readers and tests).
pub async fn open(path: &Path) -> Result<DatabaseConnection, sea_orm::DbErr> {
    // The database holds sipwarden's own AMI secrets (Asterisk needs them in plain text in
    // manager.conf) and session digests: readable by this user only. SQLite gives its -wal
    // and -shm files the mode of the database file, so creating that one 0600 covers all.
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| sea_orm::DbErr::Custom(format!("creating {}: {e}", path.display())))?;
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // Set on every pooled connection, because SQLite pragmas such as foreign_keys are per
        // connection. WAL: readers (the console) never block the writer (the guard's event
        // writer) and a crash loses at most the last transaction; NORMAL sync is durable in WAL
        // mode except on power loss. busy_timeout: wait for the writer instead of failing.
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    let db = Database::connect(options).await?;
    Ok(db)
}

async fn applied_migrations(db: &DatabaseConnection) -> Result<Vec<String>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let exists = db
        .query_one(Statement::from_string(
            backend,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'",
        ))
        .await?
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect()
}

/// Begins a transaction that reads and then writes, holding SQLite's write lock from its
/// first statement.
///
/// Why: a plain (deferred) transaction that reads first takes a snapshot; if another
/// connection commits (an audit line, a token's last use) before its first write, SQLite
/// refuses the upgrade at once with `SQLITE_BUSY_SNAPSHOT` (517, "database is locked"), which
/// `busy_timeout` cannot wait out, and a valid request ends as a 500. A write statement first
/// (one that changes nothing) makes the transaction wait for the lock instead, like `BEGIN
/// IMMEDIATE`, which sea-orm cannot issue.
pub async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    txn.execute(Statement::from_string(
        txn.get_database_backend(),
        "UPDATE seaql_migrations SET version = version WHERE 0",
    ))
    .await?;
    Ok(txn)
}

/// Checks that the database answers (for `/healthz`).
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute(Statement::from_string(
        db.get_database_backend(),
        "SELECT 1",
    ))
    .await
    .is_ok()
}
