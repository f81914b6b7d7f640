//! A file system that forgets what was not made durable, for power-cut tests (the
//! way Jepsen uses LazyFS and SQLite's own suite a crash-simulating VFS).
//!
//! [`mount`] puts it over a mount point, backed by a folder that holds its
//! durable image; [`Mounted::cut`] "cuts the power": it unmounts without writing
//! anything, so the next [`mount`] of the same backing folder sees only what was
//! synced.
//!
//! What is durable — the model, stricter than ext4 with `data=ordered` (what the
//! terminals and the server run on):
//! - a file's bytes and size, as of its last `fsync`/`fdatasync`; written but not
//!   synced bytes live in memory only;
//! - a directory's entries (files created, renamed, unlinked, subdirectories made
//!   or removed in it), as of the directory's last `fsync`; a file synced in a
//!   directory that was not is gone after a cut, a rename not followed by a sync
//!   of its directories is undone;
//! - nothing else: no periodic commit. ext4 commits its journal every few seconds
//!   and on any `fsync` (making every earlier directory change durable with it),
//!   and in `data=ordered` writes a file's data before the metadata that points
//!   at it; each of those can only keep more than this model keeps, so a program
//!   that survives here survives there. (This model keeps a file's data without
//!   its name if the name was never synced — ext4 would too.)
//!
//! The backing folder: `data/<inode>` holds a file's bytes as of its last sync,
//! `dirs/<inode>.json` a directory's entries as of its last sync; the root is
//! inode 1. A sync writes there and syncs it; a mount reads only from there.

use fuser::{
    BackgroundSession, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, MountOption,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

const ROOT: u64 = 1;
/// How long the kernel may keep names and attributes: every change goes through
/// this file system, and a cut unmounts, so nothing it keeps goes stale.
const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    File,
    Dir,
}

#[derive(Debug, Serialize, Deserialize)]
struct DurableEntry {
    name: Vec<u8>,
    ino: u64,
    kind: Kind,
}

struct Node {
    kind: Kind,
    perm: u16,
    /// A file's bytes as the running programs see them.
    data: Vec<u8>,
    /// The byte range changed since the file's last sync.
    dirty: Option<(u64, u64)>,
    /// A directory's entries as the running programs see them.
    entries: BTreeMap<OsString, u64>,
    nlink: u32,
    /// Open handles: an unlinked file lives until the last one closes.
    open: u32,
    mtime: SystemTime,
}

impl Node {
    fn new(kind: Kind, perm: u16) -> Node {
        Node {
            kind,
            perm,
            data: Vec::new(),
            dirty: None,
            entries: BTreeMap::new(),
            nlink: 1,
            open: 0,
            mtime: SystemTime::now(),
        }
    }

    fn touch(&mut self, from: u64, to: u64) {
        let (a, b) = self.dirty.unwrap_or((from, to));
        self.dirty = Some((a.min(from), b.max(to)));
        self.mtime = SystemTime::now();
    }
}

/// What the file system counted while mounted.
#[derive(Debug, Default)]
pub struct Stats {
    /// `fsync`/`fdatasync` of files.
    pub file_syncs: AtomicU64,
    /// `fsync` of directories.
    pub dir_syncs: AtomicU64,
}

struct State {
    nodes: HashMap<u64, Node>,
    next: u64,
}

