//! [`Runtime`]: the one entry type that the JNI bridge and the `tsd` command call.
//! It owns the connections (raw connections never leak), the configuration and the
//! background checkpointer.

use crate::catalog::{self, BarcodeHit, Format, ImportReport, Product, Stats};
use crate::config::Config;
use crate::documents::{self, Document, DocumentHeader, ScanOutcome, TaskDocument};
use crate::error::{Error, Result, SqlStep};
use crate::resolve::{self, Resolution};
use crate::store::{self, DataDir, Db};
use crate::sync::folder::{self, FolderReport};
use crate::sync::http::ServerSettings;
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Journal commits between two background checkpoints.
const CHECKPOINT_EVERY: u64 = 256;

/// Longest a lookup snapshot is kept before it is refreshed (so a catalog changed by
/// another process is seen within this time).
const SNAPSHOT_AGE: Duration = Duration::from_secs(1);

/// The catalog read connection. Lookups run inside a read transaction that is kept
/// open for up to [`SNAPSHOT_AGE`]: starting a transaction per statement costs file
/// locking and `fstat` system calls that are most of a lookup's time.
pub(crate) struct CatalogReader {
    conn: Connection,
    snapshot_since: Option<Instant>,
}

impl CatalogReader {
    pub(crate) fn conn(&mut self) -> Result<&Connection> {
        let stale = self.snapshot_since.is_none_or(|t| t.elapsed() > SNAPSHOT_AGE);
        if stale {
            self.end_snapshot()?;
            self.conn.execute_batch("BEGIN DEFERRED").step("starting a lookup snapshot")?;
            self.snapshot_since = Some(Instant::now());
        }
        Ok(&self.conn)
    }

    pub(crate) fn end_snapshot(&mut self) -> Result<()> {
        if self.snapshot_since.take().is_some() && !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT").step("ending a lookup snapshot")?;
        }
        Ok(())
    }
}

