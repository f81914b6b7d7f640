//! Russian marking codes (Честный ЗНАК / «Честный знак»).
//!
//! Forms handled:
//! - full: `01 GTIN 21 serial GS 91 key GS 92 crypto` (most goods);
//! - short: `01 GTIN 21 serial GS 93 crypto4` (dairy, water, beer…);
//! - block/carton: `01 GTIN 21 serial GS 8005 MRP GS 93 crypto` (tobacco blocks);
//! - tobacco pack: 29 characters, no AIs: GTIN(14) serial(7) MRP(4) crypto(4).
//!
//! The identity of a marked unit is GTIN + serial; the full code is kept so that it
//! can be sent back to the accounting system exactly as scanned (GS restored).
//! `Debug` and `Display` never show serial or crypto tail.

use super::error::{BarcodeError, ErrorCode};
use super::gs1::{is_cset82, Element, GS};
use super::gtin::{has_valid_check, Gtin14};
use std::fmt;

/// Which layout the code was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkingForm {
    /// With AI 91 verification key and AI 92 crypto signature.
    Full,
    /// With the 4-character AI 93 crypto tail.
    Short,
    /// Tobacco block/carton with AI 8005 (maximum retail price).
    Block,
    /// The 29-character tobacco pack code without AIs.
    TobaccoPack,
}

impl MarkingForm {
    /// Stable name for JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkingForm::Full => "full",
            MarkingForm::Short => "short",
            MarkingForm::Block => "block",
            MarkingForm::TobaccoPack => "tobacco_pack",
        }
    }
}

/// A parsed marking code.
#[derive(Clone, PartialEq, Eq)]
pub struct MarkingCode {
    gtin: Gtin14,
    serial: String,
    form: MarkingForm,
    full: String,
}

impl MarkingCode {
    /// Builds a marking code from parsed GS1 elements; needs AI 01 and 21 and a
    /// crypto tail (91/92, 93) or an MRP (8005).
    pub fn from_elements(elements: &[Element]) -> Option<MarkingCode> {
        let get = |ai: &str| elements.iter().find(|e| e.ai == ai).map(|e| e.value.as_str());
        let gtin = Gtin14::parse(get("01")?).ok()?;
        let serial = get("21")?.to_string();
        let form = if get("8005").is_some() {
            MarkingForm::Block
        } else if get("92").is_some() || get("91").is_some() {
            MarkingForm::Full
        } else if get("93").is_some() {
            MarkingForm::Short
        } else {
            return None;
        };
        // Canonical form: AIs in scanned order, GS after every variable-length value.
        let mut full = String::new();
        for (i, e) in elements.iter().enumerate() {
            full.push_str(&e.ai);
            full.push_str(&e.value);
            let fixed = matches!(
                &e.ai[..2],
                "00" | "01" | "02" | "11" | "12" | "13" | "15" | "16" | "17" | "20" | "31" | "32" | "33"
            );
            if !fixed && i + 1 < elements.len() {
                full.push(GS);
            }
        }
        Some(MarkingCode { gtin, serial, form, full })
    }

    /// Recognises the 29-character tobacco pack code.
    pub fn tobacco_pack(s: &str) -> Option<MarkingCode> {
        if s.len() != 29 || !s.is_ascii() || !has_valid_check(&s[..14]) || !s.chars().all(is_cset82) {
            return None;
        }
        if s[14..].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(MarkingCode {
            gtin: Gtin14::parse(&s[..14]).ok()?,
            serial: s[14..21].to_string(),
            form: MarkingForm::TobaccoPack,
            full: s.to_string(),
        })
    }

