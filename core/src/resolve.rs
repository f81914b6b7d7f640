//! Resolving a scan: raw string → parsed barcode → catalog → product, packaging,
//! quantity and attributes. A code that parses but is not in the catalog comes back
//! as not found with everything parsed.

use crate::barcode::{self, Gtin14, Kind, Parsed, WeightTemplate};
use crate::catalog::{self, BarcodeHit, BarcodeKey, Cell};
use crate::error::Result;
use rusqlite::Connection;
use serde::Serialize;

/// Attributes read from the code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attributes {
    /// Batch/lot (AI 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Expiry as YYMMDD (AI 17 or 15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// Serial (AI 21 or the marking code's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Net weight in grams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_grams: Option<u64>,
    /// Price in kopecks (price templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<u64>,
    /// Marking identity: GTIN + serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
}

/// What the scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Goods from the catalog.
    Product(BarcodeHit),
    /// A storage cell label.
    Cell(Cell),
    /// Parsed, but not in the catalog.
    NotFound,
}

/// Where the target of a resolution came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The terminal's catalog (also for a code found nowhere).
    #[default]
    Device,
    /// An earlier server answer kept on the terminal.
    Cache,
    /// The server, asked now (HYDB).
    Server,
}

impl Source {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Device => "device",
            Source::Cache => "cache",
            Source::Server => "server",
        }
    }
}

/// A resolved scan.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The parsed code.
    pub parsed: Parsed,
    /// Product, cell or nothing.
    pub target: Target,
    /// Quantity in base units, thousandths: packaging factor × count, or the weight
    /// for weighed goods. 1000 (one unit) when nothing else is known.
    pub qty: i64,
    /// Attributes from the code.
    pub attributes: Attributes,
    /// Where the target came from.
    pub source: Source,
    /// Set when the catalog routing wanted the server and it could not answer: why.
    pub server_unreachable: Option<String>,
    /// Which reading of the code the catalog knew (see [`readings`]); `None` when
    /// nothing matched.
    pub reading: Option<&'static str>,
}

impl Resolution {
    /// True when the code named a product in the catalog.
    pub fn found(&self) -> bool {
        matches!(self.target, Target::Product(_))
    }
    /// The product hit, if any.
    pub fn hit(&self) -> Option<&BarcodeHit> {
        match &self.target {
            Target::Product(h) => Some(h),
            _ => None,
        }
    }
    /// The full marking code, to be kept for sending back.
    pub fn marking_full(&self) -> Option<&str> {
        self.parsed.marking.as_ref().map(|m| m.full())
    }
}

/// The catalog keys to try, best first.
pub fn keys(p: &Parsed) -> Vec<BarcodeKey> {
    let mut keys = Vec::with_capacity(2);
    match p.kind {
        // An in-store code may be registered as it is (piece goods labelled in the
        // store) before it is read as a weight code.
        // Then by its item code (PLU) as the catalog lists weighed goods, then by
        // its zero-weight form.
        Kind::Weight => {
            if let Ok(g) = Gtin14::parse(&p.text) {
                keys.push(BarcodeKey::gtin(g));
            }
            if let Some(Ok(k)) = p.weight.as_ref().map(|w| catalog::plu_key(&w.item)) {
                keys.push(k);
            }
        }
        Kind::Unknown => keys.push(BarcodeKey::Text(p.text.trim().to_string())),
        _ => {}
    }
    keys.extend(p.gtin.iter().chain(p.alt_gtin.iter()).map(|g| BarcodeKey::gtin(*g)));
    keys
}

/// What each of [`keys`] reads the code as, in the same order: `ean13`, `upce`,
/// `ean8`… for the GTIN readings; for a scale label `ean13` (registered as it is),
/// `plu` (its item code) and `weight` (its zero-weight form); `text` for an
/// opaque code.
pub fn readings(p: &Parsed) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(2);
    match p.kind {
        Kind::Weight => {
            if Gtin14::parse(&p.text).is_ok() {
                out.push("ean13");
            }
            if p.weight.as_ref().is_some_and(|w| catalog::is_plu(&w.item)) {
                out.push("plu");
            }
        }
        Kind::Unknown => out.push("text"),
        _ => {}
    }
    if p.gtin.is_some() {
        out.push(p.kind.as_str());
    }
    if p.alt_gtin.is_some() {
        out.push(if p.kind == Kind::UpcE { "ean8" } else { "upce" });
    }
    out
}

/// The label a cell lookup uses, when the code may be a cell label.
pub fn cell_label(p: &Parsed) -> Option<&str> {
    matches!(p.kind, Kind::Unknown).then(|| p.text.trim())
}

