//! The exchange folder ("without server" mode): the PC side fills `to-device/` and
//! empties `from-device/` over USB (adb/MTP) or an RDP-redirected drive.
//!
//! ```text
//! ROOT/to-device/     packages for the terminal (*.tsdpkg), acks (doc-ID.ack)
//! ROOT/from-device/   finished documents (doc-ID.tsdpkg), one package a document
//! ROOT/archive/       packages and acks the terminal has processed
//! ROOT/rejected/      refused files, each with NAME.reason.txt beside it
//! ```
//!
//! Every file is written as `NAME.part`, synced, then renamed; `*.part` files are
//! ignored. Packages are applied in file-name order, each package id once (a
//! re-copied file changes nothing). A completed document stays in the outbox until
//! the PC side has collected it and left `to-device/doc-ID.ack`.

use crate::catalog::package::{apply, Applied};
use crate::documents::{Document, TaskDocument};
use crate::error::{Error, Result, SqlStep};
use crate::fsx::{io, move_to, safe_name, write_atomically};
use crate::package::{Header, Kind, PackageError, PackageReader, PackageWriter};
use rusqlite::Connection;
use serde::Serialize;
use std::path::Path;

/// Sub-folders of the exchange root.
pub const TO_DEVICE: &str = "to-device";
/// See [`TO_DEVICE`].
pub const FROM_DEVICE: &str = "from-device";
/// See [`TO_DEVICE`].
pub const ARCHIVE: &str = "archive";
/// See [`TO_DEVICE`].
pub const REJECTED: &str = "rejected";
/// Where `collect` puts the terminal's log bundles.
pub const LOGS: &str = "logs";
/// The terminal's state, rewritten in `from-device/` at every folder sync: what a
/// PC bridging to a server asks the server for (see [`super::bridge`]).
pub const STATUS: &str = "status.json";

/// One refused file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The file name.
    pub file: String,
    /// Stable reason code.
    pub code: String,
    /// What was wrong.
    pub reason: String,
}

/// What one folder sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FolderReport {
    /// Finished documents written to `from-device/` now.
    pub pushed: Vec<String>,
    /// Documents the PC side acknowledged (left the outbox).
    pub acknowledged: Vec<String>,
    /// Packages applied.
    pub applied: Vec<String>,
    /// Packages seen before (archived, nothing changed).
    pub skipped: Vec<String>,
    /// Files refused (moved to `rejected/`).
    pub rejected: Vec<Rejected>,
    /// Documents still waiting in the outbox (not yet acknowledged).
    pub waiting: usize,
    /// How long the sync took, in seconds (process start-up and the background
    /// checkpoint excluded).
    pub seconds: f64,
}

/// Creates the four sub-folders.
pub fn prepare(root: &Path) -> Result<()> {
    for d in [TO_DEVICE, FROM_DEVICE, ARCHIVE, REJECTED, LOGS] {
        // Durably: a package renamed into a folder whose own name a power cut
        // takes is lost with it (found by cli/tests/power.rs).
        crate::fsx::create_dir_durably(&root.join(d))?;
    }
    Ok(())
}

