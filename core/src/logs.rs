//! The runtime's own log: size-bounded rotating files in the data folder
//! (`logs/tsd.log`, then `tsd.log.1` … `tsd.log.3`, 1 MiB each), besides whatever
//! the host logs to (logcat on Android). Every line is redacted before it is
//! written — device tokens, integration keys, `Bearer` credentials and the crypto
//! tails of marking codes never reach a file — and [`Runtime::collect_logs`]
//! bundles the files (a zstd package with a SHA-256 trailer) with the device name
//! and the app, runtime and configuration versions, for the server
//! (`POST /v1/device/logs`) or the exchange folder's `from-device/`.

use crate::error::{Error, Result};
use crate::package::{Header, Kind, PackageWriter};
use crate::Runtime;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Bytes per log file before it rotates.
pub const MAX_FILE: u64 = 1 << 20;
/// Files kept: `tsd.log` and this many older ones.
pub const KEEP: usize = 3;

struct FileLog {
    dir: PathBuf,
    file: std::fs::File,
    size: u64,
}

impl FileLog {
    fn open(dir: &Path) -> std::io::Result<FileLog> {
        std::fs::create_dir_all(dir)?;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("tsd.log"))?;
        let size = file.metadata()?.len();
        Ok(FileLog {
            dir: dir.to_path_buf(),
            file,
            size,
        })
    }

    fn write(&mut self, line: &str) -> std::io::Result<()> {
        if self.size + line.len() as u64 > MAX_FILE && self.size > 0 {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// tsd.log.2 → .3, .1 → .2, tsd.log → .1 (the oldest falls off), new tsd.log.
    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |i: usize| self.dir.join(if i == 0 { "tsd.log".to_string() } else { format!("tsd.log.{i}") });
        for i in (0..KEEP).rev() {
            let from = name(i);
            if from.exists() {
                std::fs::rename(&from, name(i + 1))?;
            }
        }
        self.file = std::fs::OpenOptions::new().create(true).append(true).open(name(0))?;
        self.size = 0;
        Ok(())
    }
}

struct Logger {
    file: Mutex<Option<FileLog>>,
    host: Option<Box<dyn log::Log>>,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info || self.host.as_ref().is_some_and(|h| h.enabled(metadata))
    }

    fn log(&self, record: &log::Record<'_>) {
        if let Some(host) = &self.host {
            // logcat gets the redacted text too.
            let text = record.args().to_string();
            let clean = redact(&text);
            host.log(
                &log::Record::builder()
                    .args(format_args!("{clean}"))
                    .level(record.level())
                    .target(record.target())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            );
        }
        if record.level() > log::Level::Info {
            return;
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = file.as_mut() {
            let line = format!(
                "{} {} {}: {}\n",
                crate::runtime::now_ms(),
                record.level(),
                record.target(),
                record.args()
            );
            // A log that cannot be written must not fail the operation logging it.
            let _ = f.write(&redact(&line));
        }
    }

    fn flush(&self) {
        if let Some(f) = self.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let _ = f.file.flush();
        }
    }
}

static LOGGER: OnceLock<&'static Logger> = OnceLock::new();

/// Installs the runtime's logger as the process's `log` backend, passing every
/// record on to `host` too (logcat on Android). Call once, before any runtime
/// opens; `false` when another logger was installed first (then the runtime writes
/// no file log).
pub fn init(host: Option<Box<dyn log::Log>>) -> bool {
    let mut installed = false;
    LOGGER.get_or_init(|| {
        let logger: &'static Logger = Box::leak(Box::new(Logger {
            file: Mutex::new(None),
            host,
        }));
        installed = log::set_logger(logger).is_ok();
        if installed {
            log::set_max_level(log::LevelFilter::Info);
        }
        logger
    });
    installed
}

