//! `doctor`: checks that say what is wrong in words, and what to do about it.
//!
//! Each check adds a [`Finding`]; the command prints them as a list (or JSON) and
//! exits non-zero when any failed. The checks shared by `tsd doctor` and
//! `tsd-server doctor` live here: free space, an SQLite file's schema version and
//! integrity.

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::path::Path;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but needs attention soon.
    Warn,
    /// Broken: the program will fail or lose work.
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How it came out.
    pub level: Level,
    /// What was checked (`journal.db`, `free space`, `server`).
    pub check: String,
    /// What was found, in words.
    pub detail: String,
    /// What to do, when something is wrong and the fix is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Every finding of one run.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// In the order checked.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds a finding.
    pub fn add(&mut self, level: Level, check: &str, detail: impl Into<String>, fix: Option<&str>) {
        self.findings.push(Finding {
            level,
            check: check.to_string(),
            detail: detail.into(),
            fix: fix.map(str::to_string),
        });
    }

    /// A check that passed.
    pub fn ok(&mut self, check: &str, detail: impl Into<String>) {
        self.add(Level::Ok, check, detail, None);
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Fail)
    }

    /// The findings as people read them: `ok`/`warn`/`FAIL`, what, detail, and
    /// the fix on the next line; a summary at the end.
    pub fn text(&self) -> String {
        let width = self.findings.iter().map(|f| f.check.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for f in &self.findings {
            let mark = match f.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            out += &format!("{mark}  {:<width$}  {}\n", f.check, f.detail);
            if let Some(fix) = &f.fix {
                out += &format!("      {:<width$}  → {fix}\n", "");
            }
        }
        let count = |l| self.findings.iter().filter(|f| f.level == l).count();
        out += &match (count(Level::Fail), count(Level::Warn)) {
            (0, 0) => "all checks passed".to_string(),
            (0, w) => format!("{w} warning(s), nothing failed"),
            (f, w) => format!("{f} check(s) failed, {w} warning(s)"),
        };
        out
    }
}

/// The data folder exists and this user can write in it (a file is made and
/// removed at once); `missing` and `unwritable` say what to do otherwise. Returns
/// whether it exists.
pub fn data_folder(report: &mut Report, dir: &Path, missing: &str, unwritable: &str) -> bool {
    if !dir.is_dir() {
        report.add(
            Level::Fail,
            "data folder",
            format!("{} does not exist", dir.display()),
            Some(missing),
        );
        return false;
    }
    match tempfile::tempfile_in(dir) {
        Ok(_) => report.ok("data folder", format!("{} is writable", dir.display())),
        Err(e) => report.add(
            Level::Fail,
            "data folder",
            format!("{} cannot be written: {e}", dir.display()),
            Some(unwritable),
        ),
    }
    true
}

