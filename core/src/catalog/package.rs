//! Catalog packages: the PC side builds one from a catalog file (the same CSV or
//! JSON Lines `tsd import` takes, checked by the same rules); the terminal applies
//! it in one transaction, once per package id.

use super::columns::{BlockBuilder, BLOCK};
use super::import::{import, package_applied, ImportOptions, ImportReport, Scope};
use super::patch::{PatchBuilder, ProductPatch};
use super::record::{CatalogRecord, Deletion, ProductRow, Row};
use super::rows::{parse_file, Format, ReadOptions, ReadSummary, RowSink, Source};
use super::BarcodeKey;
use crate::error::{Error, Result};
use crate::package::{Header, Kind, PackageReader, PackageWriter};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Counts the records a snapshot of the file will have: one per block of products,
/// one per cell or generic record.
#[derive(Default)]
struct Count {
    products: u64,
    others: u64,
}

impl RowSink for Count {
    fn row(&mut self, row: Row<'_>, _: u64) -> Result<()> {
        match row {
            Row::Product(_) => self.products += 1,
            Row::ProductOnly(_) => self.products += 1,
            Row::Cell { .. } | Row::Record { .. } | Row::Delete(_) | Row::ProductPatch(_) => self.others += 1,
            Row::Packaging { .. } | Row::Barcode { .. } => {}
        }
        Ok(())
    }
}

/// zstd level of snapshots. Measured on the 100,000-product generated catalog
/// (gzip -6 of the same data as JSON Lines: 3.12 MB): level 3 gives 1.87 MB,
/// 9 gives 1.41 MB in 1.1 s, 15 gives 1.24 MB in 3.9 s, 19 gives 1.14 MB in 12 s.
const SNAPSHOT_LEVEL: i32 = 9;

/// zstd level of deltas: they are small, so the strongest level costs little
/// (1% of 100,000 products: 13.0 kB at level 9, 11.5 kB at 19).
const DELTA_LEVEL: i32 = 19;

/// Most products a delta carries as patches (their old rows are held in memory
/// while it is built); the rest of the changed ones travel whole.
const MAX_PATCHES: usize = 200_000;

/// Builds a catalog snapshot package at `out` from a catalog file. The file is read
/// twice (the header carries the record count); a bad row fails with file, line and
/// reason before anything is written under `out`.
pub fn build_snapshot(input: &Path, format: Format, out: &Path, producer: &str, version: i64, key: Option<&[u8]>) -> Result<Header> {
    let mut count = Count::default();
    parse_file(input, format, &ReadOptions::default(), &mut count, &mut |_| true)?;
    let blocks = count.products.div_ceil(BLOCK as u64);
    let mut header = Header::new(Kind::CatalogSnapshot, producer, blocks + count.others);
    header.to_version = version;
    let mut writer = PackageWriter::create_with_level(out, &header, key, SNAPSHOT_LEVEL)?;
    let mut emit = |record: CatalogRecord| -> Result<()> { Ok(writer.write(&record)?) };
    let mut builder = BlockBuilder::new(&mut emit);
    parse_file(input, format, &ReadOptions::default(), &mut builder, &mut |_| true)?;
    builder.finish()?;
    writer.finish()?;
    header.signed = key.is_some();
    Ok(header)
}

/// Reads a catalog file as people export it (any accepted format, encoding and
/// header names, see [`ReadOptions`]) and writes it as canonical JSON Lines at
/// `out`, which every later step (snapshots, deltas against the next version)
/// reads with no options. Nothing is written when a row is bad.
pub fn normalize(input: &Path, format: Format, read: &ReadOptions, out: &Path) -> Result<ReadSummary> {
    normalize_observed(input, format, read, out, &mut |_| true)
}

/// [`normalize`], telling `progress` the rows read so far (every 65,536); it
/// returns `false` to stop.
pub fn normalize_observed(
    input: &Path,
    format: Format,
    read: &ReadOptions,
    out: &Path,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    use std::io::Write;
    let tmp = out.with_extension("partial");
    let io = |source: std::io::Error| Error::Io { path: tmp.clone(), source };
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    let mut write_err: Option<std::io::Error> = None;
    let summary = {
        let mut f = |group: Vec<CatalogRecord>| -> Result<()> {
            let line = group_json(&group);
            if let Err(e) = serde_json::to_writer(&mut w, &line)
                .map_err(std::io::Error::from)
                .and_then(|_| w.write_all(b"\n"))
            {
                write_err.get_or_insert(e);
            }
            Ok(())
        };
        let mut groups = Groups {
            current: Vec::new(),
            f: &mut f,
        };
        let summary = parse_file(input, format, read, &mut groups, progress);
        let summary = summary.and_then(|s| groups.flush().map(|_| s));
        if summary.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        summary?
    };
    if let Some(e) = write_err {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, out).map_err(io)?;
    Ok(summary)
}