struct LossyFs {
    state: Mutex<State>,
    backing: PathBuf,
    stats: Arc<Stats>,
    uid: u32,
    gid: u32,
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

impl LossyFs {
    /// Reads the durable image: every node reachable from the root through
    /// synced directory entries, with its synced bytes.
    fn load(backing: &Path, stats: Arc<Stats>) -> std::io::Result<LossyFs> {
        for sub in ["data", "dirs"] {
            std::fs::create_dir_all(backing.join(sub))?;
        }
        // Inode numbers are never reused: a later node must not meet an earlier
        // one's synced bytes.
        let mut next = ROOT + 1;
        for sub in ["data", "dirs"] {
            for e in std::fs::read_dir(backing.join(sub))? {
                let name = e?.file_name();
                let n = name.to_string_lossy();
                if let Ok(ino) = n.trim_end_matches(".json").parse::<u64>() {
                    next = next.max(ino + 1);
                }
            }
        }
        let mut nodes = HashMap::new();
        let mut root = Node::new(Kind::Dir, 0o755);
        root.nlink = 2;
        nodes.insert(ROOT, root);
        let mut dirs = vec![ROOT];
        while let Some(dir) = dirs.pop() {
            let path = backing.join("dirs").join(format!("{dir}.json"));
            let entries: Vec<DurableEntry> = match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            for e in entries {
                next = next.max(e.ino + 1);
                if nodes.contains_key(&e.ino) {
                    continue;
                }
                let mut node = Node::new(e.kind, if e.kind == Kind::Dir { 0o755 } else { 0o644 });
                match e.kind {
                    Kind::File => match std::fs::read(backing.join("data").join(e.ino.to_string())) {
                        Ok(bytes) => node.data = bytes,
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(err) => return Err(err),
                    },
                    Kind::Dir => dirs.push(e.ino),
                }
                nodes.insert(e.ino, node);
                nodes
                    .get_mut(&dir)
                    .expect("the directory was loaded first")
                    .entries
                    .insert(OsString::from_vec(e.name), e.ino);
            }
        }
        Ok(LossyFs {
            state: Mutex::new(State { nodes, next }),
            backing: backing.to_path_buf(),
            stats,
            uid: process_uid(),
            gid: process_gid(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn attr(&self, ino: u64, n: &Node) -> FileAttr {
        let size = if n.kind == Kind::File { n.data.len() as u64 } else { 4096 };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind: match n.kind {
                Kind::File => FileType::RegularFile,
                Kind::Dir => FileType::Directory,
            },
            perm: n.perm,
            nlink: n.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// Adds a node named `name` in `parent`.
    fn make(&self, parent: u64, name: &OsStr, kind: Kind, perm: u16) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let dir = st.nodes.get(&parent).ok_or(Errno::ENOENT)?;
        if dir.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        if dir.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = st.next;
        st.next += 1;
        let mut node = Node::new(kind, perm);
        if kind == Kind::Dir {
            node.nlink = 2;
        }
        let attr = self.attr(ino, &node);
        st.nodes.insert(ino, node);
        let dir = st.nodes.get_mut(&parent).expect("checked above");
        dir.entries.insert(name.to_os_string(), ino);
        dir.mtime = SystemTime::now();
        Ok(attr)
    }

    /// A name's node lost a link (unlinked, or replaced by a rename): its bytes go
    /// when no handle holds it either.
    fn unlinked(st: &mut State, ino: u64) {
        if let Some(n) = st.nodes.get_mut(&ino) {
            n.nlink = n.nlink.saturating_sub(if n.kind == Kind::Dir { 2 } else { 1 });
            if n.nlink == 0 && n.open == 0 {
                st.nodes.remove(&ino);
            }
        }
    }

    fn sync_file(&self, ino: u64) -> std::io::Result<()> {
        let mut st = self.lock();
        let Some(n) = st.nodes.get_mut(&ino) else { return Ok(()) };
        if n.kind != Kind::File {
            return Ok(());
        }
        let path = self.backing.join("data").join(ino.to_string());
        let f = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&path)?;
        let len = n.data.len() as u64;
        if let Some((from, to)) = n.dirty.take() {
            let (from, to) = (from.min(len), to.min(len));
            f.write_all_at(&n.data[from as usize..to as usize], from)?;
        }
        f.set_len(len)?;
        f.sync_data()?;
        self.stats.file_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn sync_dir(&self, ino: u64) -> std::io::Result<()> {
        let st = self.lock();
        let Some(n) = st.nodes.get(&ino) else { return Ok(()) };
        if n.kind != Kind::Dir {
            return Ok(());
        }
        let entries: Vec<DurableEntry> = n
            .entries
            .iter()
            .filter_map(|(name, &child)| {
                st.nodes.get(&child).map(|c| DurableEntry {
                    name: name.as_bytes().to_vec(),
                    ino: child,
                    kind: c.kind,
                })
            })
            .collect();
        let path = self.backing.join("dirs").join(format!("{ino}.json"));
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(&entries).map_err(std::io::Error::other)?)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(self.backing.join("dirs"))?.sync_all()?;
        self.stats.dir_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

// The process's ids, for the attributes (read from /proc: no `unsafe` outside
// the bridge).
fn process_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}
fn process_gid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap_or(0)
}

impl Filesystem for LossyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let st = self.lock();
        let found = st
            .nodes
            .get(&parent.0)
            .and_then(|d| d.entries.get(name))
            .and_then(|ino| st.nodes.get(ino).map(|n| self.attr(*ino, n)));
        match found {
            Some(attr) => reply.entry(&TTL, &attr, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let st = self.lock();
        match st.nodes.get(&ino.0) {
            Some(n) => reply.attr(&TTL, &self.attr(ino.0, n)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut st = self.lock();
        let Some(n) = st.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        if let Some(mode) = mode {
            n.perm = (mode & 0o7777) as u16;
        }
        if let Some(size) = size {
            if n.kind == Kind::Dir {
                return reply.error(Errno::EISDIR);
            }
            let old = n.data.len() as u64;
            n.data.resize(size as usize, 0);
            n.touch(old.min(size), old.max(size));
        }
        let attr = self.attr(ino.0, n);
        reply.attr(&TTL, &attr)
    }

    fn mknod(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, _rdev: u32, reply: ReplyEntry) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        match self.make(parent.0, name, Kind::File, (mode & !umask & 0o7777) as u16) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        match self.make(parent.0, name, Kind::Dir, (mode & !umask & 0o7777) as u16) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.lock();
        let Some(dir) = st.nodes.get_mut(&parent.0) else {
            return reply.error(Errno::ENOENT);
        };
        let Some(&ino) = dir.entries.get(name) else {
            return reply.error(Errno::ENOENT);
        };
        if st.nodes.get(&ino).is_some_and(|n| n.kind == Kind::Dir) {
            return reply.error(Errno::EISDIR);
        }
        let dir = st.nodes.get_mut(&parent.0).expect("found above");
        dir.entries.remove(name);
        dir.mtime = SystemTime::now();
        LossyFs::unlinked(&mut st, ino);
        reply.ok()
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.lock();
        let Some(&ino) = st.nodes.get(&parent.0).and_then(|d| d.entries.get(name)) else {
            return reply.error(Errno::ENOENT);
        };
        match st.nodes.get(&ino) {
            Some(n) if n.kind != Kind::Dir => return reply.error(Errno::ENOTDIR),
            Some(n) if !n.entries.is_empty() => return reply.error(Errno::ENOTEMPTY),
            _ => {}
        }
        st.nodes.get_mut(&parent.0).expect("found above").entries.remove(name);
        LossyFs::unlinked(&mut st, ino);
        reply.ok()
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE) || flags.contains(RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        let mut st = self.lock();
        let Some(&ino) = st.nodes.get(&parent.0).and_then(|d| d.entries.get(name)) else {
            return reply.error(Errno::ENOENT);
        };
        match st.nodes.get(&newparent.0) {
            Some(d) if d.kind == Kind::Dir => {}
            Some(_) => return reply.error(Errno::ENOTDIR),
            None => return reply.error(Errno::ENOENT),
        }
        let kind = st.nodes[&ino].kind;
        let replaced = st.nodes[&newparent.0].entries.get(newname).copied();
        if let Some(old) = replaced {
            if old == ino {
                return reply.ok();
            }
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return reply.error(Errno::EEXIST);
            }
            match (kind, st.nodes.get(&old)) {
                (Kind::File, Some(o)) if o.kind == Kind::Dir => return reply.error(Errno::EISDIR),
                (Kind::Dir, Some(o)) if o.kind == Kind::File => return reply.error(Errno::ENOTDIR),
                (Kind::Dir, Some(o)) if !o.entries.is_empty() => return reply.error(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        let now = SystemTime::now();
        let from = st.nodes.get_mut(&parent.0).expect("found above");
        from.entries.remove(name);
        from.mtime = now;
        let to = st.nodes.get_mut(&newparent.0).expect("found above");
        to.entries.insert(newname.to_os_string(), ino);
        to.mtime = now;
        if let Some(old) = replaced {
            LossyFs::unlinked(&mut st, old);
        }
        reply.ok()
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut st = self.lock();
        match st.nodes.get_mut(&ino.0) {
            Some(n) => {
                n.open += 1;
                reply.opened(FileHandle(0), FopenFlags::empty())
            }
            None => reply.error(Errno::ENOENT),
        }
    }

    fn create(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, flags: i32, reply: ReplyCreate) {
        let existing = {
            let st = self.lock();
            st.nodes.get(&parent.0).and_then(|d| d.entries.get(name)).copied()
        };
        let attr = match existing {
            Some(_) if flags & libc::O_EXCL != 0 => return reply.error(Errno::EEXIST),
            Some(ino) => {
                let st = self.lock();
                match st.nodes.get(&ino) {
                    Some(n) => self.attr(ino, n),
                    None => return reply.error(Errno::ENOENT),
                }
            }
            None => match self.make(parent.0, name, Kind::File, (mode & !umask & 0o7777) as u16) {
                Ok(attr) => attr,
                Err(e) => return reply.error(e),
            },
        };
        if let Some(n) = self.lock().nodes.get_mut(&attr.ino.0) {
            n.open += 1;
        }
        reply.created(&TTL, &attr, Generation(0), FileHandle(0), FopenFlags::empty())
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let st = self.lock();
        let Some(n) = st.nodes.get(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let from = (offset as usize).min(n.data.len());
        let to = (from + size as usize).min(n.data.len());
        reply.data(&n.data[from..to])
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut st = self.lock();
        let Some(n) = st.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let end = offset as usize + data.len();
        if n.data.len() < end {
            n.data.resize(end, 0);
        }
        n.data[offset as usize..end].copy_from_slice(data);
        n.touch(offset, end as u64);
        reply.written(data.len() as u32)
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok()
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.lock();
        if let Some(n) = st.nodes.get_mut(&ino.0) {
            n.open = n.open.saturating_sub(1);
            if n.nlink == 0 && n.open == 0 {
                st.nodes.remove(&ino.0);
            }
        }
        reply.ok()
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.sync_file(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let st = self.lock();
        let Some(d) = st.nodes.get(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        if d.kind != Kind::Dir {
            return reply.error(Errno::ENOTDIR);
        }
        let mut all: Vec<(u64, FileType, OsString)> =
            vec![(ino.0, FileType::Directory, ".".into()), (ino.0, FileType::Directory, "..".into())];
        for (name, &child) in &d.entries {
            let kind = match st.nodes.get(&child).map(|c| c.kind) {
                Some(Kind::Dir) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            all.push((child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in all.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), i as u64 + 1, kind, &name) {
                break;
            }
        }
        reply.ok()
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.sync_dir(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 24, 1 << 23, 1 << 23, 1 << 20, 1 << 19, 4096, 255, 4096)
    }

    fn fallocate(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, length: u64, mode: i32, reply: ReplyEmpty) {
        if mode != 0 {
            return reply.error(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        let Some(n) = st.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let end = (offset + length) as usize;
        if n.data.len() < end {
            let old = n.data.len() as u64;
            n.data.resize(end, 0);
            n.touch(old, end as u64);
        }
        reply.ok()
    }
}

/// A mounted lossy file system.
pub struct Mounted {
    session: Option<BackgroundSession>,
    backing: PathBuf,
    at: PathBuf,
    stats: Arc<Stats>,
    /// The FUSE connection's number (`/sys/fs/fuse/connections/<n>`).
    connection: Option<u64>,
}

/// Mounts the durable image in `backing` (an empty folder the first time) at
/// `at`. Fails with what is missing when FUSE cannot be mounted here.
pub fn mount(backing: &Path, at: &Path) -> std::io::Result<Mounted> {
    let stats = Arc::new(Stats::default());
    let fs = LossyFs::load(backing, stats.clone())?;
    std::fs::create_dir_all(at)?;
    let mut config = fuser::Config::default();
    config.mount_options = vec![MountOption::FSName("tsd-lossy".into()), MountOption::Subtype("lossy".into())];
    let session = fuser::spawn_mount(fs, at, &config).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "could not mount the lossy file system at {}: {e} (needs /dev/fuse and fusermount3 from the fuse3 package; run as root)",
                at.display()
            ),
        )
    })?;
    // The connection is named by the mount's device number as the kernel keeps
    // it (major << 20 | minor); stat gives it in the user-space encoding.
    let connection = std::fs::metadata(at).ok().map(|m| {
        let dev = std::os::unix::fs::MetadataExt::dev(&m);
        let (major, minor) = ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
        (major << 20) | minor
    });
    Ok(Mounted {
        session: Some(session),
        backing: backing.to_path_buf(),
        at: at.to_path_buf(),
        stats,
        connection,
    })
}

const CONNECTIONS: &str = "/sys/fs/fuse/connections";

impl Mounted {
    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.at
    }

    /// What it counted so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Cuts the power: from this instant no request reaches the file system
    /// (the FUSE connection is aborted: anything still using it gets an error),
    /// and it is unmounted without making anything more durable.
    pub fn cut(mut self) -> std::io::Result<()> {
        self.power_off()
    }

    /// Cuts the power ([`Mounted::cut`]) and turns it back on: the same folder
    /// mounted afresh from what was durable.
    pub fn power_cycle(self) -> std::io::Result<Mounted> {
        let (backing, at) = (self.backing.clone(), self.at.clone());
        self.cut()?;
        mount(&backing, &at)
    }

    fn power_off(&mut self) -> std::io::Result<()> {
        let Some(session) = self.session.take() else { return Ok(()) };
        // Aborting the connection also keeps a file still open on the mount in
        // this process (a test that failed half-way) from waiting for ever on a
        // file system that is going away.
        if let Some(n) = self.connection {
            let abort = Path::new(CONNECTIONS).join(n.to_string()).join("abort");
            if !abort.exists() {
                let _ = std::process::Command::new("mount")
                    .args(["-t", "fusectl", "none", CONNECTIONS])
                    .status();
            }
            let _ = std::fs::write(&abort, "1");
        }
        let _ = session.umount_and_join();
        if mounted(&self.at) {
            let status = std::process::Command::new("umount").arg("-l").arg(&self.at).status()?;
            if !status.success() {
                return Err(std::io::Error::other(format!("umount -l {} failed: {status}", self.at.display())));
            }
        }
        Ok(())
    }
}

/// Whether `at` is a mount point now (read from /proc/mounts: a stat of a dead
/// FUSE mount would hang).
fn mounted(at: &Path) -> bool {
    let at = at.to_string_lossy();
    std::fs::read_to_string("/proc/mounts")
        .map(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(&*at)))
        .unwrap_or(false)
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = self.power_off();
    }
}