/// The terminal runtime over one data folder. `Send + Sync`: share it behind an
/// `Arc`; every method takes `&self`.
pub struct Runtime {
    dir: PathBuf,
    pub(crate) catalog_writer: Mutex<Connection>,
    pub(crate) catalog_reader: Mutex<CatalogReader>,
    pub(crate) journal: Mutex<Connection>,
    config: RwLock<Config>,
    commits: AtomicU64,
    checkpointer: Mutex<Option<(Sender<Checkpoint>, JoinHandle<()>)>>,
    /// Held while a sync runs: never two at once.
    pub(crate) sync_running: Mutex<()>,
    /// Set by [`Runtime::cancel_sync`]; checked between steps and chunks.
    pub(crate) sync_cancel: std::sync::atomic::AtomicBool,
    /// The kept sync server (see [`Runtime::set_server`]).
    pub(crate) server: RwLock<Option<ServerSettings>>,
    /// Online lookups: client and failure state.
    pub(crate) online: Mutex<crate::hydb::Online>,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave SQLite half-written (transactions
    // roll back on drop), so a poisoned lock is safe to take over.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runtime {
    /// Opens (creating when absent) the data folder `dir`: `catalog.db` and
    /// `journal.db`, migrated to the current schema.
    pub fn open(dir: &Path) -> Result<Runtime> {
        let DataDir(dir) = DataDir::create(dir)?;
        let catalog_writer = store::open(&dir, Db::Catalog, true)?;
        let catalog_reader = store::open(&dir, Db::Catalog, false)?;
        let journal = store::open(&dir, Db::Journal, true)?;
        let config = crate::state::load_config(&journal)?;
        let server = crate::state::load_server(&journal)?;
        let checkpointer = spawn_checkpointer(&dir)?;
        crate::logs::attach(&dir);
        log::info!("runtime {} opened {}", env!("CARGO_PKG_VERSION"), dir.display());
        Ok(Runtime {
            dir,
            catalog_writer: Mutex::new(catalog_writer),
            catalog_reader: Mutex::new(CatalogReader {
                conn: catalog_reader,
                snapshot_since: None,
            }),
            journal: Mutex::new(journal),
            config: RwLock::new(config),
            commits: AtomicU64::new(0),
            checkpointer: Mutex::new(Some(checkpointer)),
            sync_running: Mutex::new(()),
            sync_cancel: std::sync::atomic::AtomicBool::new(false),
            server: RwLock::new(server),
            online: Mutex::new(Default::default()),
        })
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name this terminal writes into its packages: the data folder's name.
    pub fn device_name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies a versioned configuration (from the server or the exchange folder):
    /// validated first — an invalid one is refused and the one in force stays —,
    /// then stored with its version in one journal transaction. `false` when this
    /// version or a newer one is already in force.
    pub fn apply_config(&self, json: &str, version: i64) -> Result<bool> {
        let config = Config::from_json(json)?;
        let applied = self.write_journal(|tx| {
            if crate::state::config_version(tx)? >= version {
                return Ok(false);
            }
            crate::state::store_config(tx, &config)?;
            crate::state::set_config_version(tx, version)?;
            Ok(true)
        })?;
        if applied {
            *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
        }
        Ok(applied)
    }

    /// The version of the configuration in force (0: the built-in defaults or one
    /// set locally).
    pub fn config_version(&self) -> Result<i64> {
        crate::state::config_version(&lock(&self.journal))
    }

    /// Validates, stores and applies a configuration (JSON).
    pub fn set_config(&self, json: &str) -> Result<()> {
        let config = Config::from_json(json)?;
        self.write_journal(|tx| crate::state::store_config(tx, &config))?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
        Ok(())
    }

    /// Imports a catalog file (CSV or JSON Lines) in one transaction.
    pub fn import_catalog(&self, path: &Path, format: Format, progress: &mut dyn FnMut(u64) -> bool) -> Result<ImportReport> {
        self.import_catalog_with(path, format, &catalog::ReadOptions::default(), progress)
    }

    /// [`Runtime::import_catalog`] with how the file is read (encoding, column
    /// names, strictness).
    pub fn import_catalog_with(
        &self,
        path: &Path,
        format: Format,
        read: &catalog::ReadOptions,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<ImportReport> {
        let mut conn = lock(&self.catalog_writer);
        let report = catalog::import_file(&mut conn, path, format, read, progress)?;
        // Lookups see the new catalog from their next call; the import's WAL is folded
        // back in the background once no snapshot pins it.
        lock(&self.catalog_reader).end_snapshot()?;
        drop(conn);
        self.checkpoint(Checkpoint::Catalog);
        Ok(report)
    }

    /// Resolves a raw scan: against the terminal's catalog, or — for catalogs the
    /// configuration routes to the server — online (see [`crate::hydb`]; a server
    /// answer is kept in the journal's lookup cache, nothing else is written).
    pub fn resolve(&self, raw: &str) -> Result<Resolution> {
        let config = self.config.read().unwrap_or_else(|p| p.into_inner());
        let routing = config.catalogs;
        if !routing.products.asks_server() && !routing.cells.asks_server() {
            return resolve::resolve(lock(&self.catalog_reader).conn()?, raw, &config.weight_templates);
        }
        let parsed = crate::barcode::parse(raw, &config.weight_templates)?;
        let online = config.online_lookup;
        drop(config);
        self.resolve_routed(parsed, routing, online)
    }

    /// Looks a catalog barcode up as written (normalised like an import).
    pub fn lookup_barcode(&self, barcode: &str) -> Result<Option<BarcodeHit>> {
        let key = catalog::barcode_key(barcode).map_err(Error::InvalidArgument)?;
        catalog::by_barcode(lock(&self.catalog_reader).conn()?, &key)
    }

    /// Products with this article/code.
    pub fn products_by_code(&self, code: &str) -> Result<Vec<Product>> {
        catalog::products_by_code(lock(&self.catalog_reader).conn()?, code)
    }

    /// A product by id.
    pub fn product(&self, id: &str) -> Result<Option<Product>> {
        catalog::product_by_id(lock(&self.catalog_reader).conn()?, id)
    }

    /// A product's packagings.
    pub fn packagings(&self, product_id: &str) -> Result<Vec<catalog::Packaging>> {
        catalog::packagings_of(lock(&self.catalog_reader).conn()?, product_id)
    }

    /// Name/code search (word prefixes, case- and ё-insensitive).
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<Product>> {
        catalog::search(lock(&self.catalog_reader).conn()?, text, limit)
    }

    /// Catalog table counts and version.
    pub fn catalog_stats(&self) -> Result<Stats> {
        catalog::stats(lock(&self.catalog_reader).conn()?)
    }

    pub(crate) fn write_journal<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.journal);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .step("starting a journal write")?;
        let out = f(&tx)?;
        // synchronous=FULL: when commit returns, the entry is on disk.
        tx.commit().step("committing to the journal")?;
        drop(conn);
        if self.commits.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            self.checkpoint(Checkpoint::Journal);
        }
        Ok(out)
    }

