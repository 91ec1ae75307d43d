//! Storage for the shomei service: nonces, reference values, policies, trust anchors, secrets and
//! service keys encrypted at rest, and the audit log — on SQLite (embedded, the default) or
//! PostgreSQL (several replicas sharing one database), behind one async API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use shomei_store::{Kek, Store};
//! let kek = Kek::from_hex(&"00".repeat(32))?;
//! let store = Store::open("sqlite:///var/lib/shomei/store.db", kek).await?;
//! store.issue_nonce(b"0123456789abcdef", 1_700_000_060).await?;
//! store.consume_nonce(b"0123456789abcdef", 1_700_000_000).await?;
//! # Ok(()) }
//! ```
//!
//! Guarantees:
//! - **Committed before return.** A write returns `Ok` only once it is committed. SQLite runs in
//!   WAL mode with `synchronous=FULL` (the WAL is fsynced at each commit), and its writes go to
//!   one writer task that commits concurrent writes together (group commit: one fsync per batch,
//!   every caller answered after it); PostgreSQL runs each write in autocommit with the server's
//!   (durable) defaults, and groups concurrent commits' WAL flushes itself.
//! - **A nonce is consumed at most once**, across any number of processes sharing the database:
//!   consumption is a single conditional `UPDATE … RETURNING`, never read-then-write.
//! - **Secrets and service keys are encrypted at rest** with AES-256-GCM under the key-encryption
//!   key given at open, bound to their row id; a wrong key is refused at open.
//! - **The audit log is append-only** (database triggers refuse UPDATE and DELETE).
//! - **Migrations** are embedded, versioned, checksummed and applied at open, safely when several
//!   replicas open the same PostgreSQL database at once.
//!
//! Time is always an input (`now`, `at`, `created_at`): the store never reads the clock for
//! decisions. A store belongs to the tokio runtime that opened it (on SQLite its writer task
//! runs there).

#![forbid(unsafe_code)]

mod crypto;
mod error;
mod migrate;
mod records;
mod sqlite_writer;
pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, SqlitePool};
use zeroize::Zeroizing;

pub use crypto::Kek;
pub use error::{BackendError, Error, NonceError};
pub use records::{AuditEntry, AuditRecord, Policy, PolicyKind, ReferenceValue, TrustAnchor};

use crypto::Purpose;
use error::{Dialect, backend};
use sqlite_writer::Writer;

/// Nonces shorter than this are refused (they could be guessed).
pub const MIN_NONCE_LEN: usize = 8;
/// Nonces longer than this are refused (they bound the key size).
pub const MAX_NONCE_LEN: usize = 128;
/// Ids (reference values, policies, anchors, secrets, keys) are 1 to this many bytes.
pub const MAX_ID_LEN: usize = 256;

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite, embedded (a file, or memory for tests).
    Sqlite,
    /// PostgreSQL, shared by replicas.
    Postgres,
}

/// Connection-pool settings; the defaults suit the service.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Most connections in the pool (default: 16 for PostgreSQL; for SQLite files, 8 readers
    /// beside the one writer; an in-memory SQLite store always has exactly one connection).
    pub max_connections: Option<u32>,
    /// How long an operation waits for a free connection (or a new one) before it fails with
    /// [`Error::Unavailable`] (default 5 s).
    pub acquire_timeout: Duration,
    /// How long SQLite waits on another writer's lock before failing with
    /// [`Error::Unavailable`] (default 10 s).
    pub sqlite_busy_timeout: Duration,
    /// Ping each connection before handing it out (default false: it costs a round trip per
    /// operation; without it, after the database restarts, each stale pooled connection fails
    /// one operation with [`Error::Unavailable`] and is then replaced).
    pub test_before_acquire: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(10),
            test_before_acquire: false,
        }
    }
}

#[derive(Clone, Debug)]
enum Pool {
    /// SQLite allows one writer at a time: writes go to one task owning the write connection,
    /// which commits them in batches (group commit, see `sqlite_writer`). Reads use their own
    /// pool and run beside the writer (WAL).
    Sqlite {
        writer: Writer,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// The store: a connection pool and the key-encryption key. Cheap to clone (the pool and the key
/// are shared).
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    kek: std::sync::Arc<Kek>,
}

/// Runs the read `$body` with `$pool` bound to the backend's pool for reads and `$dialect` to
/// its dialect. The SQL is shared: both backends take `$1`-style parameters, `ON CONFLICT` and
/// `RETURNING`.
macro_rules! read_op {
    ($store:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite { reader: $pool, .. } => {
                let $dialect = Dialect::Sqlite;
                $body
            }
            Pool::Postgres($pool) => {
                let $dialect = Dialect::Postgres;
                $body
            }
        }
    };
}

