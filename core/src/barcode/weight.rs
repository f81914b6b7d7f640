//! In-store weight and price barcodes: EAN-13 with prefixes 20–29 read through
//! configurable templates.

use super::error::{BarcodeError, ErrorCode};
use super::gtin::{check_digit, Gtin14};
use serde::{Deserialize, Serialize};

/// What the value digits of an in-store barcode carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Weight; `unit_grams` grams per unit of the value (1: grams, 10: decagrams).
    Weight,
    /// Price in the smallest currency unit (kopecks).
    Price,
    /// A piece count.
    Count,
}

/// A template for EAN-13 codes printed by scales and in-store labellers:
/// `prefix` + `item_digits` item code + `value_digits` value + check digit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WeightTemplateDef", into = "WeightTemplateDef")]
pub struct WeightTemplate {
    prefixes: Vec<String>,
    item_digits: usize,
    value_digits: usize,
    measure: Measure,
    unit_grams: u64,
}

/// Plain form of [`WeightTemplate`] as it appears in configuration JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightTemplateDef {
    /// Prefixes this template reads, all of one length (1–3 digits), each from 20–29.
    pub prefixes: Vec<String>,
    /// Digits of the item (PLU) code.
    pub item_digits: usize,
    /// Digits of the value.
    pub value_digits: usize,
    /// What the value is.
    pub measure: Measure,
    /// Grams per unit of the value when `measure` is weight.
    #[serde(default = "one")]
    pub unit_grams: u64,
}

fn one() -> u64 {
    1
}

impl TryFrom<WeightTemplateDef> for WeightTemplate {
    type Error = String;
    fn try_from(d: WeightTemplateDef) -> Result<Self, String> {
        WeightTemplate::new(d.prefixes, d.item_digits, d.value_digits, d.measure, d.unit_grams)
    }
}

impl From<WeightTemplate> for WeightTemplateDef {
    fn from(t: WeightTemplate) -> Self {
        WeightTemplateDef {
            prefixes: t.prefixes,
            item_digits: t.item_digits,
            value_digits: t.value_digits,
            measure: t.measure,
            unit_grams: t.unit_grams,
        }
    }
}

/// A weight barcode read through a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightReading {
    /// The item's key: prefix + item code + zero value + check digit, as GTIN-14.
    /// The catalog lists weighed goods under this code.
    pub item_gtin: Gtin14,
    /// Item (PLU) code digits.
    pub item: String,
    /// Weight in grams, for weight templates.
    pub grams: Option<u64>,
    /// Price in kopecks, for price templates.
    pub price: Option<u64>,
    /// Count, for count templates.
    pub count: Option<u64>,
}

impl WeightTemplate {
    /// Validating constructor: prefixes of equal length 1–3 inside 20–29, and
    /// prefix + item + value = 12 digits.
    pub fn new(prefixes: Vec<String>, item_digits: usize, value_digits: usize, measure: Measure, unit_grams: u64) -> Result<Self, String> {
        let plen = prefixes.first().map(String::len).ok_or("a template needs at least one prefix")?;
        for p in &prefixes {
            if p.len() != plen || !(1..=3).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) || !p.starts_with('2') {
                return Err(format!("prefix {p:?}: 1–3 digits starting with 2, all of one length"));
            }
        }
        if plen + item_digits + value_digits != 12 || item_digits == 0 || value_digits == 0 {
            return Err(format!(
                "prefix ({plen}) + item ({item_digits}) + value ({value_digits}) digits must be 12"
            ));
        }
        if unit_grams == 0 {
            return Err("unit_grams must be positive".into());
        }
        Ok(WeightTemplate {
            prefixes,
            item_digits,
            value_digits,
            measure,
            unit_grams,
        })
    }

    /// The default of Russian retail scales: prefixes 20–29, 5-digit item code,
    /// 5-digit weight in grams.
    pub fn default_weight() -> WeightTemplate {
        let prefixes = (20..=29).map(|p| p.to_string()).collect();
        WeightTemplate::new(prefixes, 5, 5, Measure::Weight, 1).expect("valid default")
    }

    /// Reads a 13-digit EAN (check digit already verified) if its prefix is ours.
    pub fn read(&self, ean13: &str) -> Option<Result<WeightReading, BarcodeError>> {
        let plen = self.prefixes[0].len();
        if ean13.len() != 13 || !self.prefixes.iter().any(|p| ean13.starts_with(p.as_str())) {
            return None;
        }
        let item_end = plen + self.item_digits;
        let item = &ean13[plen..item_end];
        let value: u64 = match ean13[item_end..12].parse() {
            Ok(v) => v,
            Err(_) => {
                return Some(Err(BarcodeError::new(
                    ErrorCode::BadCharacter,
                    item_end,
                    "weight value must be digits",
                )))
            }
        };
        let mut key = ean13.as_bytes()[..item_end].to_vec();
        key.resize(12, b'0');
        key.push(check_digit(&key));
        let key = String::from_utf8(key).unwrap_or_default();
        let item_gtin = match Gtin14::parse(&key) {
            Ok(g) => g,
            Err(e) => return Some(Err(e)),
        };
        let mut r = WeightReading {
            item_gtin,
            item: item.to_string(),
            grams: None,
            price: None,
            count: None,
        };
        match self.measure {
            Measure::Weight => r.grams = Some(value * self.unit_grams),
            Measure::Price => r.price = Some(value),
            Measure::Count => r.count = Some(value),
        }
        Some(Ok(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template_reads_grams() {
        let t = WeightTemplate::default_weight();
        // 22 + item 00123 + 01250 g + check
        let mut s = "220012301250".to_string();
        s.push(check_digit(s.as_bytes()) as char);
        let r = t.read(&s).unwrap().unwrap();
        assert_eq!(r.grams, Some(1250));
        assert_eq!(r.item, "00123");
        assert_eq!(&r.item_gtin.as_str()[1..8], "2200123");
        assert!(r.item_gtin.as_str()[8..13].chars().all(|c| c == '0'));
        assert!(t.read("4601234567893").is_none());
    }

    #[test]
    fn templates_are_validated() {
        assert!(WeightTemplate::new(vec!["2".into()], 6, 5, Measure::Weight, 1).is_ok());
        assert!(WeightTemplate::new(vec!["2".into()], 6, 6, Measure::Weight, 1).is_err());
        assert!(WeightTemplate::new(vec!["46".into()], 5, 5, Measure::Weight, 1).is_err());
        assert!(WeightTemplate::new(vec![], 5, 5, Measure::Weight, 1).is_err());
        let json = r#"{"prefixes":["21"],"item_digits":5,"value_digits":5,"measure":"price"}"#;
        let t: WeightTemplate = serde_json::from_str(json).unwrap();
        assert_eq!(t.measure, Measure::Price);
        assert!(
            serde_json::from_str::<WeightTemplate>(r#"{"prefixes":["21"],"item_digits":9,"value_digits":5,"measure":"price"}"#).is_err()
        );
    }
}
