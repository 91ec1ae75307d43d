//! Every operation on both backends: each test body runs once on a SQLite file and once on a
//! throw-away PostgreSQL cluster (`TempPostgres`; `SHOMEI_TEST_PG_URL` to use a server instead).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shomei_store::testing::{TempPostgres, TempSqlite, crash_value};
use shomei_store::{
    AuditEntry, Backend, Error, Kek, NonceError, Policy, PolicyKind, ReferenceValue, Store,
    TrustAnchor,
};

const KEK: [u8; 32] = [0x42; 32];
const NOW: i64 = 1_700_000_000;

fn kek() -> Kek {
    Kek::new(&KEK).unwrap()
}

/// A database for one test: a SQLite file or a PostgreSQL cluster, removed on drop.
enum Db {
    Sqlite(TempSqlite),
    Postgres(TempPostgres),
}

impl Db {
    async fn new(backend: Backend) -> Db {
        match backend {
            Backend::Sqlite => Db::Sqlite(TempSqlite::new().unwrap()),
            Backend::Postgres => Db::Postgres(
                TempPostgres::start()
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL for the tests: {e}")),
            ),
            _ => unreachable!(),
        }
    }

    fn url(&self) -> &str {
        match self {
            Db::Sqlite(db) => db.url(),
            Db::Postgres(db) => db.url(),
        }
    }

    async fn open(&self) -> Store {
        Store::open(self.url(), kek()).await.unwrap()
    }

    /// A raw connection, below the store's API.
    async fn raw(&self) -> Raw {
        match self {
            Db::Sqlite(db) => Raw::Sqlite(sqlx::SqlitePool::connect(db.url()).await.unwrap()),
            Db::Postgres(db) => Raw::Postgres(sqlx::PgPool::connect(db.url()).await.unwrap()),
        }
    }
}

enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn sealed(&self, table: &str, id: &str) -> Vec<u8> {
        let sql = format!("SELECT sealed FROM {table} WHERE id = $1");
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(&sql)
                .bind(id)
                .fetch_one(p)
                .await
                .unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(&sql)
                .bind(id)
                .fetch_one(p)
                .await
                .unwrap(),
        }
    }

    async fn set_sealed(&self, id: &str, sealed: &[u8]) {
        let sql = "UPDATE shomei_secrets SET sealed = $2 WHERE id = $1";
        match self {
            Raw::Sqlite(p) => sqlx::query(sql)
                .bind(id)
                .bind(sealed)
                .execute(p)
                .await
                .map(drop),
            Raw::Postgres(p) => sqlx::query(sql)
                .bind(id)
                .bind(sealed)
                .execute(p)
                .await
                .map(drop),
        }
        .unwrap();
    }

    async fn exec(&self, sql: &'static str) -> Result<u64, sqlx::Error> {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        }
    }

    async fn count(&self, sql: &'static str) -> i64 {
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }
}

/// One test per backend from one async body `fn(Backend)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(shomei_store::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name(shomei_store::Backend::Postgres).await;
            }
        }
    )*};
}

on_both!(
    reference_values_put_get_list_delete,
    policies_put_get_list_delete,
    trust_anchors_put_get_list_delete,
    secrets_round_trip_encrypted_at_rest,
    secret_moved_to_another_id_fails_to_decrypt,
    wrong_kek_is_refused_at_open,
    nonce_consumed_once_then_already_used,
    nonce_expired_and_unknown_are_refused,
    expired_nonces_are_purged,
    nonce_consumed_once_across_two_replicas_under_concurrency,
    migrations_are_idempotent,
    concurrent_opens_migrate_once,
    signing_key_race_yields_one_key,
    audit_log_appends_pages_and_refuses_changes,
    invalid_input_is_refused_before_the_database,
    closed_store_is_unavailable,
    crash_loses_no_acknowledged_write,
);

