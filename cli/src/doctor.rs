//! `tsd doctor`: what is wrong with this data folder and the server it keeps, in
//! words, with what to do. A missing or damaged database is reported, never
//! created or touched; the runtime is opened (as any command opens it) only once
//! both files checked out, to reach the server it keeps.

use std::path::Path;
use tsd_core::store::Db;
use tsd_core::sync::http::Client;
use tsd_core::Runtime;
use tsd_term::doctor::{certificate_expiry, data_folder, free_space, sqlite_file, Level, Report};

/// Below this much free space a terminal's next catalog version may not fit.
const LOW_SPACE: u64 = 256 << 20;
/// A clock this far off the server's makes scan times and setup codes lie.
const SKEW_WARN_MS: i64 = 60_000;

/// Runs every check on the data folder `dir`.
pub fn check(dir: &Path) -> Report {
    let mut r = Report::default();
    if !data_folder(
        &mut r,
        dir,
        "pass --db DIR (or set TSD_DB) to the folder holding catalog.db and journal.db",
        "give this user write access to the folder (scans could not be stored)",
    ) {
        return r;
    }
    for db in [Db::Catalog, Db::Journal] {
        sqlite_file(
            &mut r,
            &dir.join(db.file_name()),
            db.migrations().len() as i64,
            "update tsd: a newer version wrote this data (or use that version on it)",
        );
    }
    free_space(&mut r, dir, LOW_SPACE);
    if !r.failed() {
        server(&mut r, dir);
    }
    r
}

/// The server `tsd server set` kept: reachable, speaking our protocol, taking the
/// token, and its clock against ours.
fn server(r: &mut Report, dir: &Path) {
    let rt = match Runtime::open(dir) {
        Ok(rt) => rt,
        Err(e) => {
            r.add(Level::Fail, "runtime", format!("does not open: {e}"), e.next_step());
            return;
        }
    };
    let waiting = rt.sync_status().map(|s| s.waiting).unwrap_or(0);
    let Some(settings) = rt.server() else {
        r.ok("server", "none kept (syncs go through an exchange folder)");
        return;
    };
    let mut settings = settings;
    settings.timeout = settings.timeout.min(std::time::Duration::from_secs(10));
    let client = match Client::new(&settings) {
        Ok(c) => c,
        Err(e) => {
            r.add(Level::Fail, "server", format!("{}: {e}", settings.url), e.next_step());
            return;
        }
    };
    let tls = if settings.url.starts_with("https://") {
        if settings.pin_sha256.is_some() {
            ", certificate matches the pinned fingerprint"
        } else {
            ", certificate verified"
        }
    } else {
        ", plain HTTP (no TLS)"
    };
    let probe = match client.probe() {
        Ok(p) => p,
        Err(e) => {
            let waiting = if waiting > 0 {
                format!("; {waiting} document(s) wait to be sent")
            } else {
                String::new()
            };
            r.add(Level::Fail, "server", format!("{}: {e}{waiting}", settings.url), e.next_step());
            return;
        }
    };
    r.ok(
        "server",
        format!(
            "{} answers ({}, {} ms){tls}",
            settings.url,
            probe.hello.server,
            probe.round_trip.as_millis()
        ),
    );
    if settings.url.starts_with("https://") {
        match tsd_core::sync::tls::peer_certificate(&settings) {
            Ok(der) => certificate_expiry(
                r,
                "certificate",
                &der,
                "",
                "the server's certificate must be renewed: tell its admin (terminals refuse an expired one)",
            ),
            Err(e) => r.add(Level::Fail, "certificate", e.to_string(), e.next_step()),
        }
    }
    match client.offer(rt.catalog_stats().map(|s| s.synced_version).unwrap_or(0)) {
        Ok(_) => r.ok("token", "the server knows this terminal"),
        Err(e) => r.add(Level::Fail, "token", e.to_string(), e.next_step()),
    }
    if let Some(server_ms) = probe.server_time_ms {
        // The Date header has whole seconds: compare with the middle of the request.
        let ours = crate::now_ms() - probe.round_trip.as_millis() as i64 / 2;
        let skew = ours - server_ms;
        let text = format!(
            "this clock is {:.0} s {} the server's",
            skew.abs() as f64 / 1000.0,
            if skew >= 0 { "ahead of" } else { "behind" }
        );
        if skew.abs() > SKEW_WARN_MS {
            r.add(
                Level::Warn,
                "clock",
                text,
                Some("set the date and time (automatic time): scan times and setup codes' expiry depend on it"),
            );
        } else {
            r.ok("clock", text);
        }
    }
}