/// A temporary `.jsonl` file in `dir`, removed when dropped.
pub fn temp_jsonl(dir: &Path) -> Result<tempfile::TempPath> {
    let file = tempfile::Builder::new()
        .suffix(".jsonl")
        .tempfile_in(dir)
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    Ok(file.into_temp_path())
}

/// [`normalize`] into a temporary file in `dir`.
pub fn normalize_to_temp(input: &Path, format: Format, read: &ReadOptions, dir: &Path) -> Result<(tempfile::TempPath, ReadSummary)> {
    normalize_to_temp_observed(input, format, read, dir, &mut |_| true)
}

/// [`normalize_to_temp`] with progress (see [`normalize_observed`]).
pub fn normalize_to_temp_observed(
    input: &Path,
    format: Format,
    read: &ReadOptions,
    dir: &Path,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<(tempfile::TempPath, ReadSummary)> {
    let out = temp_jsonl(dir)?;
    let summary = normalize_observed(input, format, read, &out, progress)?;
    Ok((out, summary))
}

/// The identity of a canonical JSON Lines object (see [`normalize`]): a product,
/// cell or record key.
fn canonical_key(line: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Key {
        #[serde(rename = "type")]
        kind: Option<String>,
        id: Option<String>,
        catalog: Option<String>,
    }
    let k: Key = serde_json::from_str(line).ok()?;
    let id = k.id?;
    Some(match k.kind.as_deref() {
        None | Some("product") => format!("p\u{1f}{id}"),
        Some("cell") => format!("c\u{1f}{id}"),
        _ => format!("r\u{1f}{}\u{1f}{id}", k.catalog.unwrap_or_default()),
    })
}

/// Merges a canonical file of changes onto a canonical catalog (both written by
/// [`normalize`]) into `out`: a product, cell or record in `changes` replaces the
/// catalog's, new ones are added at the end, and the products in `deleted` go.
/// The catalog is streamed; only the changes are held in memory.
pub fn merge_canonical(catalog: &Path, changes: &Path, deleted: &[String], out: &Path) -> Result<()> {
    use std::collections::{HashMap, HashSet};
    use std::io::{BufRead, Write};
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| Error::Io {
            path: path.clone(),
            source,
        }
    };
    let mut order = Vec::new();
    let mut new: HashMap<String, String> = HashMap::new();
    let file = std::fs::File::open(changes).map_err(read_err(changes))?;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(read_err(changes))?;
        if let Some(key) = canonical_key(&line) {
            if new.insert(key.clone(), line).is_none() {
                order.push(key);
            }
        }
    }
    let gone: HashSet<String> = deleted.iter().map(|id| format!("p\u{1f}{id}")).collect();
    let tmp = out.with_extension("partial");
    let write_err = read_err(&tmp);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(&write_err)?);
    let file = std::fs::File::open(catalog).map_err(read_err(catalog))?;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(read_err(catalog))?;
        let key = canonical_key(&line);
        let line = match key.as_ref() {
            Some(k) if gone.contains(k) => continue,
            Some(k) => new.remove(k).unwrap_or(line),
            None => line,
        };
        writeln!(w, "{line}").map_err(&write_err)?;
    }
    for key in order {
        if let Some(line) = new.remove(&key) {
            if !gone.contains(&key) {
                writeln!(w, "{line}").map_err(&write_err)?;
            }
        }
    }
    w.flush().map_err(&write_err)?;
    drop(w);
    std::fs::rename(&tmp, out).map_err(write_err)
}

