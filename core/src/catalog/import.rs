//! Catalog import from the files an accounting system exports: CSV (flat, one row
//! per barcode or packaging) and JSON Lines (one product per line, nested).
//!
//! The file is streamed into staging tables, then merged into the catalog in sorted
//! key order, all in one `IMMEDIATE` transaction: a bad row anywhere fails the whole
//! import with the file, line and reason, and the catalog stays as it was. Rows
//! equal to what the catalog holds change nothing, and the catalog version moves
//! only when something changed.
//!
//! File formats: see [`super::rows`].

use super::record::{Deletion, ProductRow, Row};
use super::rows::{Format, ReadOptions, ReadSummary, RowSink, Source};
use super::sort::{Rec, Sorter};
use super::{fold, BarcodeKey};
use crate::error::{Error, Result, SqlStep};
use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection, OptionalExtension, Statement, TransactionBehavior};
use serde::Serialize;
use std::path::Path;

/// Added / changed / unchanged counts of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// New rows.
    pub added: u64,
    /// Rows whose data changed.
    pub changed: u64,
    /// Rows equal to what the catalog held.
    pub unchanged: u64,
    /// Rows removed because a snapshot no longer has them.
    pub deleted: u64,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Data rows read (CSV rows or JSON lines, header and blank lines excluded).
    pub rows: u64,
    /// Products.
    pub products: Counts,
    /// Packagings.
    pub packagings: Counts,
    /// Barcodes.
    pub barcodes: Counts,
    /// Cells.
    pub cells: Counts,
    /// Generic catalog records.
    pub records: Counts,
    /// Catalog version after the import.
    pub version: i64,
    /// What the person who exported the file should know: columns not used, no
    /// barcode column, products a CommerceML export marked deleted.
    pub warnings: Vec<String>,
    /// The encoding the file was read in (`None`: all ASCII, or a package).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

impl ImportReport {
    /// True when the import changed anything.
    pub fn changed(&self) -> bool {
        [self.products, self.packagings, self.barcodes, self.cells, self.records]
            .iter()
            .any(|c| c.added + c.changed + c.deleted > 0)
    }
}

const STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS s_products (id TEXT, code TEXT, name TEXT, unit TEXT, flags INTEGER, line INTEGER, only INTEGER, patch BLOB);
CREATE TEMP TABLE IF NOT EXISTS s_packagings (product TEXT, id TEXT, name TEXT, factor INTEGER, line INTEGER);
CREATE TEMP TABLE IF NOT EXISTS s_barcodes (barcode, product TEXT, packaging TEXT, line INTEGER);
CREATE TEMP TABLE IF NOT EXISTS s_cells (id TEXT, name TEXT, barcode TEXT, line INTEGER);
CREATE TEMP TABLE IF NOT EXISTS s_records (catalog TEXT, id TEXT, fields TEXT, line INTEGER);
CREATE TEMP TABLE IF NOT EXISTS s_deletes (kind TEXT, a TEXT, b TEXT);
DELETE FROM s_deletes; DELETE FROM s_products; DELETE FROM s_packagings; DELETE FROM s_barcodes; DELETE FROM s_cells; DELETE FROM s_records;";

/// Appends validated rows to the staging tables, or in the bulk path straight to
/// the catalog tables and the barcode sorter.
struct Stager<'t> {
    /// Set when loading into an empty catalog: products and packagings go straight
    /// into their tables (file order), barcodes into the external sorter keyed by pk.
    bulk: Option<Bulk<'t>>,
    product: Statement<'t>,
    packaging: Statement<'t>,
    barcode: Statement<'t>,
    cell: Statement<'t>,
    record: Statement<'t>,
    delete: Statement<'t>,
    path: std::path::PathBuf,
}

/// Statements and state of the bulk path.
struct Bulk<'t> {
    product: Statement<'t>,
    packaging: Statement<'t>,
    barcodes: Sorter,
    product_pk: i64,
    packaging_pk: i64,
    products: u64,
    packagings: u64,
}

