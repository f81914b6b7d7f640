//! The sync engine ("with server" mode): one [`Runtime::sync_server`] call pushes
//! the outbox, then — only when every completed document is confirmed — pulls
//! catalog changes and task documents, then reports the device status.
//!
//! Every step is idempotent and resumable: a document leaves the outbox only after
//! the server acknowledged it (a resend carries the same idempotency key, so the
//! server stores it once); the catalog version advances in the same transaction as
//! the catalog change; the task cursor in the same transaction as the tasks; an
//! interrupted download resumes from its `.part` file.
//!
//! The outcome of every attempt is written to `sync_state` in the journal, so
//! [`Runtime::sync_status`] is always true: what waits, the last success, the last
//! error, when the next attempt is due. Failures back off (see
//! [`Backoff`](super::http::Backoff)) and never stop by themselves.

use super::http::{Client, ServerSettings};
use crate::catalog::package::{apply, Applied};
use crate::documents::TaskDocument;
use crate::error::{Error, Result, SqlStep};
use crate::package::{Kind, PackageError, PackageReader};
use crate::runtime::{lock, now_ms, Checkpoint};
use crate::state::{self, Key};
use crate::Runtime;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Which part of a sync is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Sending completed documents.
    Push,
    /// Sending print jobs.
    Print,
    /// Downloading catalog packages.
    Download,
    /// Applying catalog packages.
    Apply,
    /// Fetching task documents.
    Tasks,
    /// Fetching the configuration.
    Config,
    /// Reporting status.
    Status,
}

/// A progress event, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The step.
    pub step: Step,
    /// Units done in this step (documents, bytes or records).
    pub done: u64,
    /// Units in this step, when known (0 when not).
    pub total: u64,
}

/// What one server sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Documents the server stored now.
    pub pushed: Vec<String>,
    /// Documents the server had stored before (a resend after a lost answer).
    pub already_stored: Vec<String>,
    /// Catalog version before and after.
    pub catalog_from: i64,
    /// See `catalog_from`.
    pub catalog_version: i64,
    /// Catalog packages applied, in order.
    pub packages: Vec<String>,
    /// New task documents.
    pub tasks_added: usize,
    /// The configuration version applied now, if a newer one came.
    pub config_applied: Option<i64>,
    /// Print jobs handed to the server now.
    pub print_jobs_sent: Vec<String>,
    /// Tasks the accounting system withdrew, taken now.
    pub tasks_cancelled: Vec<String>,
    /// Documents the server refused to store (409: their idempotency key names
    /// another document or revision); they stay in the outbox and the sync ends
    /// with an error that names them.
    pub not_stored: Vec<String>,
    /// Bytes downloaded.
    pub bytes_down: u64,
    /// Documents still waiting (0 after a successful sync).
    pub waiting: usize,
    /// Seconds the sync took.
    pub seconds: f64,
}

/// What the shell shows about sync. Read from the journal, never cached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    /// Completed documents not yet acknowledged by the server or the PC side.
    pub waiting: usize,
    /// Unix ms of the last sync that finished without error.
    pub last_success_at: Option<i64>,
    /// Unix ms of the last attempt.
    pub last_attempt_at: Option<i64>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// Its stable code.
    pub last_error_code: Option<String>,
    /// Failed attempts in a row.
    pub failures: u32,
    /// Unix ms when the next automatic attempt is due (0: now).
    pub next_attempt_at: i64,
    /// Catalog version on the terminal.
    pub catalog_version: i64,
    /// True only when nothing waits and the last attempt succeeded.
    pub synced: bool,
    /// Tasks the terminal could not take, with the reason (and tasks withdrawn
    /// after work on them had started).
    pub set_aside_tasks: Vec<super::tasks::SetAside>,
}

/// When the next automatic attempt is due after the `failures`-th failure in a row
/// at `now` (unix ms): the backoff, or the server's `Retry-After` if longer.
/// `Retry-After` comes from the server and may be any value: this saturates, never
/// overflows.
pub fn next_attempt_at(now: i64, failures: u32, retry_after: Option<std::time::Duration>, backoff: &super::http::Backoff) -> i64 {
    let delay = i64::try_from(backoff.delay(failures, retry_after).as_millis()).unwrap_or(i64::MAX);
    now.saturating_add(delay)
}

