//! SQLite files, pragmas and forward-only migrations.
//!
//! The data location is a folder with two databases that live apart on purpose:
//! `catalog.db` (rebuildable: re-download it) and `journal.db` (precious: the scans).
//! Neither is ever deleted or recreated silently: a file that cannot be opened is
//! reported with [`Error::Corrupt`] and left in place.

use crate::error::{Error, Result, SqlStep};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};

/// Which of the two databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// `catalog.db`: products, barcodes, cells, other catalogs.
    Catalog,
    /// `journal.db`: documents, the scan journal, configuration, outbox.
    Journal,
}

impl Db {
    /// File name inside the data folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Db::Catalog => "catalog.db",
            Db::Journal => "journal.db",
        }
    }

    /// `PRAGMA application_id`, so a foreign SQLite file is recognised.
    fn application_id(self) -> i32 {
        match self {
            Db::Catalog => 0x5453_4443, // "TSDC"
            Db::Journal => 0x5453_444A, // "TSDJ"
        }
    }

    /// Migrations, one SQL file per schema version (index + 1 = version).
    pub fn migrations(self) -> &'static [&'static str] {
        match self {
            Db::Catalog => &[include_str!("migrations/catalog_0001.sql")],
            Db::Journal => &[
                include_str!("migrations/journal_0001.sql"),
                include_str!("migrations/journal_0002.sql"),
                include_str!("migrations/journal_0003.sql"),
                include_str!("migrations/journal_0004.sql"),
            ],
        }
    }
}

/// Opens (creating if absent) one database of the data folder, applies pragmas and
/// migrations. `writer` connections run migrations; readers only check the version.
pub fn open(dir: &Path, db: Db, writer: bool) -> Result<Connection> {
    let path = dir.join(db.file_name());
    let flags = if writer {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let new_file = writer && !path.exists();
    let conn = Connection::open_with_flags(&path, flags).map_err(|e| classify(&path, e, "opening"))?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).step("setting busy timeout")?;
    // Query-planner stability: without it the bundled SQLite (STAT4) re-prepares
    // every join statement on each bind, which costs ~20 µs per barcode lookup.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .step("configuring the query planner")?;
    if writer {
        let sync = if db == Db::Journal { "FULL" } else { "NORMAL" };
        // WAL: readers never block the writer. The journal syncs every commit (an
        // acknowledged scan survives power loss); the catalog can be re-downloaded.
        // Checkpoints are taken off the scan and import paths by the runtime's
        // checkpointer thread, hence autocheckpoint 0.
        let autockpt = 0;
        // No memory map on writers: mapped pages count as resident memory, and an
        // import must stay within its budget.
        let pragmas = format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA wal_autocheckpoint={autockpt};
             PRAGMA temp_store=FILE; PRAGMA cache_size=-16384; PRAGMA foreign_keys=OFF;"
        );
        conn.execute_batch(&pragmas).map_err(|e| classify(&path, e, "setting pragmas"))?;
        migrate(&conn, &path, db)?;
        if new_file {
            // SQLite syncs the folder for a new WAL, not for a new database file:
            // without this its name (and with it every commit) can be lost to a
            // power cut, leaving an empty database at the next start.
            crate::fsx::sync_dir(dir);
        }
    } else {
        // Memory-mapped reads: a page the OS already caches costs no system call.
        // SQLite falls back to read() where the mapping cannot be made (32-bit).
        conn.execute_batch("PRAGMA cache_size=-16384; PRAGMA temp_store=FILE; PRAGMA mmap_size=1073741824;")
            .step("setting pragmas")?;
        check_version(&conn, &path, db)?;
    }
    Ok(conn)
}

/// Maps "not a database" and "corrupt" to [`Error::Corrupt`].
fn classify(path: &Path, e: rusqlite::Error, step: &'static str) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => Error::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        _ => Error::Sqlite { step, source: e },
    }
}

fn check_version(conn: &Connection, path: &Path, db: Db) -> Result<i64> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| classify(path, e, "reading schema version"))?;
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| classify(path, e, "reading application id"))?;
    let supported = db.migrations().len() as i64;
    if app != 0 && app != db.application_id() {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("not a TSD {} database (application id {app:#x})", db.file_name()),
        });
    }
    if app == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(|e| classify(path, e, "reading schema"))?;
        if tables > 0 {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: "an SQLite file of another application".into(),
            });
        }
    }
    if version > supported {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            supported,
        });
    }
    Ok(version)
}

/// Brings the schema to the newest version in one transaction; refuses newer files.
pub fn migrate(conn: &Connection, path: &Path, db: Db) -> Result<()> {
    let version = check_version(conn, path, db)?;
    let migrations = db.migrations();
    if version as usize == migrations.len() {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).step("starting migration")?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let version = check_version(&tx, path, db)?;
    for sql in &migrations[version as usize..] {
        tx.execute_batch(sql).step("applying a schema migration")?;
    }
    tx.execute_batch(&format!(
        "PRAGMA user_version={}; PRAGMA application_id={};",
        migrations.len(),
        db.application_id()
    ))
    .step("stamping schema version")?;
    tx.commit().step("committing migration")?;
    Ok(())
}

/// The data folder's paths.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// Creates the folder when missing.
    pub fn create(path: &Path) -> Result<DataDir> {
        if path.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} is a file; the data location is a folder",
                path.display()
            )));
        }
        crate::fsx::create_dir_durably(path)?;
        Ok(DataDir(path.to_path_buf()))
    }
}

/// Schema as text (type, name, SQL), for comparing migrated with fresh databases.
pub fn schema_dump(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(
            "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .step("reading schema")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).step("reading schema")?;
    rows.collect::<rusqlite::Result<Vec<_>>>().step("reading schema")
}

#[cfg(test)]
mod tests;