impl<'t> Stager<'t> {
    fn new(tx: &'t Connection, path: &Path, bulk: bool) -> Result<Self> {
        let p = |sql| tx.prepare(sql).step("preparing staging");
        let bulk = if bulk {
            Some(Bulk {
                product: p("INSERT INTO products (id, code, name, unit, flags) VALUES (?1, ?2, ?3, ?4, ?5)")?,
                packaging: p("INSERT INTO packagings (product, id, name, factor) VALUES (?1, ?2, ?3, ?4)")?,
                barcodes: Sorter::new(path.to_path_buf()),
                product_pk: 0,
                packaging_pk: 0,
                products: 0,
                packagings: 0,
            })
        } else {
            None
        };
        Ok(Stager {
            bulk,
            product: p("INSERT INTO s_products VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?,
            packaging: p("INSERT INTO s_packagings VALUES (?1, ?2, ?3, ?4, ?5)")?,
            barcode: p("INSERT INTO s_barcodes VALUES (?1, ?2, ?3, ?4)")?,
            cell: p("INSERT INTO s_cells VALUES (?1, ?2, ?3, ?4)")?,
            record: p("INSERT INTO s_records VALUES (?1, ?2, ?3, ?4)")?,
            delete: p("INSERT INTO s_deletes VALUES (?1, ?2, ?3)")?,
            path: path.to_path_buf(),
        })
    }
}

impl RowSink for Stager<'_> {
    fn row(&mut self, row: Row<'_>, line: u64) -> Result<()> {
        match (row, &mut self.bulk) {
            (Row::Product(p) | Row::ProductOnly(p), Some(b)) => {
                b.product_pk = b
                    .product
                    .insert(params![p.id, p.code, p.name, p.unit, p.flags])
                    .step("loading a product")?;
                b.products += 1;
            }
            (Row::Product(p), None) => {
                self.product
                    .execute(params![p.id, p.code, p.name, p.unit, p.flags, line, 0, None::<Vec<u8>>])
                    .step("staging a product")?;
            }
            (Row::ProductOnly(p), None) => {
                self.product
                    .execute(params![p.id, p.code, p.name, p.unit, p.flags, line, 1, None::<Vec<u8>>])
                    .step("staging a product")?;
            }
            (Row::ProductPatch(p), None) => {
                let patch = postcard::to_stdvec(p).map_err(|e| Error::InvalidArgument(format!("encoding a patch: {e}")))?;
                self.product
                    .execute(params![p.id, "", "", "", 0, line, 1, patch])
                    .step("staging a product patch")?;
            }
            (Row::ProductPatch(p), Some(_)) => {
                return Err(Error::Import {
                    path: self.path.clone(),
                    line,
                    reason: format!(
                        "a patch of product {} in a load into an empty catalog: apply the snapshot first",
                        p.id
                    ),
                });
            }
            (Row::Packaging { id, name, factor, .. }, Some(b)) => {
                b.packaging_pk = b
                    .packaging
                    .insert(params![b.product_pk, id, name, factor])
                    .step("loading a packaging")?;
                b.packagings += 1;
            }
            (Row::Packaging { product, id, name, factor }, None) => {
                self.packaging
                    .execute(params![product, id, name, factor, line])
                    .step("staging a packaging")?;
            }
            (Row::Barcode { key, packaging, .. }, Some(b)) => {
                let packaging = if packaging.is_some() { b.packaging_pk } else { 0 };
                b.barcodes.push(Rec {
                    key: key.clone(),
                    line,
                    product: b.product_pk,
                    packaging,
                })?;
            }
            (Row::Barcode { key, product, packaging }, None) => {
                self.barcode
                    .execute(params![key, product, packaging, line])
                    .step("staging a barcode")?;
            }
            (Row::Cell { id, name, barcode }, _) => {
                self.cell.execute(params![id, name, barcode, line]).step("staging a cell")?;
            }
            (Row::Record { catalog, id, fields }, _) => {
                self.record.execute(params![catalog, id, fields, line]).step("staging a record")?;
            }
            (Row::Delete(d), _) => {
                let (kind, a, b) = match d {
                    Deletion::Product(id) => ("product", id.as_str(), ""),
                    Deletion::Cell(id) => ("cell", id.as_str(), ""),
                    Deletion::Record { catalog, id } => ("record", catalog.as_str(), id.as_str()),
                };
                self.delete.execute(params![kind, a, b]).step("staging a deletion")?;
            }
        }
        Ok(())
    }
}

