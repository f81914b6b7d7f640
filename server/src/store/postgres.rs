//! The PostgreSQL storage: one database that several `tsd-server` instances share
//! (`--database postgres://…`). Records as on SQLite; the kept files as chunks of
//! `bytea` (each instance caches what it serves under its data folder's `cache/`,
//! named by content hash, so a cached copy is never stale). Exactly-once rests on
//! the database: unique constraints (a transaction that loses a race is run again
//! and then finds the winner's row), row locks (a device's task writers queue on
//! its row, so its task cursor never skips a task committed late), advisory locks
//! (one publish at a time), and `FOR UPDATE SKIP LOCKED` with a lease for the print
//! queue.
//!
//! The driver is `tokio-postgres` with a `deadpool-postgres` pool, on a small
//! runtime of its own; the [`Storage`] methods are synchronous (the server calls
//! them off its async threads, as it calls SQLite) and wait on it.

use super::*;
use crate::error::{Error, Result};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use futures_util::{pin_mut, TryStreamExt};
use sha2::Digest;
use std::io::{Read, Write};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

type PgError = tokio_postgres::Error;

/// Why a transaction's body failed: the database, or a row it cannot read.
enum Failure {
    Pg(PgError),
    Damaged(String),
}

impl From<PgError> for Failure {
    fn from(e: PgError) -> Failure {
        Failure::Pg(e)
    }
}
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Kept files are split into chunks of this many bytes.
const CHUNK: usize = 1 << 20;
/// Advisory lock keys (`pg_advisory_lock`): the schema migration and publishing.
const LOCK_MIGRATE: i64 = 0x7473_6401;
const LOCK_PUBLISH: i64 = 0x7473_6402;
/// Transactions that lost a race (a unique key, a serialization failure, a
/// deadlock) are run again this many times.
const RETRIES: usize = 3;

/// Forward-only schema steps; step N brings the database to version N.
const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite schema has at its version 4, the kept files, and a
    // document revision stored once per device whatever the key.
    "CREATE TABLE devices (
        id          BIGSERIAL PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        token_hash  TEXT NOT NULL UNIQUE,
        created_at  BIGINT NOT NULL,
        last_seen   BIGINT,
        status      TEXT
    );
    CREATE INDEX devices_last_seen ON devices(last_seen);
    CREATE TABLE integration_keys (
        hash        TEXT PRIMARY KEY,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE catalog_versions (
        version        BIGINT PRIMARY KEY,
        created_at     BIGINT NOT NULL,
        source         TEXT NOT NULL,
        format         TEXT NOT NULL,
        snapshot       TEXT NOT NULL,
        snapshot_size  BIGINT NOT NULL,
        delta          TEXT,
        delta_size     BIGINT
    );
    CREATE TABLE tasks (
        seq         BIGSERIAL PRIMARY KEY,
        device      BIGINT NOT NULL REFERENCES devices(id),
        task_id     TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        UNIQUE (device, task_id)
    );
    CREATE TABLE documents (
        id           BIGSERIAL PRIMARY KEY,
        device       BIGINT NOT NULL REFERENCES devices(id),
        doc_id       TEXT NOT NULL,
        idem_key     TEXT NOT NULL,
        revision     TEXT NOT NULL,
        body         TEXT NOT NULL,
        received_at  BIGINT NOT NULL,
        acked_at     BIGINT,
        UNIQUE (device, idem_key),
        UNIQUE (device, doc_id, revision)
    );
    CREATE INDEX documents_pending ON documents(id) WHERE acked_at IS NULL;
    CREATE TABLE config_versions (
        version     BIGINT PRIMARY KEY,
        json        TEXT NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE printers (
        name        TEXT PRIMARY KEY,
        address     TEXT NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE print_jobs (
        id           BIGSERIAL PRIMARY KEY,
        device       BIGINT NOT NULL REFERENCES devices(id),
        job_id       TEXT NOT NULL,
        printer      TEXT NOT NULL,
        body         TEXT NOT NULL,
        status       TEXT NOT NULL,
        attempts     BIGINT NOT NULL DEFAULT 0,
        message      TEXT,
        touched      BOOLEAN NOT NULL DEFAULT false,
        next_try_at  BIGINT NOT NULL,
        created_at   BIGINT NOT NULL,
        updated_at   BIGINT NOT NULL,
        lease_owner  TEXT,
        lease_until  BIGINT NOT NULL DEFAULT 0,
        UNIQUE (device, job_id)
    );
    CREATE INDEX print_jobs_open ON print_jobs(printer, id) WHERE status IN ('queued', 'printing');
    CREATE TABLE log_bundles (
        id           BIGSERIAL PRIMARY KEY,
        device       BIGINT NOT NULL REFERENCES devices(id),
        package_id   TEXT NOT NULL,
        file         TEXT NOT NULL,
        size         BIGINT NOT NULL,
        info         TEXT NOT NULL,
        received_at  BIGINT NOT NULL,
        UNIQUE (device, package_id)
    );
    CREATE TABLE enrolments (
        token_hash  TEXT PRIMARY KEY,
        device      BIGINT NOT NULL REFERENCES devices(id),
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        used_at     BIGINT
    );
    CREATE TABLE app_versions (
        version_code  BIGINT PRIMARY KEY,
        version_name  TEXT NOT NULL,
        file          TEXT NOT NULL,
        size          BIGINT NOT NULL,
        sha256        TEXT NOT NULL,
        min_version   BIGINT NOT NULL,
        created_at    BIGINT NOT NULL
    );
    CREATE TABLE site_users (
        name        TEXT PRIMARY KEY,
        hash        TEXT NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE site_sessions (
        hash        TEXT PRIMARY KEY,
        \"user\"      TEXT NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE files (
        area        TEXT NOT NULL,
        name        TEXT NOT NULL,
        size        BIGINT NOT NULL,
        sha256      TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (area, name)
    );
    CREATE TABLE file_chunks (
        area   TEXT NOT NULL,
        name   TEXT NOT NULL,
        n      INTEGER NOT NULL,
        bytes  BYTEA NOT NULL,
        PRIMARY KEY (area, name, n)
    );",
    // 2: the admin console's accounts, sessions and audit log.
    "CREATE TABLE admins (
        name        TEXT PRIMARY KEY,
        hash        TEXT NOT NULL,
        role        TEXT NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE console_sessions (
        hash        TEXT PRIMARY KEY,
        \"user\"      TEXT NOT NULL,
        csrf        TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL
    );
    CREATE TABLE audit (
        id      BIGSERIAL PRIMARY KEY,
        at      BIGINT NOT NULL,
        \"user\"  TEXT NOT NULL,
        action  TEXT NOT NULL,
        detail  TEXT NOT NULL
    );",
    // 3: the task cursor and app version a device last asked with, and documents
    // by the terminal's id (a task's), for the console.
    "ALTER TABLE devices ADD COLUMN tasks_cursor BIGINT;
     ALTER TABLE devices ADD COLUMN app_version BIGINT;
     CREATE INDEX documents_by_doc ON documents(doc_id);",
];

/// PostgreSQL storage (see the module docs).
pub struct Postgres {
    pool: Pool,
    /// Runs the pool's connections; `None` only while dropping.
    rt: Option<tokio::runtime::Runtime>,
    cache: PathBuf,
}

fn db(step: &'static str) -> impl Fn(PgError) -> Error {
    move |e| Error::Database {
        step,
        message: match e.as_db_error() {
            Some(d) => format!("{} ({})", d.message(), d.code().code()),
            None => e.to_string(),
        },
    }
}

/// A transaction that lost a race and is worth running again.
fn retryable(e: &PgError) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(c)
    })
}

