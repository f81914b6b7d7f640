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
    preset: Option<String>,
    prefixes: Vec<String>,
    item_digits: usize,
    value_digits: usize,
    measure: Measure,
    unit_grams: u64,
}

/// A named label layout: what a scale prints when it is left at that setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The name a configuration uses (`{"preset": "weight_5_5"}`).
    pub name: &'static str,
    /// Digits of the item code.
    pub item_digits: usize,
    /// Digits of the value.
    pub value_digits: usize,
    /// What the value is.
    pub measure: Measure,
    /// Grams per unit of the value, for weights.
    pub unit_grams: u64,
    /// Prefixes used when the configuration names none.
    pub prefixes: &'static [&'static str],
    /// Which scales print this layout, and where the layout is documented.
    pub note: &'static str,
}

const ALL_2X: &[&str] = &["20", "21", "22", "23", "24", "25", "26", "27", "28", "29"];

/// The common scale label layouts. Russian label scales (Штрих-Принт, CAS LP,
/// Mertech M-ER, Масса-К ВПМ, DIGI) all print the EAN-13 format «ПП ККККК ВВВВВ К»
/// — a 2-digit prefix, a 5-digit item code, the weight in grams — by default, and
/// offer the other layouts as settings of the label format.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "weight_5_5",
        item_digits: 5,
        value_digits: 5,
        measure: Measure::Weight,
        unit_grams: 1,
        prefixes: ALL_2X,
        note: "ПП ККККК ВВВВВ К: Штрих-Принт, CAS LP (формат F1F2 CCCCC WWWWW), Mertech M-ER, Масса-К — weight in grams, up to 99.999 kg",
    },
    Preset {
        name: "weight_6_5",
        item_digits: 6,
        value_digits: 5,
        measure: Measure::Weight,
        unit_grams: 1,
        prefixes: &["2"],
        note: "П КККККК ВВВВВ К: one-digit prefix 2 and a 6-digit item code",
    },
    Preset {
        name: "weight_4_6",
        item_digits: 4,
        value_digits: 6,
        measure: Measure::Weight,
        unit_grams: 1,
        prefixes: ALL_2X,
        note: "ПП КККК ВВВВВВ К: 4-digit item code, weight in grams up to 999.999 kg (platform scales)",
    },
    Preset {
        name: "weight_5_5_10g",
        item_digits: 5,
        value_digits: 5,
        measure: Measure::Weight,
        unit_grams: 10,
        prefixes: ALL_2X,
        note: "ПП ККККК ВВВВВ К with the weight in decagrams (10 g steps), up to 999.99 kg",
    },
    Preset {
        name: "price_5_5",
        item_digits: 5,
        value_digits: 5,
        measure: Measure::Price,
        unit_grams: 1,
        prefixes: ALL_2X,
        note: "ПП ККККК ЦЦЦЦЦ К: price-embedded labels, price in kopecks up to 999.99",
    },
    Preset {
        name: "price_4_6",
        item_digits: 4,
        value_digits: 6,
        measure: Measure::Price,
        unit_grams: 1,
        prefixes: ALL_2X,
        note: "ПП КККК ЦЦЦЦЦЦ К: price in kopecks up to 9999.99",
    },
    Preset {
        name: "count_5_5",
        item_digits: 5,
        value_digits: 5,
        measure: Measure::Count,
        unit_grams: 1,
        prefixes: ALL_2X,
        note: "ПП ККККК NNNNN К: count-embedded labels (pieces counted by the scale)",
    },
];

/// Plain form of [`WeightTemplate`] as it appears in configuration JSON: a
/// `preset` with the fields it leaves open (`prefixes`, usually), or every field.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightTemplateDef {
    /// A layout from [`PRESETS`]; the fields given beside it override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Prefixes this template reads, all of one length (1–3 digits), each from 20–29.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    /// Digits of the item (PLU) code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_digits: Option<usize>,
    /// Digits of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_digits: Option<usize>,
    /// What the value is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
    /// Grams per unit of the value when `measure` is weight (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_grams: Option<u64>,
}

