//! Reading catalog files into validated rows, independent of where they go: the
//! import stages them in SQLite, a package writer puts them into a package.
//!
//! CSV columns (header required, `,` `;` or tab, UTF-8):
//! - products: `product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode,plu`
//!   (product fields repeat on every row of the product; an empty `packaging_id` means
//!   the barcode is for the base unit; `plu` is a weighed product's scale item code);
//! - cells: `cell_id,name,barcode`;
//! - generic catalogs: `catalog,record_id,` then any field columns.
//!
//! JSON Lines: `{"id","code","name","unit","weighted","marked","barcodes":[..],"plu",
//! "packagings":[{"id","name","factor","barcodes":[..]}]}` per product;
//! `{"type":"cell","id","name","barcode"}`; `{"type":"record","catalog","id","fields":{..}}`.

use super::record::{CatalogRecord, Deletion, ProductRow, Row};
use super::{barcode_key, FLAG_MARKED, FLAG_WEIGHTED};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Import file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma/semicolon/tab separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// From a file extension: `.csv`/`.txt` → CSV, `.jsonl`/`.ndjson`/`.json` → JSON Lines.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "txt" | "tsv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// From a name given on the command line.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// Where the rows of an import come from.
pub enum Source<'a> {
    /// A CSV or JSON Lines file.
    File(&'a Path, Format),
    /// A verified package of [`CatalogRecord`]s.
    Package(&'a crate::package::PackageReader),
}

impl Source<'_> {
    /// The file, for error messages.
    pub fn path(&self) -> &Path {
        match self {
            Source::File(p, _) => p,
            Source::Package(r) => r.path(),
        }
    }

    /// Reads every row into `sink`; returns the rows read.
    pub fn parse(&self, sink: &mut dyn RowSink, progress: &mut dyn FnMut(u64) -> bool) -> Result<u64> {
        match self {
            Source::File(path, format) => parse_file(path, *format, sink, progress),
            Source::Package(reader) => {
                let mut v = Validator::new(sink, reader.path());
                let mut rows = 0u64;
                for record in reader.records::<CatalogRecord>()? {
                    rows += 1;
                    record?.validate_into(&mut v, rows)?;
                    if rows.is_multiple_of(65536) && !progress(rows) {
                        return Err(Error::Cancelled);
                    }
                }
                Ok(rows)
            }
        }
    }
}

/// Where validated rows go.
pub trait RowSink {
    /// Takes one row; `line` is where it came from (file line or record number).
    fn row(&mut self, row: Row<'_>, line: u64) -> Result<()>;
}

/// Validates and normalises rows, drops exact repeats of the previous product and
/// packaging (the flat CSV repeats them on every barcode row), and hands the rest to
/// a sink. The same checks run on the PC side (building a package) and on the
/// terminal (importing a file or applying a package).
pub struct Validator<'s> {
    sink: &'s mut dyn RowSink,
    path: PathBuf,
    last_product: Option<(ProductRow, u64)>,
    last_packaging: Option<(String, String, String, i64, u64)>,
}

impl<'s> Validator<'s> {
    /// Rows of `path` (named in errors) go to `sink`.
    pub fn new(sink: &'s mut dyn RowSink, path: &Path) -> Self {
        Validator {
            sink,
            path: path.to_path_buf(),
            last_product: None,
            last_packaging: None,
        }
    }

    /// An import error at `line`.
    pub fn err(&self, line: u64, reason: impl Into<String>) -> Error {
        Error::Import {
            path: self.path.clone(),
            line,
            reason: reason.into(),
        }
    }

    /// A product row.
    pub fn product(&mut self, p: ProductRow, line: u64) -> Result<()> {
        self.product_row(p, line, false)
    }

    /// A product row whose packagings and barcodes stay as they are (deltas).
    pub fn product_only(&mut self, p: ProductRow, line: u64) -> Result<()> {
        self.product_row(p, line, true)
    }

    /// Edits of a product's own fields (deltas); checked against the catalog when
    /// merged.
    pub fn product_patch(&mut self, p: super::patch::ProductPatch, line: u64) -> Result<()> {
        if p.id.trim().is_empty() {
            return Err(self.err(line, "product id is empty"));
        }
        self.last_product = None;
        self.sink.row(Row::ProductPatch(&p), line)
    }

