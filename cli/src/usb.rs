//! `tsd exchange usb`: moves exchange-folder files between this PC and a terminal
//! on a USB cable with `adb` (the `ADB` environment variable names another
//! binary), and in server mode bridges them to the server in between.
//!
//! One run over the PC's folder DIR and the terminal app's exchange root PATH:
//! 1. pull: every file in PATH/from-device/ the PC does not have yet → DIR/from-device/
//!    (as NAME.part, then renamed); the terminal's `status.json` every time;
//! 2. with `--server`: [`tsd_core::sync::bridge`] — documents and logs to the
//!    server (acks into DIR/to-device/), catalog/tasks/configuration from it;
//! 3. push: every file in DIR/to-device/ → PATH/to-device/ (as NAME.part, renamed on
//!    the device), then moved to DIR/sent/;
//! 4. clean: a document whose ack was pushed is removed from PATH/from-device/.
//!
//! Re-running is harmless: packages apply once, documents are stored once.

use serde::Serialize;
use std::path::Path;
use std::process::Command;
use tsd_core::fsx::safe_name;
use tsd_core::sync::bridge::BridgeReport;
use tsd_core::sync::folder::{self, FROM_DEVICE, STATUS, TO_DEVICE};
use tsd_core::sync::ServerSettings;
use tsd_core::Error;

/// The default exchange root of the Android app.
pub const REMOTE: &str = "/sdcard/Android/data/ru.tsd.app/files/exchange";

/// What one run moved.
#[derive(Debug, Default, Serialize)]
pub struct UsbReport {
    /// Files pulled from the terminal.
    pub pulled: Vec<String>,
    /// Files pushed to the terminal.
    pub pushed: Vec<String>,
    /// Acknowledged documents removed from the terminal's from-device/.
    pub cleaned: Vec<String>,
    /// The bridge run, in server mode.
    pub bridge: Option<BridgeReport>,
}

struct Adb {
    bin: String,
    serial: String,
}

impl Adb {
    fn run(&self, args: &[&str]) -> Result<String, Error> {
        let out = Command::new(&self.bin)
            .arg("-s")
            .arg(&self.serial)
            .args(args)
            .output()
            .map_err(|e| {
                Error::InvalidArgument(format!(
                    "cannot run {} ({e}); install Android platform-tools and put adb on PATH or beside tsd, or set ADB",
                    self.bin
                ))
            })?;
        if !out.status.success() {
            return Err(Error::InvalidArgument(format!(
                "adb -s {} {}: {}",
                self.serial,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn exists(&self, path: &str) -> bool {
        self.run(&["shell", "ls", path]).is_ok()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// An app update staged in DIR/update/ → PATH/update/, once per version: the file
/// first, the manifest last (the terminal trusts neither before verifying).
fn push_update(adb: &Adb, dir: &Path, remote: &str, sent: &Path, report: &mut UsbReport) -> Result<(), Error> {
    use tsd_core::update::{AppUpdate, FOLDER, MANIFEST};
    let local = dir.join(FOLDER);
    let Ok(text) = std::fs::read_to_string(local.join(MANIFEST)) else {
        return Ok(());
    };
    let update: AppUpdate = serde_json::from_str(&text).map_err(|e| Error::InvalidArgument(format!("{FOLDER}/{MANIFEST}: {e}")))?;
    safe_name(&update.file).map_err(Error::InvalidArgument)?;
    let marker = sent.join(format!("update-{}.pushed", update.version_code));
    if marker.exists() {
        return Ok(());
    }
    let r_update = format!("{remote}/{FOLDER}");
    adb.run(&["shell", "mkdir", "-p", &r_update])?;
    for name in [update.file.as_str(), MANIFEST] {
        let part = format!("{r_update}/{name}.part");
        adb.run(&["push", &s(&local.join(name)), &part])?;
        adb.run(&["shell", "mv", &part, &format!("{r_update}/{name}")])?;
    }
    std::fs::write(&marker, b"").map_err(io(&marker))?;
    report.pushed.push(format!("{FOLDER}/{}", update.file));
    Ok(())
}

/// The `adb` to run: the `ADB` environment variable; else `adb` (`adb.exe` on
/// Windows) beside this program, as people unpack platform-tools next to
/// `tsd.exe`; else the one on PATH.
fn adb_binary() -> String {
    if let Ok(bin) = std::env::var("ADB") {
        return bin;
    }
    let name = if cfg!(windows) { "adb.exe" } else { "adb" };
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|beside| beside.is_file())
        .map(|beside| beside.display().to_string())
        .unwrap_or_else(|| name.to_string())
}

/// One run (see the module docs).
pub fn run(serial: &str, dir: &Path, remote: &str, server: Option<&ServerSettings>) -> Result<UsbReport, Error> {
    let adb = Adb {
        bin: adb_binary(),
        serial: serial.to_string(),
    };
    let mut report = UsbReport::default();
    folder::prepare(dir)?;
    let sent = dir.join("sent");
    std::fs::create_dir_all(&sent).map_err(io(&sent))?;
    let (r_to, r_from) = (format!("{remote}/{TO_DEVICE}"), format!("{remote}/{FROM_DEVICE}"));
    adb.run(&["shell", "mkdir", "-p", &r_to, &r_from])?;

    let from = dir.join(FROM_DEVICE);
    for name in adb.run(&["shell", "ls", &r_from])?.lines().map(str::trim).filter(|n| !n.is_empty()) {
        if safe_name(name).is_err() || name.ends_with(".part") || name.ends_with(".reason.txt") {
            continue;
        }
        let seen = ["archive", FROM_DEVICE, folder::LOGS]
            .iter()
            .any(|d| dir.join(d).join(name).exists());
        if seen && name != STATUS {
            continue;
        }
        let part = from.join(format!("{name}.part"));
        adb.run(&["pull", &format!("{r_from}/{name}"), &s(&part)])?;
        std::fs::rename(&part, from.join(name)).map_err(io(&part))?;
        report.pulled.push(name.to_string());
    }

    if let Some(settings) = server {
        report.bridge = Some(tsd_core::sync::bridge::bridge(dir, settings)?);
    }

    let to = dir.join(TO_DEVICE);
    let mut outgoing: Vec<String> = std::fs::read_dir(&to)
        .map_err(io(&to))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| !n.ends_with(".part") && safe_name(n).is_ok())
        .collect();
    outgoing.sort();
    for name in outgoing {
        let path = to.join(&name);
        let remote_part = format!("{r_to}/{name}.part");
        adb.run(&["push", &s(&path), &remote_part])?;
        adb.run(&["shell", "mv", &remote_part, &format!("{r_to}/{name}")])?;
        std::fs::rename(&path, sent.join(&name)).map_err(io(&path))?;
        report.pushed.push(name);
    }

    push_update(&adb, dir, remote, &sent, &mut report)?;

    for entry in std::fs::read_dir(&sent).map_err(io(&sent))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(doc) = name.strip_prefix("doc-").and_then(|n| n.strip_suffix(".ack")) else {
            continue;
        };
        let package = format!("{r_from}/doc-{doc}.tsdpkg");
        if adb.exists(&package) {
            adb.run(&["shell", "rm", "-f", &package])?;
            report.cleaned.push(format!("doc-{doc}.tsdpkg"));
        }
    }
    Ok(report)
}