fn is_empty(tx: &Connection, table: &str) -> Result<bool> {
    tx.query_row(&format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"), [], |r| r.get(0))
        .step("checking for an empty table")
}

/// What merging one staged row did to the catalog.
enum Merged {
    Added,
    Changed,
    Unchanged,
}

/// The shape every general-path merge shares. `sql` selects staged rows sorted by
/// key, then line; `read` turns one into `(row, line)`. A row with the same key as
/// the previous one must carry the same data, else the import fails with both
/// lines (`conflict` says what differs); the first of each key goes to `apply`.
fn merge_sorted<T: PartialEq>(
    tx: &Connection,
    path: &Path,
    sql: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<(T, u64)>,
    same_key: impl Fn(&T, &T) -> bool,
    conflict: impl Fn(&T, &T, u64) -> String,
    mut apply: impl FnMut(&T, u64) -> Result<Merged>,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut sel = tx.prepare(sql).step("sorting staged rows")?;
    let mut rows = sel.query([]).step("sorting staged rows")?;
    let mut prev: Option<(T, u64)> = None;
    while let Some(r) = rows.next().step("reading staged rows")? {
        let (row, line) = read(r).step("reading staged rows")?;
        if let Some((q, qline)) = &prev {
            if same_key(q, &row) {
                if *q != row {
                    return Err(Error::Import {
                        path: path.to_path_buf(),
                        line,
                        reason: conflict(q, &row, *qline),
                    });
                }
                continue;
            }
        }
        match apply(&row, line)? {
            Merged::Added => counts.added += 1,
            Merged::Changed => counts.changed += 1,
            Merged::Unchanged => counts.unchanged += 1,
        }
        prev = Some((row, line));
    }
    Ok(counts)
}

fn merge_products(tx: &Connection, path: &Path) -> Result<Counts> {
    let prepare = |sql| tx.prepare(sql).step("preparing product merge");
    let mut existing = prepare("SELECT pk, code, name, unit, flags FROM products WHERE id = ?1")?;
    let mut ins = prepare("INSERT INTO products (id, code, name, unit, flags) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    let mut upd = prepare("UPDATE products SET code = ?2, name = ?3, unit = ?4, flags = ?5 WHERE pk = ?1")?;
    let mut fts_del = prepare("DELETE FROM product_text WHERE rowid = ?1")?;
    let mut fts_ins = prepare("INSERT INTO product_text (rowid, name) VALUES (?1, ?2)")?;
    merge_sorted(
        tx,
        path,
        "SELECT id, code, name, unit, flags, line, patch FROM s_products ORDER BY id, line",
        |r| {
            Ok((
                (
                    ProductRow {
                        id: r.get(0)?,
                        code: r.get(1)?,
                        name: r.get(2)?,
                        unit: r.get(3)?,
                        flags: r.get(4)?,
                    },
                    r.get::<_, Option<Vec<u8>>>(6)?,
                ),
                r.get(5)?,
            ))
        },
        |a, b| a.0.id == b.0.id,
        |_, p, other| format!("product {} differs from its row on line {other}", p.0.id),
        |(p, patch), line| {
            let old = existing
                .query_row([&p.id], |r| {
                    let row = ProductRow {
                        id: p.id.clone(),
                        code: r.get(1)?,
                        name: r.get(2)?,
                        unit: r.get(3)?,
                        flags: r.get(4)?,
                    };
                    Ok((r.get::<_, i64>(0)?, row))
                })
                .optional()
                .step("reading a product")?;
            let bad = |reason: String| Error::Import {
                path: path.to_path_buf(),
                line,
                reason,
            };
            // A patch edits the product the catalog has.
            let patched;
            let p = match patch {
                None => p,
                Some(bytes) => {
                    let patch: super::patch::ProductPatch =
                        postcard::from_bytes(bytes).map_err(|e| bad(format!("damaged product patch: {e}")))?;
                    let Some((_, o)) = &old else {
                        return Err(bad(format!("a patch of product {} which the catalog does not have", patch.id)));
                    };
                    patched = patch.apply(o).map_err(bad)?;
                    if patched.name.trim().is_empty() {
                        return Err(bad(format!("product {} has no name after its patch", patched.id)));
                    }
                    &patched
                }
            };
            Ok(match old {
                None => {
                    let pk = ins
                        .insert(params![p.id, p.code, p.name, p.unit, p.flags])
                        .step("inserting a product")?;
                    fts_ins.execute(params![pk, fold(&p.name)]).step("indexing a product name")?;
                    Merged::Added
                }
                Some((_, o)) if o == *p => Merged::Unchanged,
                Some((pk, _)) => {
                    upd.execute(params![pk, p.code, p.name, p.unit, p.flags])
                        .step("updating a product")?;
                    fts_del.execute([pk]).step("re-indexing a product name")?;
                    fts_ins.execute(params![pk, fold(&p.name)]).step("re-indexing a product name")?;
                    Merged::Changed
                }
            })
        },
    )
}

/// A staged packaging: product id, packaging id, name, factor, product pk.
type PackagingRow = (String, String, String, i64, i64);

fn merge_packagings(tx: &Connection, path: &Path) -> Result<Counts> {
    let prepare = |sql| tx.prepare(sql).step("preparing packaging merge");
    let mut existing = prepare("SELECT pk, name, factor FROM packagings WHERE product = ?1 AND id = ?2")?;
    let mut ins = prepare("INSERT INTO packagings (product, id, name, factor) VALUES (?1, ?2, ?3, ?4)")?;
    let mut upd = prepare("UPDATE packagings SET name = ?2, factor = ?3 WHERE pk = ?1")?;
    merge_sorted(
        tx,
        path,
        "SELECT s.product, s.id, s.name, s.factor, p.pk, s.line FROM s_packagings s
         JOIN products p ON p.id = s.product ORDER BY s.product, s.id, s.line",
        |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?), r.get(5)?)),
        |a: &PackagingRow, b| a.0 == b.0 && a.1 == b.1,
        |_, (product, id, ..), other| format!("packaging {id} of product {product} differs from its row on line {other}"),
        |(_, id, name, factor, ppk), _| {
            let old = existing
                .query_row(params![ppk, id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .optional()
                .step("reading a packaging")?;
            Ok(match old {
                None => {
                    ins.execute(params![ppk, id, name, factor]).step("inserting a packaging")?;
                    Merged::Added
                }
                Some((_, on, of)) if on == *name && of == *factor => Merged::Unchanged,
                Some((pk, _, _)) => {
                    upd.execute(params![pk, name, factor]).step("updating a packaging")?;
                    Merged::Changed
                }
            })
        },
    )
}

/// A staged barcode: key, product pk, packaging pk, product id (for messages).
type BarcodeRow = (BarcodeKey, i64, Option<i64>, String);

fn merge_barcodes(tx: &Connection, path: &Path) -> Result<Counts> {
    let prepare = |sql| tx.prepare(sql).step("preparing barcode merge");
    let mut existing = prepare("SELECT product, packaging FROM barcodes WHERE barcode = ?1")?;
    let mut ins = prepare("INSERT INTO barcodes (barcode, product, packaging) VALUES (?1, ?2, ?3)")?;
    let mut upd = prepare("UPDATE barcodes SET product = ?2, packaging = ?3 WHERE barcode = ?1")?;
    merge_sorted(
        tx,
        path,
        "SELECT s.barcode, p.pk, k.pk, s.product, s.line FROM s_barcodes s
         JOIN products p ON p.id = s.product
         LEFT JOIN packagings k ON k.product = p.pk AND k.id = s.packaging
         ORDER BY s.barcode, s.line",
        |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?), r.get(4)?)),
        |a: &BarcodeRow, b| a.0 == b.0,
        |(_, qp, _, qid), (barcode, p, _, id), other| {
            let what = if qp != p {
                format!("products {qid} and {id}")
            } else {
                format!("two packagings of {id}")
            };
            format!("barcode {barcode} is given to {what} (also line {other})")
        },
        |(barcode, product, packaging, _), _| {
            let old = existing
                .query_row([barcode], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)))
                .optional()
                .step("reading a barcode")?;
            Ok(match old {
                None => {
                    ins.execute(params![barcode, product, packaging]).step("inserting a barcode")?;
                    Merged::Added
                }
                Some(o) if o == (*product, *packaging) => Merged::Unchanged,
                Some(_) => {
                    upd.execute(params![barcode, product, packaging]).step("updating a barcode")?;
                    Merged::Changed
                }
            })
        },
    )
}