async fn closed_store_is_unavailable(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    store.put_secret("before", b"close").await.unwrap();
    store.close().await;
    assert!(
        store
            .put_secret("after", b"close")
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(
        store
            .get_secret("before")
            .await
            .unwrap_err()
            .is_unavailable()
    );
    let store = db.open().await;
    assert!(store.get_secret("before").await.unwrap().is_some());
    assert!(store.get_secret("after").await.unwrap().is_none());
}

async fn reference_values_put_get_list_delete(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    assert_eq!(store.backend(), backend);
    store.ping().await.unwrap();
    let rv = |id: &str, family: &str, value: &str| ReferenceValue {
        id: id.to_owned(),
        family: family.to_owned(),
        name: "measurement".to_owned(),
        value: value.to_owned(),
        created_at: NOW,
    };
    let a = rv("a", "snp", r#"{"hex":"00ff"}"#);
    let b = rv("b", "snp", r#"["x", 1]"#);
    let c = rv("c", "tdx", r#""mrtd""#);
    for r in [&a, &b, &c] {
        store.put_reference_value(r).await.unwrap();
    }
    assert_eq!(
        store.get_reference_value("a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.get_reference_value("zz").await.unwrap(), None);
    assert_eq!(
        store.list_reference_values(Some("snp")).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.list_reference_values(None).await.unwrap().len(), 3);
    // Put replaces by id, keeping the JSON text byte for byte.
    let a2 = ReferenceValue {
        value: r#"{ "hex" : "11" }"#.to_owned(),
        created_at: NOW + 1,
        ..a.clone()
    };
    store.put_reference_value(&a2).await.unwrap();
    assert_eq!(store.get_reference_value("a").await.unwrap(), Some(a2));
    assert!(store.delete_reference_value("a").await.unwrap());
    assert!(!store.delete_reference_value("a").await.unwrap());
    assert_eq!(
        store.list_reference_values(Some("snp")).await.unwrap(),
        vec![b]
    );
}

async fn policies_put_get_list_delete(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    let native = Policy {
        id: "snp-default".to_owned(),
        family: "snp".to_owned(),
        kind: PolicyKind::Native,
        body: "allow_debug = false\n".to_owned(),
        updated_at: NOW,
    };
    let rego = Policy {
        id: "tdx-custom".to_owned(),
        family: "tdx".to_owned(),
        kind: PolicyKind::Rego,
        body: "package shomei\ndefault allow := false\n".to_owned(),
        updated_at: NOW,
    };
    store.put_policy(&native).await.unwrap();
    store.put_policy(&rego).await.unwrap();
    assert_eq!(
        store.get_policy("tdx-custom").await.unwrap(),
        Some(rego.clone())
    );
    assert_eq!(
        store.list_policies(Some("snp")).await.unwrap(),
        vec![native.clone()]
    );
    assert_eq!(store.list_policies(None).await.unwrap().len(), 2);
    let updated = Policy {
        kind: PolicyKind::Rego,
        body: "package shomei\n".to_owned(),
        updated_at: NOW + 5,
        ..native
    };
    store.put_policy(&updated).await.unwrap();
    assert_eq!(
        store.get_policy("snp-default").await.unwrap(),
        Some(updated)
    );
    assert!(store.delete_policy("snp-default").await.unwrap());
    assert_eq!(store.get_policy("snp-default").await.unwrap(), None);
    assert!(!store.delete_policy("snp-default").await.unwrap());
    // The kind is constrained in the schema too.
    let raw = db.raw().await;
    assert!(
        raw.exec("UPDATE shomei_policies SET kind = 'lua'")
            .await
            .is_err()
    );
}

async fn trust_anchors_put_get_list_delete(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    let anchor = |id: &str, family: &str| TrustAnchor {
        id: id.to_owned(),
        family: family.to_owned(),
        pem: format!("-----BEGIN CERTIFICATE-----\n{id}\n-----END CERTIFICATE-----\n"),
    };
    let (a, b) = (anchor("emu-ark", "snp"), anchor("emu-dcap-root", "dcap"));
    store.put_trust_anchor(&a).await.unwrap();
    store.put_trust_anchor(&b).await.unwrap();
    assert_eq!(
        store.list_trust_anchors(Some("snp")).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        store.list_trust_anchors(None).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        store.get_trust_anchor("emu-dcap-root").await.unwrap(),
        Some(b)
    );
    assert!(store.delete_trust_anchor("emu-ark").await.unwrap());
    assert!(!store.delete_trust_anchor("emu-ark").await.unwrap());
    assert_eq!(store.list_trust_anchors(Some("snp")).await.unwrap(), vec![]);
}

async fn secrets_round_trip_encrypted_at_rest(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    let plaintext = b"PLAINTEXT-MARKER the disk-encryption key of tenant 7";
    store.put_secret("tenant-7", plaintext).await.unwrap();
    store.put_secret("tenant-8", b"another").await.unwrap();
    assert_eq!(
        store
            .get_secret("tenant-7")
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        plaintext
    );
    assert_eq!(store.get_secret("nobody").await.unwrap(), None);
    assert_eq!(
        store.list_secret_ids().await.unwrap(),
        vec!["tenant-7".to_owned(), "tenant-8".to_owned()]
    );

    // The raw row holds no plaintext, and a rewrite uses a fresh nonce.
    let raw = db.raw().await;
    let sealed = raw.sealed("shomei_secrets", "tenant-7").await;
    assert!(!contains(&sealed, b"PLAINTEXT-MARKER"));
    assert_eq!(sealed.len(), 1 + 12 + plaintext.len() + 16);
    store.put_secret("tenant-7", plaintext).await.unwrap();
    assert_ne!(raw.sealed("shomei_secrets", "tenant-7").await, sealed);
    // Nor does any byte of the SQLite database and its WAL.
    if let Db::Sqlite(file) = &db {
        for suffix in ["", "-wal"] {
            let mut path = file.path().into_os_string();
            path.push(suffix);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(!contains(&bytes, b"PLAINTEXT-MARKER"), "{path:?}");
            }
        }
    }

    assert!(store.delete_secret("tenant-7").await.unwrap());
    assert!(!store.delete_secret("tenant-7").await.unwrap());
    assert_eq!(
        store.list_secret_ids().await.unwrap(),
        vec!["tenant-8".to_owned()]
    );
}

async fn secret_moved_to_another_id_fails_to_decrypt(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    store.put_secret("alice", b"alice's key").await.unwrap();
    store.put_secret("mallory", b"mallory's key").await.unwrap();
    let raw = db.raw().await;
    let alices = raw.sealed("shomei_secrets", "alice").await;
    raw.set_sealed("mallory", &alices).await;
    let err = store.get_secret("mallory").await.unwrap_err();
    assert!(
        matches!(err, Error::Decrypt { ref id, .. } if id == "mallory"),
        "{err}"
    );
    // A flipped ciphertext bit likewise.
    let mut flipped = alices.clone();
    *flipped.last_mut().unwrap() ^= 1;
    raw.set_sealed("alice", &flipped).await;
    assert!(matches!(
        store.get_secret("alice").await,
        Err(Error::Decrypt { .. })
    ));
}

async fn wrong_kek_is_refused_at_open(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    store.put_secret("s", b"v").await.unwrap();
    store.close().await;
    let err = Store::open(db.url(), Kek::new(&[0x43; 32]).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongKek), "{err}");
    assert!(err.to_string().contains("key-encryption key"), "{err}");
    // The right key still opens it.
    let store = db.open().await;
    assert_eq!(
        store.get_secret("s").await.unwrap().unwrap().as_slice(),
        b"v"
    );
}

async fn nonce_consumed_once_then_already_used(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    let nonce = b"0123456789abcdef";
    store.issue_nonce(nonce, NOW + 60).await.unwrap();
    assert!(matches!(
        store.issue_nonce(nonce, NOW + 60).await,
        Err(Error::AlreadyExists { what: "nonce", .. })
    ));
    store.consume_nonce(nonce, NOW).await.unwrap();
    assert!(matches!(
        store.consume_nonce(nonce, NOW + 1).await,
        Err(NonceError::AlreadyUsed)
    ));
}

async fn nonce_expired_and_unknown_are_refused(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    store
        .issue_nonce(b"expires-at-now+60", NOW + 60)
        .await
        .unwrap();
    // Valid while now < expires_at: at expires_at it has expired.
    assert!(matches!(
        store.consume_nonce(b"expires-at-now+60", NOW + 60).await,
        Err(NonceError::Expired)
    ));
    // An expired nonce stays unconsumed (refused again as expired, not as used).
    assert!(matches!(
        store.consume_nonce(b"expires-at-now+60", NOW + 61).await,
        Err(NonceError::Expired)
    ));
    store
        .consume_nonce(b"expires-at-now+60", NOW + 59)
        .await
        .unwrap();
    assert!(matches!(
        store.consume_nonce(b"never-issued-nonce", NOW).await,
        Err(NonceError::Unknown)
    ));
}

async fn expired_nonces_are_purged(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    store.issue_nonce(b"old-nonce-1", NOW - 10).await.unwrap();
    store.issue_nonce(b"old-nonce-2", NOW).await.unwrap();
    store.issue_nonce(b"new-nonce-1", NOW + 10).await.unwrap();
    assert_eq!(store.purge_expired_nonces(NOW).await.unwrap(), 2);
    assert_eq!(store.purge_expired_nonces(NOW).await.unwrap(), 0);
    // A purged nonce is unknown, so still refused.
    assert!(matches!(
        store.consume_nonce(b"old-nonce-1", NOW - 20).await,
        Err(NonceError::Unknown)
    ));
    store.consume_nonce(b"new-nonce-1", NOW).await.unwrap();
}

/// Two pools on one database (two replicas), many tasks consuming the same nonces at once:
/// each nonce is accepted exactly once.
async fn nonce_consumed_once_across_two_replicas_under_concurrency(backend: Backend) {
    const NONCES: usize = 40;
    const TRIES_PER_NONCE: usize = 8;
    let db = Db::new(backend).await;
    let replicas = [db.open().await, db.open().await];
    let nonces: Vec<Vec<u8>> = (0..NONCES)
        .map(|i| format!("race-nonce-{i:04}").into_bytes())
        .collect();
    for n in &nonces {
        replicas[0].issue_nonce(n, NOW + 600).await.unwrap();
    }
    let accepted: Arc<Vec<AtomicUsize>> =
        Arc::new((0..NONCES).map(|_| AtomicUsize::new(0)).collect());
    let replayed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..TRIES_PER_NONCE {
        for (i, n) in nonces.iter().enumerate() {
            let store = replicas[(t + i) % 2].clone();
            let (n, accepted, replayed) = (n.clone(), accepted.clone(), replayed.clone());
            tasks.push(tokio::spawn(async move {
                match store.consume_nonce(&n, NOW).await {
                    Ok(()) => {
                        accepted[i].fetch_add(1, Ordering::SeqCst);
                    }
                    Err(NonceError::AlreadyUsed) => {
                        replayed.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => panic!("nonce {i}: {e}"),
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (i, count) in accepted.iter().enumerate() {
        assert_eq!(count.load(Ordering::SeqCst), 1, "nonce {i}");
    }
    assert_eq!(
        replayed.load(Ordering::SeqCst),
        NONCES * (TRIES_PER_NONCE - 1)
    );
}

async fn migrations_are_idempotent(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    store.put_secret("kept", b"across opens").await.unwrap();
    store.close().await;
    let again = db.open().await;
    again.close().await;
    let store = db.open().await;
    assert_eq!(
        store.get_secret("kept").await.unwrap().unwrap().as_slice(),
        b"across opens"
    );
    let raw = db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM shomei_schema_migrations")
            .await,
        1
    );
}

async fn concurrent_opens_migrate_once(backend: Backend) {
    let db = Arc::new(Db::new(backend).await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(
            async move { Store::open(db.url(), kek()).await },
        ));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap().unwrap());
    }
    stores[0].put_secret("s", b"v").await.unwrap();
    assert_eq!(
        stores[7].get_secret("s").await.unwrap().unwrap().as_slice(),
        b"v"
    );
    let raw = db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM shomei_schema_migrations")
            .await,
        1
    );
    assert_eq!(raw.count("SELECT COUNT(*) FROM shomei_meta").await, 1);
}

async fn signing_key_race_yields_one_key(backend: Backend) {
    let db = Db::new(backend).await;
    let replicas = [db.open().await, db.open().await];
    let generated = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..16usize {
        let store = replicas[t % 2].clone();
        let generated = generated.clone();
        tasks.push(tokio::spawn(async move {
            store
                .signing_key_or_insert("ear-signing-key", move || {
                    generated.fetch_add(1, Ordering::SeqCst);
                    format!("candidate key {t}").into_bytes()
                })
                .await
                .unwrap()
                .to_vec()
        }));
    }
    let mut keys = HashSet::new();
    for t in tasks {
        keys.insert(t.await.unwrap());
    }
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(generated.load(Ordering::SeqCst) >= 1);
    // Later calls return it without generating.
    let key = replicas[1]
        .signing_key_or_insert("ear-signing-key", || panic!("must not generate"))
        .await
        .unwrap();
    assert!(keys.contains(key.as_slice()));
    // Stored encrypted.
    let raw = db.raw().await;
    let sealed = raw.sealed("shomei_service_keys", "ear-signing-key").await;
    assert!(!contains(&sealed, b"candidate key"));
}

async fn audit_log_appends_pages_and_refuses_changes(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let subject = format!("secret-{i}");
        let detail = format!(r#"{{"i":{i}}}"#);
        ids.push(
            store
                .audit(&AuditEntry {
                    at: NOW + i,
                    actor: "token:ops",
                    action: "release_secret",
                    subject: &subject,
                    outcome: "released",
                    detail: &detail,
                })
                .await
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let first = store.list_audit(2, 0).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].subject, "secret-0");
    assert_eq!(first[0].at, NOW);
    assert_eq!(first[0].detail, r#"{"i":0}"#);
    let rest = store.list_audit(100, first[1].id).await.unwrap();
    assert_eq!(
        rest.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>(),
        ["secret-2", "secret-3", "secret-4"]
    );
    assert!(store.list_audit(100, ids[4]).await.unwrap().is_empty());
    // Append-only below the API too.
    let raw = db.raw().await;
    assert!(
        raw.exec("UPDATE shomei_audit_log SET outcome = 'denied'")
            .await
            .is_err()
    );
    assert!(raw.exec("DELETE FROM shomei_audit_log").await.is_err());
    assert_eq!(store.list_audit(100, 0).await.unwrap().len(), 5);
}

async fn invalid_input_is_refused_before_the_database(backend: Backend) {
    let db = Db::new(backend).await;
    let store = db.open().await;
    let bad_json = ReferenceValue {
        id: "x".to_owned(),
        family: "snp".to_owned(),
        name: "m".to_owned(),
        value: "{not json".to_owned(),
        created_at: NOW,
    };
    assert!(matches!(
        store.put_reference_value(&bad_json).await,
        Err(Error::InvalidInput { field: "value", .. })
    ));
    assert!(matches!(
        store.issue_nonce(b"short", NOW).await,
        Err(Error::InvalidInput { field: "nonce", .. })
    ));
    assert!(matches!(
        store.consume_nonce(&[0; 129], NOW).await,
        Err(NonceError::Store(Error::InvalidInput {
            field: "nonce",
            ..
        }))
    ));
    assert!(matches!(
        store.put_secret("", b"v").await,
        Err(Error::InvalidInput { field: "id", .. })
    ));
    assert!(matches!(
        store
            .audit(&AuditEntry {
                at: NOW,
                actor: "a",
                action: "b",
                subject: "c",
                outcome: "d",
                detail: "not json",
            })
            .await,
        Err(Error::InvalidInput {
            field: "detail",
            ..
        })
    ));
}

/// A writer process is SIGKILLed mid-loop; every id it printed (after its write returned) is
/// in the reopened store and decrypts to what was written.
async fn crash_loses_no_acknowledged_write(backend: Backend) {
    let db = Db::new(backend).await;
    // Migrate first, so the writer starts writing at once.
    db.open().await.close().await;
    let url = db.url().to_owned();
    let printed = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shomei-store-crash-writer"))
            .arg(&url)
            .arg(hex_kek())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let mut printed = Vec::new();
        // Kill while writes are in flight (after a varying number of acknowledged ones).
        while printed.len() < 201 {
            printed.push(lines.next().unwrap().unwrap());
        }
        child.kill().unwrap(); // SIGKILL
        // Whatever it printed before dying is acknowledged too.
        for line in lines {
            match line {
                Ok(line) => printed.push(line),
                Err(_) => break,
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer was killed, not finished");
        printed
    })
    .await
    .unwrap();

    let store = db.open().await;
    let mut secrets = 0;
    for line in &printed {
        let (kind, id) = line.split_once(' ').unwrap();
        let n: u64 = id.strip_prefix("crash-").unwrap().parse().unwrap();
        match kind {
            "secret" => {
                let value = store.get_secret(id).await.unwrap();
                assert_eq!(
                    value.as_deref().map(Vec::as_slice),
                    Some(crash_value(n).as_bytes()),
                    "{id} was acknowledged but is missing or different"
                );
                secrets += 1;
            }
            "refval" => {
                let rv = store.get_reference_value(id).await.unwrap();
                assert_eq!(
                    rv.map(|r| r.value),
                    Some(format!("{{\"n\":{n}}}")),
                    "reference value {id} was acknowledged but is missing"
                );
            }
            other => panic!("unexpected line {other:?}"),
        }
    }
    assert!(secrets >= 50, "{printed:?}");
}

/// SQLite commits concurrent writes in one transaction: a write that fails inside the batch is
/// rolled back alone, and the others are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_failed_write_in_a_batch_leaves_the_others() {
    let db = TempSqlite::new().unwrap();
    let store = Store::open(db.url(), kek()).await.unwrap();
    let raw = sqlx::SqlitePool::connect(db.url()).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER poison BEFORE INSERT ON shomei_secrets WHEN NEW.id = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    )
    .execute(&raw)
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = if i == 31 {
                "poison".to_owned()
            } else {
                format!("ok-{i}")
            };
            (id.clone(), store.put_secret(&id, id.as_bytes()).await)
        }));
    }
    for t in tasks {
        let (id, result) = t.await.unwrap();
        if id == "poison" {
            assert!(matches!(result, Err(Error::Database { .. })), "{result:?}");
        } else {
            result.unwrap();
        }
    }
    let ids = store.list_secret_ids().await.unwrap();
    assert_eq!(ids.len(), 63);
    assert!(!ids.contains(&"poison".to_owned()));
    assert_eq!(
        store.get_secret("ok-40").await.unwrap().unwrap().as_slice(),
        b"ok-40"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_sqlite_store_works() {
    let store = Store::open("sqlite::memory:", kek()).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store.issue_nonce(b"memory-nonce", NOW + 1).await.unwrap();
    store.consume_nonce(b"memory-nonce", NOW).await.unwrap();
    store.put_secret("s", b"v").await.unwrap();
    // Idle time must not drop the in-memory database.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        store.get_secret("s").await.unwrap().unwrap().as_slice(),
        b"v"
    );
    // Two in-memory stores are separate databases.
    let other = Store::open("sqlite::memory:", kek()).await.unwrap();
    assert_eq!(other.get_secret("s").await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_file_is_in_wal_mode() {
    let db = TempSqlite::new().unwrap();
    let _store = Store::open(db.url(), kek()).await.unwrap();
    let raw = sqlx::SqlitePool::connect(db.url()).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let err = Store::open(&url, kek()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

#[tokio::test]
async fn stopped_postgres_makes_operations_unavailable() {
    // A cluster of its own (even with SHOMEI_TEST_PG_URL): the test stops it.
    let pg = TempPostgres::start_cluster().await.unwrap();
    let store = Store::open(pg.url(), kek()).await.unwrap();
    store
        .issue_nonce(b"before-the-stop", NOW + 60)
        .await
        .unwrap();
    drop(pg); // stops the server (immediate) and removes it
    let err = store
        .consume_nonce(b"before-the-stop", NOW)
        .await
        .unwrap_err();
    match err {
        NonceError::Store(e) => assert!(e.is_unavailable(), "{e}"),
        other => panic!("{other}"),
    }
    assert!(store.ping().await.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = Store::open("mysql://localhost/db", kek())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err}");
}

fn hex_kek() -> String {
    KEK.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