async fn query<C: GenericClient>(tx: &C, sql: &str, params: Params<'_>) -> std::result::Result<Vec<Row>, Failure> {
    let st = tx.prepare_cached(sql).await?;
    Ok(tx.query(&st, params).await?)
}

async fn query_opt<C: GenericClient>(tx: &C, sql: &str, params: Params<'_>) -> std::result::Result<Option<Row>, Failure> {
    let st = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&st, params).await?)
}

async fn execute<C: GenericClient>(tx: &C, sql: &str, params: Params<'_>) -> std::result::Result<u64, Failure> {
    let st = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&st, params).await?)
}

fn device_row(r: &Row) -> Device {
    let status: Option<String> = r.get(3);
    Device {
        id: r.get(0),
        name: r.get(1),
        last_seen: r.get(2),
        status: status.and_then(|s| serde_json::from_str(&s).ok()),
        tasks_cursor: r.get(4),
        app_version: r.get(5),
    }
}

fn print_row(r: &Row) -> std::result::Result<StoredPrint, Failure> {
    let body: String = r.get(10);
    Ok(StoredPrint {
        id: r.get(0),
        device: r.get(1),
        printer: r.get(2),
        status: r.get(3),
        attempts: r.get(4),
        message: r.get(5),
        touched: r.get(6),
        next_try_at: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
        job: serde_json::from_str(&body).map_err(|e| Failure::Damaged(format!("print job {}: {e}", r.get::<_, i64>(0))))?,
    })
}

fn logs_row(r: &Row) -> StoredLogs {
    let info: String = r.get(5);
    StoredLogs {
        id: r.get(0),
        device: r.get(1),
        file: r.get(2),
        size: r.get(3),
        received_at: r.get(4),
        info: serde_json::from_str(&info).unwrap_or(serde_json::Value::Null),
    }
}

fn version_row(r: &Row) -> CatalogVersion {
    CatalogVersion {
        version: r.get(0),
        created_at: r.get(1),
        source: r.get(2),
        format: r.get(3),
        snapshot: r.get(4),
        snapshot_size: r.get(5),
        delta: r.get(6),
        delta_size: r.get(7),
    }
}

fn document_row(r: &Row) -> StoredDocument {
    let body: String = r.get(4);
    StoredDocument {
        id: r.get(0),
        device: r.get(1),
        doc_id: r.get(2),
        received_at: r.get(3),
        document: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        acked_at: r.get(5),
    }
}