fn merge_cells(tx: &Connection, path: &Path) -> Result<Counts> {
    merge_sorted(
        tx,
        path,
        "SELECT id, name, barcode, line FROM s_cells ORDER BY id, line",
        |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?),
                r.get(3)?,
            ))
        },
        |a, b| a.0 == b.0,
        |_, (id, ..), other| format!("cell {id} differs from its row on line {other}"),
        |(id, name, barcode), line| {
            let old: Option<(String, Option<String>)> = tx
                .query_row("SELECT name, barcode FROM cells WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .step("reading a cell")?;
            let write = |sql: &str| {
                tx.execute(sql, params![id, name, barcode])
                    .map_err(|e| match e.sqlite_error_code() {
                        Some(rusqlite::ErrorCode::ConstraintViolation) => Error::Import {
                            path: path.to_path_buf(),
                            line,
                            reason: format!("cell label of {id} is already used by another cell"),
                        },
                        _ => Error::Sqlite {
                            step: "writing a cell",
                            source: e,
                        },
                    })
            };
            Ok(match old {
                None => {
                    write("INSERT INTO cells (id, name, barcode) VALUES (?1, ?2, ?3)")?;
                    Merged::Added
                }
                Some((n, b)) if n == *name && b == *barcode => Merged::Unchanged,
                Some(_) => {
                    write("UPDATE cells SET name = ?2, barcode = ?3 WHERE id = ?1")?;
                    Merged::Changed
                }
            })
        },
    )
}