/// A certificate's expiry (the leaf's DER): a failure when expired, a warning
/// within 30 days (`renew` says what renewing takes), else ok with `detail`
/// appended.
pub fn certificate_expiry(report: &mut Report, check: &str, der: &[u8], detail: &str, renew: &str) {
    const WARN_DAYS: i64 = 30;
    let c = match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => c,
        Err(e) => {
            report.add(Level::Fail, check, format!("not an X.509 certificate: {e}"), None);
            return;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let left = c.validity().not_after.timestamp() - now;
    let days = left.div_euclid(86_400);
    let text = format!("{}, valid until {}", c.subject(), c.validity().not_after);
    if left < 0 {
        report.add(Level::Fail, check, format!("{text}: expired"), Some(renew));
    } else if days < WARN_DAYS {
        report.add(Level::Warn, check, format!("{text}: {days} day(s) left"), Some(renew));
    } else {
        report.ok(check, format!("{text} ({days} days left){detail}"));
    }
}

/// Free space on the file system holding `dir`: a warning below `warn_below`
/// bytes, a failure below a tenth of it.
pub fn free_space(report: &mut Report, dir: &Path, warn_below: u64) {
    match fs4::available_space(dir) {
        Ok(free) => {
            let text = format!("{} free on the file system of {}", mib(free), dir.display());
            if free < warn_below / 10 {
                report.add(
                    Level::Fail,
                    "free space",
                    text,
                    Some("free disk space: writes (scans, syncs) will fail when it runs out"),
                );
            } else if free < warn_below {
                report.add(
                    Level::Warn,
                    "free space",
                    text,
                    Some("free disk space soon: an import or a catalog version needs room"),
                );
            } else {
                report.ok("free space", text);
            }
        }
        Err(e) => report.add(Level::Warn, "free space", format!("{}: cannot tell ({e})", dir.display()), None),
    }
}

fn mib(bytes: u64) -> String {
    if bytes >= 10 << 30 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// An SQLite database file: opens read-only (nothing is created or changed),
/// reads its schema version against `supported` and runs SQLite's integrity
/// check. `newer_fix` says what to do when the file is newer than this build.
pub fn sqlite_file(report: &mut Report, path: &Path, supported: i64, newer_fix: &str) {
    let check = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !path.exists() {
        report.add(
            Level::Fail,
            &check,
            format!("{} does not exist", path.display()),
            Some("check the data folder (--db/--data), or create it by running the program once"),
        );
        return;
    }
    let conn = match Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX) {
        Ok(c) => c,
        Err(e) => {
            report.add(
                Level::Fail,
                &check,
                format!("cannot open {}: {e}", path.display()),
                Some("check the file's owner and permissions"),
            );
            return;
        }
    };
    let version: i64 = match conn.query_row("PRAGMA user_version", [], |r| r.get(0)) {
        Ok(v) => v,
        Err(e) => {
            report.add(
                Level::Fail,
                &check,
                format!("{} is not a readable database: {e}", path.display()),
                Some("restore the file from a backup; it was left as it is"),
            );
            return;
        }
    };
    if version > supported {
        report.add(
            Level::Fail,
            &check,
            format!("schema version {version} is newer than this build supports ({supported})"),
            Some(newer_fix),
        );
        return;
    }
    match conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)) {
        Ok(answer) if answer == "ok" => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let pending = if version < supported {
                format!(" (brought to {supported} when next opened)")
            } else {
                String::new()
            };
            report.ok(&check, format!("schema version {version}{pending}, integrity ok, {}", mib(size)));
        }
        Ok(answer) => report.add(
            Level::Fail,
            &check,
            format!("integrity check failed: {answer}"),
            Some("stop the program, copy the data folder aside, and restore the file from a backup"),
        ),
        Err(e) => report.add(
            Level::Fail,
            &check,
            format!("integrity check could not run: {e}"),
            Some("stop the program, copy the data folder aside, and restore the file from a backup"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_file_a_damaged_file_and_a_good_one_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.db");
        let newer = dir.path().join("newer.db");
        let junk = dir.path().join("junk.db");
        for (path, version) in [(&good, 3), (&newer, 9)] {
            let c = Connection::open(path).unwrap();
            c.execute_batch(&format!(
                "CREATE TABLE t (x); INSERT INTO t VALUES (1); PRAGMA user_version={version};"
            ))
            .unwrap();
        }
        std::fs::write(&junk, vec![0x55u8; 8192]).unwrap();
        let mut r = Report::default();
        sqlite_file(&mut r, &good, 3, "update");
        sqlite_file(&mut r, &newer, 3, "update the app");
        sqlite_file(&mut r, &junk, 3, "update");
        sqlite_file(&mut r, &dir.path().join("absent.db"), 3, "update");
        let levels: Vec<Level> = r.findings.iter().map(|f| f.level).collect();
        assert_eq!(levels, [Level::Ok, Level::Fail, Level::Fail, Level::Fail]);
        assert_eq!(r.findings[1].fix.as_deref(), Some("update the app"));
        assert!(r.findings[1].detail.contains("newer"), "{:?}", r.findings[1]);
        assert!(r.failed());
        assert!(r.text().ends_with("3 check(s) failed, 0 warning(s)"), "{}", r.text());
    }

    #[test]
    fn free_space_of_a_real_folder_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::default();
        free_space(&mut r, dir.path(), 1);
        assert_eq!(r.findings[0].level, Level::Ok, "{:?}", r.findings);
        let mut r = Report::default();
        free_space(&mut r, dir.path(), u64::MAX);
        assert_eq!(r.findings[0].level, Level::Fail, "{:?}", r.findings);
    }
}
