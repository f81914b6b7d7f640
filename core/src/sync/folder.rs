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
use crate::error::{Error, Result};
use crate::package::{Header, Kind, PackageError, PackageReader, PackageWriter};
use rusqlite::Connection;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Unix milliseconds, for package names whose order is time order.
fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

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

/// Checks a file name from the exchange folder: one plain component of letters,
/// digits, `.`, `_`, `-`, not starting with a dot. Anything else (a path, `..`, a
/// drive letter, control characters) is refused.
pub fn safe_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "file name {:?} is not allowed: only letters, digits, '.', '_' and '-' are accepted",
            name
        ))
    }
}

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

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies a file to `to` through `to.part` (same extension replaced), fsync and
/// rename: `to` is either absent or whole.
pub fn copy_durably(from: &Path, to: &Path) -> Result<()> {
    let part = to.with_extension("part");
    std::fs::copy(from, &part).map_err(io(from))?;
    std::fs::File::open(&part).and_then(|f| f.sync_all()).map_err(io(&part))?;
    std::fs::rename(&part, to).map_err(io(to))
}

/// Writes `bytes` to `dir/name` through `name.part`, fsync and rename.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let part = dir.join(format!("{name}.part"));
    let target = dir.join(name);
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&part).map_err(io(&part))?;
        f.write_all(bytes).map_err(io(&part))?;
        f.sync_all().map_err(io(&part))?;
    }
    std::fs::rename(&part, &target).map_err(io(&target))?;
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Creates the four sub-folders.
pub fn prepare(root: &Path) -> Result<()> {
    for d in [TO_DEVICE, FROM_DEVICE, ARCHIVE, REJECTED, LOGS] {
        let p = root.join(d);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
    }
    Ok(())
}

/// File names in `dir`, sorted, `*.part` left out.
fn names(dir: &Path) -> Result<Vec<String>> {
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

pub(crate) fn move_to(root: &Path, from: &Path, sub: &str, name: &str) -> Result<PathBuf> {
    let dir = root.join(sub);
    let mut target = dir.join(name);
    // Never overwrite: a second copy of a name gets a numbered sibling.
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    std::fs::rename(from, &target).map_err(io(from))?;
    sync_dir(&dir);
    Ok(target)
}

/// Moves a refused file from `from` into `rejected/` with `NAME.reason.txt` beside it.
fn refuse(root: &Path, from: &Path, name: &str, code: &str, reason: String) -> Result<Rejected> {
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
                _ => apply(catalog, &reader, progress),
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

/// What the PC side collected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// Documents written to the output file (and acknowledged).
    pub documents: Vec<String>,
    /// Files refused (moved to `rejected/`).
    pub rejected: Vec<Rejected>,
    /// Log bundles the terminal left, moved to `logs/` (`tsd logs show` reads them).
    pub logs: Vec<String>,
}

/// The PC side: collects finished documents from `from-device/` into a JSON Lines
/// file (written whole through `.part`), then acknowledges each one with
/// `to-device/doc-ID.ack` and moves its package to `archive/`. A crash before the
/// acknowledgements only means the same documents are collected again.
pub fn collect(root: &Path, out: &Path, key: Option<&[u8]>, require_signed: bool) -> Result<Collected> {
    prepare(root)?;
    let from = root.join(FROM_DEVICE);
    let mut result = Collected::default();
    let mut lines = String::new();
    let mut done = Vec::new();
    for name in names(&from)? {
        if name == STATUS {
            continue;
        }
        let path = from.join(&name);
        let refused = match safe_name(&name) {
            Err(why) => Some(("bad_name".to_string(), why)),
            Ok(()) => match PackageReader::open(&path, key, require_signed) {
                Err(PackageError::Refused { reason, .. }) => Some((reason.code().to_string(), reason.to_string())),
                Err(e) => return Err(e.into()),
                Ok(r) if r.header().kind == Kind::LogBundle => {
                    drop(r);
                    move_to(root, &path, LOGS, &name)?;
                    result.logs.push(name.clone());
                    None
                }
                Ok(r) if r.header().kind != Kind::FinishedDocuments => {
                    Some(("wrong_kind".into(), format!("a {:?} package in from-device/", r.header().kind)))
                }
                Ok(r) => {
                    for record in r.records::<String>()? {
                        lines.push_str(&record?);
                        lines.push('\n');
                    }
                    done.push((name.clone(), r.header().package_id.clone()));
                    None
                }
            },
        };
        if let Some((code, reason)) = refused {
            result.rejected.push(refuse(root, &path, &name, &code, reason)?);
        }
    }
    if done.is_empty() {
        // Nothing to hand over: the hand-off file is left as it is (absent or not).
        return Ok(result);
    }
    // A hand-off file is never overwritten: while it exists, the accounting system
    // has not taken the last one, and those documents would then live only in
    // archive/. Nothing is acknowledged; the next collect after it is taken goes on.
    if out.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} still holds the last hand-off ({} document(s) wait): let the accounting system take it (and remove the file), then collect again — nothing was acknowledged",
            out.display(),
            done.len()
        )));
    }
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a file path", out.display())))?;
    write_atomically(dir, &file_name, lines.as_bytes())?;
    for (name, doc_id) in done {
        write_atomically(&root.join(TO_DEVICE), &ack_name(&doc_id), b"")?;
        move_to(root, &from.join(&name), ARCHIVE, &name)?;
        result.documents.push(doc_id);
    }
    Ok(result)
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