fn merge_records(tx: &Connection, path: &Path) -> Result<Counts> {
    merge_sorted(
        tx,
        path,
        "SELECT catalog, id, fields, line FROM s_records ORDER BY catalog, id, line",
        |r| Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?), r.get(3)?)),
        |a, b| a.0 == b.0 && a.1 == b.1,
        |_, (cat, id, _), other| format!("record {cat}/{id} differs from its row on line {other}"),
        |(cat, id, fields), _| {
            let old: Option<String> = tx
                .query_row("SELECT fields FROM records WHERE catalog = ?1 AND id = ?2", [cat, id], |r| r.get(0))
                .optional()
                .step("reading a record")?;
            Ok(match old {
                None => {
                    tx.execute(
                        "INSERT INTO records (catalog, id, fields) VALUES (?1, ?2, ?3)",
                        params![cat, id, fields],
                    )
                    .step("inserting a record")?;
                    Merged::Added
                }
                Some(o) if o == *fields => Merged::Unchanged,
                Some(_) => {
                    tx.execute(
                        "UPDATE records SET fields = ?3 WHERE catalog = ?1 AND id = ?2",
                        params![cat, id, fields],
                    )
                    .step("updating a record")?;
                    Merged::Changed
                }
            })
        },
    )
}

/// Indexes dropped for a bulk load and built after it (sorting once beats
/// inserting a million random keys). The text is the migration's, so the schema
/// after a bulk load is byte-for-byte the schema of a fresh catalog.
/// Built after the barcodes are loaded (they come last in the bulk path).
const BARCODES_BY_PRODUCT: (&str, &str) = ("barcodes_by_product", "CREATE INDEX barcodes_by_product ON barcodes(product)");

const BULK_INDEXES: [(&str, &str); 3] = [
    ("products_by_id", "CREATE UNIQUE INDEX products_by_id ON products(id)"),
    (
        "products_by_code",
        "CREATE INDEX products_by_code ON products(code) WHERE code <> ''",
    ),
    (
        "packagings_by_product",
        "CREATE UNIQUE INDEX packagings_by_product ON packagings(product, id)",
    ),
];

