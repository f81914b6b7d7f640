//! The server's storage: one [`Storage`] interface, one SQLite implementation
//! (`server.db` in the data folder, WAL, `synchronous=FULL` — a document the server
//! acknowledged survives a crash). A PostgreSQL backend implements the same trait.

use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

/// A registered terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    /// Internal id.
    pub id: i64,
    /// Name given at `device add`.
    pub name: String,
    /// Unix ms of the last authenticated request.
    pub last_seen: Option<i64>,
    /// The last status the device reported (JSON), if any.
    pub status: Option<serde_json::Value>,
}

/// One published catalog version and its packages (file names under `packages/`).
#[derive(Debug, Clone, Serialize)]
pub struct CatalogVersion {
    /// The version number (1, 2, …).
    pub version: i64,
    /// Unix ms.
    pub created_at: i64,
    /// The source file kept for the next delta (under `catalog/`).
    pub source: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// Snapshot package of this version.
    pub snapshot: String,
    /// Its size in bytes.
    pub snapshot_size: i64,
    /// Delta package from `version - 1`, when one could be built.
    pub delta: Option<String>,
    /// Its size in bytes.
    pub delta_size: Option<i64>,
}

/// A finished document as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDocument {
    /// Server-side id (what `ack` takes).
    pub id: i64,
    /// Device name.
    pub device: String,
    /// The terminal's document id.
    pub doc_id: String,
    /// Unix ms when first received.
    pub received_at: i64,
    /// Unix ms when the accounting system acknowledged it.
    pub acked_at: Option<i64>,
    /// The document as the terminal sent it: header, lines, scans.
    pub document: serde_json::Value,
}

/// A print job in the server's queue.
#[derive(Debug, Clone, Serialize)]
pub struct StoredPrint {
    /// Queue id (order of arrival).
    pub id: i64,
    /// Device name.
    pub device: String,
    /// The printer's name.
    pub printer: String,
    /// `queued`, `printing` (its body reached the printer; its end not yet
    /// confirmed), `sent`, `failed`.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// The reason of the last failure, if any.
    pub message: Option<String>,
    /// Some byte of it may have reached the printer (it is never given up then).
    pub touched: bool,
    /// Unix ms: not retried before.
    pub next_try_at: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// The job as the terminal made it.
    pub job: tsd_core::print::PrintJob,
}

/// A log bundle a device sent (the file is `logs/FILE` in the data folder).
#[derive(Debug, Clone, Serialize)]
pub struct StoredLogs {
    /// Server id (what `logs get` takes).
    pub id: i64,
    /// Device name.
    pub device: String,
    /// File name under `logs/`.
    pub file: String,
    /// Bytes.
    pub size: i64,
    /// Unix ms.
    pub received_at: i64,
    /// The bundle's first record: device, versions, files.
    pub info: serde_json::Value,
}

/// What redeeming an enrolment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The device now has the new token.
    Device(String),
    /// No such setup code.
    Unknown,
    /// Used before, at this time (unix ms).
    Used(i64),
    /// Expired at this time (unix ms).
    Expired(i64),
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Stored now under this id.
    Stored(i64),
    /// This revision of the document was stored before under this id (the same
    /// idempotency key, or another key for the same document revision).
    Duplicate(i64),
    /// The idempotency key already names another document or revision: nothing
    /// was stored, and the pusher must not treat the document as delivered.
    KeyConflict {
        /// The document the key names.
        doc_id: String,
        /// Its revision.
        revision: String,
    },
}

/// What names one stored copy of a finished document.
#[derive(Debug, Clone, Copy)]
pub struct DocumentRevision<'a> {
    /// The terminal's document id.
    pub doc_id: &'a str,
    /// The revision: a completed document is frozen, so its completion time and
    /// last journal entry name it (`"<completed_at>:<last seq>"`).
    pub revision: &'a str,
}

