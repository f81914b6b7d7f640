//! The USB cable (or an RDP-redirected folder) as the fallback in server mode: a
//! PC bridges a terminal's exchange folder to the sync server, acting with the
//! terminal's own device token — one identity, one outbox, whichever path a
//! document takes.
//!
//! One [`bridge`] run over the PC's copy of the exchange folder:
//! 1. every finished document in `from-device/` is pushed with the idempotency key
//!    the terminal itself would send (`TOKEN@COMPLETED_AT`), so a document that
//!    also goes by Wi-Fi is stored once; on the server's answer its ack goes to
//!    `to-device/` and the package to `archive/`;
//! 2. log bundles in `from-device/` go to the server, then to `logs/`;
//! 3. from the terminal's `status.json` (written by its last folder sync): the
//!    catalog packages after its version, the tasks after its cursor and a newer
//!    configuration are fetched into `to-device/` under names that apply in order.
//!    The terminal skips a catalog package that would not move it forward, so
//!    versions never go back whichever path delivered the newer one first.
//!
//! Every step is idempotent: a run cut anywhere is simply run again.

use super::folder::{self, ARCHIVE, FROM_DEVICE, LOGS, STATUS, TO_DEVICE};
use super::http::{Client, ServerSettings};
use crate::error::{Error, Result};
use crate::fsx::io;
use crate::package::{Kind, PackageError, PackageReader};
use serde::Serialize;
use std::path::Path;

/// What one bridge run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BridgeReport {
    /// Documents the server stored now.
    pub pushed: Vec<String>,
    /// Documents the server had already (sent by Wi-Fi or an earlier run).
    pub already_stored: Vec<String>,
    /// Log bundles sent.
    pub logs: Vec<String>,
    /// Packages fetched into `to-device/`.
    pub fetched: Vec<String>,
    /// Files left in `from-device/` with the reason: not the terminal's, or a
    /// document the server refused (409) — no ack is written for it.
    pub refused: Vec<(String, String)>,
    /// The terminal's state as its last folder sync wrote it, if any.
    pub terminal: Option<crate::protocol::DeviceStatus>,
}