    fn product_row(&mut self, p: ProductRow, line: u64, only: bool) -> Result<()> {
        if p.id.trim().is_empty() {
            return Err(self.err(line, "product id is empty"));
        }
        if p.name.trim().is_empty() {
            return Err(self.err(line, format!("product {} has no name", p.id)));
        }
        if let Some((last, last_line)) = &self.last_product {
            if last.id == p.id {
                if *last != p {
                    return Err(self.err(line, format!("product {} differs from its row on line {last_line}", p.id)));
                }
                return Ok(());
            }
        }
        self.sink.row(if only { Row::ProductOnly(&p) } else { Row::Product(&p) }, line)?;
        self.last_product = Some((p, line));
        Ok(())
    }

    /// A packaging row; `factor` as written (empty: 1).
    pub fn packaging(&mut self, product: &str, id: &str, name: &str, factor: &str, line: u64) -> Result<()> {
        let factor = if factor.trim().is_empty() {
            1000
        } else {
            parse_milli(factor).ok_or_else(|| self.err(line, format!("packaging {id}: factor {factor:?} is not a positive number")))?
        };
        self.packaging_milli(product, id, name, factor, line)
    }

    /// A packaging row with its factor in thousandths.
    pub fn packaging_milli(&mut self, product: &str, id: &str, name: &str, factor: i64, line: u64) -> Result<()> {
        if id.trim().is_empty() {
            return Err(self.err(line, "packaging id is empty"));
        }
        if factor <= 0 {
            return Err(self.err(line, format!("packaging {id}: factor must be positive")));
        }
        if let Some((lp, lid, lname, lfactor, lline)) = &self.last_packaging {
            if lp == product && lid == id {
                if lname != name || *lfactor != factor {
                    return Err(self.err(
                        line,
                        format!("packaging {id} of product {product} differs from its row on line {lline}"),
                    ));
                }
                return Ok(());
            }
        }
        self.sink.row(Row::Packaging { product, id, name, factor }, line)?;
        self.last_packaging = Some((product.to_string(), id.to_string(), name.to_string(), factor, line));
        Ok(())
    }

    /// A barcode row, normalised here.
    pub fn barcode(&mut self, raw: &str, product: &str, packaging: Option<&str>, line: u64) -> Result<()> {
        let key = barcode_key(raw).map_err(|e| self.err(line, e))?;
        self.sink.row(
            Row::Barcode {
                key: &key,
                product,
                packaging,
            },
            line,
        )
    }

    /// A weighed product's scale item code (PLU), kept as a barcode of its base
    /// unit under [`super::plu_key`].
    pub fn plu(&mut self, raw: &str, product: &str, line: u64) -> Result<()> {
        let key = super::plu_key(raw).map_err(|e| self.err(line, e))?;
        self.sink.row(
            Row::Barcode {
                key: &key,
                product,
                packaging: None,
            },
            line,
        )
    }

    /// A cell row.
    pub fn cell(&mut self, id: &str, name: &str, barcode: Option<&str>, line: u64) -> Result<()> {
        if id.trim().is_empty() {
            return Err(self.err(line, "cell id is empty"));
        }
        let barcode = barcode.map(str::trim).filter(|b| !b.is_empty());
        self.sink.row(Row::Cell { id, name, barcode }, line)
    }

    /// A record of a generic catalog.
    pub fn record(&mut self, catalog: &str, id: &str, fields: &serde_json::Map<String, serde_json::Value>, line: u64) -> Result<()> {
        let text = serde_json::to_string(fields).map_err(|e| self.err(line, e.to_string()))?;
        self.record_json(catalog, id, &text, line)
    }

    /// A deletion (delta packages).
    pub fn delete(&mut self, d: &Deletion, line: u64) -> Result<()> {
        let empty = match d {
            Deletion::Product(id) | Deletion::Cell(id) => id.trim().is_empty(),
            Deletion::Record { catalog, id } => catalog.trim().is_empty() || id.trim().is_empty(),
        };
        if empty {
            return Err(self.err(line, "a deletion needs an id"));
        }
        self.sink.row(Row::Delete(d), line)
    }

    /// A record whose fields are already JSON text.
    pub fn record_json(&mut self, catalog: &str, id: &str, fields: &str, line: u64) -> Result<()> {
        if catalog.trim().is_empty() || id.trim().is_empty() {
            return Err(self.err(line, "a record needs catalog and id"));
        }
        self.sink.row(Row::Record { catalog, id, fields }, line)
    }
}

