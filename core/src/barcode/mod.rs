//! Pure barcode parsing: a raw scanner string in, a typed [`Parsed`] out. No I/O,
//! no catalog; the same input always gives the same answer.
//!
//! ```
//! use tsd_core::barcode::{parse, Kind, WeightTemplate};
//! let p = parse("]C10104601234567893\u{1D}10LOT-7\u{1D}17261231", &[WeightTemplate::default_weight()]).unwrap();
//! assert_eq!(p.kind, Kind::Gs1);
//! assert_eq!(p.gtin.unwrap().as_str(), "04601234567893");
//! assert_eq!(p.batch(), Some("LOT-7"));
//! ```

pub mod ai_table;
pub mod digital_link;
mod error;
pub mod gs1;
mod gtin;
mod marking;
mod symbology;
mod weight;

pub use error::{BarcodeError, ErrorCode};
pub use gs1::{Element, GS};
pub use gtin::{check_digit, has_valid_check, Gtin14};
pub use marking::{groups_for, Group, MarkingCode, MarkingForm, Tail, GROUPS};
pub use symbology::{strip, Symbology};
pub use weight::{Measure, Preset, WeightReading, WeightTemplate, WeightTemplateDef, PRESETS};

/// What a scan turned out to be. `as_str` is the `kind` of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// EAN-13 (and in-store EAN-13 that no weight template claims).
    Ean13,
    /// EAN-8.
    Ean8,
    /// UPC-A (12 digits).
    UpcA,
    /// UPC-E (8 digits, expanded to UPC-A).
    UpcE,
    /// ITF-14 / GTIN-14.
    Itf14,
    /// GS1 element string that is not a marking code.
    Gs1,
    /// Честный ЗНАК marking code.
    Marking,
    /// In-store weight or price barcode.
    Weight,
    /// Anything else (Code 128 internal codes, cell labels…), kept as text.
    Unknown,
}

impl Kind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ean13 => "ean13",
            Kind::Ean8 => "ean8",
            Kind::UpcA => "upca",
            Kind::UpcE => "upce",
            Kind::Itf14 => "itf14",
            Kind::Gs1 => "gs1",
            Kind::Marking => "marking",
            Kind::Weight => "weight",
            Kind::Unknown => "unknown",
        }
    }
}

/// A parsed scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Symbology from the AIM prefix, when the scanner sent one.
    pub symbology: Option<Symbology>,
    /// What the code is.
    pub kind: Kind,
    /// The product's GTIN-14, when the code carries one (for weight codes: the
    /// item's zero-weight code).
    pub gtin: Option<Gtin14>,
    /// A second reading: an 8-digit code that is a valid EAN-8 *and* a valid UPC-E
    /// carries its UPC-E expansion here, so the catalog can try both.
    pub alt_gtin: Option<Gtin14>,
    /// GS1 elements in scanned order.
    pub elements: Vec<Element>,
    /// The marking code, for `Kind::Marking`.
    pub marking: Option<MarkingCode>,
    /// The weight reading, for `Kind::Weight`.
    pub weight: Option<WeightReading>,
    /// The payload after the symbology prefix; the lookup key for `Kind::Unknown`.
    pub text: String,
    /// GS1 rules the code's AIs break together (a required AI missing, two that
    /// may not appear together): the code still parses; a document type with
    /// `strict_gs1` refuses it.
    pub warnings: Vec<String>,
}

impl Parsed {
    fn new(symbology: Option<Symbology>, kind: Kind, text: &str) -> Parsed {
        Parsed {
            symbology,
            kind,
            gtin: None,
            alt_gtin: None,
            elements: Vec::new(),
            marking: None,
            weight: None,
            text: text.to_string(),
            warnings: Vec::new(),
        }
    }

