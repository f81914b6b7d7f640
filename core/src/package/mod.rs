//! The package container: one file format for every exchange (HTTP and the exchange
//! folder), written and read as a stream.
//!
//! Layout (all integers little-endian):
//!
//! | part | bytes | content |
//! |---|---|---|
//! | magic | 8 | `89 54 53 44 50 4B 47 0A` ("\x89TSDPKG\n": a non-ASCII first byte and a newline catch 7-bit and text-mode transfers) |
//! | format version | 2 | [`FORMAT_VERSION`]; a reader refuses newer versions |
//! | header length | 4 | length of the header that follows |
//! | header | n | postcard-encoded [`Header`] |
//! | body | … | zstd stream of records, each a varint length + postcard bytes |
//! | file length | 8 | length of the whole file (tells a cut-off copy from a damaged one) |
//! | checksum | 32 | SHA-256 of every byte before it |
//! | signature | 32 | HMAC-SHA256 (shared key) of every byte before it, when `header.signed` |
//!
//! Nothing is handed to the caller before the checksum (and signature) of the whole
//! file is verified, so a truncated, bit-flipped or forged package is refused whole.
//!
//! ```
//! use tsd_core::package::{Header, Kind, PackageReader, PackageWriter};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("p.tsdpkg");
//! let header = Header::new(Kind::TaskDocuments, "1C", 2);
//! let mut w = PackageWriter::create(&path, &header, None).unwrap();
//! w.write(&("T-1".to_string(), 5u32)).unwrap();
//! w.write(&("T-2".to_string(), 7u32)).unwrap();
//! w.finish().unwrap();
//! let r = PackageReader::open(&path, None, false).unwrap();
//! assert_eq!(r.header().kind, Kind::TaskDocuments);
//! let records: Vec<(String, u32)> = r.records().unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(records[1], ("T-2".to_string(), 7));
//! ```

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"\x89TSDPKG\n";
/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Header size limit: a header is small; a huge length means a damaged file.
const MAX_HEADER: u32 = 64 * 1024;
/// Record size limit, for the same reason.
const MAX_RECORD: u64 = 64 * 1024 * 1024;
/// zstd level: 3 is zstd's default, fast on a terminal CPU.
const ZSTD_LEVEL: i32 = 3;

/// What a package carries. Unknown kinds (from a newer producer) are kept as their
/// number so they can be refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The whole catalog at one version.
    CatalogSnapshot,
    /// Catalog changes from one version to another.
    CatalogDelta,
    /// Task documents for a device.
    TaskDocuments,
    /// Completed documents from a device.
    FinishedDocuments,
    /// Device configuration.
    Configuration,
    /// A bundle of log files.
    LogBundle,
    /// A kind this build does not know.
    Unknown(u16),
}

impl Kind {
    /// Wire number.
    pub fn code(self) -> u16 {
        match self {
            Kind::CatalogSnapshot => 1,
            Kind::CatalogDelta => 2,
            Kind::TaskDocuments => 3,
            Kind::FinishedDocuments => 4,
            Kind::Configuration => 5,
            Kind::LogBundle => 6,
            Kind::Unknown(n) => n,
        }
    }

    /// From the wire number.
    pub fn from_code(n: u16) -> Kind {
        match n {
            1 => Kind::CatalogSnapshot,
            2 => Kind::CatalogDelta,
            3 => Kind::TaskDocuments,
            4 => Kind::FinishedDocuments,
            5 => Kind::Configuration,
            6 => Kind::LogBundle,
            n => Kind::Unknown(n),
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.code().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u16::deserialize(d).map(Kind::from_code)
    }
}

/// The package header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What the records are.
    pub kind: Kind,
    /// Who wrote it: "tsd-server 0.1", "1C:Склад", a device id.
    pub producer: String,
    /// Unique id of this package (a UUID): a package is applied once.
    pub package_id: String,
    /// Device the package is for or from; empty when any.
    pub device: String,
    /// Version range: a delta goes from `from_version` to `to_version`; a snapshot
    /// has `from_version` 0.
    pub from_version: i64,
    /// See `from_version`.
    pub to_version: i64,
    /// Number of records in the body.
    pub records: u64,
    /// Unix milliseconds when written.
    pub created_at: i64,
    /// True when an HMAC-SHA256 signature follows the checksum.
    pub signed: bool,
}

impl Header {
    /// A header with a fresh package id, for `records` records.
    pub fn new(kind: Kind, producer: &str, records: u64) -> Header {
        let created_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Header {
            kind,
            producer: producer.to_string(),
            package_id: uuid::Uuid::new_v4().to_string(),
            device: String::new(),
            from_version: 0,
            to_version: 0,
            records,
            created_at,
            signed: false,
        }
    }
}