impl TryFrom<WeightTemplateDef> for WeightTemplate {
    type Error = String;
    fn try_from(d: WeightTemplateDef) -> Result<Self, String> {
        let preset = match &d.preset {
            Some(name) => Some(PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
                let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
                format!("unknown weight template preset {name:?} (one of {})", names.join(", "))
            })?),
            None => None,
        };
        let need = |field: &str| format!("a weight template needs {field} (or a preset)");
        let prefixes = match (d.prefixes.is_empty(), preset) {
            (false, _) => d.prefixes,
            (true, Some(p)) => p.prefixes.iter().map(|s| s.to_string()).collect(),
            (true, None) => return Err(need("prefixes")),
        };
        let mut t = WeightTemplate::new(
            prefixes,
            d.item_digits.or(preset.map(|p| p.item_digits)).ok_or_else(|| need("item_digits"))?,
            d.value_digits
                .or(preset.map(|p| p.value_digits))
                .ok_or_else(|| need("value_digits"))?,
            d.measure.or(preset.map(|p| p.measure)).ok_or_else(|| need("measure"))?,
            d.unit_grams.or(preset.map(|p| p.unit_grams)).unwrap_or(1),
        )?;
        t.preset = d.preset;
        Ok(t)
    }
}

impl From<WeightTemplate> for WeightTemplateDef {
    fn from(t: WeightTemplate) -> Self {
        WeightTemplateDef {
            preset: t.preset,
            prefixes: t.prefixes,
            item_digits: Some(t.item_digits),
            value_digits: Some(t.value_digits),
            measure: Some(t.measure),
            unit_grams: Some(t.unit_grams),
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
            preset: None,
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

    /// Named layouts (issue 12 §5): a preset alone, a preset with its own prefixes,
    /// an unknown name refused with the names there are.
    #[test]
    fn presets_name_the_common_layouts() {
        let label = |body: &str| format!("{body}{}", check_digit(body.as_bytes()) as char);
        let six: WeightTemplate = serde_json::from_str(r#"{"preset":"weight_6_5"}"#).unwrap();
        let r = six.read(&label("200078901250")).unwrap().unwrap();
        assert_eq!((r.item.as_str(), r.grams), ("000789", Some(1250)));
        let deca: WeightTemplate = serde_json::from_str(r#"{"preset":"weight_5_5_10g","prefixes":["27"]}"#).unwrap();
        assert_eq!(deca.read(&label("270078901250")).unwrap().unwrap().grams, Some(12500));
        assert!(deca.read(&label("220078901250")).is_none(), "its own prefixes only");
        let count: WeightTemplate = serde_json::from_str(r#"{"preset":"count_5_5","prefixes":["25"]}"#).unwrap();
        assert_eq!(count.read(&label("250078900012")).unwrap().unwrap().count, Some(12));
        let price: WeightTemplate = serde_json::from_str(r#"{"preset":"price_4_6","prefixes":["21"]}"#).unwrap();
        assert_eq!(price.read(&label("210789123456")).unwrap().unwrap().price, Some(123456));
        let e = serde_json::from_str::<WeightTemplate>(r#"{"preset":"mertech"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("weight_5_5"), "{e}");
        assert!(serde_json::from_str::<WeightTemplate>(r#"{"prefixes":["21"],"measure":"price"}"#).is_err());
        // Written back as given, so a configuration round-trips.
        let back: WeightTemplate = serde_json::from_str(&serde_json::to_string(&deca).unwrap()).unwrap();
        assert_eq!(back, deca);
        for p in PRESETS {
            let t: WeightTemplate = serde_json::from_str(&format!(r#"{{"preset":"{}"}}"#, p.name)).unwrap();
            assert_eq!(t.item_digits + t.value_digits + t.prefixes[0].len(), 12, "{}", p.name);
        }
    }
}
