//! Catalog packages: the PC side builds one from a catalog file (the same CSV or
//! JSON Lines `tsd import` takes, checked by the same rules); the terminal applies
//! it in one transaction, once per package id.

use super::import::{import, package_applied, ImportOptions, ImportReport};
use super::rows::{parse_file, CatalogRecord, Format, Row, RowSink, Source};
use crate::error::{Error, Result};
use crate::package::{Header, Kind, PackageReader, PackageWriter};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

struct Count(u64);

impl RowSink for Count {
    fn row(&mut self, _: Row<'_>, _: u64) -> Result<()> {
        self.0 += 1;
        Ok(())
    }
}

struct Writing(PackageWriter);

impl RowSink for Writing {
    fn row(&mut self, row: Row<'_>, _: u64) -> Result<()> {
        Ok(self.0.write(&CatalogRecord::from_row(row))?)
    }
}

/// Builds a catalog snapshot package at `out` from a catalog file. The file is read
/// twice (the header carries the record count); a bad row fails with file, line and
/// reason before anything is written under `out`.
pub fn build_snapshot(input: &Path, format: Format, out: &Path, producer: &str, version: i64, key: Option<&[u8]>) -> Result<Header> {
    let mut count = Count(0);
    parse_file(input, format, &mut count, &mut |_| true)?;
    let mut header = Header::new(Kind::CatalogSnapshot, producer, count.0);
    header.to_version = version;
    let mut writing = Writing(PackageWriter::create(out, &header, key)?);
    parse_file(input, format, &mut writing, &mut |_| true)?;
    writing.0.finish()?;
    header.signed = key.is_some();
    Ok(header)
}

/// What applying a package did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied now.
    Applied(ImportReport),
    /// This package id was applied before; nothing changed.
    AlreadyApplied,
}

/// Applies a verified catalog package: a snapshot replaces the catalog (rows it
/// lacks are deleted), in one transaction that also records the package id.
pub fn apply(conn: &mut Connection, reader: &PackageReader, progress: &mut dyn FnMut(u64) -> bool) -> Result<Applied> {
    let header = reader.header();
    if package_applied(conn, &header.package_id)? {
        return Ok(Applied::AlreadyApplied);
    }
    let replace = match header.kind {
        Kind::CatalogSnapshot => true,
        other => return Err(unsupported(reader.path(), other)),
    };
    let options = ImportOptions {
        replace,
        package_id: Some(&header.package_id),
    };
    import(conn, &Source::Package(reader), &options, progress).map(Applied::Applied)
}

fn unsupported(path: &Path, kind: Kind) -> Error {
    Error::Package(crate::package::PackageError::Refused {
        path: PathBuf::from(path),
        reason: crate::package::Refusal::Malformed(format!("package kind {kind:?} is not a catalog package this runtime applies")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{barcode_key, by_barcode, stats};
    use crate::store::{self, Db};

    const V1: &str = "product_id,name,packaging_id,factor,barcode\nP1,Молоко,,,4601234567893\nP1,Молоко,box,12,14601234567890\nP2,Кефир,,,4601234567909\n";
    const V2: &str = "product_id,name,barcode\nP1,Молоко 3.2%,4601234567893\nP3,Сметана,4601234567916\n";

    fn build(dir: &Path, name: &str, csv: &str) -> PathBuf {
        let input = dir.join(format!("{name}.csv"));
        std::fs::write(&input, csv).unwrap();
        let out = dir.join(format!("{name}.tsdpkg"));
        build_snapshot(&input, Format::Csv, &out, "test", 1, None).unwrap();
        out
    }

    #[test]
    fn snapshots_replace_the_catalog_once_per_package() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = store::open(dir.path(), Db::Catalog, true).unwrap();
        let p1 = build(dir.path(), "v1", V1);
        let r1 = PackageReader::open(&p1, None, false).unwrap();
        assert_eq!(r1.header().records, 6, "2 products, 1 packaging, 3 barcodes");
        let Applied::Applied(report) = apply(&mut conn, &r1, &mut |_| true).unwrap() else {
            panic!("not applied")
        };
        assert_eq!((report.products.added, report.barcodes.added), (2, 3));
        assert_eq!(stats(&conn).unwrap().barcodes, 3);
        assert_eq!(apply(&mut conn, &r1, &mut |_| true).unwrap(), Applied::AlreadyApplied);

        let p2 = build(dir.path(), "v2", V2);
        let Applied::Applied(report) = apply(&mut conn, &PackageReader::open(&p2, None, false).unwrap(), &mut |_| true).unwrap() else {
            panic!("not applied")
        };
        assert_eq!((report.products.added, report.products.changed, report.products.deleted), (1, 1, 1));
        assert_eq!((report.barcodes.deleted, report.packagings.deleted), (2, 1));
        let s = stats(&conn).unwrap();
        assert_eq!((s.products, s.packagings, s.barcodes), (2, 0, 2));
        assert!(by_barcode(&conn, &barcode_key("14601234567890").unwrap()).unwrap().is_none());
        assert_eq!(
            crate::catalog::search(&conn, "кефир", 5).unwrap().len(),
            0,
            "deleted products leave the name index"
        );
    }

    #[test]
    fn a_bad_row_fails_before_the_package_exists() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bad.csv");
        std::fs::write(&input, "product_id,name,barcode\nP1,Молоко,4601234567890\n").unwrap();
        let out = dir.path().join("bad.tsdpkg");
        let e = build_snapshot(&input, Format::Csv, &out, "test", 1, None).unwrap_err();
        assert!(matches!(e, Error::Import { line: 2, .. }), "{e}");
        assert!(!out.exists() && !dir.path().join("bad.tsdpkg.part").exists());
    }
}
