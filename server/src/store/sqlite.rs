//! The SQLite storage: `server.db` in the data folder (WAL, `synchronous=FULL` — a
//! document the server acknowledged survives a crash) and the kept files beside it.

use super::*;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER,
    status      TEXT
);
CREATE TABLE IF NOT EXISTS integration_keys (
    hash        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS catalog_versions (
    version        INTEGER PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    source         TEXT NOT NULL,
    format         TEXT NOT NULL,
    snapshot       TEXT NOT NULL,
    snapshot_size  INTEGER NOT NULL,
    delta          TEXT,
    delta_size     INTEGER
);
CREATE TABLE IF NOT EXISTS tasks (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    device      INTEGER NOT NULL REFERENCES devices(id),
    task_id     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (device, task_id)
);
CREATE TABLE IF NOT EXISTS documents (
    id           INTEGER PRIMARY KEY,
    device       INTEGER NOT NULL REFERENCES devices(id),
    doc_id       TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    acked_at     INTEGER,
    UNIQUE (device, idem_key)
);
CREATE TABLE IF NOT EXISTS config_versions (
    version     INTEGER PRIMARY KEY,
    json        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS printers (
    name        TEXT PRIMARY KEY,
    address     TEXT NOT NULL,        -- HOST:PORT of the raw port (9100)
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS print_jobs (
    id           INTEGER PRIMARY KEY,
    device       INTEGER NOT NULL REFERENCES devices(id),
    job_id       TEXT NOT NULL,
    printer      TEXT NOT NULL,
    body         TEXT NOT NULL,       -- the job as the terminal made it (JSON)
    status       TEXT NOT NULL,       -- queued, printing, sent, failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    message      TEXT,
    touched      INTEGER NOT NULL DEFAULT 0,
    next_try_at  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (device, job_id)
);
CREATE INDEX IF NOT EXISTS print_jobs_open ON print_jobs(id) WHERE status IN ('queued', 'printing');
CREATE TABLE IF NOT EXISTS log_bundles (
    id           INTEGER PRIMARY KEY,
    device       INTEGER NOT NULL REFERENCES devices(id),
    package_id   TEXT NOT NULL,
    file         TEXT NOT NULL,       -- under logs/
    size         INTEGER NOT NULL,
    info         TEXT NOT NULL,       -- the bundle's first record (JSON)
    received_at  INTEGER NOT NULL,
    UNIQUE (device, package_id)
);
CREATE TABLE IF NOT EXISTS enrolments (
    token_hash  TEXT PRIMARY KEY,     -- SHA-256 of the setup code's enrolment token
    device      INTEGER NOT NULL REFERENCES devices(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS app_versions (
    version_code  INTEGER PRIMARY KEY,
    version_name  TEXT NOT NULL,
    file          TEXT NOT NULL,      -- under apps/
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    min_version   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_pending ON documents(id) WHERE acked_at IS NULL;
";

/// Forward-only schema steps after [`SCHEMA`] (version 1), one per version; each
/// runs once in its own transaction and stamps `user_version`.
/// The schema version of a `server.db` this build writes (and the newest it
/// opens).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64 + 1;

const MIGRATIONS: &[&str] = &[
    // 2: a document's revision, so that one revision is stored once whatever the
    // idempotency key (and a key bound to another revision is refused).
    "ALTER TABLE documents ADD COLUMN revision TEXT;
     UPDATE documents SET revision = coalesce(json_extract(body, '$.completed_at'), '') || ':' ||
                                     coalesce(json_extract(body, '$.scans[#-1].seq'), '');
     CREATE INDEX documents_by_revision ON documents(device, doc_id, revision);",
    // 3: the 1C "exchange with a site" users (passwords the admin made) and their
    // sessions (the cookie checkauth hands out), so that any instance knows them.
    "CREATE TABLE site_users (
         name        TEXT PRIMARY KEY,
         hash        TEXT NOT NULL,
         created_at  INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE site_sessions (
         hash        TEXT PRIMARY KEY,
         user        TEXT NOT NULL,
         created_at  INTEGER NOT NULL
     ) WITHOUT ROWID;",
    // 4: print jobs claimed by a worker until a time (the same columns as on
    // PostgreSQL, where several instances' workers share one queue).
    "ALTER TABLE print_jobs ADD COLUMN lease_owner TEXT;
     ALTER TABLE print_jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;",
    // 5: the admin console's accounts, sessions and audit log.
    "CREATE TABLE admins (
         name        TEXT PRIMARY KEY,
         hash        TEXT NOT NULL,       -- Argon2id, PHC string
         role        TEXT NOT NULL,       -- admin, viewer
         created_at  INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE console_sessions (
         hash        TEXT PRIMARY KEY,    -- SHA-256 of the cookie
         user        TEXT NOT NULL,
         csrf        TEXT NOT NULL,
         created_at  INTEGER NOT NULL,
         expires_at  INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE audit (
         id      INTEGER PRIMARY KEY,
         at      INTEGER NOT NULL,
         user    TEXT NOT NULL,
         action  TEXT NOT NULL,
         detail  TEXT NOT NULL
     );",
    // 6: the task cursor and app version a device last asked with, and documents
    // by the terminal's id (a task's), for the console.
    "ALTER TABLE devices ADD COLUMN tasks_cursor INTEGER;
     ALTER TABLE devices ADD COLUMN app_version INTEGER;
     CREATE INDEX documents_by_doc ON documents(doc_id);",
];

/// The publish lock of a data folder: an exclusive lock on `publish.lock`, so that
/// a `tsd-server catalog publish` waits for a publish the running server makes.
struct FileLock(std::fs::File);

impl PublishGuard for FileLock {}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// SQLite storage: `server.db` and the kept files in their folders of the data
/// folder. One process serves a data folder; a print job it claims is never
/// waited for by another.
pub struct Sqlite {
    /// The one writer (every write is `BEGIN IMMEDIATE` on it).
    conn: Mutex<Connection>,
    /// Idle read-only connections: reads run beside the writer and each other
    /// (WAL), never queueing behind a write's fsync.
    readers: Mutex<Vec<Connection>>,
    dir: PathBuf,
}

fn sql(step: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |source| Error::Storage { step, source }
}

impl Sqlite {
    /// Opens (creating) `server.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Sqlite> {
        let path = dir.join("server.db");
        let new_file = !path.exists();
        let conn = Connection::open(&path).map_err(sql("opening server.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("setting the busy timeout"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(sql("setting pragmas"))?;
        conn.execute_batch(SCHEMA).map_err(sql("creating the schema"))?;
        let mut conn = conn;
        migrate(&mut conn)?;
        for area in Area::ALL {
            tsd_core::fsx::create_dir_durably(&dir.join(area.dir()))?;
        }
        if new_file {
            // SQLite syncs the folder for a new WAL, not for a new database: the
            // file's name must be made durable here, or a power cut can take every
            // commit with it (found by tests/power.rs).
            tsd_core::fsx::sync_dir(dir);
        }
        Ok(Sqlite {
            conn: Mutex::new(conn),
            readers: Mutex::default(),
            dir: dir.to_path_buf(),
        })
    }

    /// Runs a read in a transaction of its own (one snapshot) on a reader.
    fn read<T>(&self, step: &'static str, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                let path = self.dir.join("server.db");
                let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql(step))?;
                conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql(step))?;
                conn
            }
        };
        let out = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(sql(step))?;
            let out = f(&tx).map_err(sql(step))?;
            tx.finish().map_err(sql(step))?;
            out
        };
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        Ok(out)
    }

    fn with<T>(&self, step: &'static str, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(step))?;
        let out = f(&tx).map_err(sql(step))?;
        tx.commit().map_err(sql(step))?;
        Ok(out)
    }
}

/// Runs the steps of [`MIGRATIONS`] this database has not had; refuses a database a
/// newer server wrote.
fn migrate(conn: &mut Connection) -> Result<()> {
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(sql("reading the schema version"))?
        .max(1) as usize;
    let newest = MIGRATIONS.len() + 1;
    if version > newest {
        return Err(Error::Conflict(format!(
            "server.db has schema {version}; this server knows up to {newest}: update tsd-server"
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version - 1) {
        let tx = conn.transaction().map_err(sql("migrating server.db"))?;
        tx.execute_batch(step).map_err(sql("migrating server.db"))?;
        tx.pragma_update(None, "user_version", (i + 2) as i64)
            .map_err(sql("migrating server.db"))?;
        tx.commit().map_err(sql("migrating server.db"))?;
    }
    if version == 1 && MIGRATIONS.is_empty() {
        conn.pragma_update(None, "user_version", 1).map_err(sql("stamping server.db"))?;
    }
    Ok(())
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    let status: Option<String> = r.get(3)?;
    Ok(Device {
        id: r.get(0)?,
        name: r.get(1)?,
        last_seen: r.get(2)?,
        status: status.and_then(|s| serde_json::from_str(&s).ok()),
        tasks_cursor: r.get(4)?,
        app_version: r.get(5)?,
    })
}

fn print_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPrint> {
    let body: String = r.get(10)?;
    Ok(StoredPrint {
        id: r.get(0)?,
        device: r.get(1)?,
        printer: r.get(2)?,
        status: r.get(3)?,
        attempts: r.get(4)?,
        message: r.get(5)?,
        touched: r.get(6)?,
        next_try_at: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        job: serde_json::from_str(&body)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, Box::new(e)))?,
    })
}

fn logs_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredLogs> {
    let info: String = r.get(5)?;
    Ok(StoredLogs {
        id: r.get(0)?,
        device: r.get(1)?,
        file: r.get(2)?,
        size: r.get(3)?,
        received_at: r.get(4)?,
        info: serde_json::from_str(&info).unwrap_or(serde_json::Value::Null),
    })
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CatalogVersion> {
    Ok(CatalogVersion {
        version: r.get(0)?,
        created_at: r.get(1)?,
        source: r.get(2)?,
        format: r.get(3)?,
        snapshot: r.get(4)?,
        snapshot_size: r.get(5)?,
        delta: r.get(6)?,
        delta_size: r.get(7)?,
    })
}

fn document_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDocument> {
    let body: String = r.get(4)?;
    Ok(StoredDocument {
        id: r.get(0)?,
        device: r.get(1)?,
        doc_id: r.get(2)?,
        received_at: r.get(3)?,
        document: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        acked_at: r.get(5)?,
    })
}

impl Storage for Sqlite {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn keep_file(&self, area: Area, name: &str, from: &Path) -> Result<()> {
        Ok(tsd_core::fsx::copy_durably(from, &self.dir.join(area.dir()).join(name))?)
    }

    fn open_file(&self, area: Area, name: &str) -> Result<Option<PathBuf>> {
        let path = self.dir.join(area.dir()).join(name);
        Ok(path.is_file().then_some(path))
    }

    fn drop_file(&self, area: Area, name: &str) -> Result<()> {
        let path = self.dir.join(area.dir()).join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(crate::io(&path)(e)),
            _ => Ok(()),
        }
    }

    fn publish_lock(&self) -> Result<Box<dyn PublishGuard>> {
        let path = self.dir.join("publish.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(crate::io(&path))?;
        file.lock().map_err(crate::io(&path))?;
        Ok(Box::new(FileLock(file)))
    }

    fn claim_print_jobs(&self, owner: &str, now: i64, lease_until: i64) -> Result<Vec<StoredPrint>> {
        self.with("claiming print jobs", |tx| {
            let heads: Vec<StoredPrint> = {
                let mut st = tx.prepare(&format!(
                    "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device
                     WHERE p.id IN (SELECT min(id) FROM print_jobs WHERE status IN ('queued', 'printing') GROUP BY printer)
                     ORDER BY p.id"
                ))?;
                let rows = st.query_map([], print_row)?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for job in heads.iter().filter(|j| j.next_try_at <= now) {
                tx.execute(
                    "UPDATE print_jobs SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
                    params![job.id, owner, lease_until],
                )?;
            }
            Ok(heads)
        })
    }

    fn release_print(&self, id: i64, owner: &str) -> Result<()> {
        self.with("releasing a print job", |tx| {
            tx.execute(
                "UPDATE print_jobs SET lease_owner = NULL, lease_until = 0 WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner],
            )
            .map(|_| ())
        })
    }

    fn ping(&self) -> Result<()> {
        self.read("checking the database", |tx| {
            tx.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ())
        })
    }

    fn print_job_counts(&self) -> Result<Vec<(String, i64)>> {
        self.read("counting print jobs", |tx| {
            let mut st = tx.prepare("SELECT status, count(*) FROM print_jobs GROUP BY status")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn devices_seen_since(&self, since: i64) -> Result<i64> {
        self.read("counting devices seen", |tx| {
            tx.query_row("SELECT count(*) FROM devices WHERE last_seen >= ?1", [since], |r| r.get(0))
        })
    }

    fn set_site_user(&self, name: &str, password_hash: &str, now: i64) -> Result<()> {
        self.with("adding a 1C exchange user", |tx| {
            tx.execute(
                "INSERT INTO site_users (name, hash, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET hash = excluded.hash",
                params![name, password_hash, now],
            )
            .map(|_| ())
        })
    }

    fn site_user(&self, name: &str) -> Result<Option<String>> {
        self.read("reading a 1C exchange user", |tx| {
            tx.query_row("SELECT hash FROM site_users WHERE name = ?1", [name], |r| r.get(0))
                .optional()
        })
    }

    fn add_site_session(&self, hash: &str, user: &str, now: i64, expire_before: i64) -> Result<()> {
        self.with("starting a 1C exchange session", |tx| {
            tx.execute("DELETE FROM site_sessions WHERE created_at < ?1", [expire_before])?;
            tx.execute(
                "INSERT INTO site_sessions (hash, user, created_at) VALUES (?1, ?2, ?3)",
                params![hash, user, now],
            )
            .map(|_| ())
        })
    }

    fn site_session(&self, hash: &str, expire_before: i64) -> Result<Option<String>> {
        self.read("reading a 1C exchange session", |tx| {
            tx.query_row(
                "SELECT user FROM site_sessions WHERE hash = ?1 AND created_at >= ?2",
                params![hash, expire_before],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn set_admin(&self, name: &str, password_hash: &str, role: &str, now: i64) -> Result<()> {
        self.with("adding a console account", |tx| {
            tx.execute(
                "INSERT INTO admins (name, hash, role, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET hash = excluded.hash, role = excluded.role",
                params![name, password_hash, role, now],
            )
            .map(|_| ())
        })
    }

    fn admin(&self, name: &str) -> Result<Option<(String, String)>> {
        self.read("reading a console account", |tx| {
            tx.query_row("SELECT hash, role FROM admins WHERE name = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
    }

    fn add_console_session(&self, hash: &str, user: &str, csrf: &str, now: i64, expires_at: i64) -> Result<()> {
        self.with("starting a console session", |tx| {
            tx.execute("DELETE FROM console_sessions WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO console_sessions (hash, user, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, user, csrf, now, expires_at],
            )
            .map(|_| ())
        })
    }

    fn console_session(&self, hash: &str, now: i64) -> Result<Option<ConsoleSession>> {
        self.read("reading a console session", |tx| {
            tx.query_row(
                "SELECT s.user, a.role, s.csrf FROM console_sessions s JOIN admins a ON a.name = s.user
                 WHERE s.hash = ?1 AND s.expires_at > ?2",
                params![hash, now],
                |r| {
                    Ok(ConsoleSession {
                        user: r.get(0)?,
                        role: r.get(1)?,
                        csrf: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    fn end_console_session(&self, hash: &str) -> Result<()> {
        self.with("ending a console session", |tx| {
            tx.execute("DELETE FROM console_sessions WHERE hash = ?1", [hash]).map(|_| ())
        })
    }

    fn audit(&self, user: &str, action: &str, detail: &str, now: i64) -> Result<()> {
        self.with("writing the audit log", |tx| {
            tx.execute(
                "INSERT INTO audit (at, user, action, detail) VALUES (?1, ?2, ?3, ?4)",
                params![now, user, action, detail],
            )
            .map(|_| ())
        })
    }

    fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        self.read("reading the audit log", |tx| {
            let mut st = tx.prepare("SELECT id, at, user, action, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
            let rows = st.query_map([limit], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    user: r.get(2)?,
                    action: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    fn find_documents(&self, q: &DocumentQuery, limit: i64) -> Result<(Vec<StoredDocument>, i64)> {
        let filter = "WHERE (?1 IS NULL OR v.name = ?1) AND (?2 IS NULL OR json_extract(d.body, '$.type') = ?2)
             AND (?3 IS NULL OR (d.acked_at IS NULL) = ?3) AND (?4 IS NULL OR d.received_at >= ?4)
             AND (?5 IS NULL OR d.received_at < ?5)";
        let args = params![q.device, q.doc_type, q.pending, q.from, q.to];
        self.read("finding documents", |tx| {
            let total: i64 = tx.query_row(
                &format!("SELECT count(*) FROM documents d JOIN devices v ON v.id = d.device {filter}"),
                args,
                |r| r.get(0),
            )?;
            let mut st = tx.prepare(&format!("{DOCUMENT_SELECT} {filter} ORDER BY d.id DESC LIMIT ?6"))?;
            let rows = st.query_map(params![q.device, q.doc_type, q.pending, q.from, q.to, limit], document_row)?;
            Ok((rows.collect::<rusqlite::Result<_>>()?, total))
        })
    }

    fn received(&self, doc_ids: &[String]) -> Result<Vec<(String, String)>> {
        self.read("finding received documents", |tx| {
            let mut st = tx.prepare_cached(
                "SELECT DISTINCT v.name, d.doc_id FROM documents d JOIN devices v ON v.id = d.device WHERE d.doc_id = ?1",
            )?;
            let mut out = Vec::new();
            for id in doc_ids {
                let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    fn record_tasks_cursor(&self, device: i64, after: i64) -> Result<()> {
        // Read first: a sync that asks with the same cursor writes nothing.
        let known: Option<i64> = self.read("reading a task cursor", |tx| {
            tx.query_row("SELECT tasks_cursor FROM devices WHERE id = ?1", [device], |r| r.get(0))
                .optional()
                .map(Option::flatten)
        })?;
        if known.is_some_and(|k| k >= after) {
            return Ok(());
        }
        self.with("recording a task cursor", |tx| {
            tx.execute(
                "UPDATE devices SET tasks_cursor = ?2 WHERE id = ?1 AND coalesce(tasks_cursor, -1) < ?2",
                params![device, after],
            )
            .map(|_| ())
        })
    }

    fn record_app_version(&self, device: i64, version_code: i64) -> Result<()> {
        let known: Option<i64> = self.read("reading an app version", |tx| {
            tx.query_row("SELECT app_version FROM devices WHERE id = ?1", [device], |r| r.get(0))
                .optional()
                .map(Option::flatten)
        })?;
        if known == Some(version_code) {
            return Ok(());
        }
        self.with("recording an app version", |tx| {
            tx.execute("UPDATE devices SET app_version = ?2 WHERE id = ?1", params![device, version_code])
                .map(|_| ())
        })
    }

    fn tasks(&self, limit: i64) -> Result<Vec<StoredTask>> {
        self.read("listing tasks", |tx| {
            let mut st = tx.prepare(
                "SELECT t.seq, d.name, t.task_id, t.body, t.created_at FROM tasks t JOIN devices d ON d.id = t.device
                 ORDER BY t.seq DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(StoredTask {
                    seq: r.get(0)?,
                    device: r.get(1)?,
                    task_id: r.get(2)?,
                    body: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    fn revoke_device(&self, name: &str, revoked_hash: &str) -> Result<bool> {
        self.with("revoking a device", |tx| {
            Ok(tx.execute("UPDATE devices SET token_hash = ?2 WHERE name = ?1", params![name, revoked_hash])? > 0)
        })
    }

    fn add_device(&self, name: &str, token_hash: &str) -> Result<i64> {
        let now = crate::now_ms();
        let exists = self.device_by_name(name)?.is_some();
        if exists {
            return Err(Error::Conflict(format!("a device named {name:?} already exists")));
        }
        self.with("adding a device", |tx| {
            tx.execute(
                "INSERT INTO devices (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, token_hash, now],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn add_devices(&self, devices: &[(String, String)], now: i64) -> Result<usize> {
        self.with("adding devices", |tx| {
            let mut st = tx.prepare("INSERT INTO devices (name, token_hash, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?;
            let mut added = 0;
            for (name, hash) in devices {
                added += st.execute(params![name, hash, now])?;
            }
            Ok(added)
        })
    }

    fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>> {
        self.read("authenticating a device", |tx| {
            tx.query_row(
                "SELECT id, name, last_seen, status, tasks_cursor, app_version FROM devices WHERE token_hash = ?1",
                [token_hash],
                device_row,
            )
            .optional()
        })
    }

    fn record_seen(&self, seen: &[(i64, i64)]) -> Result<()> {
        self.with("recording when devices were seen", |tx| {
            let mut st = tx.prepare_cached("UPDATE devices SET last_seen = ?2 WHERE id = ?1 AND coalesce(last_seen, 0) < ?2")?;
            for (id, at) in seen {
                st.execute(params![id, at])?;
            }
            Ok(())
        })
    }

    fn device_by_name(&self, name: &str) -> Result<Option<Device>> {
        self.read("reading a device", |tx| {
            tx.query_row(
                "SELECT id, name, last_seen, status, tasks_cursor, app_version FROM devices WHERE name = ?1",
                [name],
                device_row,
            )
            .optional()
        })
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.read("listing devices", |tx| {
            let mut st = tx.prepare("SELECT id, name, last_seen, status, tasks_cursor, app_version FROM devices ORDER BY name")?;
            let rows = st.query_map([], device_row)?;
            rows.collect()
        })
    }

    fn set_status(&self, device: i64, status: &serde_json::Value) -> Result<()> {
        self.with("storing a device status", |tx| {
            tx.execute("UPDATE devices SET status = ?2 WHERE id = ?1", params![device, status.to_string()])
                .map(|_| ())
        })
    }

    fn add_integration_key(&self, hash: &str, now: i64) -> Result<()> {
        self.with("adding an integration key", |tx| {
            tx.execute(
                "INSERT INTO integration_keys (hash, created_at) VALUES (?1, ?2)",
                params![hash, now],
            )
            .map(|_| ())
        })
    }

    fn integration_key(&self, hash: &str) -> Result<bool> {
        self.read("checking an integration key", |tx| {
            tx.query_row("SELECT 1 FROM integration_keys WHERE hash = ?1", [hash], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    fn latest_catalog(&self) -> Result<Option<CatalogVersion>> {
        self.read("reading the catalog version", |tx| {
            tx.query_row(
                &format!("SELECT {VERSION_COLUMNS} FROM catalog_versions ORDER BY version DESC LIMIT 1"),
                [],
                version_row,
            )
            .optional()
        })
    }

    fn catalog_versions_after(&self, since: i64) -> Result<Vec<CatalogVersion>> {
        self.read("reading catalog versions", |tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {VERSION_COLUMNS} FROM catalog_versions WHERE version > ?1 ORDER BY version"
            ))?;
            let rows = st.query_map([since], version_row)?;
            rows.collect()
        })
    }

    fn add_catalog_version(&self, v: &CatalogVersion) -> Result<()> {
        self.with("recording a catalog version", |tx| {
            tx.execute(
                &format!("INSERT INTO catalog_versions ({VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    v.version,
                    v.created_at,
                    v.source,
                    v.format,
                    v.snapshot,
                    v.snapshot_size,
                    v.delta,
                    v.delta_size
                ],
            )
            .map(|_| ())
        })
    }

    fn add_tasks(&self, device: i64, tasks: &[(String, String)], now: i64) -> Result<usize> {
        self.with("adding tasks", |tx| {
            let mut st =
                tx.prepare("INSERT INTO tasks (device, task_id, body, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?;
            let mut added = 0;
            for (id, body) in tasks {
                added += st.execute(params![device, id, body, now])?;
            }
            Ok(added)
        })
    }

    fn cancel_task(&self, task_id: &str, device: Option<i64>, now: i64) -> Result<Vec<String>> {
        self.with("withdrawing a task", |tx| {
            let found: Vec<(i64, i64, String, String)> = {
                let mut st = tx.prepare(
                    "SELECT t.seq, t.device, t.body, d.name FROM tasks t JOIN devices d ON d.id = t.device
                     WHERE t.task_id = ?1 AND (?2 IS NULL OR t.device = ?2)",
                )?;
                let rows = st.query_map(params![task_id, device], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut names = Vec::new();
            for (seq, device, body, name) in found {
                let Some(withdrawn) = withdrawn_task(task_id, &body) else {
                    continue;
                };
                tx.execute("DELETE FROM tasks WHERE seq = ?1", [seq])?;
                tx.execute(
                    "INSERT INTO tasks (device, task_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![device, task_id, withdrawn, now],
                )?;
                names.push(name);
            }
            Ok(names)
        })
    }

    fn tasks_after(&self, device: i64, after: i64) -> Result<Vec<(i64, String)>> {
        self.read("reading tasks", |tx| {
            let mut st = tx.prepare("SELECT seq, body FROM tasks WHERE device = ?1 AND seq > ?2 ORDER BY seq")?;
            let rows = st.query_map([device, after], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn push_document(&self, device: i64, doc: &DocumentRevision<'_>, key: &str, body: &str, now: i64) -> Result<Pushed> {
        self.with("storing a document", |tx| {
            let by_key: Option<(i64, String, Option<String>)> = tx
                .query_row(
                    "SELECT id, doc_id, revision FROM documents WHERE device = ?1 AND idem_key = ?2",
                    params![device, key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((id, doc_id, revision)) = by_key {
                let revision = revision.unwrap_or_default();
                return Ok(if doc_id == doc.doc_id && revision == doc.revision {
                    Pushed::Duplicate(id)
                } else {
                    Pushed::KeyConflict { doc_id, revision }
                });
            }
            let by_revision: Option<i64> = tx
                .query_row(
                    "SELECT id FROM documents WHERE device = ?1 AND doc_id = ?2 AND revision = ?3 ORDER BY id LIMIT 1",
                    params![device, doc.doc_id, doc.revision],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = by_revision {
                return Ok(Pushed::Duplicate(id));
            }
            tx.execute(
                "INSERT INTO documents (device, doc_id, idem_key, body, received_at, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![device, doc.doc_id, key, body, now, doc.revision],
            )?;
            Ok(Pushed::Stored(tx.last_insert_rowid()))
        })
    }

    fn document_ids(&self, pending: bool, after: i64, limit: i64) -> Result<Vec<i64>> {
        self.read("listing documents", |tx| {
            let filter = if pending { " AND acked_at IS NULL" } else { "" };
            let mut st = tx.prepare(&format!("SELECT id FROM documents WHERE id > ?1{filter} ORDER BY id LIMIT ?2"))?;
            let rows = st.query_map(params![after, limit], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn documents(&self, pending: bool) -> Result<Vec<StoredDocument>> {
        self.read("listing documents", |tx| {
            let filter = if pending { " WHERE d.acked_at IS NULL" } else { "" };
            let mut st = tx.prepare(&format!("{DOCUMENT_SELECT}{filter} ORDER BY d.id"))?;
            let rows = st.query_map([], document_row)?;
            rows.collect()
        })
    }

    fn document(&self, id: i64) -> Result<Option<StoredDocument>> {
        self.read("reading a document", |tx| {
            tx.query_row(&format!("{DOCUMENT_SELECT} WHERE d.id = ?1"), [id], document_row)
                .optional()
        })
    }

    fn ack_document(&self, id: i64, now: i64) -> Result<bool> {
        self.with("acknowledging a document", |tx| {
            let n = tx.execute(
                "UPDATE documents SET acked_at = coalesce(acked_at, ?2) WHERE id = ?1",
                params![id, now],
            )?;
            Ok(n > 0)
        })
    }

    fn latest_config(&self) -> Result<Option<(i64, String)>> {
        self.read("reading the configuration", |tx| {
            tx.query_row("SELECT version, json FROM config_versions ORDER BY version DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
    }

    fn add_config(&self, json: &str, now: i64) -> Result<i64> {
        self.with("recording a configuration", |tx| {
            let next: i64 = tx.query_row("SELECT coalesce(max(version), 0) + 1 FROM config_versions", [], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO config_versions (version, json, created_at) VALUES (?1, ?2, ?3)",
                params![next, json, now],
            )?;
            Ok(next)
        })
    }

    fn set_printer(&self, name: &str, address: &str, now: i64) -> Result<()> {
        self.with("adding a printer", |tx| {
            tx.execute(
                "INSERT INTO printers (name, address, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET address = excluded.address",
                params![name, address, now],
            )
            .map(|_| ())
        })
    }

    fn printer_address(&self, name: &str) -> Result<Option<String>> {
        self.read("reading a printer", |tx| {
            tx.query_row("SELECT address FROM printers WHERE name = ?1", [name], |r| r.get(0))
                .optional()
        })
    }

    fn printers(&self) -> Result<Vec<(String, String)>> {
        self.read("listing printers", |tx| {
            let mut st = tx.prepare("SELECT name, address FROM printers ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn queue_print(&self, device: i64, job: &tsd_core::print::PrintJob, now: i64) -> Result<StoredPrint> {
        let body = serde_json::to_string(job).map_err(|e| Error::BadRequest(e.to_string()))?;
        self.with("queueing a print job", |tx| {
            tx.execute(
                "INSERT INTO print_jobs (device, job_id, printer, body, status, next_try_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5, ?5) ON CONFLICT (device, job_id) DO NOTHING",
                params![device, job.id, job.printer, body, now],
            )?;
            tx.query_row(
                &format!(
                    "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device WHERE p.device = ?1 AND p.job_id = ?2"
                ),
                params![device, job.id],
                print_row,
            )
        })
    }

    fn print_jobs(&self, device: Option<i64>, limit: i64) -> Result<Vec<StoredPrint>> {
        self.read("listing print jobs", |tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device
                 WHERE ?1 IS NULL OR p.device = ?1 ORDER BY p.id DESC LIMIT ?2"
            ))?;
            let rows = st.query_map(params![device, limit], print_row)?;
            rows.collect()
        })
    }

    fn open_print_jobs(&self) -> Result<Vec<StoredPrint>> {
        self.read("reading the print queue", |tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device
                 WHERE p.status IN ('queued', 'printing') ORDER BY p.id"
            ))?;
            let rows = st.query_map([], print_row)?;
            rows.collect()
        })
    }

    fn add_logs(&self, device: i64, package_id: &str, file: &str, size: i64, info: &serde_json::Value, now: i64) -> Result<i64> {
        self.with("recording a log bundle", |tx| {
            tx.execute(
                "INSERT INTO log_bundles (device, package_id, file, size, info, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (device, package_id) DO NOTHING",
                params![device, package_id, file, size, info.to_string(), now],
            )?;
            tx.query_row(
                "SELECT id FROM log_bundles WHERE device = ?1 AND package_id = ?2",
                params![device, package_id],
                |r| r.get(0),
            )
        })
    }

    fn logs(&self, limit: i64) -> Result<Vec<StoredLogs>> {
        self.read("listing log bundles", |tx| {
            let mut st = tx.prepare(
                "SELECT l.id, d.name, l.file, l.size, l.received_at, l.info FROM log_bundles l JOIN devices d ON d.id = l.device
                 ORDER BY l.id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], logs_row)?;
            rows.collect()
        })
    }

    fn log_bundle(&self, id: i64) -> Result<Option<StoredLogs>> {
        self.read("reading a log bundle", |tx| {
            tx.query_row(
                "SELECT l.id, d.name, l.file, l.size, l.received_at, l.info FROM log_bundles l JOIN devices d ON d.id = l.device
                 WHERE l.id = ?1",
                [id],
                logs_row,
            )
            .optional()
        })
    }

    fn add_app(&self, u: &tsd_core::update::AppUpdate, now: i64) -> Result<()> {
        self.with("recording an app version", |tx| {
            tx.execute(
                "INSERT INTO app_versions (version_code, version_name, file, size, sha256, min_version, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![u.version_code, u.version_name, u.file, u.size as i64, u.sha256, u.min_version, now],
            )
            .map(|_| ())
        })
    }

    fn apps(&self) -> Result<Vec<tsd_core::update::AppUpdate>> {
        self.read("listing app versions", |tx| {
            let mut st = tx.prepare(
                "SELECT version_code, version_name, file, size, sha256, min_version FROM app_versions ORDER BY version_code DESC",
            )?;
            let rows = st.query_map([], |r| {
                Ok(tsd_core::update::AppUpdate {
                    version_code: r.get(0)?,
                    version_name: r.get(1)?,
                    file: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    sha256: r.get(4)?,
                    min_version: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    fn add_enrolment(&self, device: i64, hash: &str, expires_at: i64, now: i64) -> Result<()> {
        self.with("recording a setup code", |tx| {
            tx.execute(
                "INSERT INTO enrolments (token_hash, device, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, device, now, expires_at],
            )
            .map(|_| ())
        })
    }

    fn redeem_enrolment(&self, hash: &str, new_token_hash: &str, now: i64) -> Result<Redeemed> {
        self.with("redeeming a setup code", |tx| {
            let row: Option<(i64, i64, Option<i64>, String)> = tx
                .query_row(
                    "SELECT e.device, e.expires_at, e.used_at, d.name FROM enrolments e JOIN devices d ON d.id = e.device
                     WHERE e.token_hash = ?1",
                    [hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            Ok(match row {
                None => Redeemed::Unknown,
                Some((_, _, Some(used), _)) => Redeemed::Used(used),
                Some((_, expires, None, _)) if expires <= now => Redeemed::Expired(expires),
                Some((device, _, None, name)) => {
                    tx.execute("UPDATE devices SET token_hash = ?2 WHERE id = ?1", params![device, new_token_hash])?;
                    tx.execute("UPDATE enrolments SET used_at = ?2 WHERE token_hash = ?1", params![hash, now])?;
                    Redeemed::Device(name)
                }
            })
        })
    }

    fn update_print(&self, id: i64, status: &str, attempts: i64, message: Option<&str>, touched: bool, next_try_at: i64) -> Result<()> {
        self.with("updating a print job", |tx| {
            tx.execute(
                "UPDATE print_jobs SET status = ?2, attempts = ?3, message = ?4, touched = ?5, next_try_at = ?6, updated_at = ?7 WHERE id = ?1",
                params![id, status, attempts, message, touched, next_try_at, crate::now_ms()],
            )
            .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server.db written before document revisions (schema 1) gets the column,
    /// filled from the stored bodies, and then refuses a reused key as a new one does.
    #[test]
    fn a_schema_1_database_is_migrated_and_its_documents_get_revisions() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("server.db")).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute("INSERT INTO devices (name, token_hash, created_at) VALUES ('t1', 'h', 0)", [])
                .unwrap();
            let body = r#"{"id":"A","completed_at":1700,"scans":[{"seq":4},{"seq":9}]}"#;
            conn.execute(
                "INSERT INTO documents (device, doc_id, idem_key, body, received_at) VALUES (1, 'A', 'k', ?1, 0)",
                [body],
            )
            .unwrap();
        }
        let store = Sqlite::open(dir.path()).unwrap();
        let revision: String = store
            .conn
            .lock()
            .unwrap()
            .query_row("SELECT revision FROM documents WHERE doc_id = 'A'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(revision, "1700:9");
        let a = DocumentRevision {
            doc_id: "A",
            revision: "1700:9",
        };
        let b = DocumentRevision {
            doc_id: "B",
            revision: "1800:12",
        };
        assert_eq!(store.push_document(1, &a, "other", "{}", 1).unwrap(), Pushed::Duplicate(1));
        assert!(matches!(
            store.push_document(1, &b, "k", "{}", 1).unwrap(),
            Pushed::KeyConflict { .. }
        ));
        assert!(matches!(store.push_document(1, &b, "kb", "{}", 1).unwrap(), Pushed::Stored(_)));
        drop(store);
        // Opening again runs nothing twice; a newer schema is refused.
        let store = Sqlite::open(dir.path()).unwrap();
        store.conn.lock().unwrap().pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        assert!(Sqlite::open(dir.path()).is_err());
    }
}