/// Parses "12", "0.5", "1,25" (1C writes a decimal comma) into thousandths.
pub fn parse_milli(s: &str) -> Option<i64> {
    let s = s.trim();
    let (int, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 3
    {
        return None;
    }
    let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f = frac.to_string();
    while f.len() < 3 {
        f.push('0');
    }
    int.checked_mul(1000)?.checked_add(f.parse::<i64>().ok()?)
}

fn parse_bool(s: &str) -> Option<bool> {
    // The common exports first, without allocating.
    match s.trim() {
        "" | "0" => return Some(false),
        "1" => return Some(true),
        _ => {}
    }
    match s.trim().to_lowercase().as_str() {
        "" | "0" | "false" | "no" | "нет" | "ложь" => Some(false),
        "1" | "true" | "yes" | "да" | "истина" => Some(true),
        _ => None,
    }
}

fn flags(weighted: bool, marked: bool) -> i64 {
    (if weighted { FLAG_WEIGHTED } else { 0 }) | (if marked { FLAG_MARKED } else { 0 })
}

fn parse_csv(st: &mut Validator<'_>, reader: impl Read, progress: &mut dyn FnMut(u64) -> bool) -> Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let delimiter = {
        let head = reader.fill_buf().map_err(|source| Error::Io {
            path: st.path.clone(),
            source,
        })?;
        let first = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
        [b';', b'\t', b',']
            .into_iter()
            .max_by_key(|d| first.iter().filter(|b| *b == d).count())
            .unwrap_or(b',')
    };
    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| st.err(1, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    enum Shape {
        Products([Option<usize>; 11]),
        Cells([Option<usize>; 3]),
        Records(usize, usize),
    }
    let shape = if col("product_id").is_some() {
        let names = [
            "product_id",
            "code",
            "name",
            "unit",
            "weighted",
            "marked",
            "packaging_id",
            "packaging_name",
            "factor",
            "barcode",
            "plu",
        ];
        Shape::Products(names.map(col))
    } else if col("cell_id").is_some() {
        Shape::Cells(["cell_id", "name", "barcode"].map(col))
    } else if let (Some(c), Some(r)) = (col("catalog"), col("record_id")) {
        Shape::Records(c, r)
    } else {
        return Err(st.err(1, "the header needs a product_id, cell_id or catalog + record_id column"));
    };
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(rows + 2);
                let reason = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8 text (export the file as UTF-8)".to_string(),
                    _ => e.to_string(),
                };
                return Err(st.err(line, reason));
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(rows + 2);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows += 1;
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        match &shape {
            Shape::Products(c) => {
                let weighted = parse_bool(get(c[4])).ok_or_else(|| st.err(line, "weighted must be 0/1, true/false or да/нет"))?;
                let marked = parse_bool(get(c[5])).ok_or_else(|| st.err(line, "marked must be 0/1, true/false or да/нет"))?;
                let id = get(c[0]);
                let same = st.last_product.as_ref().is_some_and(|(p, _)| {
                    p.id == id && p.code == get(c[1]) && p.name == get(c[2]) && p.unit == get(c[3]) && p.flags == flags(weighted, marked)
                });
                // The flat CSV repeats the product on every barcode row: skip the
                // allocations when the row equals the previous one.
                if !same {
                    st.product(
                        ProductRow {
                            id: id.to_string(),
                            code: get(c[1]).to_string(),
                            name: get(c[2]).to_string(),
                            unit: get(c[3]).to_string(),
                            flags: flags(weighted, marked),
                        },
                        line,
                    )?;
                }
                let pack = get(c[6]);
                if !pack.is_empty() {
                    st.packaging(id, pack, get(c[7]), get(c[8]), line)?;
                }
                let barcode = get(c[9]);
                if !barcode.is_empty() {
                    st.barcode(barcode, id, Some(pack).filter(|p| !p.is_empty()), line)?;
                }
                let plu = get(c[10]);
                if !plu.is_empty() {
                    st.plu(plu, id, line)?;
                }
            }
            Shape::Cells(c) => st.cell(get(c[0]), get(c[1]), Some(get(c[2])), line)?,
            Shape::Records(c, r) => {
                let mut fields = serde_json::Map::new();
                for (i, h) in headers.iter().enumerate() {
                    if i != *c && i != *r {
                        fields.insert(h.clone(), serde_json::Value::String(record.get(i).unwrap_or("").to_string()));
                    }
                }
                st.record(get(Some(*c)), get(Some(*r)), &fields, line)?;
            }
        }
        if rows.is_multiple_of(65536) && !progress(rows) {
            return Err(Error::Cancelled);
        }
    }
    Ok(rows)
}