/// The first product among `keys` in the terminal's catalog, with the index of the
/// key that matched.
pub fn local_product(conn: &Connection, keys: &[BarcodeKey]) -> Result<Option<(usize, BarcodeHit)>> {
    for (i, key) in keys.iter().enumerate() {
        if let Some(hit) = catalog::by_barcode(conn, key)? {
            return Ok(Some((i, hit)));
        }
    }
    Ok(None)
}

/// Resolves a raw scan against the catalog.
pub fn resolve(conn: &Connection, raw: &str, templates: &[WeightTemplate]) -> Result<Resolution> {
    let parsed = barcode::parse(raw, templates)?;
    let (target, matched) = match local_product(conn, &keys(&parsed))? {
        Some((i, hit)) => (Target::Product(hit), Some(i)),
        None => match cell_label(&parsed) {
            Some(label) => (catalog::cell_by_barcode(conn, label)?.map_or(Target::NotFound, Target::Cell), None),
            None => (Target::NotFound, None),
        },
    };
    Ok(finish(parsed, target, matched))
}

/// The resolution of a parsed code whose target was found (or not) by key
/// `matched` of [`keys`]: quantity and attributes follow from both.
pub fn finish(parsed: Parsed, target: Target, matched: Option<usize>) -> Resolution {
    let attributes = Attributes {
        batch: parsed.batch().map(str::to_string),
        expiry: parsed.expiry().map(str::to_string),
        serial: parsed.serial().map(str::to_string),
        weight_grams: parsed.weight_grams(),
        price: parsed.weight.as_ref().and_then(|w| w.price),
        mark: parsed.marking.as_ref().map(|m| m.identity()),
    };
    let (factor, weighed_product) = match &target {
        Target::Product(h) => (h.packaging.as_ref().map_or(1000, |k| k.factor), h.product.weighted),
        _ => (1000, false),
    };
    // Key 0 of a weight code is the code itself: a piece item labelled in the store.
    let via_template = parsed.kind == Kind::Weight && matched != Some(0);
    // Weighed goods are kept in kg, so grams are exactly thousandths of the base unit.
    let qty = match attributes.weight_grams {
        Some(g) if via_template || (weighed_product && parsed.kind != Kind::Weight) => g as i64,
        _ => factor.saturating_mul(parsed.count().map_or(1, |c| c as i64)),
    };
    let reading = matched.and_then(|i| readings(&parsed).get(i).copied());
    Resolution {
        parsed,
        target,
        qty,
        attributes,
        source: Source::Device,
        server_unreachable: None,
        reading,
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::Format;
    use crate::Runtime;

    /// The result says which reading of the code the catalog knew.
    #[test]
    fn the_reading_that_matched_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(&dir.path().join("t")).unwrap();
        let upce = crate::barcode::Gtin14::from_upce("01234565").unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(
            &csv,
            format!(
                "product_id,name,weighted,barcode\nP1,Restricted EAN-8,0,04124498\nP2,UPC-E goods,0,{}\nP3,Сыр,1,2200123000002\nP4,Own label,0,INT-77\n",
                upce.short()
            ),
        )
        .unwrap();
        rt.import_catalog(&csv, Format::Csv, &mut |_| true).unwrap();
        let reading = |code: &str| rt.resolve(code).unwrap().reading;
        assert_eq!(reading("04124498"), Some("ean8"), "UPC-E read first, the catalog knows the EAN-8");
        assert_eq!(reading("01234565"), Some("upce"));
        assert_eq!(reading("2200123012500"), Some("weight"));
        assert_eq!(reading("2200123000002"), Some("ean13"), "the zero-weight code as registered");
        assert_eq!(reading("INT-77"), Some("text"));
        // A weighed product listed by its scale item code (PLU): any label with
        // that item code finds it, with the label's weight.
        std::fs::write(&csv, "product_id,name,weighted,plu\nP5,Колбаса,1,00789\n").unwrap();
        rt.import_catalog(&csv, Format::Csv, &mut |_| true).unwrap();
        let label = format!("2400789{}", "01250");
        let label = format!("{label}{}", crate::barcode::check_digit(label.as_bytes()) as char);
        let r = rt.resolve(&label).unwrap();
        assert_eq!((r.reading, r.qty), (Some("plu"), 1250));
        assert_eq!(r.hit().unwrap().product.id, "P5");
        assert_eq!(reading("4601234567909"), None, "not in the catalog: no reading matched");
    }
}