/// File names in `dir`, sorted, `*.part` left out.
pub(crate) fn names(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if !entry.file_type().map_err(io(dir))?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".part") {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Moves a refused file from `from` into `rejected/` with `NAME.reason.txt` beside it.
pub(crate) fn refuse(root: &Path, from: &Path, name: &str, code: &str, reason: String) -> Result<Rejected> {
    let moved = move_to(root, from, REJECTED, &name.replace(|c: char| c.is_control(), "_"))?;
    let moved_name = moved.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    write_atomically(
        &root.join(REJECTED),
        &format!("{moved_name}.reason.txt"),
        format!("{code}: {reason}\n").as_bytes(),
    )?;
    Ok(Rejected {
        file: name.to_string(),
        code: code.to_string(),
        reason,
    })
}

fn reject(root: &Path, report: &mut FolderReport, name: &str, code: &str, reason: String) -> Result<()> {
    let r = refuse(root, &root.join(TO_DEVICE).join(name), name, code, reason)?;
    report.rejected.push(r);
    Ok(())
}

/// The token that names a document in file names: the id itself when it is a safe
/// file-name piece (UUIDs are), else the first 32 hex digits of its SHA-256 (task ids
/// from the accounting system may hold Cyrillic, slashes or spaces).
pub fn document_token(doc_id: &str) -> String {
    if doc_id.len() <= 64 && !doc_id.is_empty() && doc_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return doc_id.to_string();
    }
    use sha2::Digest;
    sha2::Sha256::digest(doc_id.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The package name of a finished document.
pub fn document_package_name(doc_id: &str) -> String {
    format!("doc-{}.tsdpkg", document_token(doc_id))
}

/// The acknowledgement file name of a finished document.
pub fn ack_name(doc_id: &str) -> String {
    format!("doc-{}.ack", document_token(doc_id))
}

/// Writes a finished document as a package (one record: the document as JSON) with
/// the document id as package id, so a second export is the same package.
pub fn write_document(dir: &Path, doc: &Document, device: &str, key: Option<&[u8]>) -> Result<String> {
    let name = document_package_name(&doc.header.id);
    safe_name(&name).map_err(Error::InvalidArgument)?;
    let mut header = Header::new(Kind::FinishedDocuments, device, 1);
    header.package_id = doc.header.id.clone();
    header.device = device.to_string();
    let json = serde_json::to_string(doc).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let mut w = PackageWriter::create(&dir.join(&name), &header, key)?;
    w.write(&json)?;
    w.finish()?;
    Ok(name)
}

/// What a folder sync needs from the journal, which this module does not touch
/// directly.
pub trait JournalSide {
    /// Takes an acknowledged document out of the outbox; `false` if it was not there.
    fn acknowledge(&mut self, doc_id: &str) -> Result<bool>;
    /// Adds task documents (all or none); tasks already known are left as they are.
    fn add_tasks(&mut self, tasks: &[TaskDocument]) -> Result<usize>;
    /// A completed document, to be written out.
    fn document(&mut self, doc_id: &str) -> Result<Document>;
    /// Applies a versioned configuration (validated; `false` when not newer).
    fn apply_config(&mut self, json: &str, version: i64) -> Result<bool>;
}

/// The terminal's side of a folder sync.
pub struct Terminal<'a> {
    /// Exchange root.
    pub root: &'a Path,
    /// Shared key: signs outgoing packages and verifies incoming ones.
    pub key: Option<&'a [u8]>,
    /// Refuse unsigned incoming packages.
    pub require_signed: bool,
    /// Device name written into outgoing packages.
    pub device: &'a str,
}

impl Terminal<'_> {
    /// Takes acknowledgements, writes the rest of the outbox (document ids) to
    /// `from-device/`, then applies incoming packages.
    pub fn sync(
        &self,
        catalog: &mut Connection,
        outbox: &[String],
        journal: &mut dyn JournalSide,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<FolderReport> {
        prepare(self.root)?;
        let mut report = FolderReport::default();
        let to = self.root.join(TO_DEVICE);
        let from = self.root.join(FROM_DEVICE);
        // 1. Acknowledgements first: a document the PC side has taken is not
        // written out again.
        let mut waiting: Vec<&String> = outbox.iter().collect();
        let names_now = names(&to)?;
        for name in names_now.iter().filter(|n| n.ends_with(".ack") && safe_name(n).is_ok()) {
            if let Some(pos) = waiting.iter().position(|id| ack_name(id) == *name) {
                let id = waiting.remove(pos);
                if journal.acknowledge(id)? {
                    report.acknowledged.push(id.clone());
                }
            }
            // An ack for a document no longer waiting (acknowledged before) is done.
            move_to(self.root, &to.join(name), ARCHIVE, name)?;
        }
        // 2. Push: one package per completed document not yet in from-device/.
        // A document is read from the journal only when it still has to be written.
        for id in &waiting {
            if !from.join(document_package_name(id)).exists() {
                write_document(&from, &journal.document(id)?, self.device, self.key)?;
                report.pushed.push((*id).clone());
            }
        }
        // 3. Packages: configuration first (it decides which document types tasks
        // may have and where catalogs live), then catalogs, then tasks — the order
        // an HTTP sync takes too — each kind in name order.
        let mut names_now = names_now;
        names_now.sort_by_key(|n| (apply_rank(n), n.clone()));
        for name in names_now {
            if name.ends_with(".ack") && safe_name(&name).is_ok() {
                continue;
            }
            if let Err(why) = safe_name(&name) {
                reject(self.root, &mut report, &name, "bad_name", why)?;
                continue;
            }
            let path = to.join(&name);
            if !name.ends_with(".tsdpkg") {
                reject(
                    self.root,
                    &mut report,
                    &name,
                    "not_a_package",
                    "only *.tsdpkg packages and doc-ID.ack files belong here".into(),
                )?;
                continue;
            }
            let reader = match PackageReader::open(&path, self.key, self.require_signed) {
                Ok(r) => r,
                Err(PackageError::Refused { reason, .. }) => {
                    reject(self.root, &mut report, &name, reason.code(), reason.to_string())?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let result = match reader.header().kind {
                Kind::Configuration => super::config::read_package(&reader)
                    .and_then(|(json, version)| journal.apply_config(&json, version))
                    .map(|applied| {
                        if applied {
                            Applied::Applied(Default::default())
                        } else {
                            Applied::AlreadyApplied
                        }
                    }),
                Kind::TaskDocuments => apply_tasks(&reader, journal).map(|added| {
                    if added > 0 {
                        Applied::Applied(Default::default())
                    } else {
                        Applied::AlreadyApplied
                    }
                }),
                // Catalog versions never go back, whichever path (cable or Wi-Fi)
                // brought a newer one first.
                _ if older_than_catalog(catalog, reader.header())? => Ok(Applied::AlreadyApplied),
                _ => apply_durably(catalog, &reader, progress),
            };
            match result {
                Ok(Applied::Applied(_)) => report.applied.push(name.clone()),
                Ok(Applied::AlreadyApplied) => report.skipped.push(name.clone()),
                Err(Error::Package(PackageError::Refused { reason, .. })) => {
                    reject(self.root, &mut report, &name, reason.code(), reason.to_string())?;
                    continue;
                }
                Err(e @ (Error::Import { .. } | Error::UnknownDocumentType(_) | Error::InvalidArgument(_))) => {
                    reject(self.root, &mut report, &name, "bad_row", e.to_string())?;
                    continue;
                }
                Err(e @ Error::Config(_)) => {
                    reject(self.root, &mut report, &name, "bad_config", e.to_string())?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            move_to(self.root, &path, ARCHIVE, &name)?;
        }
        report.waiting = waiting.len();
        Ok(report)
    }
}

/// Where a file in `to-device/` comes in the apply order, by the names the PC side
/// gives: `config-…` 0, `tasks-…` 2, anything else (catalogs, acks) 1.
fn apply_rank(name: &str) -> u8 {
    if name.starts_with("config-") {
        0
    } else if name.starts_with("tasks-") {
        2
    } else {
        1
    }
}

/// Applies a catalog package with its commit made durable before the package is
/// archived. The catalog runs `synchronous=NORMAL` (a power cut may roll it back
/// a version), which is harmless while the package is still in `to-device/` to be
/// applied again — not once it is moved away: a cut then left the terminal on the
/// version before for good, every later delta refused (found by
/// cli/tests/power.rs, 500 cuts).
fn apply_durably(catalog: &mut Connection, reader: &PackageReader, progress: &mut dyn FnMut(u64) -> bool) -> Result<Applied> {
    catalog
        .pragma_update(None, "synchronous", "FULL")
        .step("making the catalog's commit durable")?;
    let applied = apply(catalog, reader, progress);
    let restored = catalog
        .pragma_update(None, "synchronous", "NORMAL")
        .step("restoring the catalog's sync mode");
    let applied = applied?;
    restored?;
    Ok(applied)
}

/// A catalog package that would not move the catalog forward: a snapshot or delta
/// up to a version the terminal already holds.
fn older_than_catalog(catalog: &Connection, header: &Header) -> Result<bool> {
    if !matches!(header.kind, Kind::CatalogSnapshot | Kind::CatalogDelta) {
        return Ok(false);
    }
    let have = crate::catalog::synced_version(catalog)?;
    Ok(have > 0 && header.to_version <= have)
}

/// Reads a task-documents package: each record is one task as JSON (the line the
/// accounting system writes for `tsd doc import-tasks`).
fn apply_tasks(reader: &PackageReader, journal: &mut dyn JournalSide) -> Result<usize> {
    let mut tasks = Vec::new();
    for (i, record) in reader.records::<String>()?.enumerate() {
        let record = record?;
        let task: TaskDocument = serde_json::from_str(&record).map_err(|e| Error::Import {
            path: reader.path().to_path_buf(),
            line: i as u64 + 1,
            reason: format!("bad task JSON: {e}"),
        })?;
        tasks.push(task);
    }
    journal.add_tasks(&tasks)
}