/// Points the file log at `dir/logs` (the folder of the runtime opened last).
pub(crate) fn attach(dir: &Path) {
    init(None);
    if let Some(logger) = LOGGER.get() {
        match FileLog::open(&dir.join("logs")) {
            Ok(f) => *logger.file.lock().unwrap_or_else(|p| p.into_inner()) = Some(f),
            Err(e) => eprintln!("tsd: no file log in {}: {e}", dir.display()),
        }
    }
}

/// Removes secrets from a log line: device tokens and integration keys
/// (`tsd_dev_…`, `tsd_int_…`), `Bearer` credentials, and marking-code crypto tails
/// (the values of GS1 AIs 91, 92 and 93 after a GS, or after `(91)`…`(93)`).
pub fn redact(line: &str) -> Cow<'_, str> {
    // GS as the character, and as `{:?}` writes it (a message that quoted a scan).
    let secret = [
        "tsd_dev_",
        "tsd_int_",
        "Bearer ",
        "\u{1d}91",
        "\u{1d}92",
        "\u{1d}93",
        "(91)",
        "(92)",
        "(93)",
        "\\u{1d}91",
        "\\u{1d}92",
        "\\u{1d}93",
    ];
    if !secret.iter().any(|s| line.contains(s)) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some((at, marker)) = secret.iter().filter_map(|m| rest.find(m).map(|i| (i, *m))).min() {
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        // The secret runs to the next separator: whitespace, quote or GS for
        // tokens; GS, `(` or a quote for a crypto tail.
        let tail = marker.starts_with('\u{1d}') || marker.starts_with('(') || marker.starts_with('\\');
        let end = rest
            .find(|c: char| {
                c == '\u{1d}'
                    || c == '"'
                    || c == '\''
                    || if tail {
                        c == '(' || c == '\\'
                    } else {
                        c.is_whitespace() || c == ','
                    }
            })
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str("***");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The first record of a log bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// The device (data folder) name.
    pub device: String,
    /// The shell app's version, as the shell told it.
    pub app_version: String,
    /// This runtime's version.
    pub runtime_version: String,
    /// The configuration version in force.
    pub config_version: i64,
    /// The catalog version the terminal holds.
    pub catalog_version: i64,
    /// Unix ms.
    pub created_at: i64,
    /// The files that follow, oldest first.
    pub files: Vec<String>,
}

/// One log file in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// File name.
    pub name: String,
    /// Its text (redacted again when bundled).
    pub text: String,
}

impl Runtime {
    /// Bundles the log files into `dest_dir/logs-DEVICE-TIME.tsdpkg` (kind 6: the
    /// [`BundleInfo`] as JSON, then one [`BundleFile`] JSON record per file, oldest
    /// first). Returns the file.
    pub fn collect_logs(&self, dest_dir: &Path, app_version: &str) -> Result<PathBuf> {
        log::logger().flush();
        let dir = self.dir().join("logs");
        let mut files: Vec<String> = (0..=KEEP)
            .rev()
            .map(|i| if i == 0 { "tsd.log".to_string() } else { format!("tsd.log.{i}") })
            .filter(|n| dir.join(n).exists())
            .collect();
        files.dedup();
        let device = self.device_name();
        let now = crate::runtime::now_ms();
        let info = BundleInfo {
            device: device.clone(),
            app_version: app_version.to_string(),
            runtime_version: env!("CARGO_PKG_VERSION").to_string(),
            config_version: self.config_version()?,
            catalog_version: self.catalog_stats()?.synced_version,
            created_at: now,
            files: files.clone(),
        };
        let token = crate::sync::folder::document_token(&device);
        let name = format!("logs-{token}-{now}.tsdpkg");
        let mut header = Header::new(
            Kind::LogBundle,
            &format!("tsd-runtime {}", env!("CARGO_PKG_VERSION")),
            1 + files.len() as u64,
        );
        header.package_id = format!("logs-{token}-{now}");
        header.device = device;
        std::fs::create_dir_all(dest_dir).map_err(|source| Error::Io {
            path: dest_dir.to_path_buf(),
            source,
        })?;
        let out = dest_dir.join(&name);
        let mut w = PackageWriter::create(&out, &header, None)?;
        let json = |v: &dyn erased_json::ToJson| v.to_json();
        w.write(&json(&info))?;
        for n in &files {
            let path = dir.join(n);
            let bytes = std::fs::read(&path).map_err(|source| Error::Io { path, source })?;
            let text = String::from_utf8_lossy(&bytes);
            let file = BundleFile {
                name: n.clone(),
                text: redact(&text).into_owned(),
            };
            w.write(&json(&file))?;
        }
        w.finish()?;
        Ok(out)
    }
}

