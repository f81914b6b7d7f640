//! `tsd-server`: the reference sync server. It keeps catalog versions (each
//! publish that changes something is a new version, with a snapshot package and a
//! delta from the version before), task documents per device and the finished
//! documents terminals push; the accounting system reads and acknowledges those.
//!
//! Data folder:
//! ```text
//! DIR/server.db              devices, keys, versions, tasks, documents (SQLite)
//! DIR/catalog/vN.csv|jsonl   the source of the latest version (base of the next delta)
//! DIR/packages/*.tsdpkg      snapshot-vN, delta-vA-vB (immutable, served with Range)
//! DIR/lookup/catalog.db      the latest version as a terminal holds it: answers
//!                            online lookups (HYDB); rebuilt from the packages
//! DIR/logs/                  log bundles terminals sent (`tsd-server logs`)
//! DIR/apps/app-N.apk         published app versions (served with Range)
//! DIR/tmp/                   uploads being received
//! ```
//! On PostgreSQL (`--database postgres://…`) the records and the kept files
//! (catalog, packages, logs, apps) live in the database; the data folder holds only
//! what the instance rebuilds from it: `lookup/`, `cache/` (copies of kept files it
//! served), `tmp/`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod console;
pub mod doctor;
pub mod error;
pub mod loadgen;
pub mod metrics;
pub mod print;
pub mod run;
pub mod site;
pub mod store;

pub use error::{Error, Result};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use store::{Area, CatalogVersion, Device, Pushed, Storage};
use tsd_core::catalog::Format;
use tsd_core::documents::TaskDocument;
use tsd_core::package::{Header, Kind, PackageReader, PackageWriter};
use tsd_core::protocol::{CatalogPublished, LookupAnswer, Offer, OfferedPackage};

/// Protocol versions this server speaks (the `TSD-Protocol` request header).
pub const PROTOCOL_MIN: u32 = 1;
/// See [`PROTOCOL_MIN`].
pub const PROTOCOL_MAX: u32 = 1;

/// Deltas kept per version chain; a device further behind gets a snapshot.
const KEEP_DELTAS: i64 = 64;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// SHA-256 of a token, as stored (tokens are 256-bit random, so no salt or KDF is
/// needed: the hash is not invertible and cannot be brute-forced).
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn random_token(prefix: &str) -> String {
    format!("{prefix}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A PostgreSQL database for the storage (`--database`).
#[derive(Debug, Clone)]
pub struct Database {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Most connections an instance opens.
    pub max_connections: usize,
}

/// What a catalog publish did (the answer of `POST /v1/catalog`).
pub type Published = CatalogPublished;

/// The server: storage plus the data folder.
pub struct Server {
    dir: PathBuf,
    store: Arc<dyn Storage>,
    /// When the lookup catalog was last compared with the latest version (another
    /// instance may have published since).
    lookup_checked: Mutex<Option<std::time::Instant>>,

    /// Applies each published version to the lookup catalog.
    lookup_writer: Arc<Mutex<rusqlite::Connection>>,
    /// Answers online lookups (a read-only connection: a long apply does not stop it).
    lookup_reader: Mutex<rusqlite::Connection>,
    /// Wakes the print worker when a job is queued.
    print_wake: Arc<print::Wake>,
    /// The print worker's timeouts and retries.
    print_settings: print::PrintSettings,
    /// Publishes started by 1C exchange import calls, by session and file.
    site_jobs: Mutex<std::collections::HashMap<String, Arc<site::Job>>>,
    /// Device tokens checked in the last [`AUTH_FRESH`] (see [`Server::device`]).
    auth: Mutex<std::collections::HashMap<String, (Device, std::time::Instant)>>,
    /// Last-seen times not yet written (see [`Server::flush_seen`]).
    seen: Mutex<Seen>,
}

/// Last-seen times gathered between flushes.
struct Seen {
    pending: std::collections::HashMap<i64, i64>,
    flushed_at: std::time::Instant,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            pending: Default::default(),
            flushed_at: std::time::Instant::now(),
        }
    }
}

/// How often a request writes the gathered last-seen times at most.
const SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.flush_seen() {
            log::warn!("last-seen times not written at exit: {e}");
        }
    }
}

/// Where a catalog publish is (see [`Server::publish_catalog_observed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishStep {
    /// Waiting for another publish to finish (one at a time, across instances).
    Waiting,
    /// Reading and checking the file: rows so far (told every 65,536).
    Reading(u64),
    /// Merging a file of changes only onto the latest version.
    Merging,
    /// Building the full package.
    Snapshot,
    /// Building the package of changes from the latest version.
    Delta,
    /// Keeping the packages (in the database, on PostgreSQL).
    Keeping,
    /// Bringing online lookups to the new version.
    Lookup,
}

impl PublishStep {
    /// Shows the step on a command's progress line: rows while reading, then the
    /// step in words.
    pub fn show_on(self, bar: &tsd_term::Bar) {
        match self {
            PublishStep::Reading(rows) => bar.read_so_far(rows, "checking"),
            other => bar.wait(other.words()),
        }
    }

    /// The step in the command line's words (the console has its own, in Russian).
    pub fn words(self) -> &'static str {
        match self {
            PublishStep::Waiting => "waiting for other publishes",
            PublishStep::Reading(_) => "reading",
            PublishStep::Merging => "merging the changes onto the latest version",
            PublishStep::Snapshot => "building the full package",
            PublishStep::Delta => "building the package of changes",
            PublishStep::Keeping => "keeping the packages",
            PublishStep::Lookup => "bringing online lookups to the new version",
        }
    }
}