/// Runs the write `$body` (an expression of type `Result<T, Error>` that executes its
/// statements on `&mut *$conn`) and returns its result once committed. On SQLite the body runs
/// in the writer task, so what it uses must be owned (it is moved there); on PostgreSQL it runs
/// here on a pooled connection, each statement in autocommit.
macro_rules! write_op {
    ($store:expr, $op:expr, |$conn:ident, $dialect:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite { writer, .. } => {
                writer
                    .write($op, move |$conn| {
                        Box::pin(async move {
                            let $dialect = Dialect::Sqlite;
                            $body
                        })
                    })
                    .await
            }
            Pool::Postgres(pool) => {
                let $dialect = Dialect::Postgres;
                async {
                    let mut pooled = pool
                        .acquire()
                        .await
                        .map_err(|e| backend($op, $dialect, e))?;
                    let $conn: &mut sqlx::PgConnection = &mut pooled;
                    $body
                }
                .await
            }
        }
    };
}

impl Store {
    /// Opens (creating if missing) the store at `url` and applies pending migrations:
    /// `sqlite://PATH` (relative) or `sqlite:///ABSOLUTE/PATH`, `sqlite::memory:` (tests; gone
    /// when the store is dropped), `postgres://USER@HOST:PORT/DB` or `postgresql://…`.
    ///
    /// The first open stores a check value sealed under `kek`; later opens with another key
    /// fail with [`Error::WrongKek`].
    pub async fn open(url: &str, kek: Kek) -> Result<Store, Error> {
        Store::open_with(url, kek, &OpenOptions::default()).await
    }