/// Why the bulk path handed over to the general one.
struct NotBulk;

/// What the bulk path loaded: products, packagings, and the barcodes to sort.
struct Loaded {
    summary: ReadSummary,
    products: u64,
    packagings: u64,
    barcodes: Option<Sorter>,
}

fn stage(conn: &Connection, source: &Source<'_>, bulk: bool, progress: &mut dyn FnMut(u64) -> bool) -> Result<Loaded> {
    let mut st = Stager::new(conn, source.path(), bulk)?;
    let summary = source.parse(&mut st, progress)?;
    Ok(match st.bulk {
        Some(b) => Loaded {
            summary,
            products: b.products,
            packagings: b.packagings,
            barcodes: Some(b.barcodes),
        },
        None => Loaded {
            summary,
            products: 0,
            packagings: 0,
            barcodes: None,
        },
    })
}

/// Loads a file into an empty catalog: products and packagings in file order with
/// their indexes built afterwards, barcodes sorted once and appended, the name
/// index filled in one statement. Hands over to the general path (`NotBulk`) when
/// a product or packaging appears in two separate groups of rows.
fn bulk_import(
    conn: &Connection,
    source: &Source<'_>,
    progress: &mut dyn FnMut(u64) -> bool,
    report: &mut ImportReport,
) -> Result<Result<(), NotBulk>> {
    let path = source.path();
    for name in BULK_INDEXES.iter().map(|(name, _)| *name).chain([BARCODES_BY_PRODUCT.0]) {
        conn.execute_batch(&format!("DROP INDEX {name}"))
            .step("dropping an index for the bulk load")?;
    }
    let loaded = stage(conn, source, true, progress)?;
    report.rows = loaded.summary.rows;
    report.warnings = loaded.summary.warnings;
    report.encoding = loaded.summary.encoding.map(|e| e.as_str().to_string());
    report.products.added = loaded.products;
    report.packagings.added = loaded.packagings;
    for (_, sql) in BULK_INDEXES {
        match conn.execute_batch(sql) {
            Ok(()) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => return Ok(Err(NotBulk)),
            Err(e) => {
                return Err(Error::Sqlite {
                    step: "building an index after the bulk load",
                    source: e,
                })
            }
        }
    }
    let mut ins = conn
        .prepare("INSERT INTO barcodes (barcode, product, packaging) VALUES (?1, ?2, ?3)")
        .step("preparing barcode load")?;
    let mut prev: Option<Rec> = None;
    let id = |pk: i64| {
        conn.query_row("SELECT id FROM products WHERE pk = ?1", [pk], |r| r.get::<_, String>(0))
            .step("naming a product")
    };
    let barcodes = loaded.barcodes.unwrap_or_else(|| Sorter::new(path.to_path_buf()));
    barcodes.finish(|rec| {
        if let Some(q) = &prev {
            if q.key == rec.key {
                if q.product != rec.product || q.packaging != rec.packaging {
                    let what = if q.product != rec.product {
                        format!("products {} and {}", id(q.product)?, id(rec.product)?)
                    } else {
                        format!("two packagings of {}", id(rec.product)?)
                    };
                    let reason = format!("barcode {} is given to {what} (also line {})", rec.key, q.line);
                    return Err(Error::Import {
                        path: path.to_path_buf(),
                        line: rec.line,
                        reason,
                    });
                }
                return Ok(());
            }
        }
        let packaging = (rec.packaging != 0).then_some(rec.packaging);
        ins.execute(params![rec.key, rec.product, packaging]).step("loading a barcode")?;
        report.barcodes.added += 1;
        prev = Some(rec);
        Ok(())
    })?;
    conn.execute_batch(BARCODES_BY_PRODUCT.1)
        .step("building an index after the bulk load")?;
    // A bigger pending-terms hash means fewer, larger segments to merge.
    conn.execute_batch(
        "INSERT INTO product_text (product_text, rank) VALUES ('hashsize', 8388608);
         INSERT INTO product_text (rowid, name) SELECT pk, tsd_fold(name) FROM products;
         INSERT INTO product_text (product_text, rank) VALUES ('hashsize', 1048576);",
    )
    .step("indexing product names")?;
    Ok(Ok(()))
}