/// The idempotency key of a document revision: a completed document is frozen, so
/// its id and completion time name the revision. The id goes in as its file-name
/// token (an HTTP header is ASCII; task ids from the accounting system are often
/// Cyrillic).
pub fn idempotency_key(doc: &crate::documents::Document) -> String {
    idempotency_key_of(&doc.header.id, doc.header.completed_at)
}

/// [`idempotency_key`] from a document's id and completion time.
pub fn idempotency_key_of(id: &str, completed_at: Option<i64>) -> String {
    format!("{}@{}", super::folder::document_token(id), completed_at.unwrap_or(0))
}

impl Runtime {
    /// Asks a running sync to stop at its next check (between documents, chunks,
    /// batches). What was committed stays; the rest is retried next time.
    pub fn cancel_sync(&self) {
        self.sync_cancel.store(true, Ordering::SeqCst);
    }

    fn cancelled(&self) -> Result<()> {
        if self.sync_cancel.load(Ordering::SeqCst) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The sync status, from the journal.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let waiting = self.outbox()?.len();
        // The read connection: a catalog being applied (the writer held for many
        // seconds) must not stall the status the shell polls.
        let catalog_version = crate::catalog::synced_version(lock(&self.catalog_reader).conn()?)?;
        let conn = lock(&self.journal);
        let last_error = state::get(&conn, Key::LastError)?;
        Ok(SyncStatus {
            waiting,
            last_success_at: state::get_int(&conn, Key::LastSuccessAt)?,
            last_attempt_at: state::get_int(&conn, Key::LastAttemptAt)?,
            synced: waiting == 0 && last_error.is_none() && state::get(&conn, Key::LastAttemptAt)?.is_some(),
            last_error,
            last_error_code: state::get(&conn, Key::LastErrorCode)?,
            failures: state::get_int(&conn, Key::Failures)?.unwrap_or(0) as u32,
            next_attempt_at: state::get_int(&conn, Key::NextAttemptAt)?.unwrap_or(0),
            catalog_version,
            set_aside_tasks: super::tasks::set_aside(&conn)?,
        })
    }

    /// True when an automatic sync is due: something waits or the last attempt
    /// failed, and the backoff delay has passed.
    pub fn sync_due(&self) -> Result<bool> {
        let s = self.sync_status()?;
        Ok((s.waiting > 0 || s.last_error.is_some()) && now_ms() >= s.next_attempt_at)
    }

