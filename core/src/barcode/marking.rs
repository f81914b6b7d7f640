//! Russian marking codes (Честный ЗНАК / «Честный знак»).
//!
//! Forms handled:
//! - full: `01 GTIN 21 serial GS 91 key GS 92 crypto` (shoes, clothing, tyres,
//!   medicines, perfume…);
//! - short: `01 GTIN 21 serial GS 93 crypto4` (dairy, water, beer, supplements…);
//! - block/carton: `01 GTIN 21 serial GS 8005 MRP GS 93 crypto` (tobacco blocks);
//! - tobacco pack: 29 characters, no AIs: GTIN(14) serial(7) MRP(4) crypto(4);
//! - identity only: `01 GTIN 21 serial` — the код идентификации (КИ) the
//!   monitoring system's documents and 1C show, without the crypto tail.
//!
//! The shapes differ by product group: see [`GROUPS`]. The identity of a marked
//! unit is GTIN + serial whichever form was scanned; the full code is kept so that
//! it can be sent back to the accounting system exactly as scanned (GS restored).
//! A code whose crypto parts have the wrong length (cut short, mistyped) is refused
//! naming the part. Marking codes never travel as GS1 Digital Link.
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
    /// GTIN and serial without a crypto tail (the код идентификации).
    Identity,
}

/// What follows the serial in a group's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// AI 91 verification key (4) and AI 92 crypto signature (44; 88 in newer codes).
    KeyAndSignature,
    /// AI 93 crypto code of 4 characters.
    Crypto4,
    /// AI 8005 maximum retail price (6 digits) and AI 93 crypto code (4).
    PriceAndCrypto4,
    /// No AIs: GTIN, serial, price (4) and crypto (4) in 29 characters.
    Pack29,
}

/// A product group of the marking system and the shape of its unit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Stable name for JSON.
    pub key: &'static str,
    /// Name as the monitoring system calls it.
    pub name: &'static str,
    /// Serial (AI 21) lengths in use.
    pub serial: &'static [usize],
    /// What follows the serial.
    pub tail: Tail,
    /// The regulation that fixes the code's structure (Постановление Правительства РФ).
    pub source: &'static str,
}

/// The product groups and their unit code shapes, from the government decrees that
/// set each group's marking rules (the code structure section of each) and the
/// operator's (ЦРПТ, markirovka.ru) published code composition pages. A group not
/// listed here still parses by its shape (the tail decides the form); it just
/// names no group. Aggregation (boxes, pallets) uses the SSCC, AI 00, in every
/// group and is read as a GS1 code with [`crate::barcode::Parsed::aggregation`].
pub const GROUPS: &[Group] = &[
    Group {
        key: "tobacco_pack",
        name: "Табачная продукция (пачка)",
        serial: &[7],
        tail: Tail::Pack29,
        source: "ППРФ № 224 от 28.02.2019",
    },
    Group {
        key: "tobacco_block",
        name: "Табачная продукция (блок)",
        serial: &[7],
        tail: Tail::PriceAndCrypto4,
        source: "ППРФ № 224 от 28.02.2019",
    },
    Group {
        key: "nicotine",
        name: "Никотинсодержащая и альтернативная табачная продукция",
        serial: &[7, 13],
        tail: Tail::Crypto4,
        source: "ППРФ № 224; markirovka.ru, состав КИ ЭСДН: 01+GTIN+21+13 символов",
    },
    Group {
        key: "shoes",
        name: "Обувные товары",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 860 от 05.07.2019",
    },
    Group {
        key: "light_industry",
        name: "Товары лёгкой промышленности (одежда, бельё)",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 1956 от 31.12.2019",
    },
    Group {
        key: "tyres",
        name: "Шины и покрышки",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 1958 от 31.12.2019",
    },
    Group {
        key: "perfume",
        name: "Духи и туалетная вода",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 1957 от 31.12.2019",
    },
    Group {
        key: "cameras",
        name: "Фотокамеры и лампы-вспышки",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 1953 от 31.12.2019",
    },
    Group {
        key: "medicines",
        name: "Лекарственные препараты",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 1556 от 14.12.2018",
    },
    Group {
        key: "medical_devices",
        name: "Медицинские изделия",
        serial: &[13],
        tail: Tail::KeyAndSignature,
        source: "ППРФ № 894 от 31.05.2023",
    },
    Group {
        key: "dairy",
        name: "Молочная продукция",
        serial: &[6],
        tail: Tail::Crypto4,
        source: "ППРФ № 2099 от 15.12.2020",
    },
    Group {
        key: "water",
        name: "Упакованная вода",
        serial: &[13],
        tail: Tail::Crypto4,
        source: "ППРФ № 841 от 31.05.2021",
    },
    Group {
        key: "beer",
        name: "Пиво и слабоалкогольные напитки",
        serial: &[7, 13],
        tail: Tail::Crypto4,
        source: "ППРФ № 2173 от 30.11.2022",
    },
    Group {
        key: "supplements",
        name: "Биологически активные добавки",
        serial: &[13],
        tail: Tail::Crypto4,
        source: "ППРФ № 886 от 31.05.2023",
    },
];

/// Every serial length some group uses, most common first: the order in which a
/// code whose GS separators were dropped is split.
const SERIAL_LENGTHS: [usize; 3] = [13, 6, 7];

