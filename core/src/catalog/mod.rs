//! The local catalog: products, packagings, barcodes, cells and generic catalogs;
//! import from CSV / JSON Lines; lookups by barcode, code and name.

pub mod cml;
mod columns;
mod generate;
mod import;
pub mod package;
pub mod patch;
pub mod record;
pub mod rows;
mod sort;
pub mod text;

pub use generate::{csv_to_commerceml, generate, GeneratedCatalog};
pub use import::{import, import_file, package_applied, synced_version, Counts, ImportOptions, ImportReport, Scope};
pub use rows::{parse_milli as parse_quantity, Format, ReadOptions, ReadSummary};
pub use text::TextEncoding;

use crate::barcode::Gtin14;
use crate::error::{Result, SqlStep};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

/// Product flag: sold by weight (quantity comes from the scale).
pub const FLAG_WEIGHTED: i64 = 1;
/// Product flag: subject to marking (Честный ЗНАК).
pub const FLAG_MARKED: i64 = 2;

/// A product as the terminal shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Product {
    /// Id in the accounting system.
    pub id: String,
    /// Article / vendor code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Base unit name.
    pub unit: String,
    /// Sold by weight.
    pub weighted: bool,
    /// Subject to marking.
    pub marked: bool,
}

/// A packaging of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Packaging {
    /// Packaging id (unique within its product).
    pub id: String,
    /// Name: "Коробка 12 шт".
    pub name: String,
    /// Base units per packaging, in thousandths.
    #[serde(rename = "factor_milli")]
    pub factor: i64,
}

/// What a barcode points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BarcodeHit {
    /// The product.
    pub product: Product,
    /// The packaging; `None` for the base unit.
    pub packaging: Option<Packaging>,
}

/// A storage cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Cell {
    /// Cell id.
    pub id: String,
    /// Name shown to the operator.
    pub name: String,
}

/// The key a barcode is stored and looked up under. Every GTIN form is one
/// integer (its 14 digits), which keeps the barcode B-tree small and its
/// comparisons cheap; any other code is text as written. SQLite orders integers
/// before text, and so does this type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub enum BarcodeKey {
    /// A GTIN (EAN-8/13, UPC-A/E, ITF-14, GTIN-14) as a number.
    Gtin(i64),
    /// Anything else (internal codes, Code 128 labels).
    Text(String),
}

impl BarcodeKey {
    /// The key of a validated GTIN.
    pub fn gtin(g: Gtin14) -> BarcodeKey {
        BarcodeKey::Gtin(g.as_str().parse().unwrap_or(0))
    }
}

impl std::fmt::Display for BarcodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BarcodeKey::Gtin(n) => write!(f, "{n:014}"),
            BarcodeKey::Text(s) => f.write_str(s),
        }
    }
}

impl rusqlite::ToSql for BarcodeKey {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            BarcodeKey::Gtin(n) => rusqlite::types::ToSqlOutput::from(*n),
            BarcodeKey::Text(s) => rusqlite::types::ToSqlOutput::from(s.as_str()),
        })
    }
}

impl rusqlite::types::FromSql for BarcodeKey {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value {
            rusqlite::types::ValueRef::Integer(n) => Ok(BarcodeKey::Gtin(n)),
            rusqlite::types::ValueRef::Text(t) => Ok(BarcodeKey::Text(String::from_utf8_lossy(t).into_owned())),
            _ => Err(rusqlite::types::FromSqlError::InvalidType),
        }
    }
}

/// Normalises a catalog barcode to its lookup key: GTINs (8, 12, 13, 14 digits with a
/// valid check digit; 8 digits may also be UPC-E) become one number, anything else
/// stays as written (trimmed).
pub fn barcode_key(raw: &str) -> std::result::Result<BarcodeKey, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("empty barcode".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && matches!(s.len(), 8 | 12 | 13 | 14) {
        return match Gtin14::parse(s) {
            Ok(g) => Ok(BarcodeKey::gtin(g)),
            Err(e) if s.len() == 8 => Gtin14::from_upce(s).map(BarcodeKey::gtin).map_err(|_| e.message),
            Err(e) => Err(format!("barcode {s}: {}", e.message)),
        };
    }
    Ok(BarcodeKey::Text(s.to_string()))
}