    /// Value of the first element with this AI.
    pub fn ai(&self, ai: &str) -> Option<&str> {
        self.elements.iter().find(|e| e.ai == ai).map(|e| e.value.as_str())
    }
    /// Batch/lot (AI 10).
    pub fn batch(&self) -> Option<&str> {
        self.ai("10")
    }
    /// Expiry YYMMDD (AI 17, else 15 best before).
    pub fn expiry(&self) -> Option<&str> {
        self.ai("17").or_else(|| self.ai("15"))
    }
    /// Serial (AI 21 or the marking code's serial).
    pub fn serial(&self) -> Option<&str> {
        self.marking.as_ref().map(|m| m.serial()).or_else(|| self.ai("21"))
    }
    /// What an aggregation code names: `sscc` for a logistic unit (a box or
    /// pallet, AI 00) — marked goods are aggregated under SSCCs too.
    pub fn aggregation(&self) -> Option<&'static str> {
        self.ai("00").map(|_| "sscc")
    }
    /// Count of units (AI 30 or 37, or a count template).
    pub fn count(&self) -> Option<u64> {
        self.ai("30")
            .or_else(|| self.ai("37"))
            .and_then(|v| v.parse().ok())
            .or(self.weight.as_ref().and_then(|w| w.count))
    }
    /// Net weight in grams: from a weight barcode, or AI 310n (kg) / 320n (lb).
    pub fn weight_grams(&self) -> Option<u64> {
        if let Some(w) = &self.weight {
            return w.grams;
        }
        for e in &self.elements {
            let Some(dec) = e.decimals() else { continue };
            let v: u64 = e.value.parse().ok()?;
            if e.ai.starts_with("310") {
                return Some(if dec <= 3 {
                    v * 10u64.pow(3 - dec)
                } else {
                    (v + 10u64.pow(dec - 3) / 2) / 10u64.pow(dec - 3)
                });
            }
            if e.ai.starts_with("320") {
                let lb = v as f64 / 10f64.powi(dec as i32);
                return Some((lb * 453.592_37).round() as u64);
            }
        }
        None
    }
}

/// A parsed element string; `marking`: whether it may be a marking code (never
/// for a Digital Link).
fn from_elements(sym: Option<Symbology>, text: &str, elements: Vec<Element>, marking: bool) -> Result<Parsed, BarcodeError> {
    let mut p = Parsed::new(sym, Kind::Gs1, text);
    let m = if marking { MarkingCode::from_elements(&elements)? } else { None };
    if let Some(m) = m {
        p.kind = Kind::Marking;
        p.gtin = Some(m.gtin());
        p.marking = Some(m);
    } else {
        p.gtin = elements
            .iter()
            .find(|e| e.ai == "01" || e.ai == "02")
            .and_then(|e| Gtin14::parse(&e.value).ok());
    }
    p.warnings = gs1::pairing_warnings(&elements);
    p.elements = elements;
    Ok(p)
}

fn parse_gs1(sym: Option<Symbology>, text: &str) -> Result<Parsed, BarcodeError> {
    let elements = if text.starts_with('(') {
        gs1::parse_bracketed(text)?
    } else {
        gs1::parse_unbracketed(text, 0)?
    };
    from_elements(sym, text, elements, true)
}

