//! Client app updates. The server publishes app versions (version code, file,
//! size, SHA-256, minimum version); an exchange folder can carry the same in
//! `update/` (`manifest.json` beside the file) for terminals without a network.
//! The runtime finds a newer version, downloads it resumably (HTTP Range into
//! `updates/NAME.part`), checks size and SHA-256, and only then hands the file's
//! path to the shell, which starts the platform installer. A partial or corrupt
//! file is never handed over: it is deleted and fetched again next time.

use crate::error::{Error, Result};
use crate::Runtime;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The folder of `update/manifest.json` in an exchange root.
pub const FOLDER: &str = "update";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// A published app version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUpdate {
    /// Android `versionCode`: what "newer" compares.
    pub version_code: i64,
    /// Shown to the operator ("2.4.0").
    #[serde(default)]
    pub version_name: String,
    /// The file's name (`app-N.apk`).
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Terminals below this version code must update before they go on.
    #[serde(default)]
    pub min_version: i64,
}

impl AppUpdate {
    /// The update that publishes `apk` as `version_code`: its name `app-N.apk`, size
    /// and SHA-256 (the file is read once).
    pub fn of_file(apk: &Path, version_code: i64, version_name: &str, min_version: i64) -> Result<AppUpdate> {
        let (sha256, size) = sha256_file(apk)?;
        Ok(AppUpdate {
            version_code,
            version_name: version_name.to_string(),
            file: format!("app-{version_code}.apk"),
            size,
            sha256,
            min_version,
        })
    }

    /// The terminal running `current` must install this one before anything else.
    pub fn required_for(&self, current: i64) -> bool {
        current < self.min_version
    }

    fn check_fields(&self) -> Result<()> {
        crate::fsx::safe_name(&self.file).map_err(|e| Error::InvalidArgument(format!("update file name: {e}")))?;
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidArgument(format!(
                "update {}: the SHA-256 is not 64 hex digits",
                self.file
            )));
        }
        Ok(())
    }
}

/// SHA-256 (hex) and size of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    use sha2::Digest;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().iter().map(|b| format!("{b:02x}")).collect(), size))
}

/// Checks a file against its update's size and SHA-256.
pub fn verify(update: &AppUpdate, path: &Path) -> Result<()> {
    let (sha, size) = sha256_file(path)?;
    if size != update.size {
        return Err(corrupt(path, format!("{size} bytes, the update has {}", update.size)));
    }
    if !sha.eq_ignore_ascii_case(&update.sha256) {
        return Err(corrupt(
            path,
            format!("SHA-256 {sha} does not match the update's {}", update.sha256),
        ));
    }
    Ok(())
}

fn corrupt(path: &Path, why: String) -> Error {
    Error::BadUpdate {
        path: path.to_path_buf(),
        reason: format!("app update not offered for install: {why}"),
    }
}

/// The PC side: puts an app file into `root/update/` with its manifest (file
/// first, manifest last, both through `.part` + rename).
pub fn put_app(root: &Path, apk: &Path, version_code: i64, version_name: &str, min_version: i64) -> Result<AppUpdate> {
    let update = AppUpdate::of_file(apk, version_code, version_name, min_version)?;
    let dir = root.join(FOLDER);
    crate::fsx::create_dir_durably(&dir)?;
    crate::fsx::copy_durably(apk, &dir.join(&update.file))?;
    let manifest = serde_json::to_string_pretty(&update).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    crate::fsx::write_atomically(&dir, MANIFEST, manifest.as_bytes())?;
    Ok(update)
}

impl Runtime {
    /// Asks the kept server for an app version newer than `current` (the shell's
    /// version code).
    pub fn check_app_update(&self, current: i64) -> Result<Option<AppUpdate>> {
        let settings = self
            .server()
            .ok_or_else(|| Error::InvalidArgument("no server is set up to ask for updates".into()))?;
        let update = crate::sync::http::Client::new(&settings)?.app_update(current)?;
        if let Some(u) = &update {
            u.check_fields()?;
        }
        Ok(update.filter(|u| u.version_code > current))
    }

    /// Downloads an update from the kept server into `updates/` (resuming a
    /// partial download), verifies size and SHA-256 and returns the file. A file
    /// that does not verify is deleted and the error says why.
    pub fn download_app_update(&self, update: &AppUpdate, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<PathBuf> {
        update.check_fields()?;
        let settings = self
            .server()
            .ok_or_else(|| Error::InvalidArgument("no server is set up to download from".into()))?;
        let dir = self.dir().join("updates");
        crate::fsx::create_dir_durably(&dir)?;
        let dest = dir.join(&update.file);
        if dest.exists() && verify(update, &dest).is_ok() {
            return Ok(dest);
        }
        let _ = std::fs::remove_file(&dest);
        let client = crate::sync::http::Client::new(&settings)?;
        client.download_from("/v1/device/app", &update.file, update.size, &dest, progress)?;
        if let Err(e) = verify(update, &dest) {
            let _ = std::fs::remove_file(&dest);
            log::warn!("{e}");
            return Err(e);
        }
        log::info!(
            "app update {} ({}) downloaded and verified",
            update.version_code,
            update.version_name
        );
        Ok(dest)
    }

    /// An update the PC left in the exchange folder (`update/manifest.json`) newer
    /// than `current`, verified: `(update, file)`. A file that does not match its
    /// manifest is an error naming it, never offered.
    pub fn folder_app_update(&self, root: &Path, current: i64) -> Result<Option<(AppUpdate, PathBuf)>> {
        let dir = root.join(FOLDER);
        let manifest = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&manifest) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path: manifest, source }),
        };
        let update: AppUpdate = serde_json::from_str(&text).map_err(|e| Error::BadUpdate {
            path: manifest.clone(),
            reason: format!("not an update manifest: {e}"),
        })?;
        update.check_fields()?;
        if update.version_code <= current {
            return Ok(None);
        }
        let file = dir.join(&update.file);
        verify(&update, &file)?;
        Ok(Some((update, file)))
    }
}
/// The app-update route of the server, on the terminal's client.
impl crate::sync::http::Client {
    /// `GET /v1/device/app?current=N`: the newest published app version, when it is
    /// newer than `current`.
    pub fn app_update(&self, current: i64) -> Result<Option<AppUpdate>> {
        let step = "checking for an app update";
        let resp = self.get(step, &format!("{}?current={current}", crate::protocol::routes::DEVICE_APP), &[])?;
        if resp.status().as_u16() == 204 {
            return Ok(None);
        }
        Self::json(step, resp).map(Some)
    }
}
