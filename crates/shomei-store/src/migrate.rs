//! Versioned schema migrations, embedded in the binary and applied at open.
//!
//! Each backend has its own list (the dialects differ: BLOB/BYTEA, AUTOINCREMENT/IDENTITY,
//! trigger syntax). Applied versions are recorded in `shomei_schema_migrations` with the SHA-256
//! of their SQL, checked at every open: an edited migration or a schema from a newer build is an
//! error, never silently run against.
//!
//! Concurrency: on PostgreSQL the whole check-and-apply runs in one transaction holding a
//! transaction-scoped advisory lock, so replicas that start together apply each migration once
//! (the others wait, then find it recorded); DDL is transactional there, so a failed migration
//! leaves nothing behind. On SQLite it runs inside `BEGIN IMMEDIATE`, which takes the database's
//! write lock for the same effect across processes.

use aws_lc_rs::digest;
use sqlx::PgPool;

use crate::Error;
use crate::error::{Dialect, backend};

/// One migration: a version, a name for messages, and its SQL (several statements).
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../migrations/sqlite/0001_initial.sql"),
}];

pub(crate) const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../migrations/postgres/0001_initial.sql"),
}];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS shomei_schema_migrations (\
     version BIGINT PRIMARY KEY NOT NULL, \
     name TEXT NOT NULL, \
     checksum TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";
const SELECT_APPLIED: &str =
    "SELECT version, name, checksum FROM shomei_schema_migrations ORDER BY version";
const INSERT_APPLIED: &str = "INSERT INTO shomei_schema_migrations (version, name, checksum, applied_at) \
     VALUES ($1, $2, $3, $4)";

/// The PostgreSQL advisory lock key of migrations ("shomei" ‖ 0x0001).
const PG_LOCK_KEY: i64 = 0x7368_6f6d_6569_0001;

fn checksum(sql: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, sql.as_bytes()))
}

/// The migrations still to apply, after checking the applied ones against this build's.
fn plan<'a>(
    known: &'a [Migration],
    applied: &[(i64, String, String)],
) -> Result<Vec<&'a Migration>, Error> {
    let newest = known.iter().map(|m| m.version).max().unwrap_or(0);
    for (version, name, sum) in applied {
        if *version > newest {
            return Err(Error::SchemaTooNew {
                found: *version,
                known: newest,
            });
        }
        match known.iter().find(|m| m.version == *version) {
            Some(m) if checksum(m.sql) == *sum => {}
            Some(m) => {
                return Err(Error::Migration {
                    version: *version,
                    name: m.name.to_owned(),
                    reason: format!(
                        "the applied migration's checksum {sum} differs from this build's {}: \
                         an applied migration was edited",
                        checksum(m.sql)
                    ),
                });
            }
            None => {
                return Err(Error::Migration {
                    version: *version,
                    name: name.clone(),
                    reason: "applied to the database but unknown to this build".to_owned(),
                });
            }
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _, _)| *v == m.version))
        .collect())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Applies the pending migrations inside the open transaction `$tx` (already holding the lock).
macro_rules! apply {
    ($tx:expr, $known:expr, $dialect:expr) => {{
        let err = |e| backend("migrate", $dialect, e);
        sqlx::query(CREATE_TABLE)
            .execute(&mut *$tx)
            .await
            .map_err(err)?;
        let applied: Vec<(i64, String, String)> = sqlx::query_as(SELECT_APPLIED)
            .fetch_all(&mut *$tx)
            .await
            .map_err(err)?;
        for m in plan($known, &applied)? {
            // Several statements: sent unprepared (simple query protocol on PostgreSQL; one
            // statement after another on SQLite).
            sqlx::Executor::execute(&mut *$tx, m.sql)
                .await
                .map_err(|e| match backend("migrate", $dialect, e) {
                    unavailable @ Error::Unavailable { .. } => unavailable,
                    other => Error::Migration {
                        version: m.version,
                        name: m.name.to_owned(),
                        reason: other.to_string(),
                    },
                })?;
            sqlx::query(INSERT_APPLIED)
                .bind(m.version)
                .bind(m.name)
                .bind(checksum(m.sql))
                .bind(now())
                .execute(&mut *$tx)
                .await
                .map_err(err)?;
        }
        Ok::<(), Error>(())
    }};
}

async fn apply_sqlite(conn: &mut sqlx::SqliteConnection) -> Result<(), Error> {
    apply!(conn, SQLITE, Dialect::Sqlite)
}

async fn apply_postgres(conn: &mut sqlx::PgConnection) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(|e| backend("migrate", Dialect::Postgres, e))?;
    apply!(conn, POSTGRES, Dialect::Postgres)
}

pub(crate) async fn sqlite(conn: &mut sqlx::SqliteConnection) -> Result<(), Error> {
    let err = |e| backend("migrate", Dialect::Sqlite, e);
    let mut tx = sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE")
        .await
        .map_err(err)?;
    apply_sqlite(&mut tx).await?;
    tx.commit().await.map_err(err)
}

pub(crate) async fn postgres(pool: &PgPool) -> Result<(), Error> {
    let err = |e| backend("migrate", Dialect::Postgres, e);
    let mut tx = pool.begin().await.map_err(err)?;
    apply_postgres(&mut tx).await?;
    tx.commit().await.map_err(err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn versions_are_increasing_and_unique() {
        for list in [SQLITE, POSTGRES] {
            assert!(
                list.windows(2)
                    .all(|w| w.first().unwrap().version < w.get(1).unwrap().version)
            );
        }
        assert_eq!(SQLITE.len(), POSTGRES.len());
    }

    #[test]
    fn edited_migration_is_refused() {
        let applied = vec![(1, "initial".to_owned(), "00".repeat(32))];
        assert!(matches!(
            plan(SQLITE, &applied),
            Err(Error::Migration { version: 1, .. })
        ));
    }

    #[test]
    fn newer_schema_is_refused() {
        let applied = vec![(99, "future".to_owned(), String::new())];
        assert!(matches!(
            plan(SQLITE, &applied),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn applied_migrations_are_not_planned_again() {
        let applied = vec![(1, "initial".to_owned(), checksum(SQLITE[0].sql))];
        assert!(plan(SQLITE, &applied).unwrap().is_empty());
        assert_eq!(plan(SQLITE, &[]).unwrap().len(), SQLITE.len());
    }
}