/// The publish lock: a session-level advisory lock on a connection taken out of
/// the pool; dropping it closes that connection, which ends the lock (so does the
/// instance dying).
struct AdvisoryLock(#[allow(dead_code)] deadpool_postgres::ClientWrapper);

impl PublishGuard for AdvisoryLock {}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`), with at
    /// most `max_connections` open, brings the schema up to date, and caches kept
    /// files under `cache`.
    pub fn connect(url: &str, max_connections: usize, cache: &Path) -> Result<Postgres> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| Error::BadRequest(format!("--database: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tsd-postgres")
            .enable_all()
            .build()
            .map_err(crate::io(cache))?;
        let pool = {
            let _in_runtime = rt.enter();
            Pool::builder(manager)
                .max_size(max_connections.max(2))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(std::time::Duration::from_secs(30)))
                .create_timeout(Some(std::time::Duration::from_secs(10)))
                .build()
                .map_err(|e| Error::BadRequest(format!("--database: {e}")))?
        };
        for area in Area::ALL {
            let p = cache.join(area.dir());
            std::fs::create_dir_all(&p).map_err(crate::io(&p))?;
        }
        let store = Postgres {
            pool,
            rt: Some(rt),
            cache: cache.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime lives until drop").block_on(f)
    }

    async fn client(&self, step: &'static str) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| Error::Database {
            step,
            message: e.to_string(),
        })
    }

    /// Runs `f` in a transaction, again when it lost a race (see [`retryable`]).
    fn with<T>(&self, step: &'static str, f: impl AsyncFn(&Transaction<'_>) -> std::result::Result<T, Failure>) -> Result<T> {
        self.block_on(async {
            let mut client = self.client(step).await?;
            let mut attempt = 0;
            loop {
                let tx = client.transaction().await.map_err(db(step))?;
                let done = match f(&tx).await {
                    Ok(v) => tx.commit().await.map(|()| v).map_err(Failure::Pg),
                    Err(e) => Err(e),
                };
                match done {
                    Ok(v) => return Ok(v),
                    Err(Failure::Pg(e)) if attempt < RETRIES && retryable(&e) => attempt += 1,
                    Err(Failure::Pg(e)) => return Err(db(step)(e)),
                    Err(Failure::Damaged(message)) => return Err(Error::Database { step, message }),
                }
            }
        })
    }

    /// Runs one statement (or reads that need no common snapshot) with no
    /// transaction around it: one round trip instead of three.
    fn one<T>(&self, step: &'static str, f: impl AsyncFnOnce(&deadpool_postgres::Client) -> std::result::Result<T, Failure>) -> Result<T> {
        self.block_on(async {
            let client = self.client(step).await?;
            f(&client).await.map_err(|e| match e {
                Failure::Pg(e) => db(step)(e),
                Failure::Damaged(message) => Error::Database { step, message },
            })
        })
    }

    fn migrate(&self) -> Result<()> {
        let step = "migrating the PostgreSQL schema";
        self.block_on(async {
            let mut client = self.client(step).await?;
            let tx = client.transaction().await.map_err(db(step))?;
            // Instances starting together migrate one after the other.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
                .await
                .map_err(db(step))?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS tsd_schema (version INTEGER NOT NULL)")
                .await
                .map_err(db(step))?;
            let version: i32 = tx
                .query_opt("SELECT version FROM tsd_schema", &[])
                .await
                .map_err(db(step))?
                .map_or(0, |r| r.get(0));
            let newest = MIGRATIONS.len() as i32;
            if version > newest {
                return Err(Error::Conflict(format!(
                    "the database has schema {version}; this server knows up to {newest}: update tsd-server"
                )));
            }
            for sql in &MIGRATIONS[version as usize..] {
                tx.batch_execute(sql).await.map_err(db(step))?;
            }
            tx.execute("DELETE FROM tsd_schema", &[]).await.map_err(db(step))?;
            tx.execute("INSERT INTO tsd_schema (version) VALUES ($1)", &[&newest])
                .await
                .map_err(db(step))?;
            tx.commit().await.map_err(db(step))
        })
    }

    /// Copies a kept file out of the database into `dest` (through `.part`),
    /// checking it against its recorded size and SHA-256.
    async fn download(&self, area: Area, name: &str, size: i64, sha256: &str, dest: &Path) -> Result<()> {
        let step = "reading a kept file";
        let part = dest.with_extension(format!("part-{}", uuid::Uuid::new_v4().simple()));
        let mut out = std::fs::File::create(&part).map_err(crate::io(&part))?;
        let mut hash = sha2::Sha256::new();
        let mut got = 0i64;
        {
            let client = self.client(step).await?;
            let st = client
                .prepare_cached("SELECT bytes FROM file_chunks WHERE area = $1 AND name = $2 ORDER BY n")
                .await
                .map_err(db(step))?;
            let params: [&(dyn ToSql + Sync); 2] = [&area.dir(), &name];
            let rows = client.query_raw(&st, params).await.map_err(db(step))?;
            pin_mut!(rows);
            while let Some(row) = rows.try_next().await.map_err(db(step))? {
                let bytes: &[u8] = row.get(0);
                hash.update(bytes);
                got += bytes.len() as i64;
                out.write_all(bytes).map_err(crate::io(&part))?;
            }
        }
        drop(out);
        if got != size || crate::hex(&hash.finalize()) != sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(Error::Conflict(format!(
                "kept file {}/{name} changed while it was read (or is damaged): {got} bytes of {size}",
                area.dir()
            )));
        }
        std::fs::rename(&part, dest).map_err(crate::io(dest))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // The server may be dropped on an async thread, where a runtime cannot
        // block to shut down.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Storage for Postgres {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn pool_use(&self) -> Option<PoolUse> {
        let s = self.pool.status();
        Some(PoolUse {
            size: s.size,
            idle: s.available,
            max: s.max_size,
            waiting: s.waiting,
        })
    }

    fn keep_file(&self, area: Area, name: &str, from: &Path) -> Result<()> {
        let step = "keeping a file";
        let mut file = std::fs::File::open(from).map_err(crate::io(from))?;
        self.block_on(async {
            let mut client = self.client(step).await?;
            let tx = client.transaction().await.map_err(db(step))?;
            tx.execute("DELETE FROM file_chunks WHERE area = $1 AND name = $2", &[&area.dir(), &name])
                .await
                .map_err(db(step))?;
            let insert = tx
                .prepare_cached("INSERT INTO file_chunks (area, name, n, bytes) VALUES ($1, $2, $3, $4)")
                .await
                .map_err(db(step))?;
            let mut hash = sha2::Sha256::new();
            let mut size = 0i64;
            let mut buf = vec![0u8; CHUNK];
            for n in 0i32.. {
                let mut filled = 0;
                while filled < CHUNK {
                    match file.read(&mut buf[filled..]).map_err(crate::io(from))? {
                        0 => break,
                        k => filled += k,
                    }
                }
                if filled == 0 && n > 0 {
                    break;
                }
                let bytes = &buf[..filled];
                hash.update(bytes);
                size += filled as i64;
                tx.execute(&insert, &[&area.dir(), &name, &n, &bytes]).await.map_err(db(step))?;
                if filled < CHUNK {
                    break;
                }
            }
            tx.execute(
                "INSERT INTO files (area, name, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (area, name) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, created_at = excluded.created_at",
                &[&area.dir(), &name, &size, &crate::hex(&hash.finalize()), &crate::now_ms()],
            )
            .await
            .map_err(db(step))?;
            tx.commit().await.map_err(db(step))
        })
    }

    fn open_file(&self, area: Area, name: &str) -> Result<Option<PathBuf>> {
        let found = self.one("finding a kept file", async |tx| {
            query_opt(
                tx,
                "SELECT size, sha256 FROM files WHERE area = $1 AND name = $2",
                &[&area.dir(), &name],
            )
            .await
        })?;
        let Some(row) = found else { return Ok(None) };
        let (size, sha256): (i64, String) = (row.get(0), row.get(1));
        // Named by content: a name kept again with other bytes is another file.
        let path = self.cache.join(area.dir()).join(&sha256);
        if !path.is_file() {
            self.block_on(self.download(area, name, size, &sha256, &path))?;
        }
        Ok(Some(path))
    }

    fn drop_file(&self, area: Area, name: &str) -> Result<()> {
        self.with("dropping a kept file", async |tx| {
            execute(tx, "DELETE FROM file_chunks WHERE area = $1 AND name = $2", &[&area.dir(), &name]).await?;
            execute(tx, "DELETE FROM files WHERE area = $1 AND name = $2", &[&area.dir(), &name]).await
        })
        .map(|_| ())
    }

    fn publish_lock(&self) -> Result<Box<dyn PublishGuard>> {
        let step = "waiting for another publish";
        self.block_on(async {
            let client = deadpool_postgres::Object::take(self.client(step).await?);
            client
                .execute("SELECT pg_advisory_lock($1)", &[&LOCK_PUBLISH])
                .await
                .map_err(db(step))?;
            Ok(Box::new(AdvisoryLock(client)) as Box<dyn PublishGuard>)
        })
    }

    fn claim_print_jobs(&self, owner: &str, now: i64, lease_until: i64) -> Result<Vec<StoredPrint>> {
        let sql = format!(
            "SELECT {PRINT_COLUMNS}, p.lease_owner, p.lease_until FROM print_jobs p JOIN devices d ON d.id = p.device
             WHERE p.id IN (SELECT min(id) FROM print_jobs WHERE status IN ('queued', 'printing') GROUP BY printer)
             ORDER BY p.id FOR UPDATE OF p SKIP LOCKED"
        );
        self.with("claiming print jobs", async |tx| {
            let mut free = Vec::new();
            for row in query(tx, &sql, &[]).await? {
                let (holder, until): (Option<String>, i64) = (row.get(11), row.get(12));
                let mut job = print_row(&row)?;
                if holder.as_deref().is_some_and(|h| h != owner) && until > now {
                    // Another instance is printing it: not due before its lease ends.
                    job.next_try_at = job.next_try_at.max(until);
                }
                if job.next_try_at <= now {
                    execute(
                        tx,
                        "UPDATE print_jobs SET lease_owner = $2, lease_until = $3 WHERE id = $1",
                        &[&job.id, &owner, &lease_until],
                    )
                    .await?;
                }
                free.push(job);
            }
            Ok(free)
        })
    }

    fn release_print(&self, id: i64, owner: &str) -> Result<()> {
        self.one("releasing a print job", async |tx| {
            execute(
                tx,
                "UPDATE print_jobs SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2",
                &[&id, &owner],
            )
            .await
        })
        .map(|_| ())
    }

    fn ping(&self) -> Result<()> {
        self.one("checking the database", async |tx| query_opt(tx, "SELECT 1", &[]).await)
            .map(|_| ())
    }

    fn print_job_counts(&self) -> Result<Vec<(String, i64)>> {
        self.one("counting print jobs", async |tx| {
            let rows = query(tx, "SELECT status, count(*) FROM print_jobs GROUP BY status", &[]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn devices_seen_since(&self, since: i64) -> Result<i64> {
        self.one("counting devices seen", async |tx| {
            let row = query_opt(tx, "SELECT count(*) FROM devices WHERE last_seen >= $1", &[&since]).await?;
            Ok(row.map_or(0, |r| r.get(0)))
        })
    }

    fn set_site_user(&self, name: &str, password_hash: &str, now: i64) -> Result<()> {
        self.one("adding a 1C exchange user", async |tx| {
            execute(
                tx,
                "INSERT INTO site_users (name, hash, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET hash = excluded.hash",
                &[&name, &password_hash, &now],
            )
            .await
        })
        .map(|_| ())
    }

    fn site_user(&self, name: &str) -> Result<Option<String>> {
        self.one("reading a 1C exchange user", async |tx| {
            Ok(query_opt(tx, "SELECT hash FROM site_users WHERE name = $1", &[&name])
                .await?
                .map(|r| r.get(0)))
        })
    }

    fn add_site_session(&self, hash: &str, user: &str, now: i64, expire_before: i64) -> Result<()> {
        self.with("starting a 1C exchange session", async |tx| {
            execute(tx, "DELETE FROM site_sessions WHERE created_at < $1", &[&expire_before]).await?;
            execute(
                tx,
                "INSERT INTO site_sessions (hash, \"user\", created_at) VALUES ($1, $2, $3)",
                &[&hash, &user, &now],
            )
            .await
        })
        .map(|_| ())
    }

    fn site_session(&self, hash: &str, expire_before: i64) -> Result<Option<String>> {
        self.one("reading a 1C exchange session", async |tx| {
            let row = query_opt(
                tx,
                "SELECT \"user\" FROM site_sessions WHERE hash = $1 AND created_at >= $2",
                &[&hash, &expire_before],
            )
            .await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn set_admin(&self, name: &str, password_hash: &str, role: &str, now: i64) -> Result<()> {
        self.one("adding a console account", async |c| {
            execute(
                c,
                "INSERT INTO admins (name, hash, role, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, role = excluded.role",
                &[&name, &password_hash, &role, &now],
            )
            .await
        })
        .map(|_| ())
    }

    fn admin(&self, name: &str) -> Result<Option<(String, String)>> {
        self.one("reading a console account", async |c| {
            Ok(query_opt(c, "SELECT hash, role FROM admins WHERE name = $1", &[&name])
                .await?
                .map(|r| (r.get(0), r.get(1))))
        })
    }

    fn add_console_session(&self, hash: &str, user: &str, csrf: &str, now: i64, expires_at: i64) -> Result<()> {
        self.with("starting a console session", async |tx| {
            execute(tx, "DELETE FROM console_sessions WHERE expires_at <= $1", &[&now]).await?;
            execute(
                tx,
                "INSERT INTO console_sessions (hash, \"user\", csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[&hash, &user, &csrf, &now, &expires_at],
            )
            .await
        })
        .map(|_| ())
    }

    fn console_session(&self, hash: &str, now: i64) -> Result<Option<ConsoleSession>> {
        self.one("reading a console session", async |c| {
            let row = query_opt(
                c,
                "SELECT s.\"user\", a.role, s.csrf FROM console_sessions s JOIN admins a ON a.name = s.\"user\"
                 WHERE s.hash = $1 AND s.expires_at > $2",
                &[&hash, &now],
            )
            .await?;
            Ok(row.map(|r| ConsoleSession {
                user: r.get(0),
                role: r.get(1),
                csrf: r.get(2),
            }))
        })
    }

    fn end_console_session(&self, hash: &str) -> Result<()> {
        self.one("ending a console session", async |c| {
            execute(c, "DELETE FROM console_sessions WHERE hash = $1", &[&hash]).await
        })
        .map(|_| ())
    }

    fn audit(&self, user: &str, action: &str, detail: &str, now: i64) -> Result<()> {
        self.one("writing the audit log", async |c| {
            execute(
                c,
                "INSERT INTO audit (at, \"user\", action, detail) VALUES ($1, $2, $3, $4)",
                &[&now, &user, &action, &detail],
            )
            .await
        })
        .map(|_| ())
    }

    fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        self.one("reading the audit log", async |c| {
            let rows = query(
                c,
                "SELECT id, at, \"user\", action, detail FROM audit ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await?;
            Ok(rows
                .iter()
                .map(|r| AuditEntry {
                    id: r.get(0),
                    at: r.get(1),
                    user: r.get(2),
                    action: r.get(3),
                    detail: r.get(4),
                })
                .collect())
        })
    }

    fn find_documents(&self, q: &DocumentQuery, limit: i64) -> Result<(Vec<StoredDocument>, i64)> {
        let filter = "WHERE ($1::TEXT IS NULL OR v.name = $1) AND ($2::TEXT IS NULL OR d.body::jsonb ->> 'type' = $2)
             AND ($3::BOOLEAN IS NULL OR (d.acked_at IS NULL) = $3) AND ($4::BIGINT IS NULL OR d.received_at >= $4)
             AND ($5::BIGINT IS NULL OR d.received_at < $5)";
        let count = format!("SELECT count(*) FROM documents d JOIN devices v ON v.id = d.device {filter}");
        let select = format!("{DOCUMENT_SELECT} {filter} ORDER BY d.id DESC LIMIT $6");
        self.with("finding documents", async |tx| {
            let total: i64 = query_opt(tx, &count, &[&q.device, &q.doc_type, &q.pending, &q.from, &q.to])
                .await?
                .map_or(0, |r| r.get(0));
            let rows = query(tx, &select, &[&q.device, &q.doc_type, &q.pending, &q.from, &q.to, &limit]).await?;
            Ok((rows.iter().map(document_row).collect(), total))
        })
    }

    fn received(&self, doc_ids: &[String]) -> Result<Vec<(String, String)>> {
        self.one("finding received documents", async |c| {
            let rows = query(
                c,
                "SELECT DISTINCT v.name, d.doc_id FROM documents d JOIN devices v ON v.id = d.device WHERE d.doc_id = ANY($1)",
                &[&doc_ids],
            )
            .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn record_tasks_cursor(&self, device: i64, after: i64) -> Result<()> {
        self.one("recording a task cursor", async |c| {
            execute(
                c,
                "UPDATE devices SET tasks_cursor = $2 WHERE id = $1 AND coalesce(tasks_cursor, -1) < $2",
                &[&device, &after],
            )
            .await
        })
        .map(|_| ())
    }

    fn record_app_version(&self, device: i64, version_code: i64) -> Result<()> {
        self.one("recording an app version", async |c| {
            execute(
                c,
                "UPDATE devices SET app_version = $2 WHERE id = $1 AND app_version IS DISTINCT FROM $2",
                &[&device, &version_code],
            )
            .await
        })
        .map(|_| ())
    }

    fn tasks(&self, limit: i64) -> Result<Vec<StoredTask>> {
        self.one("listing tasks", async |c| {
            let rows = query(
                c,
                "SELECT t.seq, d.name, t.task_id, t.body, t.created_at FROM tasks t JOIN devices d ON d.id = t.device
                 ORDER BY t.seq DESC LIMIT $1",
                &[&limit],
            )
            .await?;
            Ok(rows
                .iter()
                .map(|r| StoredTask {
                    seq: r.get(0),
                    device: r.get(1),
                    task_id: r.get(2),
                    body: r.get(3),
                    created_at: r.get(4),
                })
                .collect())
        })
    }

    fn revoke_device(&self, name: &str, revoked_hash: &str) -> Result<bool> {
        self.one("revoking a device", async |c| {
            Ok(execute(c, "UPDATE devices SET token_hash = $2 WHERE name = $1", &[&name, &revoked_hash]).await? > 0)
        })
    }

    fn add_device(&self, name: &str, token_hash: &str) -> Result<i64> {
        let now = crate::now_ms();
        if self.device_by_name(name)?.is_some() {
            return Err(Error::Conflict(format!("a device named {name:?} already exists")));
        }
        let id = self.with("adding a device", async |tx| {
            let row = query_opt(
                tx,
                "INSERT INTO devices (name, token_hash, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&name, &token_hash, &now],
            )
            .await?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })?;
        id.ok_or_else(|| Error::Conflict(format!("a device named {name:?} already exists")))
    }

    fn add_devices(&self, devices: &[(String, String)], now: i64) -> Result<usize> {
        self.with("adding devices", async |tx| {
            let mut added = 0;
            for (name, hash) in devices {
                added += execute(
                    tx,
                    "INSERT INTO devices (name, token_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[name, hash, &now],
                )
                .await? as usize;
            }
            Ok(added)
        })
    }

    fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>> {
        self.one("authenticating a device", async |tx| {
            let row = query_opt(
                tx,
                "SELECT id, name, last_seen, status, tasks_cursor, app_version FROM devices WHERE token_hash = $1",
                &[&token_hash],
            )
            .await?;
            Ok(row.as_ref().map(device_row))
        })
    }

    fn record_seen(&self, seen: &[(i64, i64)]) -> Result<()> {
        // In id order: two instances' batches lock the rows in one order and so
        // never deadlock each other (a lost race is run again by `with`).
        let mut seen = seen.to_vec();
        seen.sort_unstable();
        let (ids, at): (Vec<i64>, Vec<i64>) = seen.into_iter().unzip();
        self.with("recording when devices were seen", async |c| {
            execute(
                c,
                "UPDATE devices SET last_seen = v.at FROM unnest($1::bigint[], $2::bigint[]) AS v(id, at)
                 WHERE devices.id = v.id AND coalesce(devices.last_seen, 0) < v.at",
                &[&ids, &at],
            )
            .await
        })
        .map(|_| ())
    }

    fn device_by_name(&self, name: &str) -> Result<Option<Device>> {
        self.one("reading a device", async |tx| {
            let row = query_opt(
                tx,
                "SELECT id, name, last_seen, status, tasks_cursor, app_version FROM devices WHERE name = $1",
                &[&name],
            )
            .await?;
            Ok(row.as_ref().map(device_row))
        })
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.one("listing devices", async |tx| {
            let rows = query(
                tx,
                "SELECT id, name, last_seen, status, tasks_cursor, app_version FROM devices ORDER BY name",
                &[],
            )
            .await?;
            Ok(rows.iter().map(device_row).collect())
        })
    }

    fn set_status(&self, device: i64, status: &serde_json::Value) -> Result<()> {
        let status = status.to_string();
        self.one("storing a device status", async |tx| {
            execute(tx, "UPDATE devices SET status = $2 WHERE id = $1", &[&device, &status]).await
        })
        .map(|_| ())
    }

    fn add_integration_key(&self, hash: &str, now: i64) -> Result<()> {
        self.one("adding an integration key", async |tx| {
            execute(
                tx,
                "INSERT INTO integration_keys (hash, created_at) VALUES ($1, $2)",
                &[&hash, &now],
            )
            .await
        })
        .map(|_| ())
    }

    fn integration_key(&self, hash: &str) -> Result<bool> {
        self.one("checking an integration key", async |tx| {
            Ok(query_opt(tx, "SELECT 1 FROM integration_keys WHERE hash = $1", &[&hash])
                .await?
                .is_some())
        })
    }

    fn latest_catalog(&self) -> Result<Option<CatalogVersion>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM catalog_versions ORDER BY version DESC LIMIT 1");
        self.one("reading the catalog version", async |tx| {
            Ok(query_opt(tx, &sql, &[]).await?.as_ref().map(version_row))
        })
    }

    fn catalog_versions_after(&self, since: i64) -> Result<Vec<CatalogVersion>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM catalog_versions WHERE version > $1 ORDER BY version");
        self.one("reading catalog versions", async |tx| {
            Ok(query(tx, &sql, &[&since]).await?.iter().map(version_row).collect())
        })
    }

    fn add_catalog_version(&self, v: &CatalogVersion) -> Result<()> {
        let sql = format!("INSERT INTO catalog_versions ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        self.one("recording a catalog version", async |tx| {
            execute(
                tx,
                &sql,
                &[
                    &v.version,
                    &v.created_at,
                    &v.source,
                    &v.format,
                    &v.snapshot,
                    &v.snapshot_size,
                    &v.delta,
                    &v.delta_size,
                ],
            )
            .await
        })
        .map(|_| ())
    }

    fn add_tasks(&self, device: i64, tasks: &[(String, String)], now: i64) -> Result<usize> {
        self.with("adding tasks", async |tx| {
            // A device's task writers queue on its row: sequence numbers then
            // commit in order, and its cursor never passes a task committed late.
            execute(tx, "SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", &[&device]).await?;
            let mut added = 0;
            for (id, body) in tasks {
                added += execute(
                    tx,
                    "INSERT INTO tasks (device, task_id, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&device, id, body, &now],
                )
                .await? as usize;
            }
            Ok(added)
        })
    }

    fn cancel_task(&self, task_id: &str, device: Option<i64>, now: i64) -> Result<Vec<String>> {
        self.with("withdrawing a task", async |tx| {
            execute(
                tx,
                "SELECT 1 FROM devices WHERE id IN (SELECT device FROM tasks WHERE task_id = $1 AND ($2::BIGINT IS NULL OR device = $2))
                 ORDER BY id FOR UPDATE",
                &[&task_id, &device],
            )
            .await?;
            let found = query(
                tx,
                "SELECT t.seq, t.device, t.body, d.name FROM tasks t JOIN devices d ON d.id = t.device
                 WHERE t.task_id = $1 AND ($2::BIGINT IS NULL OR t.device = $2)",
                &[&task_id, &device],
            )
            .await?;
            let mut names = Vec::new();
            for r in found {
                let (seq, device, body, name): (i64, i64, String, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
                let Some(withdrawn) = withdrawn_task(task_id, &body) else {
                    continue;
                };
                execute(tx, "DELETE FROM tasks WHERE seq = $1", &[&seq]).await?;
                execute(
                    tx,
                    "INSERT INTO tasks (device, task_id, body, created_at) VALUES ($1, $2, $3, $4)",
                    &[&device, &task_id, &withdrawn, &now],
                )
                .await?;
                names.push(name);
            }
            Ok(names)
        })
    }

    fn tasks_after(&self, device: i64, after: i64) -> Result<Vec<(i64, String)>> {
        self.one("reading tasks", async |tx| {
            let rows = query(
                tx,
                "SELECT seq, body FROM tasks WHERE device = $1 AND seq > $2 ORDER BY seq",
                &[&device, &after],
            )
            .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn push_document(&self, device: i64, doc: &DocumentRevision<'_>, key: &str, body: &str, now: i64) -> Result<Pushed> {
        // The insert first, in one round trip: the unique (device, key) and
        // (device, document, revision) make a second copy impossible whichever
        // instance stores it; when it stores nothing, the row in its way says why.
        let stored = self.one("storing a document", async |c| {
            let row = query_opt(
                c,
                "INSERT INTO documents (device, doc_id, idem_key, body, received_at, revision) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING RETURNING id",
                &[&device, &doc.doc_id, &key, &body, &now, &doc.revision],
            )
            .await?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })?;
        if let Some(id) = stored {
            return Ok(Pushed::Stored(id));
        }
        self.one("storing a document", async |c| {
            let by_key = query_opt(
                c,
                "SELECT id, doc_id, revision FROM documents WHERE device = $1 AND idem_key = $2",
                &[&device, &key],
            )
            .await?;
            if let Some(r) = by_key {
                let (id, doc_id, revision): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
                return Ok(if doc_id == doc.doc_id && revision == doc.revision {
                    Pushed::Duplicate(id)
                } else {
                    Pushed::KeyConflict { doc_id, revision }
                });
            }
            let by_revision = query_opt(
                c,
                "SELECT id FROM documents WHERE device = $1 AND doc_id = $2 AND revision = $3",
                &[&device, &doc.doc_id, &doc.revision],
            )
            .await?;
            match by_revision {
                Some(r) => Ok(Pushed::Duplicate(r.get(0))),
                None => Err(Failure::Damaged(format!("document {:?} was neither stored nor found", doc.doc_id))),
            }
        })
    }

    fn document_ids(&self, pending: bool, after: i64, limit: i64) -> Result<Vec<i64>> {
        let filter = if pending { " AND acked_at IS NULL" } else { "" };
        let sql = format!("SELECT id FROM documents WHERE id > $1{filter} ORDER BY id LIMIT $2");
        self.one("listing documents", async |tx| {
            Ok(query(tx, &sql, &[&after, &limit]).await?.iter().map(|r| r.get(0)).collect())
        })
    }

    fn documents(&self, pending: bool) -> Result<Vec<StoredDocument>> {
        let filter = if pending { " WHERE d.acked_at IS NULL" } else { "" };
        let sql = format!("{DOCUMENT_SELECT}{filter} ORDER BY d.id");
        self.one("listing documents", async |tx| {
            Ok(query(tx, &sql, &[]).await?.iter().map(document_row).collect())
        })
    }

    fn document(&self, id: i64) -> Result<Option<StoredDocument>> {
        let sql = format!("{DOCUMENT_SELECT} WHERE d.id = $1");
        self.one("reading a document", async |tx| {
            Ok(query_opt(tx, &sql, &[&id]).await?.as_ref().map(document_row))
        })
    }

    fn ack_document(&self, id: i64, now: i64) -> Result<bool> {
        self.one("acknowledging a document", async |tx| {
            Ok(execute(
                tx,
                "UPDATE documents SET acked_at = coalesce(acked_at, $2) WHERE id = $1",
                &[&id, &now],
            )
            .await?
                > 0)
        })
    }

    fn latest_config(&self) -> Result<Option<(i64, String)>> {
        self.one("reading the configuration", async |tx| {
            let row = query_opt(tx, "SELECT version, json FROM config_versions ORDER BY version DESC LIMIT 1", &[]).await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn add_config(&self, json: &str, now: i64) -> Result<i64> {
        self.one("recording a configuration", async |tx| {
            let row = query_opt(
                tx,
                "INSERT INTO config_versions (version, json, created_at)
                 SELECT coalesce(max(version), 0) + 1, $1, $2 FROM config_versions RETURNING version",
                &[&json, &now],
            )
            .await?;
            Ok(row.map_or(0, |r| r.get(0)))
        })
    }

    fn set_printer(&self, name: &str, address: &str, now: i64) -> Result<()> {
        self.one("adding a printer", async |tx| {
            execute(
                tx,
                "INSERT INTO printers (name, address, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET address = excluded.address",
                &[&name, &address, &now],
            )
            .await
        })
        .map(|_| ())
    }

    fn printer_address(&self, name: &str) -> Result<Option<String>> {
        self.one("reading a printer", async |tx| {
            Ok(query_opt(tx, "SELECT address FROM printers WHERE name = $1", &[&name])
                .await?
                .map(|r| r.get(0)))
        })
    }

    fn printers(&self) -> Result<Vec<(String, String)>> {
        self.one("listing printers", async |tx| {
            let rows = query(tx, "SELECT name, address FROM printers ORDER BY name", &[]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn queue_print(&self, device: i64, job: &tsd_core::print::PrintJob, now: i64) -> Result<StoredPrint> {
        let body = serde_json::to_string(job).map_err(|e| Error::BadRequest(e.to_string()))?;
        let select =
            format!("SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device WHERE p.device = $1 AND p.job_id = $2");
        self.with("queueing a print job", async |tx| {
            execute(
                tx,
                "INSERT INTO print_jobs (device, job_id, printer, body, status, next_try_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'queued', $5, $5, $5) ON CONFLICT (device, job_id) DO NOTHING",
                &[&device, &job.id, &job.printer, &body, &now],
            )
            .await?;
            let rows = query(tx, &select, &[&device, &job.id]).await?;
            print_row(&rows[0])
        })
    }

    fn print_jobs(&self, device: Option<i64>, limit: i64) -> Result<Vec<StoredPrint>> {
        let sql = format!(
            "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device
             WHERE $1::BIGINT IS NULL OR p.device = $1 ORDER BY p.id DESC LIMIT $2"
        );
        self.one("listing print jobs", async |tx| {
            query(tx, &sql, &[&device, &limit]).await?.iter().map(print_row).collect()
        })
    }

    fn open_print_jobs(&self) -> Result<Vec<StoredPrint>> {
        let sql = format!(
            "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device
             WHERE p.status IN ('queued', 'printing') ORDER BY p.id"
        );
        self.one("reading the print queue", async |tx| {
            query(tx, &sql, &[]).await?.iter().map(print_row).collect()
        })
    }

    fn add_logs(&self, device: i64, package_id: &str, file: &str, size: i64, info: &serde_json::Value, now: i64) -> Result<i64> {
        let info = info.to_string();
        self.with("recording a log bundle", async |tx| {
            execute(
                tx,
                "INSERT INTO log_bundles (device, package_id, file, size, info, received_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (device, package_id) DO NOTHING",
                &[&device, &package_id, &file, &size, &info, &now],
            )
            .await?;
            let row = query_opt(
                tx,
                "SELECT id FROM log_bundles WHERE device = $1 AND package_id = $2",
                &[&device, &package_id],
            )
            .await?;
            Ok(row.map_or(0, |r| r.get(0)))
        })
    }

    fn logs(&self, limit: i64) -> Result<Vec<StoredLogs>> {
        self.one("listing log bundles", async |tx| {
            let rows = query(
                tx,
                "SELECT l.id, d.name, l.file, l.size, l.received_at, l.info FROM log_bundles l JOIN devices d ON d.id = l.device
                 ORDER BY l.id DESC LIMIT $1",
                &[&limit],
            )
            .await?;
            Ok(rows.iter().map(logs_row).collect())
        })
    }

    fn log_bundle(&self, id: i64) -> Result<Option<StoredLogs>> {
        self.one("reading a log bundle", async |tx| {
            let row = query_opt(
                tx,
                "SELECT l.id, d.name, l.file, l.size, l.received_at, l.info FROM log_bundles l JOIN devices d ON d.id = l.device
                 WHERE l.id = $1",
                &[&id],
            )
            .await?;
            Ok(row.as_ref().map(logs_row))
        })
    }

    fn add_app(&self, u: &tsd_core::update::AppUpdate, now: i64) -> Result<()> {
        let size = u.size as i64;
        self.one("recording an app version", async |tx| {
            execute(
                tx,
                "INSERT INTO app_versions (version_code, version_name, file, size, sha256, min_version, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&u.version_code, &u.version_name, &u.file, &size, &u.sha256, &u.min_version, &now],
            )
            .await
        })
        .map(|_| ())
    }

    fn apps(&self) -> Result<Vec<tsd_core::update::AppUpdate>> {
        self.one("listing app versions", async |tx| {
            let rows = query(
                tx,
                "SELECT version_code, version_name, file, size, sha256, min_version FROM app_versions ORDER BY version_code DESC",
                &[],
            )
            .await?;
            Ok(rows
                .iter()
                .map(|r| tsd_core::update::AppUpdate {
                    version_code: r.get(0),
                    version_name: r.get(1),
                    file: r.get(2),
                    size: r.get::<_, i64>(3) as u64,
                    sha256: r.get(4),
                    min_version: r.get(5),
                })
                .collect())
        })
    }

    fn add_enrolment(&self, device: i64, hash: &str, expires_at: i64, now: i64) -> Result<()> {
        self.one("recording a setup code", async |tx| {
            execute(
                tx,
                "INSERT INTO enrolments (token_hash, device, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&hash, &device, &now, &expires_at],
            )
            .await
        })
        .map(|_| ())
    }

    fn redeem_enrolment(&self, hash: &str, new_token_hash: &str, now: i64) -> Result<Redeemed> {
        self.with("redeeming a setup code", async |tx| {
            // Locked: a code scanned by two terminals at once is spent by one.
            let row = query_opt(
                tx,
                "SELECT e.device, e.expires_at, e.used_at, d.name FROM enrolments e JOIN devices d ON d.id = e.device
                 WHERE e.token_hash = $1 FOR UPDATE OF e",
                &[&hash],
            )
            .await?;
            let Some(r) = row else { return Ok(Redeemed::Unknown) };
            let (device, expires, used, name): (i64, i64, Option<i64>, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
            Ok(match used {
                Some(used) => Redeemed::Used(used),
                None if expires <= now => Redeemed::Expired(expires),
                None => {
                    execute(tx, "UPDATE devices SET token_hash = $2 WHERE id = $1", &[&device, &new_token_hash]).await?;
                    execute(tx, "UPDATE enrolments SET used_at = $2 WHERE token_hash = $1", &[&hash, &now]).await?;
                    Redeemed::Device(name)
                }
            })
        })
    }

    fn update_print(&self, id: i64, status: &str, attempts: i64, message: Option<&str>, touched: bool, next_try_at: i64) -> Result<()> {
        let now = crate::now_ms();
        self.one("updating a print job", async |tx| {
            execute(
                tx,
                "UPDATE print_jobs SET status = $2, attempts = $3, message = $4, touched = $5, next_try_at = $6, updated_at = $7 WHERE id = $1",
                &[&id, &status, &attempts, &message, &touched, &next_try_at, &now],
            )
            .await
        })
        .map(|_| ())
    }
}
