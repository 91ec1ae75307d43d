//! SQLite's single writer, with group commit.
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` every commit waits for an
//! fsync. Writes therefore go to one task that owns the write connection: it takes every job
//! queued while the previous commit was being synced, runs them in one `BEGIN IMMEDIATE`
//! transaction (each inside its own savepoint, so a failed job leaves no trace and does not
//! affect the others), commits once, and only then answers every caller — with the job's result
//! if the commit succeeded, with the commit's error otherwise. Nothing is acknowledged before it
//! is durable, and one fsync covers a whole batch.
//!
//! (Several connections contending for the file lock instead spend their time in SQLite's busy
//! handler, which sleeps and polls: hundreds of milliseconds at the 99th percentile under load.)

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sqlx::{Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::error::{Dialect, backend};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Called once the batch's commit is known: answers the caller.
type Completion = Box<dyn FnOnce(Result<(), Error>) + Send>;
/// Runs a write's statements on the connection; says whether they succeeded.
type Run =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Completion)> + Send>;

/// A queued write: `run` it, or `abort` it (answering its caller) when its batch cannot start.
struct Job {
    run: Run,
    abort: Completion,
}

enum Message {
    Job(Job),
    Close(oneshot::Sender<()>),
}

/// Most jobs in one transaction.
const MAX_BATCH: usize = 512;

/// The handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Message>,
}

impl Writer {
    /// Starts the writer task on `conn` (already migrated).
    pub(crate) fn spawn(conn: SqliteConnection) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, rx));
        Writer { tx }
    }

    /// Runs `f` on the write connection inside a batch; returns its result once the batch is
    /// committed (or the commit's error).
    pub(crate) async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, Error>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, Error>>();
        let reply = Reply(Arc::new(Mutex::new(Some(reply))));
        let abort_reply = Reply(reply.0.clone());
        let job = Job {
            run: Box::new(move |conn| {
                Box::pin(async move {
                    let result = f(conn).await;
                    let ok = result.is_ok();
                    let done: Completion = Box::new(move |commit: Result<(), Error>| {
                        reply.send(commit.and(result));
                    });
                    (ok, done)
                })
            }),
            abort: Box::new(move |e: Result<(), Error>| {
                abort_reply.send(e.and_then(|()| Err(closed(op))));
            }),
        };
        self.tx.send(Message::Job(job)).map_err(|_| closed(op))?;
        answer.await.map_err(|_| closed(op))?
    }

    /// Stops the writer after the jobs queued before this call, and closes its connection.
    pub(crate) async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Close(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The caller's answer slot, shared by a job's run and abort: whichever happens takes it.
struct Reply<T>(Arc<Mutex<Option<Sender<T>>>>);

type Sender<T> = oneshot::Sender<Result<T, Error>>;

impl<T> Reply<T> {
    fn send(&self, value: Result<T, Error>) {
        if let Some(sender) = self.0.lock().ok().and_then(|mut slot| slot.take()) {
            // The caller may have gone away; the write stands regardless.
            let _ = sender.send(value);
        }
    }
}

fn closed(op: &'static str) -> Error {
    backend(op, Dialect::Sqlite, sqlx::Error::PoolClosed)
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut close = None;
    while close.is_none() {
        let Some(first) = rx.recv().await else { break };
        let mut batch = Vec::new();
        match first {
            Message::Job(job) => batch.push(job),
            Message::Close(done) => close = Some(done),
        }
        while close.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(done)) => close = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, batch).await;
        }
    }
    let _ = sqlx::Connection::close(conn).await;
    if let Some(done) = close {
        let _ = done.send(());
    }
}

async fn commit_batch(conn: &mut SqliteConnection, batch: Vec<Job>) {
    let err = |e| backend("commit", Dialect::Sqlite, e);
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        // Nothing ran: every caller gets the cause.
        let e = err(e);
        for job in batch {
            (job.abort)(Err(e.replicate()));
        }
        return;
    }
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut broken = None;
    for job in batch {
        if broken.is_some() {
            completions.push(job.abort);
            continue;
        }
        if let Err(e) = conn.execute("SAVEPOINT job").await {
            broken = Some(err(e));
            completions.push(job.abort);
            continue;
        }
        let (ok, done) = (job.run)(&mut *conn).await;
        let end = if ok {
            conn.execute("RELEASE job").await
        } else {
            match conn.execute("ROLLBACK TO job").await {
                Ok(_) => conn.execute("RELEASE job").await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = end {
            broken = Some(err(e));
        }
        completions.push(done);
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => conn.execute("COMMIT").await.map(drop).map_err(err),
    };
    if outcome.is_err() {
        let _ = conn.execute("ROLLBACK").await;
    }
    for done in completions {
        done(match &outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(e.replicate()),
        });
    }
}