/// The catalog key of a scale item code (PLU): `PLU:` and the number without
/// leading zeros, so that `00789`, `789` and a label's 5- or 6-digit item field
/// all meet. 1–6 digits.
pub fn plu_key(raw: &str) -> std::result::Result<BarcodeKey, String> {
    let s = raw.trim();
    if !is_plu(s) {
        return Err(format!("PLU {s:?}: the scale item code is 1–6 digits"));
    }
    let n = s.trim_start_matches('0');
    Ok(BarcodeKey::Text(format!("PLU:{}", if n.is_empty() { "0" } else { n })))
}

/// Whether `s` can be a scale item code (1–6 digits): what [`plu_key`] takes.
pub fn is_plu(s: &str) -> bool {
    (1..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Folds text for name search: lower case, ё → е.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            // Fast paths for what catalogs are made of; the rest through Unicode.
            'a'..='z' | 'а'..='я' | '0'..='9' | ' ' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            'А'..='Я' => out.push(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
            'ё' | 'Ё' => out.push('е'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn product_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Product> {
    let flags: i64 = r.get(at + 4)?;
    Ok(Product {
        id: r.get(at)?,
        code: r.get(at + 1)?,
        name: r.get(at + 2)?,
        unit: r.get(at + 3)?,
        weighted: flags & FLAG_WEIGHTED != 0,
        marked: flags & FLAG_MARKED != 0,
    })
}

/// Looks a normalised key up (the hot path of every scan).
pub fn by_barcode(conn: &Connection, key: &BarcodeKey) -> Result<Option<BarcodeHit>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.id, p.code, p.name, p.unit, p.flags, k.id, k.name, k.factor
             FROM barcodes b JOIN products p ON p.pk = b.product LEFT JOIN packagings k ON k.pk = b.packaging
             WHERE b.barcode = ?1",
        )
        .step("preparing barcode lookup")?;
    stmt.query_row([key], |r| {
        let packaging = match r.get::<_, Option<String>>(5)? {
            Some(id) => Some(Packaging {
                id,
                name: r.get(6)?,
                factor: r.get(7)?,
            }),
            None => None,
        };
        Ok(BarcodeHit {
            product: product_from_row(r, 0)?,
            packaging,
        })
    })
    .optional()
    .step("looking up a barcode")
}

/// A cell by its label.
pub fn cell_by_barcode(conn: &Connection, label: &str) -> Result<Option<Cell>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, name FROM cells WHERE barcode = ?1")
        .step("preparing cell lookup")?;
    stmt.query_row([label], |r| {
        Ok(Cell {
            id: r.get(0)?,
            name: r.get(1)?,
        })
    })
    .optional()
    .step("looking up a cell")
}

/// A product by its accounting-system id.
pub fn product_by_id(conn: &Connection, id: &str) -> Result<Option<Product>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, code, name, unit, flags FROM products WHERE id = ?1")
        .step("preparing product lookup")?;
    stmt.query_row([id], |r| product_from_row(r, 0))
        .optional()
        .step("looking up a product")
}

/// Products whose article/code is exactly `code`.
pub fn products_by_code(conn: &Connection, code: &str) -> Result<Vec<Product>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, code, name, unit, flags FROM products WHERE code = ?1 AND code <> '' LIMIT 100")
        .step("preparing code lookup")?;
    let rows = stmt.query_map([code], |r| product_from_row(r, 0)).step("looking up by code")?;
    rows.collect::<rusqlite::Result<_>>().step("looking up by code")
}

/// Most name matches looked at before ordering; keeps one-letter queries fast at a
/// million products.
const SEARCH_CANDIDATES: i64 = 1000;