/// How long a checked device token is taken as good without asking the storage
/// again: the five requests of one sync, and a scanning terminal's lookups, cost
/// one query instead of one each. A token revoked or replaced on this instance is
/// refused at once; by another instance or a `tsd-server` command, within this.
pub const AUTH_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Checked tokens kept at most; past it the stale ones are dropped.
const AUTH_KEPT: usize = 200_000;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Server {
    /// Opens (creating) a data folder with the SQLite storage.
    pub fn open(dir: &Path) -> Result<Server> {
        Server::open_with(dir, None)
    }

    /// Opens a data folder with the storage `database` names: a PostgreSQL URL
    /// (`postgres://user:password@host:port/db`, the database several instances
    /// share), or `None` for SQLite in the data folder.
    pub fn open_with(dir: &Path, database: Option<&Database>) -> Result<Server> {
        for sub in ["", "tmp"] {
            tsd_core::fsx::create_dir_durably(&dir.join(sub))?;
        }
        let store: Arc<dyn Storage> = match database {
            None => Arc::new(store::Sqlite::open(dir)?),
            Some(db) => Arc::new(store::Postgres::connect(&db.url, db.max_connections, &dir.join("cache"))?),
        };
        let lookup = dir.join("lookup");
        tsd_core::fsx::create_dir_durably(&lookup)?;
        let lookup_writer = tsd_core::store::open(&lookup, tsd_core::store::Db::Catalog, true)?;
        let lookup_reader = tsd_core::store::open(&lookup, tsd_core::store::Db::Catalog, false)?;
        let server = Server {
            dir: dir.to_path_buf(),
            store,
            lookup_checked: Mutex::default(),

            lookup_writer: Arc::new(Mutex::new(lookup_writer)),
            lookup_reader: Mutex::new(lookup_reader),
            print_wake: Arc::default(),
            print_settings: print::PrintSettings::default(),
            site_jobs: Mutex::default(),
            auth: Mutex::default(),
            seen: Mutex::default(),
        };
        // Catches up after a crash between a publish and its apply, or a data
        // folder from before online lookups. A failure (another process applying
        // a large version holds the lock) leaves lookups on the version before
        // until the next publish or start; the command itself goes on.
        if let Err(e) = server.refresh_lookup() {
            log::warn!("lookup catalog not brought up to date: {e}");
        }
        Ok(server)
    }

    /// Changes the print worker's timeouts and retries (before it starts).
    pub fn set_print_settings(&mut self, settings: print::PrintSettings) {
        self.print_settings = settings;
    }

    /// Starts the worker that prints queued jobs (`serve` does; so does
    /// [`run::Background`]).
    pub fn start_printing(&self) -> std::io::Result<print::PrintWorker> {
        print::PrintWorker::start(self.store.clone(), self.print_wake.clone(), self.print_settings)
    }

    /// Adds (or re-addresses) a printer: `HOST:PORT` of its raw port (9100).
    pub fn add_printer(&self, name: &str, address: &str) -> Result<()> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(Error::BadRequest("a printer name is 1 to 100 characters".into()));
        }
        if address.trim().is_empty() || address.contains(char::is_whitespace) {
            return Err(Error::BadRequest(format!(
                "printer address {address:?}: give HOST:PORT, e.g. 10.0.0.7:9100"
            )));
        }
        self.store.set_printer(name, address, now_ms())?;
        self.print_wake.notify();
        Ok(())
    }

    /// Queues a device's print job (once per job id) and wakes the worker.
    pub fn queue_print(&self, device: &Device, job: &tsd_core::print::PrintJob) -> Result<tsd_core::print::PrintStatus> {
        job.validate().map_err(|e| Error::BadRequest(e.to_string()))?;
        let stored = self.store.queue_print(device.id, job, now_ms())?;
        self.print_wake.notify();
        Ok(print_status(&stored))
    }

    /// Puts a failed print job back in the queue (its attempts start over) and
    /// wakes the worker.
    pub fn retry_print(&self, id: i64) -> Result<()> {
        let job = self
            .store
            .print_jobs(None, i64::MAX)?
            .into_iter()
            .find(|j| j.id == id)
            .ok_or_else(|| Error::NotFound(format!("no print job {id}")))?;
        if job.status != "failed" {
            return Err(Error::Conflict(format!(
                "print job {id} is {}, not failed: nothing to retry",
                job.status
            )));
        }
        self.store.update_print(id, "queued", 0, None, job.touched, now_ms())?;
        self.print_wake.notify();
        Ok(())
    }

    /// The status of a device's recent print jobs.
    pub fn print_statuses(&self, device: &Device) -> Result<Vec<tsd_core::print::PrintStatus>> {
        Ok(self.store.print_jobs(Some(device.id), 500)?.iter().map(print_status).collect())
    }

    /// Keeps a log bundle a device sent (a verified package of kind 6, a file under
    /// `tmp/`); the same bundle again is recorded once. Returns its id.
    pub fn receive_logs(&self, device: &Device, upload: &Path) -> Result<i64> {
        let reader = PackageReader::open(upload, None, false).map_err(tsd_core::Error::from)?;
        let header = reader.header().clone();
        if header.kind != Kind::LogBundle {
            return Err(Error::BadRequest(format!("expected a log bundle, got a {:?} package", header.kind)));
        }
        let info: String = reader
            .records::<String>()
            .map_err(tsd_core::Error::from)?
            .next()
            .ok_or_else(|| Error::BadRequest("the log bundle is empty".into()))?
            .map_err(tsd_core::Error::from)?;
        let info: serde_json::Value =
            serde_json::from_str(&info).map_err(|e| Error::BadRequest(format!("the bundle's first record is not JSON: {e}")))?;
        let safe = tsd_core::sync::folder::document_token(&header.package_id);
        let file = format!("{}-{safe}.tsdpkg", device.id);
        let size = std::fs::metadata(upload).map_err(io(upload))?.len() as i64;
        self.store.keep_file(Area::Logs, &file, upload)?;
        self.store.add_logs(device.id, &header.package_id, &file, size, &info, now_ms())
    }

    /// A log bundle as text: its info, then each file under a heading.
    pub fn logs_text(&self, id: i64) -> Result<String> {
        let bundle = self
            .store
            .log_bundle(id)?
            .ok_or_else(|| Error::NotFound(format!("no log bundle {id}")))?;
        let path = kept(&*self.store, Area::Logs, &bundle.file)?;
        let reader = PackageReader::open(&path, None, false).map_err(tsd_core::Error::from)?;
        let mut out = String::new();
        for (i, record) in reader.records::<String>().map_err(tsd_core::Error::from)?.enumerate() {
            let record = record.map_err(tsd_core::Error::from)?;
            if i == 0 {
                out += &format!("# {} from {}\n", record, bundle.device);
                continue;
            }
            let file: tsd_core::logs::BundleFile =
                serde_json::from_str(&record).map_err(|e| Error::BadRequest(format!("bundle record {i}: {e}")))?;
            out += &format!("\n## {}\n{}", file.name, file.text);
        }
        Ok(out)
    }

    /// Brings the lookup catalog to the latest version: the delta when it is the
    /// next step, else the snapshot.
    fn refresh_lookup(&self) -> Result<()> {
        let Some(latest) = self.store.latest_catalog()? else {
            return Ok(());
        };
        apply_to_lookup(&*self.store, &mut lock(&self.lookup_writer), &latest)
    }

    /// Brings the lookup catalog up to a version published since the last look
    /// (by this instance or another sharing the database), looking at most once a
    /// second. The apply runs on a thread of its own: lookups never wait for it,
    /// they answer from the version before until it is done.
    fn lookup_current(&self) {
        {
            let mut checked = lock(&self.lookup_checked);
            if checked.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
                return;
            }
            *checked = Some(std::time::Instant::now());
        }
        let latest = match self.store.latest_catalog() {
            Ok(Some(latest)) => latest,
            Ok(None) => return,
            Err(e) => return log::warn!("lookup catalog: the latest version not read: {e}"),
        };
        if tsd_core::catalog::synced_version(&lock(&self.lookup_reader)).ok() == Some(latest.version) {
            return;
        }
        let (store, writer) = (self.store.clone(), self.lookup_writer.clone());
        let spawned = std::thread::Builder::new().name("tsd-lookup".into()).spawn(move || {
            // Another apply in progress brings it there itself.
            let Ok(mut conn) = writer.try_lock() else { return };
            if let Err(e) = apply_to_lookup(&*store, &mut conn, &latest) {
                log::warn!("lookup catalog not brought up to v{}: {e}", latest.version);
            }
        });
        if let Err(e) = spawned {
            log::warn!("lookup catalog: no thread to bring it up to date: {e}");
        }
    }

    /// A local path holding a package or an app file to serve, `None` when there
    /// is no such file.
    pub fn served_file(&self, area: Area, name: &str) -> Result<Option<PathBuf>> {
        tsd_core::fsx::safe_name(name).map_err(Error::BadRequest)?;
        self.store.open_file(area, name)
    }

    /// A generic catalog record of the latest catalog version.
    pub fn lookup_record(&self, catalog: &str, id: &str) -> Result<LookupAnswer> {
        self.lookup_current();
        let conn = lock(&self.lookup_reader);
        Ok(LookupAnswer {
            record: tsd_core::catalog::record(&conn, catalog, id)?,
            ..Default::default()
        })
    }

    /// Looks codes up in the latest catalog version, as a terminal would: the first
    /// of `keys` that names a product, else the cell `cell` labels.
    pub fn lookup(&self, keys: &[String], cell: Option<&str>) -> Result<LookupAnswer> {
        use tsd_core::catalog::{barcode_key, BarcodeKey};
        self.lookup_current();
        let conn = lock(&self.lookup_reader);
        let keys: Vec<BarcodeKey> = keys
            .iter()
            .map(|k| barcode_key(k).unwrap_or_else(|_| BarcodeKey::Text(k.trim().to_string())))
            .collect();
        let mut answer = LookupAnswer::default();
        if let Some((i, hit)) = tsd_core::resolve::local_product(&conn, &keys)? {
            answer.matched = Some(i);
            answer.hit = Some(hit);
        } else if let Some(label) = cell {
            answer.cell = tsd_core::catalog::cell_by_barcode(&conn, label.trim())?;
        }
        Ok(answer)
    }

    /// The storage.
    pub fn store(&self) -> &dyn Storage {
        &*self.store
    }

    /// Publishes an app version: the file is kept as `apps/app-N.apk` with its size
    /// and SHA-256. A version code must be newer than the latest; publishing the
    /// same version with the same file again changes nothing.
    pub fn publish_app(&self, apk: &Path, version_code: i64, version_name: &str, min_version: i64) -> Result<tsd_core::update::AppUpdate> {
        if version_code <= 0 {
            return Err(Error::BadRequest("the version code must be positive".into()));
        }
        let _one_at_a_time = self.store.publish_lock()?;
        let update = tsd_core::update::AppUpdate::of_file(apk, version_code, version_name, min_version)?;
        if let Some(latest) = self.store.apps()?.into_iter().next() {
            if latest.version_code == version_code && latest.sha256 == update.sha256 {
                return Ok(latest);
            }
            if version_code <= latest.version_code {
                return Err(Error::Conflict(format!(
                    "version code {version_code} is not newer than the published {} ({})",
                    latest.version_code, latest.version_name
                )));
            }
        }
        self.store.keep_file(Area::Apps, &update.file, apk)?;
        self.store.add_app(&update, now_ms())?;
        Ok(update)
    }

    /// The latest app version when it is newer than `current`.
    pub fn app_update(&self, current: i64) -> Result<Option<tsd_core::update::AppUpdate>> {
        Ok(self.store.apps()?.into_iter().next().filter(|u| u.version_code > current))
    }

    /// Folder for uploads being received.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// Registers a device and returns its token (shown once; only its hash is kept).
    pub fn add_device(&self, name: &str) -> Result<String> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(Error::BadRequest("a device name is 1 to 100 characters".into()));
        }
        let token = random_token("tsd_dev_");
        self.store.add_device(name, &token_hash(&token))?;
        // A device added again gets a new token: its old one must stop here now.
        lock(&self.auth).clear();
        Ok(token)
    }

    /// Revokes a device's token (it is refused until set up again); `false` when
    /// no device has that name.
    pub fn revoke_device(&self, name: &str) -> Result<bool> {
        // A hash no token has.
        let found = self
            .store
            .revoke_device(name, &format!("revoked:{}", token_hash(&random_token(""))))?;
        lock(&self.auth).clear();
        Ok(found)
    }

    /// A setup code for a device (created when `create`, else an existing one):
    /// the server URL terminals use, a fresh single-use enrolment token that expires
    /// after `ttl`, and the fingerprint of `cert_pem` (the server's TLS certificate)
    /// when given. Scanning it sets the terminal up (see `tsd_core::setup`).
    pub fn setup_code(
        &self,
        name: &str,
        create: bool,
        url: &str,
        cert_pem: Option<&[u8]>,
        ttl: std::time::Duration,
    ) -> Result<tsd_core::setup::SetupCode> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::BadRequest(format!("server URL {url:?} must start with http:// or https://")));
        }
        let pin = cert_pem.map(tsd_core::setup::pem_fingerprint).transpose()?;
        let device = if create {
            // A token nobody sees: the terminal gets its own at enrolment.
            self.add_device(name)?;
            self.store.device_by_name(name)?
        } else {
            self.store.device_by_name(name)?
        }
        .ok_or_else(|| Error::NotFound(format!("no device named {name:?}")))?;
        let enrolment = random_token("tsd_enr_");
        let now = now_ms();
        let expires = now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
        self.store.add_enrolment(device.id, &token_hash(&enrolment), expires, now)?;
        Ok(tsd_core::setup::SetupCode {
            url: url.trim_end_matches('/').to_string(),
            enrolment,
            pin_sha256: pin,
        })
    }

    /// Redeems an enrolment token: the device gets a new token (returned once),
    /// the code is spent.
    pub fn enroll(&self, enrolment: &str) -> Result<(String, String)> {
        let token = random_token("tsd_dev_");
        match self.store.redeem_enrolment(&token_hash(enrolment), &token_hash(&token), now_ms())? {
            store::Redeemed::Device(name) => {
                lock(&self.auth).clear();
                log::info!("device {name:?} enrolled with a setup code");
                Ok((name, token))
            }
            store::Redeemed::Unknown => Err(Error::Unauthorized("unknown setup code".into())),
            store::Redeemed::Used(_) => Err(Error::Conflict(
                "this setup code was already used; make a new one with `tsd-server device setup NAME`".into(),
            )),
            store::Redeemed::Expired(_) => Err(Error::Conflict(
                "this setup code has expired; make a new one with `tsd-server device setup NAME`".into(),
            )),
        }
    }

    /// Creates an integration key (for the accounting system) and returns it.
    pub fn new_integration_key(&self) -> Result<String> {
        let key = random_token("tsd_int_");
        self.store.add_integration_key(&token_hash(&key), now_ms())?;
        Ok(key)
    }

    /// The device a token belongs to. A token checked less than [`AUTH_FRESH`]
    /// ago is not asked of the storage again. When the device was last seen is
    /// recorded in batches (see [`Server::flush_seen`]).
    pub fn device(&self, token: &str) -> Result<Device> {
        let hash = token_hash(token);
        let now = now_ms();
        let cached = lock(&self.auth)
            .get(&hash)
            .filter(|(_, at)| at.elapsed() < AUTH_FRESH)
            .map(|(d, _)| d.clone());
        let mut device = match cached {
            Some(d) => d,
            None => self
                .store
                .device_by_token(&hash)?
                .ok_or_else(|| Error::Unauthorized("unknown device token".into()))?,
        };
        if store::last_seen_stale(&device, now) {
            device.last_seen = Some(now);
            lock(&self.seen).pending.insert(device.id, now);
        }
        {
            let mut kept = lock(&self.auth);
            if kept.len() >= AUTH_KEPT {
                kept.retain(|_, (_, at)| at.elapsed() < AUTH_FRESH);
                if kept.len() >= AUTH_KEPT {
                    kept.clear();
                }
            }
            let at = match kept.get(&hash) {
                Some((_, at)) if at.elapsed() < AUTH_FRESH => *at,
                _ => std::time::Instant::now(),
            };
            kept.insert(hash, (device.clone(), at));
        }
        let due = lock(&self.seen).flushed_at.elapsed() >= SEEN_EVERY;
        if due {
            // Not this request's business: the times stay gathered for the next.
            if let Err(e) = self.flush_seen() {
                log::warn!("last-seen times not written yet: {e}");
            }
        }
        Ok(device)
    }

    /// Writes the last-seen times gathered since the last flush, in one commit:
    /// a fleet's every sync would otherwise be one more commit. A request does it
    /// once a second at most; so does every read of the devices (the console, the
    /// device list, the metrics), so what they show is never older than this
    /// instance knows.
    pub fn flush_seen(&self) -> Result<()> {
        let pending: Vec<(i64, i64)> = {
            let mut seen = lock(&self.seen);
            seen.flushed_at = std::time::Instant::now();
            seen.pending.drain().collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.store.record_seen(&pending) {
            // Kept for the next flush: a last-seen time is worth a retry.
            let mut seen = lock(&self.seen);
            for (id, at) in pending {
                let t = seen.pending.entry(id).or_insert(at);
                *t = (*t).max(at);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Every device, with its last-seen time as this instance knows it.
    pub fn devices(&self) -> Result<Vec<Device>> {
        self.flush_seen()?;
        self.store.devices()
    }

    /// Checks an integration key.
    pub fn check_integration_key(&self, key: &str) -> Result<()> {
        if self.store.integration_key(&token_hash(key))? {
            Ok(())
        } else {
            Err(Error::Unauthorized("unknown integration key".into()))
        }
    }

    /// Publishes a catalog file (the forms `tsd import` takes). When it differs from
    /// the latest version it becomes version N+1 with a snapshot and a delta; an
    /// equal file changes nothing. A bad row fails with file, line and reason and
    /// leaves everything as it was.
    pub fn publish_catalog(&self, input: &Path, format: Format) -> Result<Published> {
        self.publish_catalog_with(input, format, &tsd_core::catalog::ReadOptions::default())
    }

    /// [`Server::publish_catalog`] with how the file is read (encoding, column
    /// names, strictness, and what errors call it). The file is first rewritten
    /// as canonical JSON Lines, which is what the version keeps and later deltas
    /// compare against.
    pub fn publish_catalog_with(&self, input: &Path, format: Format, read: &tsd_core::catalog::ReadOptions) -> Result<Published> {
        self.publish_catalog_observed(input, format, read, &mut |_| {})
    }

    /// [`Server::publish_catalog_with`], telling `progress` where it is: a
    /// million-product file takes half a minute, and whoever started it watches.
    pub fn publish_catalog_observed(
        &self,
        input: &Path,
        format: Format,
        read: &tsd_core::catalog::ReadOptions,
        progress: &mut dyn FnMut(PublishStep),
    ) -> Result<Published> {
        progress(PublishStep::Waiting);
        let _one_at_a_time = self.store.publish_lock()?;
        progress(PublishStep::Reading(0));
        let latest = self.store.latest_catalog()?;
        let version = latest.as_ref().map_or(1, |l| l.version + 1);
        let (canonical, summary) =
            tsd_core::catalog::package::normalize_to_temp_observed(input, format, read, &self.tmp_dir(), &mut |rows| {
                progress(PublishStep::Reading(rows));
                true
            })?;
        let warnings = summary.warnings;
        // The latest version's canonical catalog: the base of the delta (and of a
        // file of changes only).
        let base = latest
            .as_ref()
            .map(|l| {
                let format = Format::from_name(&l.format)
                    .ok_or_else(|| Error::Internal(format!("catalog v{} is kept in an unknown format {:?}", l.version, l.format)))?;
                Ok::<_, Error>((kept(&*self.store, Area::Catalog, &l.source)?, format))
            })
            .transpose()?;
        // A file of changes only (CommerceML `СодержитТолькоИзменения`, offers
        // without their catalog) is merged onto the latest version, never taken
        // for the whole catalog.
        let merged = match (summary.partial, base.as_ref()) {
            (true, Some((base, _))) => {
                progress(PublishStep::Merging);
                let out = tsd_core::catalog::package::temp_jsonl(&self.tmp_dir())?;
                tsd_core::catalog::package::merge_canonical(base, &canonical, &summary.deleted, &out)?;
                Some(out)
            }
            _ => None,
        };
        let (input, format): (&Path, Format) = (merged.as_deref().unwrap_or(&canonical), Format::Jsonl);
        let ext = "jsonl";
        // Built here, then kept by the storage (the database, on PostgreSQL).
        let work = tempfile::tempdir_in(self.tmp_dir()).map_err(io(&self.tmp_dir()))?;
        let snapshot = format!("snapshot-v{version}.tsdpkg");
        progress(PublishStep::Snapshot);
        tsd_core::catalog::package::build_snapshot(input, format, &work.path().join(&snapshot), "tsd-server", version, None)?;
        let mut delta = None;
        // The delta is computed whatever formats the two versions came in: a catalog
        // equal to the latest one, in any accepted format, makes no version.
        if let (Some(l), Some((base, old_format))) = (latest.as_ref(), base) {
            let name = format!("delta-v{}-v{version}.tsdpkg", l.version);
            progress(PublishStep::Delta);
            let header = tsd_core::catalog::package::build_delta(
                (&base, old_format),
                (input, format),
                &work.path().join(&name),
                "tsd-server",
                l.version,
                version,
                None,
            )?;
            if header.records == 0 {
                return Ok(Published {
                    version: l.version,
                    changed: false,
                    snapshot_bytes: l.snapshot_size,
                    delta_bytes: None,
                    warnings,
                });
            }
            delta = Some(name);
        }
        let source = format!("v{version}.{ext}");
        let size = |n: &str| -> Result<i64> {
            let p = work.path().join(n);
            Ok(std::fs::metadata(&p).map_err(io(&p))?.len() as i64)
        };
        let v = CatalogVersion {
            version,
            created_at: now_ms(),
            source,
            format: ext.into(),
            snapshot_size: size(&snapshot)?,
            snapshot,
            delta_size: delta.as_deref().map(size).transpose()?,
            delta,
        };
        // The files first, the version last: a crash between leaves files under
        // names the next publish of this version number replaces.
        progress(PublishStep::Keeping);
        for name in std::iter::once(&v.snapshot).chain(v.delta.as_ref()) {
            self.store.keep_file(Area::Packages, name, &work.path().join(name))?;
        }
        self.store.keep_file(Area::Catalog, &v.source, input)?;
        self.store.add_catalog_version(&v)?;
        // The new version answers online lookups from now on. A failure here is
        // repaired at the next start; the publish itself stands.
        progress(PublishStep::Lookup);
        if let Err(e) = self.refresh_lookup() {
            log::error!("lookup catalog not updated to v{version}: {e}");
        }
        // Only the latest source is a delta base; old snapshots and deltas beyond
        // the kept chain are never offered again.
        if let Some(l) = latest {
            let old_snapshot = format!("snapshot-v{}.tsdpkg", l.version - 1);
            let dropped = self.store.drop_file(Area::Catalog, &l.source).and_then(|()| {
                if l.version > 1 {
                    self.store.drop_file(Area::Packages, &old_snapshot)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = dropped {
                log::warn!("files of catalog v{} not dropped: {e}", l.version);
            }
        }
        Ok(Published {
            version,
            changed: true,
            snapshot_bytes: v.snapshot_size,
            delta_bytes: v.delta_size,
            warnings,
        })
    }

    /// What a device at catalog version `since` downloads: the deltas from there
    /// when they are all kept and together smaller than the snapshot, else the
    /// latest snapshot.
    pub fn offer(&self, since: i64) -> Result<Offer> {
        let Some(latest) = self.store.latest_catalog()? else {
            return Ok(Offer {
                version: 0,
                packages: vec![],
                reason: "no catalog is published yet".into(),
            });
        };
        if since == latest.version {
            return Ok(Offer {
                version: latest.version,
                packages: vec![],
                reason: format!("up to date at v{since}"),
            });
        }
        let snapshot = |reason: String| Offer {
            version: latest.version,
            packages: vec![OfferedPackage {
                name: latest.snapshot.clone(),
                kind: "snapshot".into(),
                from: 0,
                to: latest.version,
                size: latest.snapshot_size,
            }],
            reason: format!("snapshot of v{}: {reason}", latest.version),
        };
        if since <= 0 {
            return Ok(snapshot("the terminal holds no catalog".into()));
        }
        if since > latest.version {
            return Ok(snapshot(format!("the terminal's v{since} is not a version of this server")));
        }
        if latest.version - since > KEEP_DELTAS {
            return Ok(snapshot(format!(
                "v{since} is more than {KEEP_DELTAS} versions behind; deltas that old are not kept"
            )));
        }
        let mut deltas = Vec::new();
        let mut total = 0;
        for v in self.store.catalog_versions_after(since)? {
            let (Some(name), Some(size)) = (v.delta, v.delta_size) else {
                return Ok(snapshot(format!("no delta to v{} is kept", v.version)));
            };
            total += size;
            deltas.push(OfferedPackage {
                name,
                kind: "delta".into(),
                from: v.version - 1,
                to: v.version,
                size,
            });
        }
        if total >= latest.snapshot_size {
            return Ok(snapshot(format!(
                "the deltas from v{since} ({total} bytes) are not smaller than the snapshot ({} bytes)",
                latest.snapshot_size
            )));
        }
        Ok(Offer {
            version: latest.version,
            reason: format!(
                "{} delta(s) from v{since}, {total} bytes (the snapshot is {})",
                deltas.len(),
                latest.snapshot_size
            ),
            packages: deltas,
        })
    }

    /// Publishes a configuration (validated by the same rules the terminal applies);
    /// a change becomes the next version. Returns `(version, changed)`.
    pub fn publish_config(&self, json: &str) -> Result<(i64, bool)> {
        let config = tsd_core::config::Config::from_json(json)?;
        let canonical = serde_json::to_string(&config).map_err(|e| Error::BadRequest(e.to_string()))?;
        let _one_at_a_time = self.store.publish_lock()?;
        if let Some((version, latest)) = self.store.latest_config()? {
            if latest == canonical {
                return Ok((version, false));
            }
        }
        Ok((self.store.add_config(&canonical, now_ms())?, true))
    }

    /// The configuration package for a device at configuration version `since`, when
    /// a newer one exists. A terminal that reads schemas only up to `schema` is told
    /// to update its app rather than sent a configuration it would misread.
    pub fn config_package(&self, since: i64, schema: u32) -> Result<Option<Vec<u8>>> {
        let Some((version, json)) = self.store.latest_config()?.filter(|(v, _)| *v > since) else {
            return Ok(None);
        };
        let needs = tsd_core::config::Config::from_json(&json)?.schema;
        if needs > schema {
            return Err(Error::Conflict(format!(
                "configuration v{version} uses schema {needs}; this terminal reads up to schema {schema}: update the terminal app"
            )));
        }
        let dir = tempfile::tempdir_in(self.tmp_dir()).map_err(io(&self.tmp_dir()))?;
        let path = dir.path().join("config.tsdpkg");
        tsd_core::sync::config::write_package(&path, &json, version, "tsd-server", None)?;
        Ok(Some(std::fs::read(&path).map_err(io(&path))?))
    }

    /// Adds task documents (JSON Lines, one task a line) for a device. Every line is
    /// checked first against the configuration in force and the latest catalog —
    /// the document type exists, every product and packaging is in the catalog,
    /// every quantity reads — and a bad one fails with its line number and nothing
    /// is added: a terminal is never sent a task it cannot take.
    pub fn add_tasks(&self, device: &str, jsonl: &str) -> Result<usize> {
        let device = self
            .store
            .device_by_name(device)?
            .ok_or_else(|| Error::NotFound(format!("no device named {device:?}")))?;
        let config = match self.store.latest_config()? {
            Some((_, json)) => tsd_core::config::Config::from_json(&json)?,
            None => tsd_core::config::Config::default(),
        };
        if let Err(e) = self.refresh_lookup() {
            log::warn!("lookup catalog not brought up to date before checking tasks: {e}");
        }
        let catalog = lock(&self.lookup_reader);
        let catalog_version = tsd_core::catalog::synced_version(&catalog)?;
        let mut tasks = Vec::new();
        for (i, line) in jsonl.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = |why: String| Error::BadRequest(format!("line {}: {why}", i + 1));
            let task: TaskDocument = serde_json::from_str(line).map_err(|e| at(format!("bad task JSON: {e}")))?;
            if task.id.trim().is_empty() {
                return Err(at("a task needs an id".into()));
            }
            if task.cancelled {
                return Err(at(
                    "withdraw a task with DELETE /v1/tasks/{id} (tsd-server tasks cancel), not with \"cancelled\"".into(),
                ));
            }
            if config.doc_type(&task.doc_type).is_err() {
                let known: Vec<&str> = config.document_types.iter().map(|t| t.id.as_str()).collect();
                return Err(at(format!(
                    "task {:?}: document type {:?} is not in the configuration in force (known: {})",
                    task.id,
                    task.doc_type,
                    known.join(", ")
                )));
            }
            for (n, l) in task.lines.iter().enumerate() {
                let at_line = |why: String| at(format!("task {:?}, planned line {}: {why}", task.id, n + 1));
                if tsd_core::catalog::parse_quantity(&l.qty.to_string()).is_none() {
                    return Err(at_line(format!(
                        "quantity {} is not a non-negative number with at most 3 decimals",
                        l.qty
                    )));
                }
                if tsd_core::catalog::product_by_id(&catalog, &l.product)?.is_none() {
                    return Err(at_line(if catalog_version == 0 {
                        "no catalog is published yet: publish the catalog before tasks".into()
                    } else {
                        format!("product {:?} is not in the published catalog v{catalog_version}", l.product)
                    }));
                }
                if let Some(k) = l.packaging.as_deref().filter(|k| !k.is_empty()) {
                    if !tsd_core::catalog::packagings_of(&catalog, &l.product)?.iter().any(|p| p.id == k) {
                        return Err(at_line(format!(
                            "product {:?} has no packaging {k:?} in the published catalog v{catalog_version}",
                            l.product
                        )));
                    }
                }
            }
            let body = serde_json::to_string(&task).map_err(|e| Error::BadRequest(e.to_string()))?;
            tasks.push((task.id, body));
        }
        drop(catalog);
        self.store.add_tasks(device.id, &tasks, now_ms())
    }

    /// Withdraws a task (from every device it was given to, or from `device`): a
    /// terminal that has not received it never will; one that has removes it at its
    /// next sync unless work on it has started (then it finishes and sends it as
    /// usual, and its sync status says the task was withdrawn). Returns the devices.
    pub fn cancel_task(&self, task_id: &str, device: Option<&str>) -> Result<Vec<String>> {
        let device = match device {
            Some(name) => Some(
                self.store
                    .device_by_name(name)?
                    .ok_or_else(|| Error::NotFound(format!("no device named {name:?}")))?
                    .id,
            ),
            None => None,
        };
        let devices = self.store.cancel_task(task_id, device, now_ms())?;
        if devices.is_empty() {
            return Err(Error::NotFound(format!("no open task {task_id:?}")));
        }
        Ok(devices)
    }

    /// A task-documents package with a device's tasks after `after` (`None` when
    /// there are none). Its `to_version` is the last task's sequence number, the
    /// device's next cursor; its id is fixed by device and range, so a re-download
    /// is the same package.
    pub fn tasks_package(&self, device: &Device, after: i64) -> Result<Option<Vec<u8>>> {
        let tasks = self.store.tasks_after(device.id, after)?;
        let Some(&(last, _)) = tasks.last() else { return Ok(None) };
        let mut header = Header::new(Kind::TaskDocuments, "tsd-server", tasks.len() as u64);
        header.package_id = format!("tasks-{}-{after}-{last}", device.id);
        header.device = device.name.clone();
        header.from_version = after;
        header.to_version = last;
        let dir = tempfile::tempdir_in(self.tmp_dir()).map_err(io(&self.tmp_dir()))?;
        let path = dir.path().join("tasks.tsdpkg");
        let mut w = PackageWriter::create(&path, &header, None).map_err(tsd_core::Error::from)?;
        for (_, body) in &tasks {
            w.write(body).map_err(tsd_core::Error::from)?;
        }
        w.finish().map_err(tsd_core::Error::from)?;
        Ok(Some(std::fs::read(&path).map_err(io(&path))?))
    }

    /// Stores a finished-document package a device pushed (a file under `tmp/`),
    /// once per idempotency key. Returns what happened and the document id.
    pub fn receive_document(&self, device: &Device, key: &str, package: &Path) -> Result<(Pushed, String)> {
        if key.is_empty() || key.len() > 200 {
            return Err(Error::BadRequest("Idempotency-Key must be 1 to 200 characters".into()));
        }
        let reader = PackageReader::open(package, None, false).map_err(tsd_core::Error::from)?;
        if reader.header().kind != Kind::FinishedDocuments {
            return Err(Error::BadRequest(format!(
                "expected a finished-documents package, got {:?}",
                reader.header().kind
            )));
        }
        let doc_id = reader.header().package_id.clone();
        let mut body = None;
        for record in reader.records::<String>().map_err(tsd_core::Error::from)? {
            body = Some(record.map_err(tsd_core::Error::from)?);
        }
        let body = body.ok_or_else(|| Error::BadRequest("the package holds no document".into()))?;
        let parsed: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| Error::BadRequest(format!("the document is not JSON: {e}")))?;
        if parsed.get("id").and_then(|v| v.as_str()) != Some(doc_id.as_str()) {
            return Err(Error::BadRequest("the document id does not match the package id".into()));
        }
        let revision = revision_of(&parsed);
        let doc = store::DocumentRevision {
            doc_id: &doc_id,
            revision: &revision,
        };
        let pushed = self.store.push_document(device.id, &doc, key, &body, now_ms())?;
        if let Pushed::KeyConflict {
            doc_id: named,
            revision: named_revision,
        } = &pushed
        {
            return Err(Error::Conflict(format!(
                "Idempotency-Key {key:?} already names document {named:?} (revision {named_revision}); \
                 this push is document {doc_id:?} (revision {revision}): not stored — send it with its own key"
            )));
        }
        Ok((pushed, doc_id))
    }
}

/// A local path holding a kept file, or NotFound.
fn kept(store: &dyn Storage, area: Area, name: &str) -> Result<PathBuf> {
    store
        .open_file(area, name)?
        .ok_or_else(|| Error::NotFound(format!("no file {name} is kept in {}", area.dir())))
}

/// Brings a lookup catalog to `latest`: the delta when it is the next step, else
/// the snapshot.
fn apply_to_lookup(store: &dyn Storage, conn: &mut rusqlite::Connection, latest: &CatalogVersion) -> Result<()> {
    let have = tsd_core::catalog::synced_version(conn)?;
    if have == latest.version {
        return Ok(());
    }
    let apply = |conn: &mut rusqlite::Connection, name: &str| -> Result<()> {
        let reader = PackageReader::open(&kept(store, Area::Packages, name)?, None, false).map_err(tsd_core::Error::from)?;
        tsd_core::catalog::package::apply(conn, &reader, &mut |_| true)?;
        Ok(())
    };
    let delta = latest.delta.as_deref().filter(|_| have > 0 && have == latest.version - 1);
    if let Some(name) = delta {
        match apply(conn, name) {
            Ok(()) => return Ok(()),
            Err(e) => log::warn!("lookup catalog: delta {name} not applied ({e}); applying the snapshot"),
        }
    }
    apply(conn, &latest.snapshot)
}

/// A finished document's revision: its completion time and last journal entry
/// (a completed document is frozen, so these name its content).
pub fn revision_of(doc: &serde_json::Value) -> String {
    let completed = doc
        .get("completed_at")
        .and_then(|v| v.as_i64())
        .map(|v| v.to_string())
        .unwrap_or_default();
    let last_seq = doc
        .get("scans")
        .and_then(|s| s.as_array())
        .and_then(|s| s.last())
        .and_then(|e| e.get("seq"))
        .and_then(|v| v.as_i64())
        .map(|v| v.to_string())
        .unwrap_or_default();
    format!("{completed}:{last_seq}")
}

fn print_status(p: &store::StoredPrint) -> tsd_core::print::PrintStatus {
    tsd_core::print::PrintStatus {
        id: p.job.id.clone(),
        status: p.status.clone(),
        message: p.message.clone(),
    }
}