/// The groups whose unit codes have this serial length and tail.
pub fn groups_for(serial_len: usize, tail: Tail) -> impl Iterator<Item = &'static Group> {
    GROUPS.iter().filter(move |g| g.tail == tail && g.serial.contains(&serial_len))
}

impl MarkingForm {
    /// Stable name for JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkingForm::Full => "full",
            MarkingForm::Short => "short",
            MarkingForm::Block => "block",
            MarkingForm::TobaccoPack => "tobacco_pack",
            MarkingForm::Identity => "identity",
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
    /// Builds a marking code from parsed GS1 elements: AI 01 and 21, then a crypto
    /// tail (91 + 92, or 93), a price and crypto code (8005 + 93), or nothing else
    /// (the identity form, for serial lengths a group uses). `Ok(None)`: an ordinary
    /// GS1 code. `Err`: shaped as a marking code with a part of the wrong length —
    /// cut short or mistyped —, naming the part.
    pub fn from_elements(elements: &[Element]) -> Result<Option<MarkingCode>, BarcodeError> {
        let find = |ai: &str| elements.iter().position(|e| e.ai == ai);
        let (Some(gtin_at), Some(serial_at)) = (find("01"), find("21")) else {
            return Ok(None);
        };
        let Ok(gtin) = Gtin14::parse(&elements[gtin_at].value) else {
            return Ok(None);
        };
        let serial = elements[serial_at].value.clone();
        // Where an element starts in the GS-separated form, for error positions.
        let position = |at: usize| -> usize {
            elements[..at]
                .iter()
                .map(|e| e.ai.len() + e.value.len() + usize::from(!is_fixed(&e.ai)))
                .sum()
        };
        let len_of = |at: usize| elements[at].value.chars().count();
        let wrong = |at: usize, what: &str, expected: &str| {
            let e = &elements[at];
            BarcodeError::new(
                ErrorCode::BadMarkingCode,
                position(at),
                format!(
                    "marking code: AI {} ({what}) has {} characters, {expected} expected — the code is cut short or mistyped",
                    e.ai,
                    len_of(at)
                ),
            )
        };
        let form = match (find("91"), find("92"), find("93"), find("8005")) {
            (key, Some(sig), _, _) => {
                match key {
                    Some(k) if len_of(k) != 4 => return Err(wrong(k, "verification key", "4")),
                    None => {
                        return Err(BarcodeError::new(
                            ErrorCode::BadMarkingCode,
                            position(sig),
                            "marking code: AI 92 (crypto signature) without AI 91 (verification key)",
                        ))
                    }
                    _ => {}
                }
                if !matches!(len_of(sig), 44 | 88) {
                    return Err(wrong(sig, "crypto signature", "44 or 88"));
                }
                MarkingForm::Full
            }
            (Some(k), None, None, None) if len_of(k) == 4 => {
                return Err(BarcodeError::new(
                    ErrorCode::BadMarkingCode,
                    position(k) + 6,
                    "marking code: AI 92 (crypto signature) missing after the verification key — the code is cut short",
                ))
            }
            (_, None, Some(c), price) => {
                if len_of(c) != 4 {
                    return Err(wrong(c, "crypto code", "4"));
                }
                if price.is_some() {
                    MarkingForm::Block
                } else {
                    MarkingForm::Short
                }
            }
            (_, None, None, Some(p)) => {
                return Err(BarcodeError::new(
                    ErrorCode::BadMarkingCode,
                    position(p) + 10,
                    "marking code: AI 93 (crypto code) missing after the maximum retail price — the code is cut short",
                ))
            }
            (None, None, None, None) if elements.len() == 2 && SERIAL_LENGTHS.contains(&serial.chars().count()) => MarkingForm::Identity,
            _ => return Ok(None),
        };
        // Canonical form: AIs in scanned order, GS after every variable-length value.
        let mut full = String::new();
        for (i, e) in elements.iter().enumerate() {
            full.push_str(&e.ai);
            full.push_str(&e.value);
            if !is_fixed(&e.ai) && i + 1 < elements.len() {
                full.push(GS);
            }
        }
        Ok(Some(MarkingCode { gtin, serial, form, full }))
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
        for serial_len in SERIAL_LENGTHS {
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
                    if let Ok(Some(code)) = MarkingCode::from_elements(&all) {
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
    /// The product groups whose codes have this shape (serial length and tail);
    /// empty for a shape no listed group uses.
    pub fn groups(&self) -> Vec<&'static Group> {
        let n = self.serial.chars().count();
        let tail = match self.form {
            MarkingForm::Full => Tail::KeyAndSignature,
            MarkingForm::Short => Tail::Crypto4,
            MarkingForm::Block => Tail::PriceAndCrypto4,
            MarkingForm::TobaccoPack => Tail::Pack29,
            MarkingForm::Identity => return GROUPS.iter().filter(|g| g.serial.contains(&n)).collect(),
        };
        groups_for(n, tail).collect()
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

/// AIs whose values have a fixed length (no GS after them), by their first two
/// digits as GS1's predefined-length table lists them.
fn is_fixed(ai: &str) -> bool {
    matches!(
        ai.get(..2),
        Some(
            "00" | "01"
                | "02"
                | "03"
                | "04"
                | "11"
                | "12"
                | "13"
                | "14"
                | "15"
                | "16"
                | "17"
                | "18"
                | "19"
                | "20"
                | "31"
                | "32"
                | "33"
                | "34"
                | "35"
                | "36"
                | "41"
        )
    )
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