/// Search by article or name. An exact article (`code`) comes first; then products
/// whose name has a word starting with each word of `text` (case-insensitive,
/// Cyrillic and Latin, ё = е), names that start with the first word before the
/// rest, shorter names first.
pub fn search(conn: &Connection, text: &str, limit: usize) -> Result<Vec<Product>> {
    let mut out = products_by_code(conn, text.trim())?;
    out.truncate(limit);
    let folded = fold(text);
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() || out.len() >= limit {
        return Ok(out);
    }
    let query = words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ");
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.id, p.code, p.name, p.unit, p.flags FROM
               (SELECT rowid FROM product_text WHERE product_text MATCH ?1 LIMIT ?2) t
             JOIN products p ON p.pk = t.rowid",
        )
        .step("preparing search")?;
    let rows = stmt
        .query_map(rusqlite::params![query, SEARCH_CANDIDATES], |r| product_from_row(r, 0))
        .step("searching")?;
    let mut hits: Vec<Product> = rows.collect::<rusqlite::Result<_>>().step("searching")?;
    hits.sort_by_cached_key(|p| (!fold(&p.name).starts_with(words[0]), p.name.chars().count()));
    for p in hits {
        if out.len() >= limit {
            break;
        }
        if !out.iter().any(|o| o.id == p.id) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Packagings of a product.
pub fn packagings_of(conn: &Connection, product_id: &str) -> Result<Vec<Packaging>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT k.id, k.name, k.factor FROM packagings k JOIN products p ON p.pk = k.product WHERE p.id = ?1 ORDER BY k.factor",
        )
        .step("preparing packagings")?;
    let rows = stmt
        .query_map([product_id], |r| {
            Ok(Packaging {
                id: r.get(0)?,
                name: r.get(1)?,
                factor: r.get(2)?,
            })
        })
        .step("reading packagings")?;
    rows.collect::<rusqlite::Result<_>>().step("reading packagings")
}

/// A product's barcodes as they are printed (a GTIN as 13 digits when it has a
/// leading zero, as 8 when it is an EAN-8), each with its packaging id (`None`:
/// the base unit); base unit first.
pub fn barcodes_of(conn: &Connection, product_id: &str) -> Result<Vec<(String, Option<String>)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT b.barcode, k.id FROM barcodes b JOIN products p ON p.pk = b.product
             LEFT JOIN packagings k ON k.pk = b.packaging WHERE p.id = ?1 ORDER BY k.factor IS NOT NULL, k.factor, b.barcode",
        )
        .step("preparing barcodes")?;
    let rows = stmt
        .query_map([product_id], |r| Ok((r.get::<_, BarcodeKey>(0)?, r.get::<_, Option<String>>(1)?)))
        .step("reading barcodes")?;
    rows.map(|row| row.map(|(key, packaging)| (printed(&key), packaging)))
        .collect::<rusqlite::Result<_>>()
        .step("reading barcodes")
}

/// A barcode key as a person reads it off the label.
fn printed(key: &BarcodeKey) -> String {
    let text = key.to_string();
    match key {
        BarcodeKey::Gtin(_) if text.starts_with("000000") => text[6..].to_string(),
        BarcodeKey::Gtin(_) if text.starts_with('0') => text[1..].to_string(),
        _ => text,
    }
}

/// A record of a generic catalog, fields as JSON.
pub fn record(conn: &Connection, catalog: &str, id: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = conn
        .query_row("SELECT fields FROM records WHERE catalog = ?1 AND id = ?2", [catalog, id], |r| {
            r.get(0)
        })
        .optional()
        .step("reading a record")?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Counts of the main tables and the catalog version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Catalog version: bumped by every import that changed something.
    pub version: i64,
    /// The producer's catalog version the terminal holds (from the last package
    /// applied; 0 when the catalog only came from files).
    pub synced_version: i64,
    /// Products.
    pub products: i64,
    /// Packagings.
    pub packagings: i64,
    /// Barcodes.
    pub barcodes: i64,
    /// Cells.
    pub cells: i64,
    /// Records of generic catalogs.
    pub records: i64,
}

/// Counts of the main tables.
pub fn stats(conn: &Connection) -> Result<Stats> {
    let count = |t: &str| {
        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0))
            .step("counting rows")
    };
    Ok(Stats {
        version: version(conn)?,
        synced_version: synced_version(conn)?,
        products: count("products")?,
        packagings: count("packagings")?,
        barcodes: count("barcodes")?,
        cells: count("cells")?,
        records: count("records")?,
    })
}

/// The catalog version (0 for an empty catalog).
pub fn version(conn: &Connection) -> Result<i64> {
    meta_int(conn, "version")
}

/// An integer fact of `meta` (0 when absent).
pub(crate) fn meta_int(conn: &Connection, key: &str) -> Result<i64> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .step("reading catalog meta")?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Sets an integer fact of `meta`.
pub(crate) fn set_meta_int(conn: &Connection, key: &str, value: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, &value.to_string()],
    )
    .step("writing catalog meta")?;
    Ok(())
}

#[cfg(test)]
mod tests;
