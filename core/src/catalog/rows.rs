//! Reading catalog files into validated rows, independent of where they go: the
//! import stages them in SQLite, a package writer puts them into a package.
//!
//! Files are read as people export them (see [`super::text`] for encodings and line
//! ends; [`HEADERS`] for the Russian and English column names understood).
//!
//! CSV columns (header required, `,` `;` or tab):
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
use super::text::{text_error, TextEncoding, TextReader};
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
    /// CommerceML 2 (`import.xml`, `offers.xml`): what 1C exports for a site.
    CommerceMl,
}

impl Format {
    /// From a file extension: `.csv`/`.txt` → CSV, `.jsonl`/`.ndjson`/`.json` → JSON
    /// Lines, `.xml` → CommerceML.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "txt" | "tsv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "xml" => Some(Format::CommerceMl),
            _ => None,
        }
    }

    /// From a name given on the command line.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "xml" | "cml" | "commerceml" => Some(Format::CommerceMl),
            _ => None,
        }
    }
}

/// How a catalog file is read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The file's encoding; `None` detects it.
    pub encoding: Option<TextEncoding>,
    /// Columns named explicitly: (field, header as written in the file), for
    /// headers [`HEADERS`] does not know (`--columns barcode=EAN13`).
    pub columns: Vec<(String, String)>,
    /// Refuse a column that is not a catalog field, and a product file without a
    /// barcode or PLU column, instead of reporting them.
    pub strict: bool,
    /// What errors call the input instead of its path (`request body` for an
    /// upload: a server's temporary file is nobody's business).
    pub label: Option<String>,
}

impl ReadOptions {
    /// From the command-line options `--encoding NAME`, `--columns SPEC`,
    /// `--strict` (shared by `tsd` and `tsd-server`).
    pub fn from_args(encoding: Option<&str>, columns: Option<&str>, strict: bool) -> std::result::Result<ReadOptions, String> {
        let encoding = match encoding {
            Some(name) => Some(
                TextEncoding::from_name(name).ok_or_else(|| format!("encoding {name:?}: use utf-8, windows-1251, utf-16le or utf-16be"))?,
            ),
            None => None,
        };
        let columns = match columns {
            Some(spec) => ReadOptions::parse_columns(spec)?,
            None => Vec::new(),
        };
        Ok(ReadOptions {
            encoding,
            columns,
            strict,
            label: None,
        })
    }

    /// Parses `field=Header,field=Header` (the `--columns` option).
    pub fn parse_columns(spec: &str) -> std::result::Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, header) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: write field=Header (for example barcode=Штрихкод)"))?;
            let field = field.trim();
            if !HEADERS.iter().any(|(f, _)| *f == field) {
                let known: Vec<_> = HEADERS.iter().map(|(f, _)| *f).collect();
                return Err(format!("{field:?} is not a catalog field (one of {})", known.join(", ")));
            }
            out.push((field.to_string(), header.trim().to_string()));
        }
        Ok(out)
    }
}

/// What reading a file found besides its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Data rows read.
    pub rows: u64,
    /// Things the person who exported the file should know (unknown columns, no
    /// barcode column, numeric codes kept as text).
    pub warnings: Vec<String>,
    /// The encoding the file was read in (`None`: all ASCII, or a package).
    pub encoding: Option<TextEncoding>,
    /// The file holds changes only, not a whole catalog (a CommerceML export with
    /// `СодержитТолькоИзменения="true"`, or offers without their catalog): it
    /// must be merged onto the catalog, never stand for it.
    pub partial: bool,
    /// Products the file marks deleted (CommerceML `Статус="Удален"`).
    pub deleted: Vec<String>,
}

/// Where the rows of an import come from.
pub enum Source<'a> {
    /// A CSV, JSON Lines or CommerceML file.
    File(&'a Path, Format, &'a ReadOptions),
    /// A verified package of [`CatalogRecord`]s.
    Package(&'a crate::package::PackageReader),
}