    /// Creates a free document of a type; refused for a type whose documents come
    /// only as tasks (`allow_free: false`).
    pub fn new_document(&self, doc_type: &str) -> Result<DocumentHeader> {
        let rules = self.config().doc_type(doc_type)?.clone();
        if !rules.allow_free {
            return Err(Error::InvalidArgument(format!(
                "documents of type {:?} come only as tasks from the accounting system",
                rules.id
            )));
        }
        self.write_journal(|tx| documents::create(tx, &rules, now_ms()))
    }

    /// Adds task documents (all or none); returns how many were new.
    pub fn add_tasks(&self, tasks: &[TaskDocument]) -> Result<usize> {
        let config = self.config();
        for t in tasks {
            config.doc_type(&t.doc_type)?;
        }
        self.write_journal(|tx| {
            let mut added = 0;
            for t in tasks {
                added += documents::add_task(tx, t, now_ms())? as usize;
            }
            Ok(added)
        })
    }

    /// All documents, newest first.
    pub fn documents(&self) -> Result<Vec<DocumentHeader>> {
        documents::list(&lock(&self.journal))
    }

    /// A document with lines (product names filled from the catalog) and journal.
    pub fn document(&self, id: &str) -> Result<Document> {
        let (mut doc, in_packagings) = {
            let journal = lock(&self.journal);
            (documents::show(&journal, id)?, documents::planned_packagings(&journal, id)?)
        };
        let mut reader = lock(&self.catalog_reader);
        let conn = reader.conn()?;
        for line in &mut doc.lines {
            if let Some(p) = &line.product {
                line.name = catalog::product_by_id(conn, p)?.map(|p| p.name);
            }
        }
        for (product, packaging, qty) in in_packagings {
            let Some(line) = doc.lines.iter_mut().find(|l| l.product.as_deref() == Some(product.as_str())) else {
                continue;
            };
            let Some(k) = catalog::packagings_of(conn, &product)?.into_iter().find(|k| k.id == packaging) else {
                continue;
            };
            let count = documents::qty_json(qty.saturating_mul(1000) / k.factor.max(1));
            let text = format!("{count} × {}", if k.name.is_empty() { &k.id } else { &k.name });
            line.planned_as = Some(match line.planned_as.take() {
                Some(before) => format!("{before} + {text}"),
                None => text,
            });
        }
        drop(reader);
        let journal = lock(&self.journal);
        for line in &mut doc.lines {
            if let (Some(p), None) = (&line.product, &line.name) {
                line.name = crate::hydb::cached_name(&journal, p)?;
            }
        }
        Ok(doc)
    }

    /// Resolves a scan and records it in the document under its type's rules. When
    /// this returns `Ok`, the journal entry is on disk.
    pub fn scan(&self, doc: &str, raw: &str, qty: Option<i64>) -> Result<ScanOutcome> {
        let resolution = self.resolve(raw)?;
        let config = self.config.read().unwrap_or_else(|p| p.into_inner());
        self.write_journal(|tx| documents::record_scan(tx, doc, &config, raw, resolution, qty, now_ms()))
    }

    /// Undoes the latest scan or correction in force: `(undo seq, undone seq)`.
    pub fn undo(&self, doc: &str) -> Result<(i64, i64)> {
        self.write_journal(|tx| documents::undo(tx, doc, now_ms()))
    }

    /// Sets a product's actual quantity (thousandths of the base unit).
    pub fn set_quantity(&self, doc: &str, product: &str, qty: i64) -> Result<Option<i64>> {
        self.write_journal(|tx| documents::correct(tx, doc, product, qty, now_ms()))
    }

    /// Completes a document and queues it for sending; `false` if it already was.
    pub fn complete(&self, doc: &str) -> Result<bool> {
        self.write_journal(|tx| documents::complete(tx, doc, now_ms()))
    }