#[derive(Deserialize)]
struct JsonPackaging {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    factor: Option<serde_json::Value>,
    #[serde(default)]
    barcodes: Vec<String>,
}

#[derive(Deserialize)]
struct JsonLine {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    weighted: bool,
    #[serde(default)]
    marked: bool,
    #[serde(default)]
    barcodes: Vec<String>,
    #[serde(default)]
    plu: Option<serde_json::Value>,
    #[serde(default)]
    packagings: Vec<JsonPackaging>,
    barcode: Option<String>,
    catalog: Option<String>,
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
}

fn parse_jsonl(st: &mut Validator<'_>, reader: impl Read, progress: &mut dyn FnMut(u64) -> bool) -> Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::new();
    let (mut line, mut rows) = (0u64, 0u64);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|source| Error::Io {
            path: st.path.clone(),
            source,
        })?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|_| st.err(line, "not UTF-8 text (export the file as UTF-8)"))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        rows += 1;
        let j: JsonLine = serde_json::from_str(text).map_err(|e| st.err(line, format!("bad JSON: {e}")))?;
        let id = j.id.clone().unwrap_or_default();
        match j.kind.as_deref() {
            None | Some("product") => {
                st.product(
                    ProductRow {
                        id: id.clone(),
                        code: j.code,
                        name: j.name,
                        unit: j.unit,
                        flags: flags(j.weighted, j.marked),
                    },
                    line,
                )?;
                for b in &j.barcodes {
                    st.barcode(b, &id, None, line)?;
                }
                match &j.plu {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::String(s)) => st.plu(s, &id, line)?,
                    Some(serde_json::Value::Number(n)) => st.plu(&n.to_string(), &id, line)?,
                    Some(other) => return Err(st.err(line, format!("plu {other} is not a scale item code"))),
                }
                for k in &j.packagings {
                    let factor = match &k.factor {
                        None => String::new(),
                        Some(serde_json::Value::Number(n)) => n.to_string(),
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => return Err(st.err(line, format!("packaging {}: factor {other} is not a number", k.id))),
                    };
                    if k.id.trim().is_empty() {
                        return Err(st.err(line, "packaging id is empty"));
                    }
                    st.packaging(&id, &k.id, &k.name, &factor, line)?;
                    for b in &k.barcodes {
                        st.barcode(b, &id, Some(&k.id), line)?;
                    }
                }
            }
            Some("cell") => st.cell(&id, &j.name, j.barcode.as_deref(), line)?,
            Some("record") => st.record(j.catalog.as_deref().unwrap_or(""), &id, &j.fields, line)?,
            Some(other) => return Err(st.err(line, format!("unknown type {other:?} (product, cell or record)"))),
        }
        if rows.is_multiple_of(65536) && !progress(rows) {
            return Err(Error::Cancelled);
        }
    }
    Ok(rows)
}

/// Reads a whole catalog file into `sink`; returns the data rows read. `progress`
/// gets the row count every 65,536 rows and cancels by returning `false`.
pub fn parse_file(path: &Path, format: Format, sink: &mut dyn RowSink, progress: &mut dyn FnMut(u64) -> bool) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut v = Validator::new(sink, path);
    match format {
        Format::Csv => parse_csv(&mut v, file, progress),
        Format::Jsonl => parse_jsonl(&mut v, file, progress),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_milli;

    #[test]
    fn decimal_factors() {
        assert_eq!(parse_milli("12"), Some(12000));
        assert_eq!(parse_milli("0.5"), Some(500));
        assert_eq!(parse_milli("1,25"), Some(1250));
        assert_eq!(parse_milli(".5"), Some(500));
        assert_eq!(parse_milli("1.2345"), None);
        assert_eq!(parse_milli("-1"), None);
        assert_eq!(parse_milli(""), None);
        assert_eq!(parse_milli("."), None);
        assert_eq!(parse_milli("99999999999999999999"), None);
    }
}