impl Source<'_> {
    /// The file, for error messages.
    pub fn path(&self) -> &Path {
        match self {
            Source::File(p, _, _) => p,
            Source::Package(r) => r.path(),
        }
    }

    /// Reads every row into `sink`.
    pub fn parse(&self, sink: &mut dyn RowSink, progress: &mut dyn FnMut(u64) -> bool) -> Result<ReadSummary> {
        match self {
            Source::File(path, format, options) => parse_file(path, *format, options, sink, progress),
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
                Ok(ReadSummary {
                    rows,
                    ..ReadSummary::default()
                })
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
    /// Short all-digit codes kept as text: how many, and the first line.
    short_numeric: (u64, u64),
}

impl<'s> Validator<'s> {
    /// Rows of `path` (named in errors) go to `sink`.
    pub fn new(sink: &'s mut dyn RowSink, path: &Path) -> Self {
        Validator {
            sink,
            path: path.to_path_buf(),
            last_product: None,
            last_packaging: None,
            short_numeric: (0, 0),
        }
    }

    /// Rows of an input errors call `label` (not its path).
    pub fn labelled(sink: &'s mut dyn RowSink, label: &str) -> Self {
        Validator::new(sink, Path::new(label))
    }

    /// Errors from now on name `path` (the next file of a CommerceML exchange).
    pub fn set_path(&mut self, path: &Path) {
        self.path = path.to_path_buf();
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

    /// A barcode from a file people wrote, checked for what spreadsheets do to
    /// codes: scientific notation, digits split by spaces, a UPC-A whose leading
    /// zero was dropped, a bad check digit — refused with the reason unless the
    /// file declares it an internal text code (`text`).
    pub fn file_barcode(&mut self, raw: &str, product: &str, packaging: Option<&str>, text: bool, line: u64) -> Result<()> {
        let s = raw.trim();
        if text {
            if s.is_empty() {
                return Err(self.err(line, "empty barcode"));
            }
            let key = super::BarcodeKey::Text(s.to_string());
            return self.sink.row(
                Row::Barcode {
                    key: &key,
                    product,
                    packaging,
                },
                line,
            );
        }
        if let Some(reason) = spreadsheet_damage(s) {
            return Err(self.err(line, format!("barcode {s:?}: {reason}")));
        }
        if (1..8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            if self.short_numeric.0 == 0 {
                self.short_numeric.1 = line;
            }
            self.short_numeric.0 += 1;
        }
        self.barcode(s, product, packaging, line)
    }

    /// The warnings the checks above gathered.
    fn warnings(&self) -> Vec<String> {
        let (n, line) = self.short_numeric;
        if n == 0 {
            return Vec::new();
        }
        vec![format!(
            "{n} barcode(s) of 1–7 digits kept as internal text codes (the first on line {line}); a weighed product's scale item code belongs in the plu column"
        )]
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

/// Parses "12", "0.5", "1,25" (1C writes a decimal comma), "1 000" and "1\u{a0}000,5"
/// (1C's thousands separator is a non-breaking space) into thousandths.
pub fn parse_milli(s: &str) -> Option<i64> {
    let spaced;
    let s = if s.contains([' ', '\u{a0}', '\u{202f}', '\u{2009}']) {
        let t = s.trim_matches(|c: char| c.is_whitespace());
        // Separators only between digits, in groups of three.
        let groups: Vec<&str> = t.split([' ', '\u{a0}', '\u{202f}', '\u{2009}']).collect();
        let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
        let last = groups.len() - 1;
        let ok = (1..=3).contains(&groups[0].len())
            && digits(groups[0])
            && groups.iter().enumerate().skip(1).all(|(i, g)| {
                let (int, frac) = g.split_at(g.find(['.', ',']).unwrap_or(g.len()));
                int.len() == 3 && digits(int) && (frac.is_empty() || i == last)
            });
        if !ok {
            return None;
        }
        spaced = groups.concat();
        spaced.as_str()
    } else {
        s.trim()
    };
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

/// The catalog fields of a CSV header and the names they go by, as 1C, Excel and
/// people write them (compared lower-cased, ё as е, with `_`, `-`, `.` and
/// quotes as spaces).
pub const HEADERS: &[(&str, &[&str])] = &[
    (
        "product_id",
        &[
            "product_id",
            "id",
            "код",
            "ид",
            "идентификатор",
            "код товара",
            "код номенклатуры",
            "guid",
        ],
    ),
    ("code", &["code", "артикул", "article", "sku", "арт"]),
    (
        "name",
        &["name", "наименование", "название", "товар", "номенклатура", "наименование товара"],
    ),
    (
        "unit",
        &[
            "unit",
            "единица",
            "ед",
            "ед изм",
            "единица измерения",
            "базовая единица",
            "базовая единица измерения",
        ],
    ),
    ("weighted", &["weighted", "weighed", "весовой", "весовой товар"]),
    ("marked", &["marked", "маркируемый", "маркировка", "маркируемый товар"]),
    ("packaging_id", &["packaging_id", "упаковка", "код упаковки", "упаковка код"]),
    (
        "packaging_name",
        &["packaging_name", "наименование упаковки", "упаковка наименование"],
    ),
    ("factor", &["factor", "коэффициент", "кратность", "количество в упаковке", "коэф"]),
    ("barcode", &["barcode", "штрихкод", "штрих код", "шк", "ean", "ean13", "gtin"]),
    (
        "plu",
        &["plu", "плу", "код весового товара", "код на весах", "весовой код", "код plu"],
    ),
    ("barcode_kind", &["barcode_kind", "тип штрихкода", "вид штрихкода"]),
    ("cell_id", &["cell_id", "ячейка", "код ячейки"]),
    ("catalog", &["catalog", "справочник"]),
    ("record_id", &["record_id", "код записи"]),
];

/// How many lines from the top a CSV header is looked for (title lines above it).
const HEADER_SEARCH: usize = 10;

/// The fields of a product row, in the order of the column array.
const PRODUCT_FIELDS: [&str; 12] = [
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
    "barcode_kind",
];

/// A header name as compared: lower case, ё → е, separators and quotes as single
/// spaces, BOM and outer spaces gone.
fn header_key(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    for c in h.trim_start_matches('\u{feff}').chars() {
        match c {
            '_' | '-' | '.' | '"' | '\'' | '«' | '»' | '\u{a0}' => out.push(' '),
            'ё' | 'Ё' => out.push('е'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a barcode as written cannot be the code on the goods (a spreadsheet
/// damaged it), if it cannot.
fn spreadsheet_damage(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // The common case, a code of digits only: only its length can be wrong here.
    if b.iter().all(u8::is_ascii_digit) {
        if b.len() != 11 {
            return None;
        }
    } else if !b.iter().any(|c| matches!(c, b'e' | b'E' | b' ' | 0xC2 | 0xE2)) {
        // No exponent and no (non-breaking, narrow) space: nothing a spreadsheet did.
        return None;
    }
    // 4,60123E+12 / 4.60123e12: Excel's scientific notation; the digits are gone.
    if let Some(e) = s.find(['e', 'E']) {
        let (mantissa, exp) = (&s[..e], &s[e + 1..]);
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        let mantissa_ok = !mantissa.is_empty()
            && mantissa.bytes().all(|c| c.is_ascii_digit() || c == b',' || c == b'.')
            && mantissa.as_bytes()[0].is_ascii_digit();
        if mantissa_ok && !exp.is_empty() && exp.bytes().all(|c| c.is_ascii_digit()) {
            return Some(
                "a number in scientific notation (Excel wrote it so and the digits are lost): format the column as text and export again"
                    .into(),
            );
        }
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits >= 8 && s.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '\u{a0}' | '\u{202f}')) && digits < s.chars().count() {
        return Some(format!(
            "digits split by spaces; write them together ({})",
            s.chars().filter(char::is_ascii_digit).collect::<String>()
        ));
    }
    if b.len() == 11 && b.iter().all(u8::is_ascii_digit) {
        let fixed = format!("0{s}");
        return Some(if crate::barcode::has_valid_check(&fixed) {
            format!("11 digits: a UPC-A whose leading zero was dropped (a spreadsheet does this to numbers); write {fixed}")
        } else {
            "11 digits: no barcode has 11 digits (a leading zero dropped by a spreadsheet?)".into()
        });
    }
    None
}

/// Which column holds which field, from the header and the explicit mapping.
struct Columns {
    /// Field name → column index.
    found: Vec<(&'static str, usize)>,
    /// Columns no field claimed: (index, header as written).
    unknown: Vec<(usize, String)>,
}

impl Columns {
    fn of(headers: &[String], mapping: &[(String, String)]) -> std::result::Result<Columns, String> {
        let mut found: Vec<(&'static str, usize)> = Vec::new();
        for (field, header) in mapping {
            let field = HEADERS
                .iter()
                .map(|(f, _)| *f)
                .find(|f| f == field)
                .ok_or_else(|| format!("{field:?} is not a catalog field"))?;
            let i = headers
                .iter()
                .position(|h| header_key(h) == header_key(header))
                .ok_or_else(|| format!("column {header:?} (for {field}) is not in the header"))?;
            found.push((field, i));
        }
        let mut unknown = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            if found.iter().any(|(_, j)| *j == i) || h.trim().is_empty() {
                continue;
            }
            let key = header_key(h);
            let field = HEADERS
                .iter()
                .find(|(f, names)| !found.iter().any(|(g, _)| g == f) && names.iter().any(|n| header_key(n) == key));
            match field {
                Some((f, _)) => found.push((f, i)),
                None => unknown.push((i, h.trim().trim_start_matches('\u{feff}').to_string())),
            }
        }
        Ok(Columns { found, unknown })
    }

    fn get(&self, field: &str) -> Option<usize> {
        self.found.iter().find(|(f, _)| *f == field).map(|(_, i)| *i)
    }
}

fn parse_csv(
    st: &mut Validator<'_>,
    reader: impl Read,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    let mut text = TextReader::new(reader, options.encoding);
    let mut warnings = Vec::new();
    let rows = {
        let mut reader = BufReader::with_capacity(1 << 16, &mut text);
        let delimiter = {
            // The separator that a line of the first ones holds most of: a report
            // saved from 1C may start with a title line that has none.
            let head = reader.fill_buf().map_err(|e| io_error(st, e))?;
            let lines: Vec<&[u8]> = head.split(|&b| b == b'\n').take(HEADER_SEARCH).collect();
            [b';', b'\t', b',']
                .into_iter()
                .max_by_key(|d| {
                    let best = lines.iter().map(|l| l.iter().filter(|b| *b == d).count()).max().unwrap_or(0);
                    // Ties go to the first in the list (`;` is 1C's).
                    (best, std::cmp::Reverse(*d == b','))
                })
                .unwrap_or(b',')
        };
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .from_reader(reader);
        enum Shape {
            Products([Option<usize>; 12]),
            Cells([Option<usize>; 3]),
            Records(usize, usize),
        }
        let shape_of = |columns: &Columns| {
            if columns.get("product_id").is_some() {
                Some(Shape::Products(PRODUCT_FIELDS.map(|f| columns.get(f))))
            } else if columns.get("cell_id").is_some() {
                Some(Shape::Cells([columns.get("cell_id"), columns.get("name"), columns.get("barcode")]))
            } else if let (Some(c), Some(r)) = (columns.get("catalog"), columns.get("record_id")) {
                Some(Shape::Records(c, r))
            } else {
                None
            }
        };
        // The header is the first line that names a product, cell or record column:
        // title lines above it (a report's name, its date) are skipped.
        let mut record = csv::StringRecord::new();
        let mut first: Option<(Vec<String>, u64)> = None;
        // Nothing found: the first line is reported as if it were the header.
        let no_header = |first: &Option<(Vec<String>, u64)>| -> Error {
            let Some((headers, line)) = first else {
                return st.err(1, "the file has no header line");
            };
            match Columns::of(headers, &options.columns) {
                Err(e) => st.err(*line, e),
                Ok(_) => st.err(
                    *line,
                    format!(
                        "the header names no product, cell or record column (found: {}); name the product id column product_id or Код, or map it with --columns product_id=…",
                        headers.iter().map(|h| format!("«{}»", h.trim())).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        };
        let (headers, columns, shape) = loop {
            match csv.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => return Err(no_header(&first)),
                Err(e) => return Err(csv_error(st, e, 1)),
            }
            let line = record.position().map_or(1, |p| p.line());
            let headers: Vec<String> = record.iter().map(str::to_string).collect();
            if headers.iter().all(|h| h.trim().is_empty()) {
                continue;
            }
            if let Ok(columns) = Columns::of(&headers, &options.columns) {
                if let Some(shape) = shape_of(&columns) {
                    break (headers, columns, shape);
                }
            }
            first.get_or_insert((headers, line));
            if line >= HEADER_SEARCH as u64 {
                return Err(no_header(&first));
            }
        };
        if !matches!(shape, Shape::Records(..)) {
            for (i, h) in &columns.unknown {
                let w = format!(
                    "column {} «{h}» is not a catalog field: ignored (map it with --columns FIELD={h})",
                    i + 1
                );
                if options.strict {
                    return Err(st.err(1, w));
                }
                warnings.push(w);
            }
        }
        if let Shape::Products(c) = &shape {
            if c[9].is_none() && c[10].is_none() {
                let w = "no barcode column was recognised: the products get no barcodes (name it barcode or Штрихкод, or map it with --columns barcode=…)".to_string();
                if options.strict {
                    return Err(st.err(1, w));
                }
                warnings.push(w);
            }
        }
        let mut rows = 0u64;
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_error(st, e, rows + 2)),
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
                        p.id == id
                            && p.code == get(c[1])
                            && p.name == get(c[2])
                            && p.unit == get(c[3])
                            && p.flags == flags(weighted, marked)
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
                        let text = is_text_kind(get(c[11])).ok_or_else(|| {
                            st.err(
                                line,
                                format!(
                                    "barcode_kind {:?}: write text (an internal code kept as written) or leave it empty",
                                    get(c[11])
                                ),
                            )
                        })?;
                        st.file_barcode(barcode, id, Some(pack).filter(|p| !p.is_empty()), text, line)?;
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
                            let key = h.trim().trim_start_matches('\u{feff}').to_lowercase();
                            fields.insert(key, serde_json::Value::String(record.get(i).unwrap_or("").to_string()));
                        }
                    }
                    st.record(get(Some(*c)), get(Some(*r)), &fields, line)?;
                }
            }
            if rows.is_multiple_of(65536) && !progress(rows) {
                return Err(Error::Cancelled);
            }
        }
        rows
    };
    warnings.extend(st.warnings());
    Ok(ReadSummary {
        rows,
        warnings,
        encoding: text.encoding(),
        ..ReadSummary::default()
    })
}

/// `barcode_kind`: empty for a barcode, `text` (or internal, внутренний, текст)
/// for an internal code kept exactly as written.
fn is_text_kind(s: &str) -> Option<bool> {
    // Every row of a flat CSV passes here: no allocation for the usual empty cell.
    if s.is_empty() {
        return Some(false);
    }
    match s.trim().to_lowercase().as_str() {
        "" | "barcode" | "штрихкод" | "ean" | "gtin" => Some(false),
        "text" | "internal" | "внутренний" | "текст" | "code128" => Some(true),
        _ => None,
    }
}

/// An I/O error while reading a file: bad bytes name their line.
fn io_error(st: &Validator<'_>, e: std::io::Error) -> Error {
    match text_error(&e) {
        Some(t) => st.err(t.line, t.reason.clone()),
        None => Error::Io {
            path: st.path.clone(),
            source: e,
        },
    }
}

/// A CSV reader error at its line (`fallback` when it has none).
fn csv_error(st: &Validator<'_>, e: csv::Error, fallback: u64) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(fallback);
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io_error(st, io),
        csv::ErrorKind::Utf8 { .. } => st.err(line, "bytes that are not UTF-8 text (name the encoding with --encoding)"),
        _ => st.err(line, message),
    }
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
    #[serde(default)]
    text_barcodes: Vec<String>,
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
    /// Internal codes kept exactly as written (not checked as barcodes).
    #[serde(default)]
    text_barcodes: Vec<String>,
    #[serde(default)]
    packagings: Vec<JsonPackaging>,
    barcode: Option<String>,
    catalog: Option<String>,
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
}

fn parse_jsonl(
    st: &mut Validator<'_>,
    reader: impl Read,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    let mut text = TextReader::new(reader, options.encoding);
    let mut reader = BufReader::with_capacity(1 << 16, &mut text);
    let mut buf = Vec::new();
    let (mut line, mut rows) = (0u64, 0u64);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| io_error(st, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        let text =
            std::str::from_utf8(&buf).map_err(|_| st.err(line, "bytes that are not UTF-8 text (name the encoding with --encoding)"))?;
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
                    st.file_barcode(b, &id, None, false, line)?;
                }
                for b in &j.text_barcodes {
                    st.file_barcode(b, &id, None, true, line)?;
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
                        st.file_barcode(b, &id, Some(&k.id), false, line)?;
                    }
                    for b in &k.text_barcodes {
                        st.file_barcode(b, &id, Some(&k.id), true, line)?;
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
    drop(reader);
    Ok(ReadSummary {
        rows,
        warnings: st.warnings(),
        encoding: text.encoding(),
        ..ReadSummary::default()
    })
}

/// Reads a whole catalog file into `sink`. `progress` gets the row count every
/// 65,536 rows and cancels by returning `false`.
pub fn parse_file(
    path: &Path,
    format: Format,
    options: &ReadOptions,
    sink: &mut dyn RowSink,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    let name = options.label.as_deref().map_or_else(|| path.to_path_buf(), PathBuf::from);
    let mut v = Validator::new(sink, &name);
    if format == Format::CommerceMl {
        let files = super::cml::exchange_files(path);
        return super::cml::parse_files(&mut v, &files, options.label.as_deref(), options, progress);
    }
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    match format {
        Format::Csv => parse_csv(&mut v, file, options, progress),
        _ => parse_jsonl(&mut v, file, options, progress),
    }
}

/// Reads catalog text from a stream (one CommerceML file; no siblings); `name`
/// is what errors call it. The fuzz target's way in.
pub fn parse_reader(
    name: &Path,
    reader: impl Read,
    format: Format,
    options: &ReadOptions,
    sink: &mut dyn RowSink,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    let mut v = Validator::new(sink, name);
    match format {
        Format::Csv => parse_csv(&mut v, reader, options, progress),
        Format::Jsonl => parse_jsonl(&mut v, reader, options, progress),
        Format::CommerceMl => super::cml::parse(&mut v, reader, options, progress),
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
        // 1C's number format: non-breaking space thousands, decimal comma.
        assert_eq!(parse_milli("1 000"), Some(1_000_000));
        assert_eq!(parse_milli("1\u{a0}000,5"), Some(1_000_500));
        assert_eq!(parse_milli("12\u{202f}345\u{a0}678"), Some(12_345_678_000));
        assert_eq!(parse_milli("12 34"), None);
        assert_eq!(parse_milli("1 0000"), None);
        assert_eq!(parse_milli("1,5 000"), None);
    }
}