/// Why a package was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a package at all (wrong magic): a stray file.
    Foreign,
    /// Written by a newer format version.
    TooNew {
        /// Version in the file.
        found: u16,
    },
    /// The file ends early (an interrupted copy or download).
    Truncated,
    /// The SHA-256 checksum does not match: the bytes changed on the way.
    BadChecksum,
    /// A signature is required but the package is not signed.
    Unsigned,
    /// The signature does not match the shared key.
    BadSignature,
    /// Structurally broken header or records (a buggy producer).
    Malformed(String),
    /// A delta that does not start where this catalog is: a package was missed or
    /// the order got mixed up. Send the missing ones, or a snapshot.
    OutOfOrder {
        /// The catalog's synced version.
        have: i64,
        /// The delta's starting version.
        from: i64,
    },
}

impl Refusal {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Foreign => "foreign",
            Refusal::TooNew { .. } => "too_new",
            Refusal::Truncated => "truncated",
            Refusal::BadChecksum => "bad_checksum",
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
            Refusal::Malformed(_) => "malformed",
            Refusal::OutOfOrder { .. } => "out_of_order",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Foreign => write!(f, "not a TSD package"),
            Refusal::TooNew { found } => write!(f, "package format {found} is newer than this build reads ({FORMAT_VERSION})"),
            Refusal::Truncated => write!(f, "the file is truncated"),
            Refusal::BadChecksum => write!(f, "checksum mismatch: the file was damaged"),
            Refusal::Unsigned => write!(f, "the package is not signed and a signature is required"),
            Refusal::BadSignature => write!(f, "the signature does not match the shared key"),
            Refusal::Malformed(why) => write!(f, "malformed package: {why}"),
            Refusal::OutOfOrder { have, from } => write!(f, "a delta from version {from}, but this catalog is at version {have}"),
        }
    }
}

/// A package error: the file and what is wrong with it.
#[derive(Debug)]
pub enum PackageError {
    /// The package was refused; nothing in it was used.
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: Refusal,
    },
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageError::Refused { path, reason } => write!(f, "{}: refused: {reason}", path.display()),
            PackageError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for PackageError {}

type HmacSha256 = Hmac<Sha256>;

