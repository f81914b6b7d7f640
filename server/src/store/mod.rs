//! The server's storage: one [`Storage`] interface with two implementations —
//! [`Sqlite`] (`server.db` in the data folder, the zero-set-up default) and
//! [`Postgres`] (one database that several `tsd-server` instances share).
//!
//! Everything the server keeps goes through it: the records, and the files a
//! version or an upload leaves (packages, the catalog a delta is computed from, log
//! bundles, app files — see [`Area`]). What an instance holds on its own disk
//! besides is rebuilt from these: the lookup catalog, cached copies of files.

mod postgres;
mod sqlite;

pub use postgres::Postgres;
pub use sqlite::{Sqlite, SCHEMA_VERSION};

use crate::error::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Which kind of kept file; each is a folder of the data folder on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// Immutable catalog packages (`snapshot-vN`, `delta-vA-vB`), served with Range.
    Packages,
    /// The latest version's canonical catalog: the base of the next delta.
    Catalog,
    /// Log bundles terminals sent.
    Logs,
    /// Published app files, served with Range.
    Apps,
    /// The files of 1C exchanges under way (with several instances, 1C's next
    /// part or import call may land on another one).
    Exchange,
}

impl Area {
    /// Its folder name.
    pub fn dir(self) -> &'static str {
        match self {
            Area::Packages => "packages",
            Area::Catalog => "catalog",
            Area::Logs => "logs",
            Area::Apps => "apps",
            Area::Exchange => "exchange",
        }
    }

    /// All areas.
    pub const ALL: [Area; 5] = [Area::Packages, Area::Catalog, Area::Logs, Area::Apps, Area::Exchange];
}

/// Held while a publish (catalog, configuration, app) makes its next version: one
/// at a time across every instance sharing the storage. Released when dropped.
pub trait PublishGuard: Send {}

/// How the storage's connections are used (the `tsd_db_pool_*` metrics).
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolUse {
    /// Connections open.
    pub size: usize,
    /// Of them, idle.
    pub idle: usize,
    /// Most connections it opens.
    pub max: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

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
    /// The last task cursor it asked for tasks after: it holds every task up to it.
    pub tasks_cursor: Option<i64>,
    /// The app version code it last asked for updates with (what it runs).
    pub app_version: Option<i64>,
}

/// Which finished documents the console lists (every part optional).
#[derive(Debug, Clone, Default)]
pub struct DocumentQuery {
    /// Of this device (its name).
    pub device: Option<String>,
    /// Of this document type id.
    pub doc_type: Option<String>,
    /// `Some(true)`: not yet acknowledged; `Some(false)`: acknowledged.
    pub pending: Option<bool>,
    /// Received at or after (unix ms).
    pub from: Option<i64>,
    /// Received before (unix ms).
    pub to: Option<i64>,
}

/// A task as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTask {
    /// Sequence number (the device's cursor counts these).
    pub seq: i64,
    /// Device name.
    pub device: String,
    /// The task's id.
    pub task_id: String,
    /// The task as added (or its withdrawal).
    pub body: String,
    /// Unix ms.
    pub created_at: i64,
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

/// An admin console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The admin's name.
    pub user: String,
    /// `admin` (acts) or `viewer` (only looks).
    pub role: String,
    /// The token every form of this session carries (CSRF).
    pub csrf: String,
}

