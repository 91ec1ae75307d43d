//! Test support: a throw-away PostgreSQL for tests of this crate and of the service.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use shomei_store::{Kek, Store, testing::TempPostgres};
//! let pg = TempPostgres::start().await?;        // stopped and removed on drop
//! let store = Store::open(pg.url(), Kek::new(&[7; 32])?).await?;
//! # Ok(()) }
//! ```
//!
//! [`TempPostgres::start`] runs `initdb` and `pg_ctl` (from `PATH`, else the newest
//! `/usr/lib/postgresql/*/bin`) on a fresh cluster in a temporary directory, listening on
//! 127.0.0.1 on a free port with trust authentication. When the process runs as root (CI), the
//! cluster runs as the `postgres` user via `runuser`, because `initdb` refuses root.
//!
//! With `SHOMEI_TEST_PG_URL` set (`postgres://user@host:port/db`, a role allowed to create
//! databases), no cluster is started: a fresh database is created on that server instead and
//! dropped afterwards.
//!
//! Without PostgreSQL installed, `start` fails with [`TestDbError::NotInstalled`], whose message
//! says what to install; tests fail with it rather than skip.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The environment variable naming an existing PostgreSQL server to use instead of a cluster.
pub const PG_URL_ENV: &str = "SHOMEI_TEST_PG_URL";

/// Why a test database could not be provided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestDbError {
    #[error(
        "PostgreSQL is not installed: initdb and pg_ctl were not found on PATH or under \
         /usr/lib/postgresql/*/bin (install it: apt-get install postgresql; or set \
         SHOMEI_TEST_PG_URL to a server that lets this role create databases)"
    )]
    NotInstalled,
    #[error(
        "running as root, PostgreSQL must run as the `postgres` user, which does not exist \
         (apt-get install postgresql creates it)"
    )]
    NoPostgresUser,
    #[error("{what}: {detail}")]
    Command { what: String, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("SHOMEI_TEST_PG_URL: {detail}")]
    External { detail: String },
}

/// A PostgreSQL database that exists while this value does.
#[derive(Debug)]
pub struct TempPostgres {
    url: String,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Cluster {
        dir: PathBuf,
        pg_ctl: PathBuf,
        as_postgres: bool,
    },
    External {
        admin_url: String,
        database: String,
    },
}

impl TempPostgres {
    /// Starts a cluster (or creates a database on `SHOMEI_TEST_PG_URL`'s server). Blocks the
    /// calling thread while `initdb` and `pg_ctl` run (about two seconds).
    pub async fn start() -> Result<TempPostgres, TestDbError> {
        match std::env::var(PG_URL_ENV) {
            Ok(url) if !url.is_empty() => TempPostgres::external(url).await,
            _ => TempPostgres::cluster(),
        }
    }

    /// Starts a cluster of its own even when `SHOMEI_TEST_PG_URL` is set (for tests that stop
    /// the server).
    pub async fn start_cluster() -> Result<TempPostgres, TestDbError> {
        TempPostgres::cluster()
    }

    /// The database's URL, for [`crate::Store::open`].
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn external(admin_url: String) -> Result<TempPostgres, TestDbError> {
        let database = format!("shomei_test_{}", random_hex(8)?);
        let options =
            PgConnectOptions::from_str(&admin_url).map_err(|e| TestDbError::External {
                detail: format!("not a PostgreSQL URL: {e}"),
            })?;
        let mut conn =
            PgConnection::connect_with(&options)
                .await
                .map_err(|e| TestDbError::External {
                    detail: format!("cannot connect: {e}"),
                })?;
        // The name is ours (hex), so formatting it into the statement is safe.
        sqlx::raw_sql(&format!("CREATE DATABASE {database}"))
            .execute(&mut conn)
            .await
            .map_err(|e| TestDbError::External {
                detail: format!("CREATE DATABASE {database}: {e}"),
            })?;
        let _ = conn.close().await;
        Ok(TempPostgres {
            url: with_database(&admin_url, &database),
            inner: Inner::External {
                admin_url,
                database,
            },
        })
    }