/// One group of rows as a JSON Lines object of the import format.
fn group_json(group: &[CatalogRecord]) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let milli = |f: i64| {
        if f % 1000 == 0 {
            (f / 1000).to_string()
        } else {
            format!("{}.{:03}", f / 1000, f % 1000)
        }
    };
    match group.first() {
        Some(CatalogRecord::Product(p)) => {
            let (mut barcodes, mut texts) = (Vec::new(), Vec::new());
            let mut packagings: Vec<Map<String, Value>> = Vec::new();
            for r in &group[1..] {
                match r {
                    CatalogRecord::Packaging { id, name, factor, .. } => {
                        let mut m = Map::new();
                        m.insert("id".into(), id.clone().into());
                        m.insert("name".into(), name.clone().into());
                        m.insert("factor".into(), milli(*factor).into());
                        m.insert("barcodes".into(), Value::Array(Vec::new()));
                        m.insert("text_barcodes".into(), Value::Array(Vec::new()));
                        packagings.push(m);
                    }
                    CatalogRecord::Barcode { key, packaging, .. } => {
                        let (list, text) = match key {
                            BarcodeKey::Gtin(_) => ("barcodes", key.to_string()),
                            BarcodeKey::Text(t) => ("text_barcodes", t.clone()),
                        };
                        match packaging.as_deref().and_then(|k| packagings.iter_mut().find(|m| m["id"] == k)) {
                            Some(m) => m[list].as_array_mut().map_or((), |a| a.push(text.into())),
                            None if list == "barcodes" => barcodes.push(text),
                            None => texts.push(text),
                        }
                    }
                    _ => {}
                }
            }
            json!({
                "id": p.id, "code": p.code, "name": p.name, "unit": p.unit,
                "weighted": p.flags & super::FLAG_WEIGHTED != 0, "marked": p.flags & super::FLAG_MARKED != 0,
                "barcodes": barcodes, "text_barcodes": texts, "packagings": packagings,
            })
        }
        Some(CatalogRecord::Cell { id, name, barcode }) => json!({"type": "cell", "id": id, "name": name, "barcode": barcode}),
        Some(CatalogRecord::Record { catalog, id, fields }) => {
            let fields: Value = serde_json::from_str(fields).unwrap_or(Value::Null);
            json!({"type": "record", "catalog": catalog, "id": id, "fields": fields})
        }
        _ => Value::Null,
    }
}

/// Collects a file's rows into groups — a product with its packagings and barcodes,
/// or one cell, or one record — and hands each to `f`.
struct Groups<'f> {
    current: Vec<CatalogRecord>,
    f: &'f mut dyn FnMut(Vec<CatalogRecord>) -> Result<()>,
}

impl Groups<'_> {
    fn flush(&mut self) -> Result<()> {
        if !self.current.is_empty() {
            (self.f)(std::mem::take(&mut self.current))?;
        }
        Ok(())
    }
}

impl RowSink for Groups<'_> {
    fn row(&mut self, row: Row<'_>, _: u64) -> Result<()> {
        let starts = matches!(row, Row::Product(_) | Row::ProductOnly(_) | Row::Cell { .. } | Row::Record { .. });
        if starts {
            self.flush()?;
        }
        self.current.push(CatalogRecord::from_row(row));
        if !matches!(
            row,
            Row::Product(_) | Row::ProductOnly(_) | Row::Packaging { .. } | Row::Barcode { .. }
        ) {
            self.flush()?;
        }
        Ok(())
    }
}

/// What a group is, as a deletion if it goes away.
fn group_identity(group: &[CatalogRecord]) -> Option<Deletion> {
    match group.first()? {
        CatalogRecord::Product(p) => Some(Deletion::Product(p.id.clone())),
        CatalogRecord::Cell { id, .. } => Some(Deletion::Cell(id.clone())),
        CatalogRecord::Record { catalog, id, .. } => Some(Deletion::Record {
            catalog: catalog.clone(),
            id: id.clone(),
        }),
        _ => None,
    }
}

/// Hashes of a group's first row (the product's own fields) and of the rest (its
/// packagings and barcodes).
fn group_hash(group: &[CatalogRecord]) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let hash = |rows: &[CatalogRecord]| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        rows.hash(&mut h);
        h.finish()
    };
    (hash(&group[..group.len().min(1)]), hash(group.get(1..).unwrap_or(&[])))
}

fn for_each_group(input: &Path, format: Format, f: &mut dyn FnMut(Vec<CatalogRecord>) -> Result<()>) -> Result<()> {
    let mut groups = Groups { current: Vec::new(), f };
    parse_file(input, format, &ReadOptions::default(), &mut groups, &mut |_| true)?;
    groups.flush()
}