/// One line of the audit log: who did what, when.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Order of writing.
    pub id: i64,
    /// Unix ms.
    pub at: i64,
    /// The admin's name.
    pub user: String,
    /// What was done (`document.ack`, `catalog.publish`, …).
    pub action: String,
    /// On what, in words.
    pub detail: String,
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
    /// Which backend: `sqlite` or `postgresql`.
    fn backend(&self) -> &'static str;
    /// Keeps a copy of the file at `from` as `name` in `area` (durably; a name kept
    /// before is replaced).
    fn keep_file(&self, area: Area, name: &str, from: &Path) -> Result<()>;
    /// A local path holding the kept file `name` of `area`, `None` when none is kept.
    fn open_file(&self, area: Area, name: &str) -> Result<Option<PathBuf>>;
    /// Forgets a kept file (nothing when there is none).
    fn drop_file(&self, area: Area, name: &str) -> Result<()>;
    /// Waits until no other publish runs (on any instance), then holds that.
    fn publish_lock(&self) -> Result<Box<dyn PublishGuard>>;
    /// The print worker's claim: per printer the oldest open job; those due
    /// (`next_try_at <= now`) are leased to `owner` until `lease_until` so that no
    /// other instance sends them meanwhile. A job another worker holds comes back
    /// not due before its lease ends.
    fn claim_print_jobs(&self, owner: &str, now: i64, lease_until: i64) -> Result<Vec<StoredPrint>>;
    /// Gives a claimed job back (its next attempt may go through any worker).
    fn release_print(&self, id: i64, owner: &str) -> Result<()>;
    /// How the connections are used (`None`: one connection, no pool).
    fn pool_use(&self) -> Option<PoolUse> {
        None
    }
    /// Registers a device with the SHA-256 of its token.
    fn add_device(&self, name: &str, token_hash: &str) -> Result<i64>;
    /// Registers many devices (name, token hash) in one transaction; a name that
    /// exists is left as it is. Returns how many were added.
    fn add_devices(&self, devices: &[(String, String)], now: i64) -> Result<usize>;
    /// The device a token hash belongs to (a read: see [`Storage::record_seen`]).
    fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>>;
    /// Records when devices were seen (`(id, unix ms)`), in one commit; a time
    /// never moves back.
    fn record_seen(&self, seen: &[(i64, i64)]) -> Result<()>;
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
    /// Adds an admin console account (or gives it a new password hash and role).
    fn set_admin(&self, name: &str, password_hash: &str, role: &str, now: i64) -> Result<()>;
    /// An account's password hash (PHC string) and role.
    fn admin(&self, name: &str) -> Result<Option<(String, String)>>;
    /// Starts a console session (`hash`: SHA-256 of its cookie); sessions expired
    /// by `now` are dropped.
    fn add_console_session(&self, hash: &str, user: &str, csrf: &str, now: i64, expires_at: i64) -> Result<()>;
    /// A live console session, with its account's role as it is now.
    fn console_session(&self, hash: &str, now: i64) -> Result<Option<ConsoleSession>>;
    /// Ends a console session.
    fn end_console_session(&self, hash: &str) -> Result<()>;
    /// Writes a line of the audit log.
    fn audit(&self, user: &str, action: &str, detail: &str, now: i64) -> Result<()>;
    /// The latest lines of the audit log, newest first.
    fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>>;
    /// The newest `limit` documents `q` selects, and how many it selects in all.
    fn find_documents(&self, q: &DocumentQuery, limit: i64) -> Result<(Vec<StoredDocument>, i64)>;
    /// Of these terminal document ids, the ones received, with their device's name.
    fn received(&self, doc_ids: &[String]) -> Result<Vec<(String, String)>>;
    /// Records the task cursor a device asked with (only forward).
    fn record_tasks_cursor(&self, device: i64, after: i64) -> Result<()>;
    /// Records the app version code a device runs (it asks for updates with it).
    fn record_app_version(&self, device: i64, version_code: i64) -> Result<()>;
    /// The latest tasks of every device, newest first.
    fn tasks(&self, limit: i64) -> Result<Vec<StoredTask>>;
    /// Revokes a device's token (the terminal is refused until set up again).
    /// Returns whether the device exists.
    fn revoke_device(&self, name: &str, revoked_hash: &str) -> Result<bool>;
}

/// How stale `devices.last_seen` may get before a request writes it (a write, and
/// its fsync, on every request would make each online lookup pay for one).
const LAST_SEEN_EVERY_MS: i64 = 30_000;

/// Whether a request at `now` writes the device's `last_seen`.
pub(crate) fn last_seen_stale(device: &Device, now: i64) -> bool {
    device.last_seen.is_none_or(|seen| seen <= now - LAST_SEEN_EVERY_MS)
}

const PRINT_COLUMNS: &str =
    "p.id, d.name, p.printer, p.status, p.attempts, p.message, p.touched, p.next_try_at, p.created_at, p.updated_at, p.body";
const VERSION_COLUMNS: &str = "version, created_at, source, format, snapshot, snapshot_size, delta, delta_size";
const DOCUMENT_SELECT: &str =
    "SELECT d.id, v.name, d.doc_id, d.received_at, d.body, d.acked_at FROM documents d JOIN devices v ON v.id = d.device";

/// The body that replaces a task being withdrawn (its id, type and number, marked
/// cancelled); `None` when it is withdrawn already.
fn withdrawn_task(task_id: &str, body: &str) -> Option<String> {
    let mut task: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if task.get("cancelled").and_then(|c| c.as_bool()) == Some(true) {
        return None;
    }
    let withdrawn = serde_json::json!({
        "id": task_id,
        "type": task.get_mut("type").map(std::mem::take).unwrap_or_default(),
        "number": task.get_mut("number").map(std::mem::take).unwrap_or_default(),
        "cancelled": true,
    });
    Some(withdrawn.to_string())
}