/// Storage operations the server needs. Every method is one transaction.
pub trait Storage: Send + Sync {
    /// Registers a device with the SHA-256 of its token.
    fn add_device(&self, name: &str, token_hash: &str) -> Result<i64>;
    /// The device a token hash belongs to; marks it seen.
    fn device_by_token(&self, token_hash: &str, now: i64) -> Result<Option<Device>>;
    /// A device by name.
    fn device_by_name(&self, name: &str) -> Result<Option<Device>>;
    /// All devices.
    fn devices(&self) -> Result<Vec<Device>>;
    /// Stores the status a device reported.
    fn set_status(&self, device: i64, status: &serde_json::Value) -> Result<()>;
    /// Adds an integration key (hash).
    fn add_integration_key(&self, hash: &str, now: i64) -> Result<()>;
    /// True if the hash is a known integration key.
    fn integration_key(&self, hash: &str) -> Result<bool>;
    /// The latest catalog version.
    fn latest_catalog(&self) -> Result<Option<CatalogVersion>>;
    /// Versions after `since` up to the latest, in order.
    fn catalog_versions_after(&self, since: i64) -> Result<Vec<CatalogVersion>>;
    /// Records a new catalog version (its files are already in place).
    fn add_catalog_version(&self, v: &CatalogVersion) -> Result<()>;
    /// Adds tasks for a device; tasks already known (same id) are skipped. Returns how
    /// many were new.
    fn add_tasks(&self, device: i64, tasks: &[(String, String)], now: i64) -> Result<usize>;
    /// Withdraws a task: its record is replaced by a `"cancelled": true` record at
    /// the end of the feed (a new sequence number, so terminals past the task see
    /// it). Returns the names of the devices it was withdrawn from.
    fn cancel_task(&self, task_id: &str, device: Option<i64>, now: i64) -> Result<Vec<String>>;
    /// A device's tasks after sequence number `after`: `(seq, json)`.
    fn tasks_after(&self, device: i64, after: i64) -> Result<Vec<(i64, String)>>;
    /// Stores a finished document once per revision: a key seen before answers for
    /// what it named (a [`Pushed::KeyConflict`] if that was another document or
    /// revision), and a revision stored before under another key is a duplicate.
    fn push_document(&self, device: i64, doc: &DocumentRevision<'_>, key: &str, body: &str, now: i64) -> Result<Pushed>;
    /// Finished documents, oldest first; only unacknowledged ones when `pending`.
    fn documents(&self, pending: bool) -> Result<Vec<StoredDocument>>;
    /// Server ids of finished documents after `after`, oldest first, at most
    /// `limit` (only unacknowledged ones when `pending`): a page, without bodies.
    fn document_ids(&self, pending: bool, after: i64, limit: i64) -> Result<Vec<i64>>;
    /// One document by server id.
    fn document(&self, id: i64) -> Result<Option<StoredDocument>>;
    /// Acknowledges a document; `false` if there is none with that id.
    fn ack_document(&self, id: i64, now: i64) -> Result<bool>;
    /// The latest configuration: `(version, json)`.
    fn latest_config(&self) -> Result<Option<(i64, String)>>;
    /// Records a configuration as the next version; returns it.
    fn add_config(&self, json: &str, now: i64) -> Result<i64>;
    /// Adds or changes a printer (`HOST:PORT`).
    fn set_printer(&self, name: &str, address: &str, now: i64) -> Result<()>;
    /// A printer's address.
    fn printer_address(&self, name: &str) -> Result<Option<String>>;
    /// Every printer: `(name, address)`.
    fn printers(&self) -> Result<Vec<(String, String)>>;
    /// Queues a job once per `(device, job id)`; returns it as stored.
    fn queue_print(&self, device: i64, job: &tsd_core::print::PrintJob, now: i64) -> Result<StoredPrint>;
    /// Jobs, newest first: a device's or everyone's, at most `limit`.
    fn print_jobs(&self, device: Option<i64>, limit: i64) -> Result<Vec<StoredPrint>>;
    /// Queued and printing jobs, oldest first.
    fn open_print_jobs(&self) -> Result<Vec<StoredPrint>>;
    /// Records a published app version.
    fn add_app(&self, update: &tsd_core::update::AppUpdate, now: i64) -> Result<()>;
    /// App versions, newest first.
    fn apps(&self) -> Result<Vec<tsd_core::update::AppUpdate>>;
    /// Records an enrolment (a setup code's token hash) for a device.
    fn add_enrolment(&self, device: i64, hash: &str, expires_at: i64, now: i64) -> Result<()>;
    /// Redeems an enrolment in one transaction: checks it is known, unused and not
    /// expired, gives the device `new_token_hash`, marks the enrolment used.
    fn redeem_enrolment(&self, hash: &str, new_token_hash: &str, now: i64) -> Result<Redeemed>;
    /// Records a received log bundle (once per device and package id).
    fn add_logs(&self, device: i64, package_id: &str, file: &str, size: i64, info: &serde_json::Value, now: i64) -> Result<i64>;
    /// Log bundles, newest first.
    fn logs(&self, limit: i64) -> Result<Vec<StoredLogs>>;
    /// One log bundle.
    fn log_bundle(&self, id: i64) -> Result<Option<StoredLogs>>;
    /// Records a job's progress.
    fn update_print(&self, id: i64, status: &str, attempts: i64, message: Option<&str>, touched: bool, next_try_at: i64) -> Result<()>;
    /// Answers when the database does (readiness).
    fn ping(&self) -> Result<()>;
    /// Print jobs per state.
    fn print_job_counts(&self) -> Result<Vec<(String, i64)>>;
    /// Devices seen at or after `since` (unix ms).
    fn devices_seen_since(&self, since: i64) -> Result<i64>;
    /// Adds (or gives a new password to) a 1C exchange user: the hash of the password.
    fn set_site_user(&self, name: &str, password_hash: &str, now: i64) -> Result<()>;
    /// The password hash of a 1C exchange user.
    fn site_user(&self, name: &str) -> Result<Option<String>>;
    /// Starts a 1C exchange session (the hash of its cookie) for a user; sessions
    /// older than `expire_before` are dropped.
    fn add_site_session(&self, hash: &str, user: &str, now: i64, expire_before: i64) -> Result<()>;
    /// The user of a live 1C exchange session.
    fn site_session(&self, hash: &str, expire_before: i64) -> Result<Option<String>>;
}

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
];