/// Runs one bridge over the exchange folder `root` (see the module docs).
pub fn bridge(root: &Path, settings: &ServerSettings) -> Result<BridgeReport> {
    folder::prepare(root)?;
    let client = Client::new(settings)?;
    client.hello()?;
    let mut report = BridgeReport::default();
    let from = root.join(FROM_DEVICE);
    let mut names: Vec<String> = std::fs::read_dir(&from)
        .map_err(io(&from))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".tsdpkg"))
        .collect();
    names.sort();
    for name in names {
        let path = from.join(&name);
        let reader = match PackageReader::open(&path, None, false) {
            Ok(r) => r,
            Err(PackageError::Refused { reason, .. }) => {
                report.refused.push((name, reason.to_string()));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match reader.header().kind {
            Kind::FinishedDocuments => {
                let doc_id = reader.header().package_id.clone();
                let mut body = None;
                for record in reader.records::<String>()? {
                    body = Some(record?);
                }
                let doc: serde_json::Value = body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .filter(|d: &serde_json::Value| d["id"].as_str() == Some(doc_id.as_str()))
                    .ok_or_else(|| Error::InvalidArgument(format!("{name}: the package holds no readable document")))?;
                drop(reader);
                // The key the terminal itself sends for this revision.
                let key = super::engine::idempotency_key_of(&doc_id, doc["completed_at"].as_i64());
                let answer = match client.push(&path, &key) {
                    Ok(answer) => answer,
                    // Not delivered: no ack for the terminal, the package stays.
                    Err(Error::Server { status: 409, message, .. }) => {
                        report.refused.push((name, format!("the server did not store it: {message}")));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if answer.doc_id != doc_id {
                    return Err(Error::Server {
                        step: "sending a document",
                        status: 200,
                        message: format!("acknowledged {:?} for {doc_id:?}", answer.doc_id),
                    });
                }
                crate::fsx::write_atomically(&root.join(TO_DEVICE), &folder::ack_name(&doc_id), b"")?;
                crate::fsx::move_to(root, &path, ARCHIVE, &name)?;
                if answer.stored {
                    report.pushed.push(doc_id);
                } else {
                    report.already_stored.push(doc_id);
                }
            }
            Kind::LogBundle => {
                drop(reader);
                client.send_logs(&path)?;
                crate::fsx::move_to(root, &path, LOGS, &name)?;
                report.logs.push(name);
            }
            other => report
                .refused
                .push((name, format!("a {other:?} package does not come from a terminal"))),
        }
    }
    let status = from.join(STATUS);
    let Ok(text) = std::fs::read_to_string(&status) else {
        // No folder sync has run on the terminal yet: nothing to ask for.
        return Ok(report);
    };
    let state: crate::protocol::DeviceStatus = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidArgument(format!("{}: not the terminal's status JSON: {e}", status.display())))?;
    fetch(&client, root, &state, &mut report)?;
    // The server sees the terminal's state as if it had reported it itself.
    let reported = crate::protocol::DeviceStatus {
        via: Some("usb".into()),
        ..state.clone()
    };
    if let Err(e) = client.status(&reported) {
        log::warn!("status report failed: {e}");
    }
    log::info!(
        "bridge: pushed {}, fetched {} (terminal at catalog v{}, tasks {}, config v{})",
        report.pushed.len(),
        report.fetched.len(),
        state.catalog_version,
        state.tasks_cursor.unwrap_or(0),
        state.config_version
    );
    report.terminal = Some(state);
    Ok(report)
}

/// The newest published app version → `update/` (file, then manifest), once: the
/// shell compares its own version code and verifies the file before installing.
fn fetch_app(client: &Client, root: &Path, incoming: &Path, report: &mut BridgeReport) -> Result<()> {
    use crate::update::{verify, AppUpdate, FOLDER, MANIFEST};
    let Some(update) = client.app_update(0)? else { return Ok(()) };
    let dir = root.join(FOLDER);
    let staged: Option<AppUpdate> = std::fs::read_to_string(dir.join(MANIFEST))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if staged.is_some_and(|s| s.version_code >= update.version_code) {
        return Ok(());
    }
    crate::fsx::safe_name(&update.file).map_err(Error::InvalidArgument)?;
    let dest = incoming.join(&update.file);
    client.download_from("/v1/device/app", &update.file, update.size, &dest, &mut |_, _| true)?;
    if let Err(e) = verify(&update, &dest) {
        let _ = std::fs::remove_file(&dest);
        return Err(e);
    }
    crate::fsx::create_dir_durably(&dir)?;
    std::fs::rename(&dest, dir.join(&update.file)).map_err(io(&dest))?;
    let manifest = serde_json::to_string_pretty(&update).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    crate::fsx::write_atomically(&dir, MANIFEST, manifest.as_bytes())?;
    report.fetched.push(format!("{FOLDER}/{}", update.file));
    Ok(())
}

/// Catalog packages, tasks and configuration the terminal lacks → `to-device/`.
fn fetch(client: &Client, root: &Path, state: &crate::protocol::DeviceStatus, report: &mut BridgeReport) -> Result<()> {
    let to = root.join(TO_DEVICE);
    let incoming = root.join("incoming");
    crate::fsx::create_dir_durably(&incoming)?;
    let offer = client.offer(state.catalog_version)?;
    for p in &offer.packages {
        // The names come from the server: nothing may leave the exchange folder.
        let unsafe_name = |what: &str, why: String| Error::Server {
            step: "asking for catalog changes",
            status: 200,
            message: format!("offered {what} {:?}: {why}", p.name),
        };
        crate::fsx::safe_name(&p.name).map_err(|why| unsafe_name("package", why))?;
        // Names sort in apply order; the same package is the same name, so a second
        // run does not fetch what waits in to-device/ already.
        let name = format!("catalog-{:015}-{}.tsdpkg", p.to, p.kind);
        crate::fsx::safe_name(&name).map_err(|why| unsafe_name("package kind", why))?;
        if to.join(&name).exists() {
            continue;
        }
        let dest = incoming.join(&p.name);
        client.download(&p.name, p.size as u64, &dest, &mut |_, _| true)?;
        if let Err(e) = PackageReader::open(&dest, None, false) {
            let _ = std::fs::remove_file(&dest);
            return Err(e.into());
        }
        std::fs::rename(&dest, to.join(&name)).map_err(io(&dest))?;
        report.fetched.push(name);
    }
    let tasks = incoming.join("tasks.tsdpkg");
    if client.tasks(state.tasks_cursor.unwrap_or(0), &tasks)?.is_some() {
        let to_version = PackageReader::open(&tasks, None, false)?.header().to_version;
        let name = format!("tasks-{to_version:015}.tsdpkg");
        std::fs::rename(&tasks, to.join(&name)).map_err(io(&tasks))?;
        report.fetched.push(name);
    }
    fetch_app(client, root, &incoming, report)?;
    let config = incoming.join("config.tsdpkg");
    if client.config(state.config_version, &config)?.is_some() {
        let version = PackageReader::open(&config, None, false)?.header().to_version;
        let name = format!("config-v{version:012}.tsdpkg");
        std::fs::rename(&config, to.join(&name)).map_err(io(&config))?;
        report.fetched.push(name);
    }
    Ok(())
}