/// Builds a catalog delta package from two exports of the same catalog: every
/// product, cell or record that is new or different in `new`, and a deletion for
/// each one `new` no longer has. A product whose packagings or barcodes changed
/// travels whole (the terminal replaces them); one whose own fields alone changed
/// travels as a `ProductOnly` row. The terminal applies it only on top of
/// `from_version`.
#[allow(clippy::too_many_arguments)]
pub fn build_delta(
    old: (&Path, Format),
    new: (&Path, Format),
    out: &Path,
    producer: &str,
    from_version: i64,
    to_version: i64,
    key: Option<&[u8]>,
) -> Result<Header> {
    use std::collections::HashMap;
    let mut before: HashMap<Deletion, (u64, u64)> = HashMap::new();
    let ((old, old_format), (new, new_format)) = (old, new);
    for_each_group(old, old_format, &mut |g| {
        if let Some(id) = group_identity(&g) {
            before.insert(id, group_hash(&g));
        }
        Ok(())
    })?;
    // Changed groups, and whether only the product's own fields changed.
    let mut changed: HashMap<Deletion, bool> = HashMap::new();
    let (mut products, mut others) = (0u64, 0u64);
    for_each_group(new, new_format, &mut |g| {
        let Some(id) = group_identity(&g) else { return Ok(()) };
        let now = group_hash(&g);
        let only = match before.remove(&id) {
            Some(was) if was == now => return Ok(()),
            Some((_, children)) => children == now.1 && matches!(id, Deletion::Product(_)),
            None => false,
        };
        match id {
            Deletion::Product(_) => products += 1,
            _ => others += 1,
        }
        changed.insert(id, only);
        Ok(())
    })?;
    let deletions: Vec<Deletion> = before.into_keys().collect();
    // Products whose own fields alone changed travel as patches against their old
    // row: collect those old rows (bounded; beyond the bound they travel whole).
    let mut old_rows: HashMap<String, ProductRow> = HashMap::new();
    for_each_group(old, old_format, &mut |g| {
        if let Some(CatalogRecord::Product(p)) = g.first() {
            if old_rows.len() < MAX_PATCHES && changed.get(&Deletion::Product(p.id.clone())) == Some(&true) {
                old_rows.insert(p.id.clone(), p.clone());
            }
        }
        Ok(())
    })?;
    let patches = old_rows.len() as u64;
    let mut header = Header::new(
        Kind::CatalogDelta,
        producer,
        (products - patches).div_ceil(BLOCK as u64) + patches.div_ceil(BLOCK as u64) + others + deletions.len() as u64,
    );
    header.from_version = from_version;
    header.to_version = to_version;
    let mut writer = PackageWriter::create_with_level(out, &header, key, DELTA_LEVEL)?;
    let mut emit = |record: CatalogRecord| -> Result<()> { Ok(writer.write(&record)?) };
    let mut builder = BlockBuilder::new(&mut emit);
    let mut patch_list = Vec::with_capacity(old_rows.len());
    for_each_group(new, new_format, &mut |g| {
        match (group_identity(&g).and_then(|id| changed.get(&id).copied()), g.first()) {
            (Some(true), Some(CatalogRecord::Product(p))) => match old_rows.get(&p.id) {
                Some(o) => patch_list.push(ProductPatch::between(o, p)),
                None => builder.row(Row::ProductOnly(p), 0)?,
            },
            (Some(_), _) => {
                for row in g.iter().filter_map(CatalogRecord::as_row) {
                    builder.row(row, 0)?;
                }
            }
            (None, _) => {}
        }
        Ok(())
    })?;
    builder.finish()?;
    let mut patcher = PatchBuilder::new(&mut emit);
    for p in &patch_list {
        patcher.push(p)?;
    }
    patcher.finish()?;
    for d in deletions {
        writer.write(&CatalogRecord::Delete(d))?;
    }
    writer.finish()?;
    header.signed = key.is_some();
    Ok(header)
}

/// What applying a package did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied now.
    Applied(Box<ImportReport>),
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
    let (scope, expect_version) = match header.kind {
        Kind::CatalogSnapshot => (Scope::Snapshot, None),
        Kind::CatalogDelta => (Scope::Delta, Some(header.from_version)),
        other => return Err(unsupported(reader.path(), other)),
    };
    let options = ImportOptions {
        scope,
        package_id: Some(&header.package_id),
        expect_version,
        synced_version: Some(header.to_version),
    };
    import(conn, &Source::Package(reader), &options, progress).map(|r| Applied::Applied(Box::new(r)))
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
        assert_eq!(r1.header().records, 1, "one block of 2 products with their packaging and barcodes");
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

    /// Column blocks must give back exactly the rows they were built from, whatever
    /// the ids, GTIN order, duplicates and text barcodes look like.
    #[test]
    fn blocks_round_trip_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "product_id,name,unit,packaging_id,factor,barcode