/// SQLite storage.
pub struct Sqlite {
    conn: Mutex<Connection>,
}

fn sql(step: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |source| Error::Storage { step, source }
}

impl Sqlite {
    /// Opens (creating) `server.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Sqlite> {
        let path = dir.join("server.db");
        let conn = Connection::open(&path).map_err(sql("opening server.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("setting the busy timeout"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(sql("setting pragmas"))?;
        conn.execute_batch(SCHEMA).map_err(sql("creating the schema"))?;
        let mut conn = conn;
        migrate(&mut conn)?;
        Ok(Sqlite { conn: Mutex::new(conn) })
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

/// How stale `devices.last_seen` may get before a request writes it.
const LAST_SEEN_EVERY_MS: i64 = 30_000;

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    let status: Option<String> = r.get(3)?;
    Ok(Device {
        id: r.get(0)?,
        name: r.get(1)?,
        last_seen: r.get(2)?,
        status: status.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

const PRINT_COLUMNS: &str =
    "p.id, d.name, p.printer, p.status, p.attempts, p.message, p.touched, p.next_try_at, p.created_at, p.updated_at, p.body";

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

const VERSION_COLUMNS: &str = "version, created_at, source, format, snapshot, snapshot_size, delta, delta_size";
const DOCUMENT_SELECT: &str =
    "SELECT d.id, v.name, d.doc_id, d.received_at, d.body, d.acked_at FROM documents d JOIN devices v ON v.id = d.device";

impl Storage for Sqlite {
    fn ping(&self) -> Result<()> {
        self.with("checking the database", |tx| {
            tx.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ())
        })
    }

    fn print_job_counts(&self) -> Result<Vec<(String, i64)>> {
        self.with("counting print jobs", |tx| {
            let mut st = tx.prepare("SELECT status, count(*) FROM print_jobs GROUP BY status")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn devices_seen_since(&self, since: i64) -> Result<i64> {
        self.with("counting devices seen", |tx| {
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
        self.with("reading a 1C exchange user", |tx| {
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
        self.with("reading a 1C exchange session", |tx| {
            tx.query_row(
                "SELECT user FROM site_sessions WHERE hash = ?1 AND created_at >= ?2",
                params![hash, expire_before],
                |r| r.get(0),
            )
            .optional()
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

    fn device_by_token(&self, token_hash: &str, now: i64) -> Result<Option<Device>> {
        self.with("authenticating a device", |tx| {
            // Written at most every LAST_SEEN_EVERY_MS: a write (and its fsync) on every
            // request would make each online lookup pay for one.
            tx.execute(
                "UPDATE devices SET last_seen = ?2 WHERE token_hash = ?1 AND (last_seen IS NULL OR last_seen <= ?2 - ?3)",
                params![token_hash, now, LAST_SEEN_EVERY_MS],
            )?;
            tx.query_row(
                "SELECT id, name, last_seen, status FROM devices WHERE token_hash = ?1",
                [token_hash],
                device_row,
            )
            .optional()
        })
    }

    fn device_by_name(&self, name: &str) -> Result<Option<Device>> {
        self.with("reading a device", |tx| {
            tx.query_row(
                "SELECT id, name, last_seen, status FROM devices WHERE name = ?1",
                [name],
                device_row,
            )
            .optional()
        })
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.with("listing devices", |tx| {
            let mut st = tx.prepare("SELECT id, name, last_seen, status FROM devices ORDER BY name")?;
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
        self.with("checking an integration key", |tx| {
            tx.query_row("SELECT 1 FROM integration_keys WHERE hash = ?1", [hash], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    fn latest_catalog(&self) -> Result<Option<CatalogVersion>> {
        self.with("reading the catalog version", |tx| {
            tx.query_row(
                &format!("SELECT {VERSION_COLUMNS} FROM catalog_versions ORDER BY version DESC LIMIT 1"),
                [],
                version_row,
            )
            .optional()
        })
    }

    fn catalog_versions_after(&self, since: i64) -> Result<Vec<CatalogVersion>> {
        self.with("reading catalog versions", |tx| {
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
                let mut task: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if task.get("cancelled").and_then(|c| c.as_bool()) == Some(true) {
                    continue;
                }
                let withdrawn = serde_json::json!({
                    "id": task_id,
                    "type": task.get_mut("type").map(std::mem::take).unwrap_or_default(),
                    "number": task.get_mut("number").map(std::mem::take).unwrap_or_default(),
                    "cancelled": true,
                });
                tx.execute("DELETE FROM tasks WHERE seq = ?1", [seq])?;
                tx.execute(
                    "INSERT INTO tasks (device, task_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![device, task_id, withdrawn.to_string(), now],
                )?;
                names.push(name);
            }
            Ok(names)
        })
    }

    fn tasks_after(&self, device: i64, after: i64) -> Result<Vec<(i64, String)>> {
        self.with("reading tasks", |tx| {
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
        self.with("listing documents", |tx| {
            let filter = if pending { " AND acked_at IS NULL" } else { "" };
            let mut st = tx.prepare(&format!("SELECT id FROM documents WHERE id > ?1{filter} ORDER BY id LIMIT ?2"))?;
            let rows = st.query_map(params![after, limit], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn documents(&self, pending: bool) -> Result<Vec<StoredDocument>> {
        self.with("listing documents", |tx| {
            let filter = if pending { " WHERE d.acked_at IS NULL" } else { "" };
            let mut st = tx.prepare(&format!("{DOCUMENT_SELECT}{filter} ORDER BY d.id"))?;
            let rows = st.query_map([], document_row)?;
            rows.collect()
        })
    }

    fn document(&self, id: i64) -> Result<Option<StoredDocument>> {
        self.with("reading a document", |tx| {
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
        self.with("reading the configuration", |tx| {
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
        self.with("reading a printer", |tx| {
            tx.query_row("SELECT address FROM printers WHERE name = ?1", [name], |r| r.get(0))
                .optional()
        })
    }

    fn printers(&self) -> Result<Vec<(String, String)>> {
        self.with("listing printers", |tx| {
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
        self.with("listing print jobs", |tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {PRINT_COLUMNS} FROM print_jobs p JOIN devices d ON d.id = p.device
                 WHERE ?1 IS NULL OR p.device = ?1 ORDER BY p.id DESC LIMIT ?2"
            ))?;
            let rows = st.query_map(params![device, limit], print_row)?;
            rows.collect()
        })
    }

    fn open_print_jobs(&self) -> Result<Vec<StoredPrint>> {
        self.with("reading the print queue", |tx| {
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
        self.with("listing log bundles", |tx| {
            let mut st = tx.prepare(
                "SELECT l.id, d.name, l.file, l.size, l.received_at, l.info FROM log_bundles l JOIN devices d ON d.id = l.device
                 ORDER BY l.id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], logs_row)?;
            rows.collect()
        })
    }

    fn log_bundle(&self, id: i64) -> Result<Option<StoredLogs>> {
        self.with("reading a log bundle", |tx| {
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
        self.with("listing app versions", |tx| {
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
