//! File utilities every part of the runtime and the server uses: file names that
//! cannot leave their folder, files that are either absent or whole after a crash
//! or a power cut (written as `.part`, synced, renamed, the directory synced), and
//! moves that never overwrite.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Unix milliseconds, for package names whose order is time order.
pub fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Checks a file name that came from outside (the exchange folder, a server's
/// offer, a request path): one plain component of letters,
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

/// An I/O error naming its file.
pub fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies a file to `to` through `to.part` (same extension replaced), fsync,
/// rename and a directory sync: `to` is either absent or whole, and stays there
/// after a power cut.
pub fn copy_durably(from: &Path, to: &Path) -> Result<()> {
    let part = to.with_extension("part");
    std::fs::copy(from, &part).map_err(io(from))?;
    std::fs::File::open(&part).and_then(|f| f.sync_all()).map_err(io(&part))?;
    std::fs::rename(&part, to).map_err(io(to))?;
    if let Some(dir) = to.parent() {
        sync_dir(dir);
    }
    Ok(())
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

/// Creates `dir` and any missing parents so that they survive a power cut: each
/// folder made is synced into its parent (a new folder's name lives in the
/// parent's entries, which only a sync of the parent makes durable).
pub fn create_dir_durably(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.as_os_str().is_empty() && !at.exists() {
        missing.push(at);
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    for made in missing.into_iter().rev() {
        match std::fs::create_dir(made) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(made)(e)),
        }
        if let Some(parent) = made.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent);
        }
    }
    Ok(())
}

/// Makes the directory's entries (a new or renamed file) durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Moves `from` into `root/sub/name` and syncs both directories. Never overwrites: a
/// name already there gets a numbered sibling (`name.1`…). Returns where it went.
pub fn move_to(root: &Path, from: &Path, sub: &str, name: &str) -> Result<PathBuf> {
    let dir = root.join(sub);
    let mut target = dir.join(name);
    // Never overwrite: a second copy of a name gets a numbered sibling.
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    std::fs::rename(from, &target).map_err(io(from))?;
    // The new name first, then the old one's removal: a power cut between leaves
    // the file in both folders (handled again), never in neither (lost).
    sync_dir(&dir);
    if let Some(source) = from.parent().filter(|p| !p.as_os_str().is_empty() && *p != dir) {
        sync_dir(source);
    }
    Ok(target)
}