/// Puts task documents (JSON Lines, one task a line) into `to-device/` as a package
/// named `tasks-<unix ms>.tsdpkg`. Every line must be a task with an id.
pub fn put_tasks(root: &Path, input: &Path, key: Option<&[u8]>) -> Result<(String, Header)> {
    prepare(root)?;
    let text = std::fs::read_to_string(input).map_err(io(input))?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::Import {
            path: input.to_path_buf(),
            line: i as u64 + 1,
            reason,
        };
        let task: TaskDocument = serde_json::from_str(line).map_err(|e| bad(format!("bad task JSON: {e}")))?;
        if task.id.trim().is_empty() {
            return Err(bad("a task needs an id".into()));
        }
        records.push(serde_json::to_string(&task).map_err(|e| bad(e.to_string()))?);
    }
    let now = now_millis();
    let name = format!("tasks-{now:015}.tsdpkg");
    let header = Header::new(Kind::TaskDocuments, "tsd exchange", records.len() as u64);
    let mut w = PackageWriter::create(&root.join(TO_DEVICE).join(&name), &header, key)?;
    for r in &records {
        w.write(r)?;
    }
    w.finish()?;
    Ok((
        name,
        Header {
            signed: key.is_some(),
            ..header
        },
    ))
}

/// Puts a catalog delta (what changed from `base` to `input`) into `to-device/` as
/// `catalog-<unix ms>-delta.tsdpkg`.
pub fn put_delta(
    root: &Path,
    base: &Path,
    input: &Path,
    format: crate::catalog::Format,
    from: i64,
    to: i64,
    key: Option<&[u8]>,
) -> Result<(String, Header)> {
    prepare(root)?;
    let now = now_millis();
    let name = format!("catalog-{now:015}-delta.tsdpkg");
    let header = crate::catalog::package::build_delta(
        (base, format),
        (input, format),
        &root.join(TO_DEVICE).join(&name),
        "tsd exchange",
        from,
        to,
        key,
    )?;
    Ok((name, header))
}

/// Puts a catalog file into `to-device/` as a snapshot package named
/// `catalog-YYYYMMDDTHHMMSSmmm.tsdpkg` (so name order is time order).
pub fn put_catalog(
    root: &Path,
    input: &Path,
    format: crate::catalog::Format,
    version: i64,
    key: Option<&[u8]>,
) -> Result<(String, Header)> {
    prepare(root)?;
    let now = now_millis();
    let name = format!("catalog-{now:015}.tsdpkg");
    let header = crate::catalog::package::build_snapshot(input, format, &root.join(TO_DEVICE).join(&name), "tsd exchange", version, key)?;
    Ok((name, header))
}

/// Puts a configuration (JSON, validated) into `to-device/` as
/// `config-v<VERSION>.tsdpkg`. Versions must grow: the terminal ignores a version
/// not newer than the one in force.
pub fn put_config(root: &Path, input: &Path, version: i64, key: Option<&[u8]>) -> Result<(String, Header)> {
    prepare(root)?;
    let json = std::fs::read_to_string(input).map_err(io(input))?;
    let name = format!("config-v{version:012}.tsdpkg");
    let header = super::config::write_package(&root.join(TO_DEVICE).join(&name), &json, version, "tsd exchange", key)?;
    Ok((name, header))
}