    /// [`Store::open`] with pool settings.
    pub async fn open_with(url: &str, kek: Kek, options: &OpenOptions) -> Result<Store, Error> {
        let scheme = url.split(':').next().unwrap_or_default();
        let pool = match scheme {
            "sqlite" => open_sqlite(url, options).await?,
            "postgres" | "postgresql" => Pool::Postgres(open_postgres(url, options).await?),
            other => {
                return Err(Error::UnsupportedUrl {
                    scheme: other.chars().take(32).collect(),
                });
            }
        };
        if let Pool::Postgres(p) = &pool {
            migrate::postgres(p).await?;
        }
        let store = Store {
            pool,
            kek: std::sync::Arc::new(kek),
        };
        store.check_kek().await?;
        Ok(store)
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite { .. } => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// A round trip to the database (for health checks).
    pub async fn ping(&self) -> Result<(), Error> {
        read_op!(self, |pool, dialect| {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map_err(|e| backend("ping", dialect, e))?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned (and, on SQLite, for the
    /// writes queued before this call). Operations after it fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { writer, reader } => {
                writer.close().await;
                reader.close().await;
            }
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Stores the KEK check value if this is a new store (race-free: insert-if-absent, then
    /// read), and verifies it.
    async fn check_kek(&self) -> Result<(), Error> {
        let fresh = self.kek.seal_check()?;
        let stored: Vec<u8> = write_op!(self, "open", |conn, dialect| {
            let err = |e| backend("open", dialect, e);
            sqlx::query(
                "INSERT INTO shomei_meta (key, value) VALUES ('kek_check', $1) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&fresh)
            .execute(&mut *conn)
            .await
            .map_err(err)?;
            sqlx::query_scalar("SELECT value FROM shomei_meta WHERE key = 'kek_check'")
                .fetch_one(&mut *conn)
                .await
                .map_err(err)
        })?;
        self.kek.verify_check(&stored)
    }

    // ---------------------------------------------------------------------------------------
    // Nonces

    /// Records a fresh nonce, valid while `now < expires_at` (unix seconds). A nonce that is
    /// already recorded is refused with [`Error::AlreadyExists`].
    pub async fn issue_nonce(&self, nonce: &[u8], expires_at: i64) -> Result<(), Error> {
        const OP: &str = "issue_nonce";
        check_nonce(OP, nonce)?;
        let nonce = nonce.to_vec();
        let inserted: Option<i64> = write_op!(self, OP, |conn, dialect| {
            sqlx::query_scalar(
                "INSERT INTO shomei_nonces (nonce, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (nonce) DO NOTHING RETURNING expires_at",
            )
            .bind(&nonce)
            .bind(expires_at)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| backend(OP, dialect, e))
        })?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(Error::AlreadyExists {
                op: OP,
                what: "nonce",
            }),
        }
    }

    /// Consumes a nonce: succeeds at most once per nonce, across every process sharing the
    /// database, and only while `now < expires_at`.
    ///
    /// The decision is one conditional `UPDATE … RETURNING` (atomic on both backends; on
    /// PostgreSQL a concurrent consumer waits for the row lock and then re-checks the condition
    /// on the committed row). Only when it matches nothing is the row read, to say why.
    pub async fn consume_nonce(&self, nonce: &[u8], now: i64) -> Result<(), NonceError> {
        const OP: &str = "consume_nonce";
        check_nonce(OP, nonce)?;
        let nonce = nonce.to_vec();
        // The row as it was when the update matched nothing: None = no such nonce.
        let refused: Option<Option<(i64, Option<i64>)>> = write_op!(self, OP, |conn, dialect| {
            let err = |e| backend(OP, dialect, e);
            let consumed: Option<i64> = sqlx::query_scalar(
                "UPDATE shomei_nonces SET consumed_at = $2 \
                 WHERE nonce = $1 AND consumed_at IS NULL AND expires_at > $2 \
                 RETURNING expires_at",
            )
            .bind(&nonce)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?;
            if consumed.is_some() {
                return Ok(None);
            }
            let row: Option<(i64, Option<i64>)> = sqlx::query_as(
                "SELECT expires_at, consumed_at FROM shomei_nonces WHERE nonce = $1",
            )
            .bind(&nonce)
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?;
            Ok(Some(row))
        })?;
        match refused {
            None => Ok(()),
            Some(None) => Err(NonceError::Unknown),
            Some(Some((_, Some(_)))) => Err(NonceError::AlreadyUsed),
            Some(Some((_, None))) => Err(NonceError::Expired),
        }
    }

    /// Deletes every nonce whose expiry is at or before `now` (consumed or not); returns how
    /// many. A purged nonce presented later is [`NonceError::Unknown`], so still refused.
    pub async fn purge_expired_nonces(&self, now: i64) -> Result<u64, Error> {
        const OP: &str = "purge_expired_nonces";
        write_op!(self, OP, |conn, dialect| {
            Ok(
                sqlx::query("DELETE FROM shomei_nonces WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| backend(OP, dialect, e))?
                    .rows_affected(),
            )
        })
    }

    // ---------------------------------------------------------------------------------------
    // Reference values

    /// Inserts or replaces (by id) a reference value. `value` must be JSON text.
    pub async fn put_reference_value(&self, rv: &ReferenceValue) -> Result<(), Error> {
        const OP: &str = "put_reference_value";
        check_id(OP, "id", &rv.id)?;
        check_id(OP, "family", &rv.family)?;
        check_json(OP, "value", &rv.value)?;
        let rv = rv.clone();
        write_op!(self, OP, |conn, dialect| {
            sqlx::query(
                "INSERT INTO shomei_reference_values (id, family, name, value, created_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET family = excluded.family, name = excluded.name, \
                 value = excluded.value, created_at = excluded.created_at",
            )
            .bind(&rv.id)
            .bind(&rv.family)
            .bind(&rv.name)
            .bind(&rv.value)
            .bind(rv.created_at)
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| backend(OP, dialect, e))
        })
    }

    /// The reference value with this id.
    pub async fn get_reference_value(&self, id: &str) -> Result<Option<ReferenceValue>, Error> {
        const OP: &str = "get_reference_value";
        let row: Option<(String, String, String, String, i64)> = read_op!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT id, family, name, value, created_at FROM shomei_reference_values \
                 WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| backend(OP, dialect, e))?
        });
        Ok(row.map(ReferenceValue::from_row))
    }

    /// The reference values of one family (`Some("snp")`), or of all (`None`), by id.
    pub async fn list_reference_values(
        &self,
        family: Option<&str>,
    ) -> Result<Vec<ReferenceValue>, Error> {
        const OP: &str = "list_reference_values";
        let rows: Vec<(String, String, String, String, i64)> = read_op!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT id, family, name, value, created_at FROM shomei_reference_values \
                 WHERE $1 IS NULL OR family = $1 ORDER BY id",
            )
            .bind(family)
            .fetch_all(pool)
            .await
            .map_err(|e| backend(OP, dialect, e))?
        });
        Ok(rows.into_iter().map(ReferenceValue::from_row).collect())
    }

    /// Deletes a reference value; false when there was none.
    pub async fn delete_reference_value(&self, id: &str) -> Result<bool, Error> {
        self.delete(
            "delete_reference_value",
            "DELETE FROM shomei_reference_values WHERE id = $1",
            id,
        )
        .await
    }

    // ---------------------------------------------------------------------------------------
    // Policies

    /// Inserts or replaces (by id) a policy.
    pub async fn put_policy(&self, policy: &Policy) -> Result<(), Error> {
        const OP: &str = "put_policy";
        check_id(OP, "id", &policy.id)?;
        check_id(OP, "family", &policy.family)?;
        let policy = policy.clone();
        write_op!(self, OP, |conn, dialect| {
            sqlx::query(
                "INSERT INTO shomei_policies (id, family, kind, body, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET family = excluded.family, kind = excluded.kind, \
                 body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(&policy.id)
            .bind(&policy.family)
            .bind(policy.kind.as_str())
            .bind(&policy.body)
            .bind(policy.updated_at)
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| backend(OP, dialect, e))
        })
    }

    /// The policy with this id.
    pub async fn get_policy(&self, id: &str) -> Result<Option<Policy>, Error> {
        const OP: &str = "get_policy";
        let row: Option<(String, String, String, String, i64)> = read_op!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT id, family, kind, body, updated_at FROM shomei_policies WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| backend(OP, dialect, e))?
        });
        row.map(|r| Policy::from_row(OP, r)).transpose()
    }

    /// The policies of one family, or of all, by id.
    pub async fn list_policies(&self, family: Option<&str>) -> Result<Vec<Policy>, Error> {
        const OP: &str = "list_policies";
        let rows: Vec<(String, String, String, String, i64)> = read_op!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT id, family, kind, body, updated_at FROM shomei_policies \
                 WHERE $1 IS NULL OR family = $1 ORDER BY id",
            )
            .bind(family)
            .fetch_all(pool)
            .await
            .map_err(|e| backend(OP, dialect, e))?
        });
        rows.into_iter().map(|r| Policy::from_row(OP, r)).collect()
    }

    /// Deletes a policy; false when there was none.
    pub async fn delete_policy(&self, id: &str) -> Result<bool, Error> {
        self.delete(
            "delete_policy",
            "DELETE FROM shomei_policies WHERE id = $1",
            id,
        )
        .await
    }

    // ---------------------------------------------------------------------------------------
    // Trust anchors

    /// Inserts or replaces (by id) a trust anchor (PEM text).
    pub async fn put_trust_anchor(&self, anchor: &TrustAnchor) -> Result<(), Error> {
        const OP: &str = "put_trust_anchor";
        check_id(OP, "id", &anchor.id)?;
        check_id(OP, "family", &anchor.family)?;
        let anchor = anchor.clone();
        write_op!(self, OP, |conn, dialect| {
            sqlx::query(
                "INSERT INTO shomei_trust_anchors (id, family, pem) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET family = excluded.family, pem = excluded.pem",
            )
            .bind(&anchor.id)
            .bind(&anchor.family)
            .bind(&anchor.pem)
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| backend(OP, dialect, e))
        })
    }

    /// The trust anchor with this id.
    pub async fn get_trust_anchor(&self, id: &str) -> Result<Option<TrustAnchor>, Error> {
        const OP: &str = "get_trust_anchor";
        let row: Option<(String, String, String)> = read_op!(self, |pool, dialect| {
            sqlx::query_as("SELECT id, family, pem FROM shomei_trust_anchors WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| backend(OP, dialect, e))?
        });
        Ok(row.map(TrustAnchor::from_row))
    }

    /// The trust anchors of one family, or of all, by id.
    pub async fn list_trust_anchors(
        &self,
        family: Option<&str>,
    ) -> Result<Vec<TrustAnchor>, Error> {
        const OP: &str = "list_trust_anchors";
        let rows: Vec<(String, String, String)> = read_op!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT id, family, pem FROM shomei_trust_anchors \
                 WHERE $1 IS NULL OR family = $1 ORDER BY id",
            )
            .bind(family)
            .fetch_all(pool)
            .await
            .map_err(|e| backend(OP, dialect, e))?
        });
        Ok(rows.into_iter().map(TrustAnchor::from_row).collect())
    }

    /// Deletes a trust anchor; false when there was none.
    pub async fn delete_trust_anchor(&self, id: &str) -> Result<bool, Error> {
        self.delete(
            "delete_trust_anchor",
            "DELETE FROM shomei_trust_anchors WHERE id = $1",
            id,
        )
        .await
    }

    // ---------------------------------------------------------------------------------------
    // Secrets

    /// Inserts or replaces (by id) a secret, encrypted under the KEK with a fresh nonce.
    pub async fn put_secret(&self, id: &str, value: &[u8]) -> Result<(), Error> {
        const OP: &str = "put_secret";
        check_id(OP, "id", id)?;
        let sealed = self.kek.seal(OP, Purpose::Secret, id, value)?;
        let id = id.to_owned();
        write_op!(self, OP, |conn, dialect| {
            sqlx::query(
                "INSERT INTO shomei_secrets (id, sealed) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
            )
            .bind(&id)
            .bind(&sealed)
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| backend(OP, dialect, e))
        })
    }

    /// The secret with this id, decrypted (zeroized when dropped).
    pub async fn get_secret(&self, id: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        const OP: &str = "get_secret";
        let sealed: Option<Vec<u8>> = read_op!(self, |pool, dialect| {
            sqlx::query_scalar("SELECT sealed FROM shomei_secrets WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| backend(OP, dialect, e))?
        });
        sealed
            .map(|s| self.kek.open(OP, Purpose::Secret, id, &s))
            .transpose()
    }

    /// The ids of all secrets, sorted.
    pub async fn list_secret_ids(&self) -> Result<Vec<String>, Error> {
        const OP: &str = "list_secret_ids";
        read_op!(self, |pool, dialect| {
            sqlx::query_scalar("SELECT id FROM shomei_secrets ORDER BY id")
                .fetch_all(pool)
                .await
                .map_err(|e| backend(OP, dialect, e))
        })
    }

    /// Deletes a secret; false when there was none.
    pub async fn delete_secret(&self, id: &str) -> Result<bool, Error> {
        self.delete(
            "delete_secret",
            "DELETE FROM shomei_secrets WHERE id = $1",
            id,
        )
        .await
    }

    // ---------------------------------------------------------------------------------------
    // Service keys

    /// The service key `id` (e.g. the attestation-result signing key, as PKCS#8), generated with
    /// `generate` and stored (encrypted like secrets) if there is none yet.
    ///
    /// Replicas that race on first start all end with the same key: each inserts its candidate
    /// with `ON CONFLICT DO NOTHING`, then every one reads back the row that won.
    pub async fn signing_key_or_insert(
        &self,
        id: &str,
        generate: impl FnOnce() -> Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        const OP: &str = "signing_key_or_insert";
        check_id(OP, "id", id)?;
        if let Some(key) = self.service_key(OP, id).await? {
            return Ok(key);
        }
        let candidate = Zeroizing::new(generate());
        let sealed = self.kek.seal(OP, Purpose::ServiceKey, id, &candidate)?;
        let owned_id = id.to_owned();
        write_op!(self, OP, |conn, dialect| {
            sqlx::query(
                "INSERT INTO shomei_service_keys (id, sealed) VALUES ($1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&owned_id)
            .bind(&sealed)
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| backend(OP, dialect, e))
        })?;
        self.service_key(OP, id)
            .await?
            .ok_or_else(|| Error::Corrupt {
                op: OP,
                what: "service key",
                detail: format!("{id:?} vanished right after it was inserted"),
            })
    }

    async fn service_key(
        &self,
        op: &'static str,
        id: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let sealed: Option<Vec<u8>> = read_op!(self, |pool, dialect| {
            sqlx::query_scalar("SELECT sealed FROM shomei_service_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| backend(op, dialect, e))?
        });
        sealed
            .map(|s| self.kek.open(op, Purpose::ServiceKey, id, &s))
            .transpose()
    }

    // ---------------------------------------------------------------------------------------
    // Audit log

    /// Appends an audit record; returns its id. `detail` must be JSON text.
    pub async fn audit(&self, entry: &AuditEntry<'_>) -> Result<i64, Error> {
        const OP: &str = "audit";
        check_json(OP, "detail", entry.detail)?;
        let at = entry.at;
        let fields = [
            entry.actor.to_owned(),
            entry.action.to_owned(),
            entry.subject.to_owned(),
            entry.outcome.to_owned(),
            entry.detail.to_owned(),
        ];
        write_op!(self, OP, |conn, dialect| {
            let [actor, action, subject, outcome, detail] = &fields;
            sqlx::query_scalar(
                "INSERT INTO shomei_audit_log (at, actor, action, subject, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(subject)
            .bind(outcome)
            .bind(detail)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| backend(OP, dialect, e))
        })
    }

    /// Up to `limit` audit records with an id greater than `since_id` (0 for the start), oldest
    /// first. Page by passing the last id seen. (On PostgreSQL ids are assigned at insert, so a
    /// reader tailing the log while replicas write may see a lower id commit after a higher one;
    /// re-read a short window behind the last id when tailing.)
    pub async fn list_audit(&self, limit: u32, since_id: i64) -> Result<Vec<AuditRecord>, Error> {
        const OP: &str = "list_audit";
        type Row = (i64, i64, String, String, String, String, String);
        let rows: Vec<Row> = read_op!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT id, at, actor, action, subject, outcome, detail FROM shomei_audit_log \
                 WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(since_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(|e| backend(OP, dialect, e))?
        });
        Ok(rows.into_iter().map(AuditRecord::from_row).collect())
    }

    // ---------------------------------------------------------------------------------------

    async fn delete(&self, op: &'static str, sql: &'static str, id: &str) -> Result<bool, Error> {
        let id = id.to_owned();
        write_op!(self, op, |conn, dialect| {
            Ok(sqlx::query(sql)
                .bind(&id)
                .execute(&mut *conn)
                .await
                .map_err(|e| backend(op, dialect, e))?
                .rows_affected()
                > 0)
        })
    }
}