    /// Records an attempt's outcome (see [`SyncStatus`]).
    pub(crate) fn record_attempt(&self, outcome: std::result::Result<(), &Error>, backoff: &super::http::Backoff) -> Result<()> {
        let now = now_ms();
        let failures = state::get_int(&lock(&self.journal), Key::Failures)?.unwrap_or(0);
        self.write_journal(|tx| {
            state::set(tx, Key::LastAttemptAt, Some(&now.to_string()))?;
            match outcome {
                Ok(()) => {
                    state::set(tx, Key::LastSuccessAt, Some(&now.to_string()))?;
                    state::set(tx, Key::LastError, None)?;
                    state::set(tx, Key::LastErrorCode, None)?;
                    state::set(tx, Key::Failures, Some("0"))?;
                    state::set(tx, Key::NextAttemptAt, Some("0"))?;
                }
                Err(e) => {
                    let failures = failures + 1;
                    let retry_after = match e {
                        Error::Network { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    let next = next_attempt_at(now, failures as u32, retry_after, backoff);
                    state::set(tx, Key::LastError, Some(&e.to_string()))?;
                    state::set(tx, Key::LastErrorCode, Some(e.code()))?;
                    state::set(tx, Key::Failures, Some(&failures.to_string()))?;
                    state::set(tx, Key::NextAttemptAt, Some(&next.to_string()))?;
                }
            }
            Ok(())
        })
    }

    /// One sync with the server. Returns the report, or the error that stopped it
    /// (also recorded for [`Runtime::sync_status`]). A second call while one runs
    /// gets [`Error::SyncInProgress`].
    pub fn sync_server(&self, settings: &ServerSettings, progress: &mut dyn FnMut(Progress)) -> Result<SyncReport> {
        let _running = self.begin_sync()?;
        self.sync_cancel.store(false, Ordering::SeqCst);
        let started = Instant::now();
        let result = Client::new(settings).and_then(|client| self.sync_with(&client, progress));
        match &result {
            Ok(_) => self.record_attempt(Ok(()), &settings.backoff)?,
            Err(Error::Cancelled) => {}
            Err(e) => self.record_attempt(Err(e), &settings.backoff)?,
        }
        let mut report = result?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// [`Runtime::sync_server`] with the settings kept by [`Runtime::set_server`].
    pub fn sync_saved_server(&self, progress: &mut dyn FnMut(Progress)) -> Result<SyncReport> {
        let settings = self
            .server()
            .ok_or_else(|| Error::InvalidArgument("no server is set up: scan the setup code or enter the server in the settings".into()))?;
        self.sync_server(&settings, progress)
    }

    /// Takes the one-sync-at-a-time lock (either transport), or
    /// [`Error::SyncInProgress`]. A sync that panicked (caught by the bridge) left it
    /// poisoned; its work was transactional, so the lock is simply taken over.
    pub(crate) fn begin_sync(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        match self.sync_running.try_lock() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(Error::SyncInProgress),
        }
    }

    /// What the terminal holds and waits to send: the `status.json` a folder sync
    /// leaves for the PC side, and what a bridge asks the server for.
    pub(crate) fn device_state(&self) -> Result<crate::protocol::DeviceStatus> {
        let catalog_version = crate::catalog::synced_version(&lock(&self.catalog_writer))?;
        let journal = lock(&self.journal);
        let tasks_cursor = state::get_int(&journal, Key::TasksCursor)?.unwrap_or(0);
        let config_version = state::config_version(&journal)?;
        drop(journal);
        Ok(crate::protocol::DeviceStatus {
            device: Some(self.device_name()),
            runtime: env!("CARGO_PKG_VERSION").into(),
            protocol: crate::protocol::PROTOCOL,
            catalog_version,
            tasks_cursor: Some(tasks_cursor),
            config_version,
            config_schema: Some(crate::config::SCHEMA_MAX),
            waiting: self.outbox()?.len(),
            at: now_ms(),
            via: None,
        })
    }

    fn sync_with(&self, client: &Client, progress: &mut dyn FnMut(Progress)) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        client.hello()?;
        self.push(client, progress, &mut report)?;
        self.push_prints(client, progress, &mut report)?;
        // Server data is applied only after every own upload is confirmed; the
        // configuration first (it decides catalog routing and which document types
        // tasks may have), as the exchange folder does.
        self.pull_config(client, progress, &mut report)?;
        self.pull_catalog(client, progress, &mut report)?;
        self.pull_tasks(client, progress, &mut report)?;
        self.pull_print_statuses(client)?;
        report.waiting = self.outbox()?.len();
        progress(Progress {
            step: Step::Status,
            done: 0,
            total: 1,
        });
        // The same state a folder sync writes to status.json, less what only the
        // PC side asks for (the task cursor goes: the server's console shows
        // which tasks the terminal holds).
        let status = crate::protocol::DeviceStatus {
            device: None,
            config_schema: None,
            ..self.device_state()?
        };
        // The status report is advisory: a failure here does not fail the sync.
        if let Err(e) = client.status(&status) {
            log::warn!("status report failed: {e}");
        }
        if let Some(first) = report.not_stored.first() {
            // Everything else was done; the refused documents wait, and the status says so.
            return Err(Error::Server {
                step: "sending a document",
                status: 409,
                message: format!(
                    "the server refused {} document(s) ({first:?} first): its Idempotency-Key names another document; they stay on the terminal",
                    report.not_stored.len()
                ),
            });
        }
        Ok(report)
    }

    /// A temporary folder inside `name` (removed when dropped).
    fn scratch(&self, name: &str) -> Result<tempfile::TempDir> {
        let dir = self.work_dir(name)?;
        tempfile::tempdir_in(&dir).map_err(|source| Error::Io { path: dir, source })
    }

    fn work_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir().join(name);
        crate::fsx::create_dir_durably(&dir)?;
        Ok(dir)
    }