    fn cluster() -> Result<TempPostgres, TestDbError> {
        let bin = find_bin_dir().ok_or(TestDbError::NotInstalled)?;
        let as_postgres = running_as_root()?;
        if as_postgres && !user_exists("postgres") {
            return Err(TestDbError::NoPostgresUser);
        }
        let dir = std::env::temp_dir().join(format!(
            "shomei-pg-{}-{}",
            std::process::id(),
            random_hex(6)?
        ));
        std::fs::create_dir(&dir).map_err(|source| TestDbError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        // From here on, Drop removes the directory (and stops the server if it started).
        let mut pg = TempPostgres {
            url: String::new(),
            inner: Inner::Cluster {
                dir: dir.clone(),
                pg_ctl: bin.join("pg_ctl"),
                as_postgres,
            },
        };
        if as_postgres {
            run(
                "chown postgres: on the cluster directory",
                Command::new("chown").arg("postgres:").arg(&dir),
            )?;
        }
        let data = dir.join("data");
        run(
            "initdb",
            as_user(as_postgres, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
                .arg("--no-sync"),
        )?;
        // A free port can be taken between the probe and the bind: try a few.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let server_options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
                 -c shared_buffers=16MB -c max_connections=200",
                dir.display()
            );
            let started = run(
                "pg_ctl start",
                as_user(as_postgres, &bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(dir.join("server.log"))
                    .args(["-w", "-t", "60", "-o"])
                    .arg(server_options)
                    .arg("start"),
            );
            match started {
                Ok(()) => {
                    pg.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                    return Ok(pg);
                }
                Err(e) => last = Some(e),
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        Err(match last {
            Some(TestDbError::Command { what, detail }) => TestDbError::Command {
                what,
                detail: format!("{detail}\nserver log:\n{log}"),
            },
            Some(other) => other,
            None => TestDbError::Command {
                what: "pg_ctl start".to_owned(),
                detail: "not attempted".to_owned(),
            },
        })
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        match &self.inner {
            Inner::Cluster {
                dir,
                pg_ctl,
                as_postgres,
            } => {
                if !self.url.is_empty() {
                    let _ = as_user(*as_postgres, pg_ctl)
                        .arg("-D")
                        .arg(dir.join("data"))
                        .args(["-m", "immediate", "-w", "stop"])
                        .output();
                }
                let _ = std::fs::remove_dir_all(dir);
            }
            Inner::External {
                admin_url,
                database,
            } => {
                // Drop may run inside a runtime, where blocking on a future is not allowed:
                // drop the database from a thread with its own runtime.
                let admin_url = admin_url.clone();
                let database = database.clone();
                let dropper = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async {
                        let Ok(options) = PgConnectOptions::from_str(&admin_url) else {
                            return;
                        };
                        if let Ok(mut conn) = PgConnection::connect_with(&options).await {
                            let _ = sqlx::raw_sql(&format!(
                                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                            ))
                            .execute(&mut conn)
                            .await;
                            let _ = conn.close().await;
                        }
                    });
                });
                let _ = dropper.join();
            }
        }
    }
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if has_tools(&dir) {
            // Debian links initdb into /usr/local/bin on some images: use the real directory,
            // where `postgres` is too.
            let real = dir
                .join("initdb")
                .canonicalize()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            return Some(real.filter(|d| has_tools(d)).unwrap_or(dir));
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> Result<bool, TestDbError> {
    // The owner of /proc/self is the process's effective uid.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .map_err(|source| TestDbError::Io {
            what: "stat /proc/self".to_owned(),
            source,
        })
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn as_user(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(what: &str, cmd: &mut Command) -> Result<(), TestDbError> {
    let output: Output = cmd.output().map_err(|source| TestDbError::Io {
        what: what.to_owned(),
        source,
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(TestDbError::Command {
            what: what.to_owned(),
            detail: format!(
                "{}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

fn free_port() -> Result<u16, TestDbError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| TestDbError::Io {
            what: "find a free port".to_owned(),
            source,
        })
}

fn random_hex(len: usize) -> Result<String, TestDbError> {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TestDbError::Command {
            what: "random name".to_owned(),
            detail: "the system random number generator failed".to_owned(),
        })?;
    Ok(hex::encode(bytes))
}

/// `url` with its database path replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", base.get(..path_start).unwrap_or(base));
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}

/// The secret value the crash-test writer (`shomei-store-crash-writer`) stores under
/// `crash-{n}`, so that the test can check what it reads back.
pub fn crash_value(n: u64) -> String {
    format!("crash secret number {n}, long enough to span a few cipher blocks")
}

/// A SQLite store file in a fresh temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempSqlite {
    dir: PathBuf,
    url: String,
}

impl TempSqlite {
    /// Creates the directory; the store file is created by [`crate::Store::open`].
    pub fn new() -> Result<TempSqlite, TestDbError> {
        let dir = std::env::temp_dir().join(format!(
            "shomei-sqlite-{}-{}",
            std::process::id(),
            random_hex(6)?
        ));
        std::fs::create_dir(&dir).map_err(|source| TestDbError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        let url = format!("sqlite://{}", dir.join("store.db").display());
        Ok(TempSqlite { dir, url })
    }

    /// `sqlite:///tmp/…/store.db`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file (its `-wal` and `-shm` files lie beside it).
    pub fn path(&self) -> PathBuf {
        self.dir.join("store.db")
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn missing_postgres_says_what_to_install() {
        let message = TestDbError::NotInstalled.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("SHOMEI_TEST_PG_URL"), "{message}");
    }
}