/// How an import treats what the catalog already holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// A file import: rows are added or updated, nothing is removed.
    #[default]
    Merge,
    /// A snapshot: rows the source does not have are deleted.
    Snapshot,
    /// A delta: each product it carries comes whole (packagings and barcodes it
    /// lacks are removed from that product), and its deletions are applied.
    Delta,
}

/// How an import treats what the catalog already holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions<'a> {
    /// Merge, snapshot or delta.
    pub scope: Scope,
    /// The package being applied: recorded in the same transaction, so a package is
    /// applied once even across a crash (see [`package_applied`]).
    pub package_id: Option<&'a str>,
    /// A delta's starting version: the import is refused unless the catalog's synced
    /// version is this one.
    pub expect_version: Option<i64>,
    /// The synced version to record (a package's `to_version`).
    pub synced_version: Option<i64>,
}

/// The version of the producer's catalog this one was last synced to (0: never).
pub fn synced_version(conn: &Connection) -> Result<i64> {
    super::meta_int(conn, "synced_version")
}

/// Whether a package id was already applied to this catalog.
pub fn package_applied(conn: &Connection, id: &str) -> Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'package:' || ?1)", [id], |r| {
        r.get(0)
    })
    .step("checking applied packages")
}

/// A snapshot is the whole catalog: what it lacks goes. Runs after the merges, while
/// the staging tables still hold every row of the source.
fn delete_missing(tx: &Connection, report: &mut ImportReport) -> Result<()> {
    let run = |sql: &str| tx.execute(sql, []).map(|n| n as u64).step("deleting what a snapshot lacks");
    report.barcodes.deleted += run("DELETE FROM barcodes WHERE barcode NOT IN (SELECT barcode FROM s_barcodes)")?;
    report.packagings.deleted += run("DELETE FROM packagings WHERE pk NOT IN (SELECT k.pk FROM s_packagings s
           JOIN products p ON p.id = s.product JOIN packagings k ON k.product = p.pk AND k.id = s.id)")?;
    run("DELETE FROM product_text WHERE rowid IN (SELECT pk FROM products WHERE id NOT IN (SELECT id FROM s_products))")?;
    report.products.deleted += run("DELETE FROM products WHERE id NOT IN (SELECT id FROM s_products)")?;
    report.cells.deleted += run("DELETE FROM cells WHERE id NOT IN (SELECT id FROM s_cells)")?;
    report.records.deleted += run("DELETE FROM records WHERE (catalog, id) NOT IN (SELECT catalog, id FROM s_records)")?;
    Ok(())
}

/// A delta's removals: what its products no longer have, then its deletions.
fn apply_delta_deletes(tx: &Connection, report: &mut ImportReport, bulk_done: bool) -> Result<()> {
    let run = |sql: &str| tx.execute(sql, []).map(|n| n as u64).step("applying a delta's removals");
    if !bulk_done {
        report.barcodes.deleted += run(
            "DELETE FROM barcodes WHERE product IN (SELECT p.pk FROM products p JOIN s_products s ON s.id = p.id AND s.only = 0)
               AND barcode NOT IN (SELECT barcode FROM s_barcodes)",
        )?;
        report.packagings.deleted += run(
            "DELETE FROM packagings WHERE product IN (SELECT p.pk FROM products p JOIN s_products s ON s.id = p.id AND s.only = 0)
               AND pk NOT IN (SELECT k.pk FROM s_packagings s JOIN products p ON p.id = s.product JOIN packagings k ON k.product = p.pk AND k.id = s.id)",
        )?;
    }
    let doomed = "SELECT pk FROM products WHERE id IN (SELECT a FROM s_deletes WHERE kind = 'product')";
    report.barcodes.deleted += run(&format!("DELETE FROM barcodes WHERE product IN ({doomed})"))?;
    report.packagings.deleted += run(&format!("DELETE FROM packagings WHERE product IN ({doomed})"))?;
    run(&format!("DELETE FROM product_text WHERE rowid IN ({doomed})"))?;
    report.products.deleted += run("DELETE FROM products WHERE id IN (SELECT a FROM s_deletes WHERE kind = 'product')")?;
    report.cells.deleted += run("DELETE FROM cells WHERE id IN (SELECT a FROM s_deletes WHERE kind = 'cell')")?;
    report.records.deleted += run("DELETE FROM records WHERE (catalog, id) IN (SELECT a, b FROM s_deletes WHERE kind = 'record')")?;
    Ok(())
}