/// Parses one raw scan. `templates` are the in-store weight templates in force (the
/// first matching prefix wins).
pub fn parse(raw: &str, templates: &[WeightTemplate]) -> Result<Parsed, BarcodeError> {
    let (sym, text) = strip(raw);
    if text.is_empty() {
        return Err(BarcodeError::new(ErrorCode::Empty, 0, "nothing scanned"));
    }
    if let Some(s) = sym {
        content_fits(s, text)?;
    }
    if digital_link::looks_like(text) {
        return match digital_link::parse(text) {
            Some(Ok(elements)) => from_elements(sym, text, elements, false),
            Some(Err(e)) => Err(e),
            // A web address that names no GS1 key: an opaque code.
            None => Ok(Parsed::new(sym, Kind::Unknown, text)),
        };
    }
    let gs1_hint = sym.is_some_and(Symbology::is_gs1)
        || text.contains(GS)
        || (text.starts_with('(') && text[1..].starts_with(|c: char| c.is_ascii_digit()));
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    let looks_marked =
        text.len() > 18 && text.starts_with("01") && text.get(16..18) == Some("21") && text[2..16].bytes().all(|b| b.is_ascii_digit());

    if gs1_hint || (looks_marked && !digits) {
        return match parse_gs1(sym, text) {
            Ok(p) => Ok(p),
            // A marking code whose GS separators the scanner dropped.
            Err(e) if looks_marked && !text.contains(GS) => match MarkingCode::without_separators(text) {
                Ok(m) => {
                    let mut p = Parsed::new(sym, Kind::Marking, text);
                    p.gtin = Some(m.gtin());
                    p.elements = vec![
                        Element {
                            ai: "01".into(),
                            value: m.gtin().to_string(),
                        },
                        Element {
                            ai: "21".into(),
                            value: m.serial().to_string(),
                        },
                    ];
                    p.marking = Some(m);
                    Ok(p)
                }
                Err(_) => Err(e),
            },
            Err(e) => Err(e),
        };
    }
    if digits {
        let kind = match text.len() {
            8 => Kind::Ean8,
            12 => Kind::UpcA,
            13 => Kind::Ean13,
            14 => Kind::Itf14,
            // Not a linear code's length: an element string whose FNC1 the scanner
            // did not send (an SSCC of 20 digits), else an opaque code.
            _ => return Ok(element_string_or_opaque(sym, text)),
        };
        let mut p = Parsed::new(sym, kind, text);
        if kind == Kind::Ean8 {
            let ean8 = Gtin14::parse(text);
            // GS1-8 numbers starting with 0 are restricted circulation, so an 8-digit
            // code starting with 0 or 1 is read as UPC-E first (unless the scanner
            // said EAN-8); the EAN-8 reading stays as the alternative.
            let upce = Gtin14::from_upce(text).ok().filter(|_| sym != Some(Symbology::Ean8));
            if sym == Some(Symbology::Ean13) {
                // 8 digits under ]E0: UPC-E, nothing else.
                p.kind = Kind::UpcE;
                p.gtin = Some(Gtin14::from_upce(text)?);
                return Ok(p);
            }
            match (upce, ean8) {
                (Some(u), ean8) if text.starts_with(['0', '1']) => {
                    p.kind = Kind::UpcE;
                    p.gtin = Some(u);
                    p.alt_gtin = ean8.ok();
                }
                (upce, Ok(g)) => {
                    p.gtin = Some(g);
                    p.alt_gtin = upce;
                }
                (Some(u), Err(_)) => {
                    p.kind = Kind::UpcE;
                    p.gtin = Some(u);
                }
                (None, Err(e)) => return Err(e),
            }
            return Ok(p);
        }
        p.gtin = Some(Gtin14::parse(text)?);
        if kind == Kind::Ean13 {
            if let Some(reading) = templates.iter().find_map(|t| t.read(text)) {
                let reading = reading?;
                p.kind = Kind::Weight;
                p.gtin = Some(reading.item_gtin);
                p.weight = Some(reading);
            }
        }
        return Ok(p);
    }
    if let Some(m) = MarkingCode::tobacco_pack(text) {
        let mut p = Parsed::new(sym, Kind::Marking, text);
        p.gtin = Some(m.gtin());
        p.marking = Some(m);
        return Ok(p);
    }
    Ok(element_string_or_opaque(sym, text))
}

/// A code without a linear code's shape: a GS1 element string when the whole
/// string parses as one *and* names goods or a logistic unit (01, 02 or 00) —
/// FNC1 separators the scanner dropped are read greedily, fixed-length AIs first —,
/// else an opaque internal code (a warehouse's own Code 128 or Code 39 label),
/// looked up as text.
fn element_string_or_opaque(sym: Option<Symbology>, text: &str) -> Parsed {
    let names_goods = |p: &Parsed| p.elements.iter().any(|e| matches!(e.ai.as_str(), "00" | "01" | "02"));
    let plain = sym.is_none_or(|s| matches!(s, Symbology::Code128 | Symbology::Code39 | Symbology::Other(_)));
    if plain && text.len() >= 16 && text.starts_with('0') {
        if let Some(p) = parse_gs1(sym, text).ok().filter(names_goods) {
            return p;
        }
    }
    Parsed::new(sym, Kind::Unknown, text)
}

/// The content a symbology identifier announces: `]E0` carries 13 digits (EAN-13,
/// UPC-A as 13; UPC-E as 13, or as its 8 digits the way zxing-based readers send
/// it), `]E4` 8 (EAN-8), `]I0`/`]I1` digits (ITF); a scan that does not
/// fit is refused, naming the identifier.
fn content_fits(sym: Symbology, text: &str) -> Result<(), BarcodeError> {
    let (id, len) = match sym {
        Symbology::Ean13 => ("]E0 (EAN-13/UPC-A)", Some(13)),
        Symbology::Ean8 => ("]E4 (EAN-8)", Some(8)),
        Symbology::Itf => ("]I1 (ITF)", None),
        _ => return Ok(()),
    };
    if let Some(i) = text.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(BarcodeError::new(
            ErrorCode::BadCharacter,
            3 + i,
            format!("{id} carries digits only"),
        ));
    }
    match len {
        // UPC-E as zxing-based readers send it: ]E0 and its 8 digits.
        Some(13) if text.len() == 8 => Ok(()),
        Some(n) if text.len() != n => Err(BarcodeError::new(
            ErrorCode::BadLength,
            3,
            format!("{id} carries {n} digits, got {}", text.len()),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