/// Hashes (and signs) everything written through it.
struct Hashing<W> {
    inner: W,
    count: u64,
    sha: Sha256,
    mac: Option<HmacSha256>,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        self.sha.update(&buf[..n]);
        if let Some(m) = &mut self.mac {
            m.update(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn mac_for(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// Streams records into a package file. The file is written as `NAME.part` and
/// renamed into place by [`PackageWriter::finish`] after an fsync, so a reader never
/// sees half a package under the final name.
pub struct PackageWriter {
    body: Option<zstd::stream::write::Encoder<'static, Hashing<BufWriter<std::fs::File>>>>,
    path: PathBuf,
    part: PathBuf,
    expected: u64,
    written: u64,
    buf: Vec<u8>,
}

impl PackageWriter {
    /// Starts a package at `path`; `key` signs it (and sets `header.signed`).
    pub fn create(path: &Path, header: &Header, key: Option<&[u8]>) -> Result<PackageWriter, PackageError> {
        Self::create_with_level(path, header, key, ZSTD_LEVEL)
    }

    /// Like [`PackageWriter::create`] with a chosen zstd level (1–22): snapshots,
    /// built once on a PC or server and downloaded by many terminals, pay for a
    /// higher one; decompression speed hardly depends on it.
    pub fn create_with_level(path: &Path, header: &Header, key: Option<&[u8]>, level: i32) -> Result<PackageWriter, PackageError> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let io = |source| PackageError::Io {
            path: part.clone(),
            source,
        };
        let file = std::fs::File::create(&part).map_err(io)?;
        let mut header = header.clone();
        header.signed = key.is_some();
        let encoded = postcard::to_stdvec(&header).map_err(|e| PackageError::Refused {
            path: path.to_path_buf(),
            reason: Refusal::Malformed(e.to_string()),
        })?;
        let mut out = Hashing {
            inner: BufWriter::with_capacity(1 << 16, file),
            count: 0,
            sha: Sha256::new(),
            mac: key.map(mac_for),
        };
        out.write_all(&MAGIC).map_err(io)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
        out.write_all(&(encoded.len() as u32).to_le_bytes()).map_err(io)?;
        out.write_all(&encoded).map_err(io)?;
        let body = zstd::stream::write::Encoder::new(out, level).map_err(io)?;
        Ok(PackageWriter {
            body: Some(body),
            path: path.to_path_buf(),
            part,
            expected: header.records,
            written: 0,
            buf: Vec::new(),
        })
    }

    /// Appends one record.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<(), PackageError> {
        self.buf.clear();
        let bytes = postcard::to_extend(record, std::mem::take(&mut self.buf)).map_err(|e| PackageError::Refused {
            path: self.path.clone(),
            reason: Refusal::Malformed(e.to_string()),
        })?;
        let mut len = [0u8; 10];
        let n = varint(bytes.len() as u64, &mut len);
        let part = &self.part;
        let io = |source| PackageError::Io {
            path: part.clone(),
            source,
        };
        let body = self
            .body
            .as_mut()
            .ok_or_else(|| io(std::io::Error::other("package already finished")))?;
        body.write_all(&len[..n]).map_err(io)?;
        body.write_all(&bytes).map_err(io)?;
        self.buf = bytes;
        self.written += 1;
        Ok(())
    }

    /// Ends the body, appends checksum and signature, syncs and renames into place.
    pub fn finish(mut self) -> Result<PathBuf, PackageError> {
        if self.written != self.expected {
            let reason = Refusal::Malformed(format!("header says {} records, {} were written", self.expected, self.written));
            let _ = std::fs::remove_file(&self.part);
            return Err(PackageError::Refused {
                path: self.path.clone(),
                reason,
            });
        }
        let part = self.part.clone();
        let io = |source| PackageError::Io {
            path: part.clone(),
            source,
        };
        let body = self
            .body
            .take()
            .ok_or_else(|| io(std::io::Error::other("package already finished")))?;
        let mut out = body.finish().map_err(io)?;
        let total = out.count + 8 + 32 + if out.mac.is_some() { 32 } else { 0 };
        out.write_all(&total.to_le_bytes()).map_err(io)?;
        let sum = out.sha.clone().finalize();
        out.write_all(&sum).map_err(io)?;
        if let Some(mac) = out.mac.take() {
            // The checksum went through `out`, so the signature covers it too.
            out.inner.write_all(&mac.finalize().into_bytes()).map_err(io)?;
        }
        let file = out.inner.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&part, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.path.clone())
    }
}

impl Drop for PackageWriter {
    fn drop(&mut self) {
        if self.body.is_some() {
            // Abandoned before finish(): leave no half package behind.
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

fn varint(mut v: u64, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

/// A verified package: its header, and its records on demand.
pub struct PackageReader {
    path: PathBuf,
    header: Header,
    body_start: u64,
    body_end: u64,
}

impl PackageReader {
    /// Opens and verifies a package: magic, format version, header, SHA-256 of the
    /// whole file, and the signature when signed or when `require_signed`.
    pub fn open(path: &Path, key: Option<&[u8]>, require_signed: bool) -> Result<PackageReader, PackageError> {
        let refused = |reason| PackageError::Refused {
            path: path.to_path_buf(),
            reason,
        };
        let io = |source| PackageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut fixed = [0u8; 14];
        let n = read_up_to(&mut file, &mut fixed).map_err(io)?;
        if n < 8 || fixed[..8] != MAGIC {
            return Err(refused(if n < 8 && MAGIC.starts_with(&fixed[..n]) && n > 0 {
                Refusal::Truncated
            } else {
                Refusal::Foreign
            }));
        }
        if n < 14 {
            return Err(refused(Refusal::Truncated));
        }
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version > FORMAT_VERSION {
            return Err(refused(Refusal::TooNew { found: version }));
        }
        if version == 0 {
            return Err(refused(Refusal::Malformed("format version 0".into())));
        }
        let header_len = u32::from_le_bytes([fixed[10], fixed[11], fixed[12], fixed[13]]);
        if header_len > MAX_HEADER {
            return Err(refused(Refusal::Malformed(format!("header of {header_len} bytes"))));
        }
        let body_start = 14 + u64::from(header_len);
        if len < body_start + 32 {
            return Err(refused(Refusal::Truncated));
        }
        let mut encoded = vec![0u8; header_len as usize];
        file.read_exact(&mut encoded).map_err(io)?;
        // The header is only trusted after the checksum; decode it now for `signed`.
        let header: Option<Header> = postcard::from_bytes(&encoded).ok();
        let signed = header.as_ref().is_some_and(|h| h.signed);
        let trailer = 8 + 32 + if signed { 32 } else { 0 };
        if len < body_start + trailer {
            return Err(refused(Refusal::Truncated));
        }
        let body_end = len - trailer;
        let mut total = [0u8; 8];
        file.seek(SeekFrom::Start(body_end)).map_err(io)?;
        file.read_exact(&mut total).map_err(io)?;
        let claimed = u64::from_le_bytes(total);
        // Pass 1: hash everything up to the checksum.
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut sha = Sha256::new();
        let mut mac = key.map(mac_for);
        let mut remaining = body_end + 8;
        let mut reader = BufReader::with_capacity(1 << 16, &mut file);
        let mut chunk = vec![0u8; 1 << 16];
        while remaining > 0 {
            let want = remaining.min(chunk.len() as u64) as usize;
            reader.read_exact(&mut chunk[..want]).map_err(io)?;
            sha.update(&chunk[..want]);
            if let Some(m) = &mut mac {
                m.update(&chunk[..want]);
            }
            remaining -= want as u64;
        }
        let mut stored = [0u8; 32];
        reader.read_exact(&mut stored).map_err(io)?;
        let sum = sha.finalize();
        if sum.as_slice() != stored {
            // In a copy cut short the "length" read is compressed body bytes, which
            // name a size far beyond the file; a damaged file still has its own.
            return Err(refused(if claimed > len { Refusal::Truncated } else { Refusal::BadChecksum }));
        }
        if claimed != len {
            return Err(refused(Refusal::Malformed(format!(
                "file is {len} bytes, its trailer says {claimed}"
            ))));
        }
        let header = header.ok_or_else(|| refused(Refusal::Malformed("header does not decode".into())))?;
        match (signed, key) {
            (true, Some(_)) => {
                let mut sig = [0u8; 32];
                reader.read_exact(&mut sig).map_err(io)?;
                let mut mac = mac.unwrap_or_else(|| unreachable!("key is Some"));
                mac.update(&stored);
                mac.verify_slice(&sig).map_err(|_| refused(Refusal::BadSignature))?;
            }
            (true, None) if require_signed => return Err(refused(Refusal::BadSignature)),
            (false, _) if require_signed => return Err(refused(Refusal::Unsigned)),
            _ => {}
        }
        Ok(PackageReader {
            path: path.to_path_buf(),
            header,
            body_start,
            body_end,
        })
    }

    /// The package file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Streams the records. The iterator ends with an error if the body holds more
    /// or fewer records than the header says.
    pub fn records<T: DeserializeOwned>(&self) -> Result<Records<T>, PackageError> {
        let io = |source| PackageError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = std::fs::File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(self.body_start)).map_err(io)?;
        let body = BufReader::with_capacity(1 << 16, file).take(self.body_end - self.body_start);
        let decoder = zstd::stream::read::Decoder::new(body).map_err(io)?;
        Ok(Records {
            path: self.path.clone(),
            body: BufReader::with_capacity(1 << 16, decoder),
            left: self.header.records,
            buf: Vec::new(),
            done: false,
            _t: std::marker::PhantomData,
        })
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Records of a package, decoded one at a time.
pub struct Records<T> {
    path: PathBuf,
    body: BufReader<zstd::stream::read::Decoder<'static, BufReader<std::io::Take<BufReader<std::fs::File>>>>>,
    left: u64,
    buf: Vec<u8>,
    done: bool,
    _t: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> Records<T> {
    fn malformed(&mut self, why: String) -> Option<Result<T, PackageError>> {
        self.done = true;
        Some(Err(PackageError::Refused {
            path: self.path.clone(),
            reason: Refusal::Malformed(why),
        }))
    }

    fn read_len(&mut self) -> std::io::Result<Option<u64>> {
        let mut v = 0u64;
        for i in 0..10 {
            let mut b = [0u8; 1];
            if self.body.read(&mut b)? == 0 {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
            v |= u64::from(b[0] & 0x7F) << (7 * i);
            if b[0] & 0x80 == 0 {
                return Ok(Some(v));
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "record length too long"))
    }
}

impl<T: DeserializeOwned> Iterator for Records<T> {
    type Item = Result<T, PackageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let len = match self.read_len() {
            Ok(Some(len)) => len,
            Ok(None) if self.left == 0 => {
                self.done = true;
                return None;
            }
            Ok(None) => return self.malformed(format!("{} records missing", self.left)),
            Err(e) => return self.malformed(format!("record length: {e}")),
        };
        if self.left == 0 {
            return self.malformed("more records than the header says".into());
        }
        if len > MAX_RECORD {
            return self.malformed(format!("record of {len} bytes"));
        }
        self.buf.resize(len as usize, 0);
        if let Err(e) = self.body.read_exact(&mut self.buf) {
            return self.malformed(format!("record body: {e}"));
        }
        self.left -= 1;
        match postcard::from_bytes(&self.buf) {
            Ok(r) => Some(Ok(r)),
            Err(e) => self.malformed(format!("record does not decode: {e}")),
        }
    }
}

#[cfg(test)]
mod tests;