/// Imports one source into the catalog in a single transaction. `progress` is
/// called with the rows read so far every 65,536 rows; returning `false` cancels
/// (nothing is changed).
pub fn import(
    conn: &mut Connection,
    source: &Source<'_>,
    options: &ImportOptions<'_>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ImportReport> {
    let path = source.path();
    conn.create_scalar_function(
        "tsd_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(fold(ctx.get_raw(0).as_str().unwrap_or(""))),
    )
    .step("registering tsd_fold")?;
    // Helpers take `&Connection` because they run inside this transaction or a
    // savepoint of it; nothing here commits on its own.
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .step("starting the import")?;
    tx.execute_batch(STAGING).step("creating staging tables")?;
    if let Some(from) = options.expect_version {
        let have = synced_version(&tx)?;
        if have != from {
            let reason = crate::package::Refusal::OutOfOrder { have, from };
            return Err(Error::Package(crate::package::PackageError::Refused {
                path: path.to_path_buf(),
                reason,
            }));
        }
    }
    let mut report = ImportReport::default();
    let empty = is_empty(&tx, "products")? && is_empty(&tx, "packagings")? && is_empty(&tx, "barcodes")?;
    let mut bulk_done = false;
    if empty {
        let sp = tx.savepoint().step("starting the bulk load")?;
        if bulk_import(&sp, source, progress, &mut report)?.is_ok() {
            sp.commit().step("finishing the bulk load")?;
            bulk_done = true;
        } else {
            report = ImportReport::default();
            // Dropping the savepoint rolls the bulk attempt back, indexes included.
        }
    }
    if !bulk_done {
        tx.execute_batch(STAGING).step("clearing staging tables")?;
        let summary = stage(&tx, source, false, progress)?.summary;
        report.rows = summary.rows;
        report.warnings = summary.warnings;
        report.encoding = summary.encoding.map(|e| e.as_str().to_string());
        report.products = merge_products(&tx, path)?;
        report.packagings = merge_packagings(&tx, path)?;
        report.barcodes = merge_barcodes(&tx, path)?;
    }
    report.cells = merge_cells(&tx, path)?;
    report.records = merge_records(&tx, path)?;
    // The bulk path started from an empty catalog: nothing to delete, and its rows
    // never went through the staging tables the deletes compare against.
    match options.scope {
        Scope::Snapshot if !bulk_done => delete_missing(&tx, &mut report)?,
        Scope::Delta => apply_delta_deletes(&tx, &mut report, bulk_done)?,
        _ => {}
    }
    if let Some(v) = options.synced_version {
        super::set_meta_int(&tx, "synced_version", v)?;
    }
    if let Some(id) = options.package_id {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('package:' || ?1, ?2)",
            [id, &path.display().to_string()],
        )
        .step("recording the applied package")?;
    }
    tx.execute_batch(STAGING).step("clearing staging tables")?;
    report.version = super::version(&tx)?;
    if report.changed() {
        report.version += 1;
        super::set_meta_int(&tx, "version", report.version)?;
    }
    if !progress(report.rows) {
        return Err(Error::Cancelled);
    }
    tx.commit().step("committing the import")?;
    Ok(report)
}

/// Imports (merges) one file; see [`import`].
pub fn import_file(
    conn: &mut Connection,
    path: &Path,
    format: Format,
    read: &ReadOptions,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ImportReport> {
    import(conn, &Source::File(path, format, read), &ImportOptions::default(), progress)
}