    /// Splits a code whose GS separators were dropped by the scanner
    /// (`01…21…91…92…` in one run) by the lengths Честный ЗНАК uses.
    pub fn without_separators(s: &str) -> Result<MarkingCode, BarcodeError> {
        let bad = |pos, msg: &str| BarcodeError::new(ErrorCode::BadMarkingCode, pos, msg.to_string());
        if !s.is_ascii() || s.len() < 18 || !s.starts_with("01") || &s[16..18] != "21" {
            return Err(bad(0, "not a marking code (01 GTIN 21 serial expected)"));
        }
        // Validates the GTIN's check digit; the value is rebuilt from the elements.
        Gtin14::parse(&s[2..16])?;
        // Serial lengths in use: 13 (shoes, clothes, tyres…), 6 (dairy, water), 7
        // (tobacco), 8 and 11 (pharma variants), 20 (maximum).
        for serial_len in [13usize, 6, 7, 8, 11, 20] {
            let Some(tail) = s.get(18 + serial_len..) else { continue };
            if let Some(elements) = split_tail(tail) {
                let mut all = vec![
                    Element {
                        ai: "01".into(),
                        value: s[2..16].into(),
                    },
                    Element {
                        ai: "21".into(),
                        value: s[18..18 + serial_len].into(),
                    },
                ];
                all.extend(elements);
                if all.iter().all(|e| e.value.chars().all(is_cset82)) {
                    if let Some(code) = MarkingCode::from_elements(&all) {
                        return Ok(code);
                    }
                }
            }
        }
        Err(bad(18, "marking code tail not recognised (scanner dropped the GS separators?)"))
    }

    /// GTIN of the marked unit.
    pub fn gtin(&self) -> Gtin14 {
        self.gtin
    }
    /// Serial number (AI 21).
    pub fn serial(&self) -> &str {
        &self.serial
    }
    /// Layout of the code.
    pub fn form(&self) -> MarkingForm {
        self.form
    }
    /// Identity of the unit: GTIN + serial. Two scans with the same identity are
    /// the same physical item.
    pub fn identity(&self) -> String {
        format!("{}{}", self.gtin, self.serial)
    }
    /// The full code in canonical form (GS separators restored), to send back.
    pub fn full(&self) -> &str {
        &self.full
    }
}

/// Known marking tails when separators are missing: AI and exact value length
/// (`None`: the rest of the string).
fn split_tail(mut tail: &str) -> Option<Vec<Element>> {
    let mut out = Vec::new();
    while !tail.is_empty() {
        let (ai, len) = [
            ("91", Some(4)),
            ("92", None),
            ("93", Some(4)),
            ("8005", Some(6)),
            ("17", Some(6)),
            ("7003", Some(10)),
        ]
        .into_iter()
        .find(|(ai, _)| tail.starts_with(ai))?;
        let body = &tail[ai.len()..];
        let len = match len {
            Some(l) => l,
            None if body.len() == 44 || body.len() == 88 => body.len(),
            None => return None,
        };
        let value = body.get(..len)?;
        out.push(Element {
            ai: ai.to_string(),
            value: value.to_string(),
        });
        tail = &body[len..];
    }
    Some(out)
}

impl fmt::Debug for MarkingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MarkingCode")
            .field("gtin", &self.gtin)
            .field("form", &self.form)
            .field("serial", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for MarkingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "marking code for GTIN {} ({})", self.gtin, self.form.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRYPTO44: &str = "dGVzdGNyeXB0b3RhaWxvZmZvcnR5Zm91cmNoYXJzISE=";

    #[test]
    fn tobacco_pack_is_29_chars() {
        let gtin = format!("0460620308462{}", super::super::gtin::check_digit(b"0460620308462") as char);
        let m = MarkingCode::tobacco_pack(&format!("{gtin}-AbC1dEFGhJkLmN")).unwrap();
        assert_eq!(m.gtin().as_str(), gtin);
        assert_eq!(m.serial(), "-AbC1dE");
        assert_eq!(m.form(), MarkingForm::TobaccoPack);
        assert!(MarkingCode::tobacco_pack("0460620308462-AbC1dEFGhJkLmNP").is_none(), "GTIN check");
    }

    #[test]
    fn separators_dropped_are_recovered() {
        let s = format!("0104601234567893215Ab7Xz9Qw2Lk991EE0692{CRYPTO44}");
        let m = MarkingCode::without_separators(&s).unwrap();
        assert_eq!(m.serial(), "5Ab7Xz9Qw2Lk9");
        assert_eq!(m.form(), MarkingForm::Full);
        assert_eq!(m.full(), format!("0104601234567893215Ab7Xz9Qw2Lk9\u{1D}91EE06\u{1D}92{CRYPTO44}"));
        let short = MarkingCode::without_separators("010460123456789321aB3cD993Ab1z").unwrap();
        assert_eq!(short.serial(), "aB3cD9");
        assert_eq!(short.form(), MarkingForm::Short);
    }

    #[test]
    fn debug_and_display_hide_the_serial() {
        let m = MarkingCode::without_separators("010460123456789321aB3cD993Ab1z").unwrap();
        assert!(!format!("{m:?}{m}").contains("aB3cD9"));
    }
}
