//! The PC side of the exchange folder: what the accounting system's PC puts into
//! `to-device/` (catalog snapshots and deltas, tasks, configuration) and takes from
//! `from-device/` (finished documents, handed off as JSON Lines and acknowledged).
//! The terminal side is [`super::folder`]; both follow its layout and naming. A PC
//! that carries a server-mode terminal's folder to a server is [`super::bridge`].

use super::folder::{ack_name, names, prepare, refuse, Rejected, ARCHIVE, FROM_DEVICE, LOGS, STATUS, TO_DEVICE};
use crate::catalog::package::normalize_to_temp;
use crate::documents::TaskDocument;
use crate::error::{Error, Result};
use crate::fsx::{io, move_to, now_millis, safe_name, write_atomically};
use crate::package::{Header, Kind, PackageError, PackageReader, PackageWriter};
use serde::Serialize;
use std::path::Path;

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
    // Both exports as canonical JSON Lines (any encoding and header names); an
    // export of changes only is refused.
    let (base, _) = normalize_to_temp(base, format, &Default::default(), root)?;
    let (input_canonical, summary) = normalize_to_temp(input, format, &Default::default(), root)?;
    whole_catalog(&summary, input)?;
    let (input, format) = (&*input_canonical, crate::catalog::Format::Jsonl);
    let now = now_millis();
    let name = format!("catalog-{now:015}-delta.tsdpkg");
    let header = crate::catalog::package::build_delta(
        (&base, format),
        (input, format),
        &root.join(TO_DEVICE).join(&name),
        "tsd exchange",
        from,
        to,
        key,
    )?;
    Ok((name, header))
}

/// A package for the terminals stands for the whole catalog (a snapshot) or the
/// whole change to it (a delta): one made from an export of changes only would
/// delete everything the export does not name.
fn whole_catalog(summary: &crate::catalog::ReadSummary, input: &Path) -> Result<()> {
    if summary.partial {
        return Err(Error::InvalidArgument(format!(
            "{}: this export holds changes only (СодержитТолькоИзменения, or offers without their catalog); export the whole catalog, or publish the changes through tsd-server, which merges them",
            input.display()
        )));
    }
    Ok(())
}

/// Puts a catalog file into `to-device/` as a snapshot package named
/// `catalog-<unix ms, 15 digits>.tsdpkg` (so name order is time order).
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

/// [`put_catalog`] for a file as people export it (encoding, column names,
/// CommerceML: see [`crate::catalog::ReadOptions`]): rewritten as canonical JSON
/// Lines first; also returns the reading's warnings.
pub fn put_catalog_with(
    root: &Path,
    input: &Path,
    format: crate::catalog::Format,
    read: &crate::catalog::ReadOptions,
    version: i64,
    key: Option<&[u8]>,
) -> Result<(String, Header, Vec<String>)> {
    put_catalog_observed(root, input, format, read, version, key, &mut |_| {})
}

/// Where [`put_catalog_observed`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutStep {
    /// Reading and checking the file: rows so far (told every 65,536).
    Reading(u64),
    /// Writing the package.
    Writing,
}

/// [`put_catalog_with`], telling `progress` where it is.
pub fn put_catalog_observed(
    root: &Path,
    input: &Path,
    format: crate::catalog::Format,
    read: &crate::catalog::ReadOptions,
    version: i64,
    key: Option<&[u8]>,
    progress: &mut dyn FnMut(PutStep),
) -> Result<(String, Header, Vec<String>)> {
    prepare(root)?;
    let (canonical, summary) = crate::catalog::package::normalize_to_temp_observed(input, format, read, root, &mut |rows| {
        progress(PutStep::Reading(rows));
        true
    })?;
    whole_catalog(&summary, input)?;
    progress(PutStep::Writing);
    let (name, header) = put_catalog(root, &canonical, crate::catalog::Format::Jsonl, version, key)?;
    Ok((name, header, summary.warnings))
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