P1,Молоко,шт,,,4601234567893
P1,Молоко,шт,box,12,14601234567890
P1,Молоко,шт,,,INT-1
P10,Кефир,шт,,,00000046009333
P10,Кефир,шт,,,0460123456786
Ж-1/2,Сыр,кг,pal,480,4601234567909
Ж-1/2,Сыр,кг,pal,480,4601234567909
Ж-1/3,Сыр,кг,,,4600000000008
";
        let g = crate::catalog::generate(&dir.path().join("gen"), 9_000, 5).unwrap();
        for (name, input) in [("small", write_csv(dir.path(), csv)), ("generated", g.catalog.clone())] {
            let out = dir.path().join(format!("{name}.tsdpkg"));
            build_snapshot(&input, Format::Csv, &out, "test", 1, None).unwrap();
            let (pd, fd) = (dir.path().join(format!("{name}-p")), dir.path().join(format!("{name}-f")));
            std::fs::create_dir_all(&pd).unwrap();
            std::fs::create_dir_all(&fd).unwrap();
            let via_package = store::open(&pd, Db::Catalog, true).unwrap();
            let via_file = store::open(&fd, Db::Catalog, true).unwrap();
            let (mut p, mut f) = (via_package, via_file);
            apply(&mut p, &PackageReader::open(&out, None, false).unwrap(), &mut |_| true).unwrap();
            crate::catalog::import_file(&mut f, &input, Format::Csv, &Default::default(), &mut |_| true).unwrap();
            let dump = |c: &Connection| -> Vec<String> {
                let mut st = c
                    .prepare(
                        "SELECT p.id || '|' || p.name || '|' || p.unit || '|' || quote(b.barcode) || '|' || coalesce(k.id, '') || '|' || coalesce(k.factor, '')
                         FROM barcodes b JOIN products p ON p.pk = b.product LEFT JOIN packagings k ON k.pk = b.packaging ORDER BY 1",
                    )
                    .unwrap();
                st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
            };
            assert_eq!(dump(&p), dump(&f), "{name}");
            assert_eq!(stats(&p).unwrap().products, stats(&f).unwrap().products, "{name}");
        }
    }

    fn catalog_rows(c: &Connection) -> Vec<String> {
        let mut st = c
            .prepare(
                "SELECT p.id || '|' || p.name || '|' || coalesce(quote(b.barcode), '') || '|' || coalesce(k.id, '') || '|' || coalesce(k.factor, '')
                 FROM products p LEFT JOIN barcodes b ON b.product = p.pk LEFT JOIN packagings k ON k.pk = b.packaging ORDER BY 1",
            )
            .unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn deltas_apply_in_order_and_equal_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.csv"), dir.path().join("new.csv"));
        std::fs::write(&old, V1).unwrap();
        // P1 renamed and its box gone, P2 gone, P3 new.
        std::fs::write(&new, V2).unwrap();
        let delta = dir.path().join("d.tsdpkg");
        let h = build_delta((&old, Format::Csv), (&new, Format::Csv), &delta, "test", 1, 2, None).unwrap();
        assert_eq!(h.records, 2, "one block (P1 lost its box, P3 is new) and one deletion (P2)");

        let d1 = dir.path().join("t1");
        std::fs::create_dir_all(&d1).unwrap();
        let mut term = store::open(&d1, Db::Catalog, true).unwrap();
        let snap = build(dir.path(), "v1", V1);
        apply(&mut term, &PackageReader::open(&snap, None, false).unwrap(), &mut |_| true).unwrap();
        assert_eq!(crate::catalog::synced_version(&term).unwrap(), 1);

        // A delta that does not start at version 1 is refused and changes nothing.
        let wrong = dir.path().join("wrong.tsdpkg");
        build_delta((&old, Format::Csv), (&new, Format::Csv), &wrong, "test", 5, 6, None).unwrap();
        let before = catalog_rows(&term);
        let e = apply(&mut term, &PackageReader::open(&wrong, None, false).unwrap(), &mut |_| true).unwrap_err();
        assert!(e.to_string().contains("version 5") && e.to_string().contains("version 1"), "{e}");
        assert_eq!(catalog_rows(&term), before);

        let reader = PackageReader::open(&delta, None, false).unwrap();
        let Applied::Applied(r) = apply(&mut term, &reader, &mut |_| true).unwrap() else {
            panic!("not applied")
        };
        assert_eq!((r.products.added, r.products.changed, r.products.deleted), (1, 1, 1));
        assert_eq!(apply(&mut term, &reader, &mut |_| true).unwrap(), Applied::AlreadyApplied);
        assert_eq!(crate::catalog::synced_version(&term).unwrap(), 2);

        let d2 = dir.path().join("t2");
        std::fs::create_dir_all(&d2).unwrap();
        let mut fresh = store::open(&d2, Db::Catalog, true).unwrap();
        let snap2 = build(dir.path(), "v2", V2);
        apply(&mut fresh, &PackageReader::open(&snap2, None, false).unwrap(), &mut |_| true).unwrap();
        assert_eq!(catalog_rows(&term), catalog_rows(&fresh), "delta on v1 = snapshot of v2");
        assert!(crate::catalog::search(&term, "кефир", 5).unwrap().is_empty());
        assert_eq!(crate::catalog::search(&term, "сметана", 5).unwrap()[0].id, "P3");
    }

    #[test]
    fn a_renamed_product_keeps_its_barcodes() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.csv"), dir.path().join("new.csv"));
        std::fs::write(&old, V1).unwrap();
        std::fs::write(&new, V1.replace("P2,Кефир", "P2,Кефир 1%")).unwrap();
        let delta = dir.path().join("d.tsdpkg");
        build_delta((&old, Format::Csv), (&new, Format::Csv), &delta, "test", 1, 2, None).unwrap();
        let reader = PackageReader::open(&delta, None, false).unwrap();
        let records: Vec<CatalogRecord> = reader.records().unwrap().collect::<std::result::Result<_, _>>().unwrap();
        assert!(
            matches!(&records[..], [CatalogRecord::Patch(b)] if b.ids == ["P2"] && b.mids == [" 1%"] && b.fields == [2]),
            "only the new words travel: {records:?}"
        );
        let d1 = dir.path().join("t");
        std::fs::create_dir_all(&d1).unwrap();
        let mut term = store::open(&d1, Db::Catalog, true).unwrap();
        apply(
            &mut term,
            &PackageReader::open(&build(dir.path(), "v1", V1), None, false).unwrap(),
            &mut |_| true,
        )
        .unwrap();
        apply(&mut term, &reader, &mut |_| true).unwrap();
        let hit = by_barcode(&term, &barcode_key("4601234567909").unwrap()).unwrap().unwrap();
        assert_eq!(hit.product.name, "Кефир 1%", "renamed, barcode kept");
        assert_eq!(stats(&term).unwrap().barcodes, 3);
    }

    /// A patch needs the product as the delta's base had it; a terminal whose
    /// catalog lacks it refuses the whole delta and keeps what it had.
    #[test]
    fn a_patch_of_a_missing_product_refuses_the_delta() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.csv"), dir.path().join("new.csv"));
        std::fs::write(&old, V1).unwrap();
        std::fs::write(&new, V1.replace("P2,Кефир", "P2,Кефир 1%").replace("P1,Молоко", "P1,Молоко 3.2%")).unwrap();
        let delta = dir.path().join("d.tsdpkg");
        build_delta((&old, Format::Csv), (&new, Format::Csv), &delta, "test", 1, 2, None).unwrap();
        let d1 = dir.path().join("t");
        std::fs::create_dir_all(&d1).unwrap();
        let mut term = store::open(&d1, Db::Catalog, true).unwrap();
        let without_p2 = V1.lines().filter(|l| !l.starts_with("P2")).collect::<Vec<_>>().join("\n") + "\n";
        apply(
            &mut term,
            &PackageReader::open(&build(dir.path(), "v1", &without_p2), None, false).unwrap(),
            &mut |_| true,
        )
        .unwrap();
        let before = catalog_rows(&term);
        let e = apply(&mut term, &PackageReader::open(&delta, None, false).unwrap(), &mut |_| true).unwrap_err();
        assert!(e.to_string().contains("P2 which the catalog does not have"), "{e}");
        assert_eq!(catalog_rows(&term), before, "nothing of the delta applied, P1's rename included");
        assert_eq!(crate::catalog::synced_version(&term).unwrap(), 1);
    }

    fn write_csv(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("small.csv");
        std::fs::write(&p, text).unwrap();
        p
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