async fn open_sqlite(url: &str, options: &OpenOptions) -> Result<Pool, Error> {
    let err = |e| backend("open", Dialect::Sqlite, e);
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(error::invalid_url)?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(options.sqlite_busy_timeout);
    let in_memory = url.starts_with("sqlite::memory:") || url.contains("mode=memory");
    // WAL with synchronous=FULL: every commit fsyncs the WAL before it returns, so nothing
    // acknowledged is lost on a crash or power loss. (An in-memory database has no journal.)
    let connect = if in_memory {
        connect
    } else {
        connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
    };
    let mut write_conn = connect.connect().await.map_err(err)?;
    migrate::sqlite(&mut write_conn).await?;
    let writer = Writer::spawn(write_conn);
    // In memory, the database lives while a connection to it is open (the writer's); the
    // readers share it through SQLite's shared cache.
    let reader = SqlitePoolOptions::new()
        .max_connections(if in_memory {
            1
        } else {
            options.max_connections.unwrap_or(8)
        })
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(options.test_before_acquire)
        .connect_with(connect)
        .await
        .map_err(err)?;
    Ok(Pool::Sqlite { writer, reader })
}

async fn open_postgres(url: &str, options: &OpenOptions) -> Result<PgPool, Error> {
    let connect = PgConnectOptions::from_str(url).map_err(error::invalid_url)?;
    PgPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(16))
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(options.test_before_acquire)
        .connect_with(connect)
        .await
        .map_err(|e| backend("open", Dialect::Postgres, e))
}