    fn push(&self, client: &Client, progress: &mut dyn FnMut(Progress), report: &mut SyncReport) -> Result<()> {
        let outbox = self.outbox()?;
        let device = self.device_name();
        let tmp = self.scratch("outgoing")?;
        for (i, id) in outbox.iter().enumerate() {
            self.cancelled()?;
            progress(Progress {
                step: Step::Push,
                done: i as u64,
                total: outbox.len() as u64,
            });
            let doc = self.document(id)?;
            let name = super::folder::write_document(tmp.path(), &doc, &device, None)?;
            let answer = match client.push(&tmp.path().join(&name), &idempotency_key(&doc)) {
                Ok(answer) => answer,
                // Not delivered: the key is bound to another document on the server.
                Err(Error::Server { status: 409, message, .. }) => {
                    log::warn!("document {id:?} not stored by the server: {message}");
                    report.not_stored.push(id.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            if answer.doc_id != *id {
                return Err(Error::Server {
                    step: "sending a document",
                    status: 200,
                    message: format!("acknowledged {:?} for {id:?}", answer.doc_id),
                });
            }
            self.write_journal(|tx| {
                tx.execute("DELETE FROM outbox WHERE doc = ?1", [id])
                    .step("acknowledging a document")
            })?;
            if answer.stored {
                report.pushed.push(id.clone());
            } else {
                report.already_stored.push(id.clone());
            }
        }
        Ok(())
    }

    /// Hands waiting print jobs to the server, oldest first; each is marked as the
    /// server has it in its own journal transaction.
    fn push_prints(&self, client: &Client, progress: &mut dyn FnMut(Progress), report: &mut SyncReport) -> Result<()> {
        let jobs = crate::print::waiting(&lock(&self.journal))?;
        for (i, job) in jobs.iter().enumerate() {
            self.cancelled()?;
            progress(Progress {
                step: Step::Print,
                done: i as u64,
                total: jobs.len() as u64,
            });
            let status = client.print(job)?;
            if status.id != job.id {
                return Err(Error::Server {
                    step: "sending a print job",
                    status: 200,
                    message: format!("answered for job {:?} instead of {:?}", status.id, job.id),
                });
            }
            self.write_journal(|tx| crate::print::set_status(tx, &status))?;
            report.print_jobs_sent.push(job.id.clone());
        }
        Ok(())
    }

    /// Brings the status of jobs the server may still be printing up to date.
    fn pull_print_statuses(&self, client: &Client) -> Result<()> {
        if !crate::print::any_open(&lock(&self.journal))? {
            return Ok(());
        }
        let statuses = client.print_statuses()?;
        self.write_journal(|tx| statuses.iter().try_for_each(|s| crate::print::set_status(tx, s)))
    }

    fn pull_catalog(&self, client: &Client, progress: &mut dyn FnMut(Progress), report: &mut SyncReport) -> Result<()> {
        let since = crate::catalog::synced_version(&lock(&self.catalog_writer))?;
        report.catalog_from = since;
        report.catalog_version = since;
        if !self.config().catalogs.download() {
            // Every catalog is routed to the server: nothing to keep on the terminal.
            return Ok(());
        }
        let offer = client.offer(since)?;
        let incoming = self.work_dir("incoming")?;
        // Leftovers of packages no longer offered (the server moved on) go.
        if let Ok(entries) = std::fs::read_dir(&incoming) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let base = name.strip_suffix(".part").unwrap_or(&name);
                let offered = offer.packages.iter().any(|p| p.name == base);
                if !offered && entry.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        for p in &offer.packages {
            self.cancelled()?;
            crate::fsx::safe_name(&p.name).map_err(|why| Error::Server {
                step: "asking for catalog changes",
                status: 200,
                message: why,
            })?;
            let path = incoming.join(&p.name);
            if !path.exists() {
                let cancel = &self.sync_cancel;
                report.bytes_down += client.download(&p.name, p.size.max(0) as u64, &path, &mut |done, total| {
                    progress(Progress {
                        step: Step::Download,
                        done,
                        total,
                    });
                    !cancel.load(Ordering::SeqCst)
                })?;
            }
            let applied = self.apply_downloaded(&path, progress);
            // A damaged download is fetched again next time; a package that cannot
            // apply (out of order after a folder sync) is offered anew.
            if !matches!(applied, Err(Error::Cancelled)) {
                let _ = std::fs::remove_file(&path);
            }
            if let Applied::Applied(_) = applied? {
                report.packages.push(p.name.clone());
            }
            report.catalog_version = p.to;
        }
        Ok(())
    }

    fn apply_downloaded(&self, path: &Path, progress: &mut dyn FnMut(Progress)) -> Result<Applied> {
        let reader = PackageReader::open(path, None, false).map_err(|e| match e {
            PackageError::Refused { path, reason } => Error::Network {
                step: "downloading a package",
                message: format!("{}: damaged in transit ({reason}); it is fetched again", path.display()),
                retry_after: None,
            },
            other => other.into(),
        })?;
        let total = reader.header().records;
        let cancel = &self.sync_cancel;
        let mut conn = lock(&self.catalog_writer);
        let applied = apply(&mut conn, &reader, &mut |done| {
            progress(Progress {
                step: Step::Apply,
                done,
                total,
            });
            !cancel.load(Ordering::SeqCst)
        })?;
        drop(conn);
        if let Applied::Applied(_) = applied {
            lock(&self.catalog_reader).end_snapshot()?;
            self.checkpoint(Checkpoint::Catalog);
        }
        Ok(applied)
    }

    fn pull_config(&self, client: &Client, progress: &mut dyn FnMut(Progress), report: &mut SyncReport) -> Result<()> {
        self.cancelled()?;
        progress(Progress {
            step: Step::Config,
            done: 0,
            total: 0,
        });
        let tmp = self.scratch("incoming")?;
        let path = tmp.path().join("config.tsdpkg");
        let Some(bytes) = client.config(self.config_version()?, &path)? else {
            return Ok(());
        };
        report.bytes_down += bytes;
        let (json, version) = super::config::read_package(&PackageReader::open(&path, None, false)?)?;
        if self.apply_config(&json, version)? {
            report.config_applied = Some(version);
        }
        Ok(())
    }

    fn pull_tasks(&self, client: &Client, progress: &mut dyn FnMut(Progress), report: &mut SyncReport) -> Result<()> {
        self.cancelled()?;
        let after = state::get_int(&lock(&self.journal), Key::TasksCursor)?.unwrap_or(0);
        progress(Progress {
            step: Step::Tasks,
            done: 0,
            total: 0,
        });
        let tmp = self.scratch("incoming")?;
        let path = tmp.path().join("tasks.tsdpkg");
        let Some(bytes) = client.tasks(after, &path)? else {
            // No new tasks; a configuration or catalog that came now may let tasks
            // set aside before be taken.
            report.tasks_added += self.retry_set_aside_tasks()?.added;
            return Ok(());
        };
        report.bytes_down += bytes;
        let reader = PackageReader::open(&path, None, false)?;
        if reader.header().kind != Kind::TaskDocuments {
            return Err(Error::Server {
                step: "fetching task documents",
                status: 200,
                message: format!("expected task documents, got {:?}", reader.header().kind),
            });
        }
        let cursor = reader.header().to_version;
        let mut tasks = Vec::new();
        for (i, record) in reader.records::<String>()?.enumerate() {
            let task: TaskDocument = serde_json::from_str(&record?).map_err(|e| Error::Server {
                step: "fetching task documents",
                status: 200,
                message: format!("task {}: bad JSON: {e}", i + 1),
            })?;
            tasks.push(task);
        }
        // A task the terminal cannot take is set aside (see `sync::tasks`), never
        // a reason to fail the sync or to hold the cursor back.
        let taken = self.take_tasks(tasks, Some(cursor))?;
        report.tasks_added += taken.added;
        report.tasks_cancelled.extend(taken.cancelled);
        Ok(())
    }
}