impl Runtime {
    /// Collects the logs and sends them to the kept server; returns the server's id
    /// of the bundle. Nothing is kept on the terminal afterwards but the logs.
    pub fn send_logs(&self, app_version: &str) -> Result<i64> {
        let settings = self
            .server()
            .ok_or_else(|| Error::InvalidArgument("no server is set up to send logs to".into()))?;
        let dir = self.dir().join("outgoing");
        let bundle = self.collect_logs(&dir, app_version)?;
        let sent = crate::sync::http::Client::new(&settings).and_then(|c| c.send_logs(&bundle));
        let _ = std::fs::remove_file(&bundle);
        let id = sent?;
        log::info!("logs sent to the server as bundle {id}");
        Ok(id)
    }

    /// Collects the logs into the exchange folder's `from-device/`, where the PC
    /// side's `tsd exchange collect` picks them up into `logs/`.
    pub fn logs_to_folder(&self, root: &Path, app_version: &str) -> Result<PathBuf> {
        self.collect_logs(&root.join(crate::sync::folder::FROM_DEVICE), app_version)
    }
}

mod erased_json {
    /// JSON text of a bundle record (plain structs of strings and numbers, which
    /// serde_json always encodes).
    pub trait ToJson {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> ToJson for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_a_line() {
        let token = "tsd_dev_0123456789abcdef0123456789abcdef";
        let line = format!(
            "sync with Bearer {token} failed; scanned \"0104601234567893215Abc12\u{1d}91EE07\u{1d}92dGhpcyBpcyBhIHRlc3Q=\" and (01)04601234567893(21)X(93)Ab1C, key tsd_int_ff00"
        );
        let clean = redact(&line);
        for secret in [token, "0123456789abcdef", "EE07", "dGhpcyBpcyBhIHRlc3Q=", "Ab1C", "ff00"] {
            assert!(!clean.contains(secret), "{secret} left in {clean}");
        }
        assert!(clean.contains("0104601234567893215Abc12"), "the GTIN and serial stay: {clean}");
        assert!(clean.contains("(21)X"), "{clean}");
        assert_eq!(redact("nothing secret here"), "nothing secret here");
    }

    /// A message that quoted a scan with `{:?}` carries GS as the text `\u{1d}`.
    #[test]
    fn a_debug_quoted_scan_is_redacted_too() {
        let quoted = format!(
            "{:?} names no product",
            "0104601234567893215Abc12\u{1d}91EE07\u{1d}92dGhpcyBpcyBhIHRlc3Q="
        );
        let clean = redact(&quoted);
        for secret in ["EE07", "dGhpcyBpcyBhIHRlc3Q="] {
            assert!(!clean.contains(secret), "{secret} left in {clean}");
        }
        assert!(clean.contains("215Abc12") && clean.ends_with("names no product"), "{clean}");
    }

    #[test]
    fn files_rotate_and_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLog::open(dir.path()).unwrap();
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..(MAX_FILE as usize / 1024) * (KEEP + 3) {
            log.write(&line).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["tsd.log", "tsd.log.1", "tsd.log.2", "tsd.log.3"]);
        for n in &names {
            assert!(std::fs::metadata(dir.path().join(n)).unwrap().len() <= MAX_FILE, "{n}");
        }
    }
}