    /// One exchange-folder sync: completed documents go to `from-device/`, the PC
    /// side's acknowledgements take them out of the outbox, then packages in
    /// `to-device/` are applied in name order (see [`crate::sync::folder`]).
    ///
    /// Like a sync with the server it is one at a time ([`Error::SyncInProgress`]
    /// otherwise) and its outcome is recorded for [`Runtime::sync_status`], so the
    /// shell shows the same "synced / waiting / failed" line in both modes.
    pub fn sync_folder(&self, root: &Path, key: Option<&[u8]>, require_signed: bool) -> Result<FolderReport> {
        self.sync_folder_observed(root, key, require_signed, &mut |_| true)
    }

    /// [`Runtime::sync_folder`], telling `progress` the catalog records applied so
    /// far (every 65,536, and at each package's end); it returns `false` to stop
    /// between batches.
    pub fn sync_folder_observed(
        &self,
        root: &Path,
        key: Option<&[u8]>,
        require_signed: bool,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<FolderReport> {
        let _running = self.begin_sync()?;
        let result = self.sync_folder_once(root, key, require_signed, progress);
        let backoff = crate::sync::http::Backoff::default();
        match &result {
            Ok(_) => self.record_attempt(Ok(()), &backoff)?,
            Err(e) => self.record_attempt(Err(e), &backoff)?,
        }
        result
    }

    fn sync_folder_once(
        &self,
        root: &Path,
        key: Option<&[u8]>,
        require_signed: bool,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<FolderReport> {
        let outbox = self.outbox()?;
        let device = self.device_name();
        let terminal = folder::Terminal {
            root,
            key,
            require_signed,
            device: &device,
        };
        let started = Instant::now();
        let mut conn = lock(&self.catalog_writer);
        let mut report = terminal.sync(&mut conn, &outbox, &mut JournalOf(self), progress)?;
        report.seconds = started.elapsed().as_secs_f64();
        drop(conn);
        // A configuration applied now may let tasks set aside before be taken.
        self.retry_set_aside_tasks()?;
        let state = self.device_state()?;
        let text = serde_json::to_string_pretty(&state).map_err(|e| Error::InvalidArgument(e.to_string()))? + "\n";
        crate::fsx::write_atomically(&root.join(folder::FROM_DEVICE), folder::STATUS, text.as_bytes())?;
        if !report.applied.is_empty() {
            lock(&self.catalog_reader).end_snapshot()?;
            self.checkpoint(Checkpoint::Catalog);
        }
        Ok(report)
    }

    /// Documents waiting in the outbox.
    pub fn outbox(&self) -> Result<Vec<String>> {
        let conn = lock(&self.journal);
        let mut stmt = conn
            .prepare("SELECT doc FROM outbox ORDER BY queued_at, doc")
            .step("reading the outbox")?;
        let rows = stmt.query_map([], |r| r.get(0)).step("reading the outbox")?;
        rows.collect::<rusqlite::Result<_>>().step("reading the outbox")
    }

    /// Stops the checkpointer and folds the journal's WAL into the database.
    pub fn close(self) -> Result<()> {
        self.shutdown();
        lock(&self.journal)
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .step("checkpointing the journal")
    }

    pub(crate) fn checkpoint(&self, which: Checkpoint) {
        if let Some((tx, _)) = lock(&self.checkpointer).as_ref() {
            let _ = tx.send(which);
        }
    }

    fn shutdown(&self) {
        // A lookup snapshot left open would make the checkpointer's catalog TRUNCATE
        // wait for its busy timeout.
        let _ = lock(&self.catalog_reader).end_snapshot();
        if let Some((tx, handle)) = lock(&self.checkpointer).take() {
            drop(tx);
            let _ = handle.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The journal operations a folder sync needs, on this runtime.
struct JournalOf<'a>(&'a Runtime);

impl folder::JournalSide for JournalOf<'_> {
    fn acknowledge(&mut self, doc_id: &str) -> Result<bool> {
        self.0.write_journal(|tx| {
            tx.execute("DELETE FROM outbox WHERE doc = ?1", [doc_id])
                .map(|n| n > 0)
                .step("acknowledging a document")
        })
    }

    fn add_tasks(&mut self, tasks: &[TaskDocument]) -> Result<usize> {
        // As over HTTP: a task the terminal cannot take is set aside, not a reason
        // to refuse the whole package.
        let taken = self.0.take_tasks(tasks.to_vec(), None)?;
        Ok(taken.added + taken.set_aside.len())
    }

    fn document(&mut self, doc_id: &str) -> Result<Document> {
        self.0.document(doc_id)
    }

    fn apply_config(&mut self, json: &str, version: i64) -> Result<bool> {
        self.0.apply_config(json, version)
    }
}

/// Which WAL to fold back into its database.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Checkpoint {
    /// After many scans: passive, never waits.
    Journal,
    /// After an import or a package: the WAL holds the whole change; truncate it.
    Catalog,
}

/// Checkpoints the WALs on their own connections and thread, so that neither a scan
/// nor an import pays for copying pages into the database file. Messages still
/// queued when the runtime closes are carried out before the thread ends.
fn spawn_checkpointer(dir: &Path) -> Result<(Sender<Checkpoint>, JoinHandle<()>)> {
    let journal = store::open(dir, Db::Journal, true)?;
    let catalog = store::open(dir, Db::Catalog, true)?;
    // A TRUNCATE checkpoint holds the write lock while it waits for readers: with
    // the store's 10 s busy timeout, an import started while a lookup snapshot is
    // open would wait that long and fail ("database is locked"). So it waits a
    // moment only, and is tried again later.
    catalog
        .busy_timeout(std::time::Duration::from_millis(50))
        .step("setting the checkpointer's busy timeout")?;
    let (tx, rx) = mpsc::channel::<Checkpoint>();
    let handle = std::thread::Builder::new()
        .name("tsd-checkpoint".into())
        .spawn(move || {
            // A catalog TRUNCATE that readers kept from finishing: tried again each
            // second, a bounded number of times (the next import asks again).
            let mut retry_catalog = 0u32;
            loop {
                let which = if retry_catalog > 0 {
                    match rx.recv_timeout(std::time::Duration::from_secs(1)) {
                        Ok(w) => w,
                        Err(mpsc::RecvTimeoutError::Timeout) => Checkpoint::Catalog,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                } else {
                    match rx.recv() {
                        Ok(w) => w,
                        Err(_) => break,
                    }
                };
                match which {
                    Checkpoint::Journal => {
                        if let Err(e) = journal.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                            log::warn!("journal checkpoint failed (will retry later): {e}");
                        }
                    }
                    Checkpoint::Catalog => {
                        // PASSIVE copies every frame without blocking anyone; TRUNCATE
                        // then shrinks the WAL file once no reader uses it.
                        let _ = catalog.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                        let done = catalog
                            .query_row("PRAGMA wal_checkpoint(TRUNCATE);", [], |r| r.get::<_, i64>(0))
                            .is_ok_and(|busy| busy == 0);
                        retry_catalog = match (done, retry_catalog) {
                            (true, _) => 0,
                            (false, 0) => 60,
                            (false, n) => n - 1,
                        };
                    }
                }
            }
        })
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    Ok((tx, handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JNI bridge shares one `Runtime` between threads behind an `Arc`.
    #[test]
    fn runtime_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Runtime>();
    }

    #[test]
    fn lookups_see_an_import_at_their_next_call() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(&dir.path().join("data")).unwrap();
        assert!(!rt.resolve("4601234567893").unwrap().found());
        let csv = dir.path().join("c.csv");
        std::fs::write(&csv, "product_id,name,barcode\nP1,Молоко,4601234567893\n").unwrap();
        rt.import_catalog(&csv, Format::Csv, &mut |_| true).unwrap();
        assert!(rt.resolve("4601234567893").unwrap().found(), "the lookup snapshot was refreshed");
    }

    /// Import, look up (which keeps a read snapshot open), import again at once: the
    /// background checkpoint must not hold the write lock waiting for that reader
    /// (it did, for the store's 10 s busy timeout, and the import failed with
    /// "database is locked").
    #[test]
    fn imports_right_after_lookups_are_not_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(&dir.path().join("data")).unwrap();
        let csv = dir.path().join("c.csv");
        for round in 0..5 {
            std::fs::write(&csv, format!("product_id,name,barcode\nP1,Молоко {round},4601234567893\n")).unwrap();
            rt.import_catalog(&csv, Format::Csv, &mut |_| true).unwrap();
            assert!(rt.resolve("4601234567893").unwrap().found());
        }
    }
}
