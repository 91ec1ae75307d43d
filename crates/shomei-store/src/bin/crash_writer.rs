//! Test harness for the crash-durability tests (not a user tool).
//!
//! `shomei-store-crash-writer URL KEK_HEX [TASKS]` opens the store and, forever, from TASKS
//! concurrent tasks (default 8, so that SQLite's writer commits them in batches), writes secret
//! `crash-N` = `testing::crash_value(N)` and reference value `crash-N`, printing
//! `secret crash-N` and `refval crash-N` on stdout after each write has returned. The test
//! SIGKILLs it mid-loop and checks that every printed id is in the store.

use std::io::Write;
use std::sync::Arc;

use shomei_store::testing::crash_value;
use shomei_store::{Kek, ReferenceValue, Store};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(kek)) = (args.next(), args.next()) else {
        return Err("usage: shomei-store-crash-writer URL KEK_HEX [TASKS]".into());
    };
    let tasks: u64 = args.next().map_or(Ok(8), |t| t.parse())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = Arc::new(Store::open(&url, Kek::from_hex(&kek)?).await?);
        println!("ready");
        let mut handles = Vec::new();
        for task in 0..tasks {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                for round in 0u64.. {
                    let n = round * tasks + task;
                    write_one(&store, n).await?;
                }
                Ok::<(), BoxError>(())
            }));
        }
        for handle in handles {
            handle.await??;
        }
        Ok(())
    })
}

async fn write_one(store: &Store, n: u64) -> Result<(), BoxError> {
    let id = format!("crash-{n}");
    store.put_secret(&id, crash_value(n).as_bytes()).await?;
    say(&format!("secret {id}"))?;
    store
        .put_reference_value(&ReferenceValue {
            id: id.clone(),
            family: "crash".to_owned(),
            name: "measurement".to_owned(),
            value: format!("{{\"n\":{n}}}"),
            created_at: 1_700_000_000,
        })
        .await?;
    say(&format!("refval {id}"))?;
    Ok(())
}

/// One whole line per write, flushed before the next write starts.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