fn check_nonce(op: &'static str, nonce: &[u8]) -> Result<(), Error> {
    if (MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len()) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            op,
            field: "nonce",
            reason: format!(
                "{} bytes, expected {MIN_NONCE_LEN} to {MAX_NONCE_LEN}",
                nonce.len()
            ),
        })
    }
}

fn check_id(op: &'static str, field: &'static str, id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Error::InvalidInput {
            op,
            field,
            reason: format!("{} bytes, expected 1 to {MAX_ID_LEN}", id.len()),
        });
    }
    Ok(())
}

fn check_json(op: &'static str, field: &'static str, text: &str) -> Result<(), Error> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| Error::InvalidInput {
            op,
            field,
            reason: format!("not JSON: {e}"),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The writer's connection (where every commit happens) is in WAL mode with
    /// synchronous=FULL (2).
    #[tokio::test]
    async fn sqlite_writer_is_wal_and_synchronous_full() {
        let db = testing::TempSqlite::new().unwrap();
        let store = Store::open(db.url(), Kek::new(&[1; 32]).unwrap())
            .await
            .unwrap();
        let (mode, synchronous): (String, i64) = write_op!(store, "test", |conn, dialect| {
            let _ = dialect;
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            Ok((mode, synchronous))
        })
        .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(synchronous, 2);
    }
}
