//! GS1 element strings: the AI table, GS-separated and bracketed forms, check
//! digits, dates and implied decimals.

use super::error::{BarcodeError, ErrorCode};
use super::gtin::check_digit;

/// The group separator that scanners send for FNC1 inside a GS1 code.
pub const GS: char = '\u{1D}';

/// Value format of an AI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Exactly this many digits.
    FixedNumeric(usize),
    /// Up to this many digits.
    VarNumeric(usize),
    /// Up to this many characters of GS1 character set 82.
    VarAlpha(usize),
}

/// What a value means beyond its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Plain value.
    Plain,
    /// Last digit is a mod-10 check digit (SSCC, GTIN, GLN).
    Checked,
    /// YYMMDD with DD=00 allowed.
    Date,
    /// The AI's fourth digit is the number of implied decimals.
    Decimal,
}

/// One row of the AI table.
#[derive(Debug, Clone, Copy)]
pub struct AiSpec {
    /// The AI digits; for `Meaning::Decimal` the three-digit stem (`310` for 310n).
    pub ai: &'static str,
    /// Value format.
    pub format: Format,
    /// Extra validation.
    pub meaning: Meaning,
    /// GS1 data title, for people.
    pub title: &'static str,
}

use Format::*;
use Meaning::*;

const fn spec(ai: &'static str, format: Format, meaning: Meaning, title: &'static str) -> AiSpec {
    AiSpec {
        ai,
        format,
        meaning,
        title,
    }
}

/// The AIs this runtime understands: what warehouses and Честный ЗНАК use.
pub static AI_TABLE: &[AiSpec] = &[
    spec("00", FixedNumeric(18), Checked, "SSCC"),
    spec("01", FixedNumeric(14), Checked, "GTIN"),
    spec("02", FixedNumeric(14), Checked, "CONTENT"),
    spec("10", VarAlpha(20), Plain, "BATCH/LOT"),
    spec("11", FixedNumeric(6), Date, "PROD DATE"),
    spec("12", FixedNumeric(6), Date, "DUE DATE"),
    spec("13", FixedNumeric(6), Date, "PACK DATE"),
    spec("15", FixedNumeric(6), Date, "BEST BEFORE"),
    spec("16", FixedNumeric(6), Date, "SELL BY"),
    spec("17", FixedNumeric(6), Date, "USE BY"),
    spec("20", FixedNumeric(2), Plain, "VARIANT"),
    spec("21", VarAlpha(20), Plain, "SERIAL"),
    spec("22", VarAlpha(20), Plain, "CPV"),
    spec("30", VarNumeric(8), Plain, "VAR. COUNT"),
    spec("310", FixedNumeric(6), Decimal, "NET WEIGHT (kg)"),
    spec("311", FixedNumeric(6), Decimal, "LENGTH (m)"),
    spec("312", FixedNumeric(6), Decimal, "WIDTH (m)"),
    spec("313", FixedNumeric(6), Decimal, "HEIGHT (m)"),
    spec("314", FixedNumeric(6), Decimal, "AREA (m2)"),
    spec("315", FixedNumeric(6), Decimal, "NET VOLUME (l)"),
    spec("316", FixedNumeric(6), Decimal, "NET VOLUME (m3)"),
    spec("320", FixedNumeric(6), Decimal, "NET WEIGHT (lb)"),
    spec("330", FixedNumeric(6), Decimal, "GROSS WEIGHT (kg)"),
    spec("37", VarNumeric(8), Plain, "COUNT"),
    spec("240", VarAlpha(30), Plain, "ADDITIONAL ID"),
    spec("241", VarAlpha(30), Plain, "CUST. PART No."),
    spec("250", VarAlpha(30), Plain, "SECONDARY SERIAL"),
    spec("251", VarAlpha(30), Plain, "REF. TO SOURCE"),
    spec("400", VarAlpha(30), Plain, "ORDER NUMBER"),
    spec("410", FixedNumeric(13), Checked, "SHIP TO LOC"),
    spec("411", FixedNumeric(13), Checked, "BILL TO"),
    spec("412", FixedNumeric(13), Checked, "PURCHASE FROM"),
    spec("413", FixedNumeric(13), Checked, "SHIP FOR LOC"),
    spec("414", FixedNumeric(13), Checked, "LOC No."),
    spec("415", FixedNumeric(13), Checked, "PAY TO"),
    spec("7003", FixedNumeric(10), Plain, "EXPIRY TIME"),
    spec("8005", FixedNumeric(6), Plain, "PRICE PER UNIT"),
    spec("90", VarAlpha(30), Plain, "INTERNAL"),
    spec("91", VarAlpha(90), Plain, "INTERNAL"),
    spec("92", VarAlpha(90), Plain, "INTERNAL"),
    spec("93", VarAlpha(90), Plain, "INTERNAL"),
    spec("94", VarAlpha(90), Plain, "INTERNAL"),
    spec("95", VarAlpha(90), Plain, "INTERNAL"),
    spec("96", VarAlpha(90), Plain, "INTERNAL"),
    spec("97", VarAlpha(90), Plain, "INTERNAL"),
    spec("98", VarAlpha(90), Plain, "INTERNAL"),
    spec("99", VarAlpha(90), Plain, "INTERNAL"),
];

/// One AI and its value, as found in the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The full AI (`3103`, not the stem).
    pub ai: String,
    /// The value, GS and brackets removed.
    pub value: String,
}

impl Element {
    /// Number of implied decimals for 31nn–33nn AIs.
    pub fn decimals(&self) -> Option<u32> {
        if self.ai.len() == 4 && matches!(&self.ai[..2], "31" | "32" | "33") {
            self.ai[3..].parse().ok()
        } else {
            None
        }
    }
}

/// Finds the table row for the AI at the start of `s` and the AI's length.
fn lookup_ai(s: &str) -> Option<(&'static AiSpec, usize)> {
    for len in 2..=4 {
        let Some(head) = s.get(..len) else { break };
        if !head.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if let Some(spec) = AI_TABLE.iter().find(|a| a.ai == head) {
            let ai_len = if spec.meaning == Decimal { len + 1 } else { len };
            if s.len() < ai_len || !s.as_bytes()[len..ai_len].iter().all(u8::is_ascii_digit) {
                return None;
            }
            return Some((spec, ai_len));
        }
    }
    None
}

/// The table row for a complete AI string such as `01` or `3103`.
pub fn spec_of(ai: &str) -> Option<&'static AiSpec> {
    lookup_ai(ai).filter(|(_, len)| *len == ai.len()).map(|(s, _)| s)
}

/// GS1 general specification character set 82 (what AIs of type X may hold).
pub fn is_cset82(c: char) -> bool {
    matches!(c, '!' | '"' | '%'..='?' | 'A'..='Z' | '_' | 'a'..='z')
}

fn days_in_month(yy: u32, mm: u32) -> u32 {
    match mm {
        2 if yy.is_multiple_of(4) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Validates a YYMMDD value; DD=00 means "end of month" as GS1 allows.
pub fn check_date(v: &str) -> Result<(), &'static str> {
    let n = |r: std::ops::Range<usize>| v[r].parse::<u32>().unwrap_or(99);
    let (yy, mm, dd) = (n(0..2), n(2..4), n(4..6));
    if !(1..=12).contains(&mm) {
        return Err("month out of range");
    }
    if dd > days_in_month(yy, mm) {
        return Err("day out of range");
    }
    Ok(())
}

/// Converts YYMMDD into ISO `YYYY-MM-DD` with the GS1 century rule relative to
/// `this_year` (a year 51+ years ahead is taken as the previous century). DD=00
/// becomes the last day of the month.
pub fn date_to_iso(v: &str, this_year: i32) -> Option<String> {
    check_date(v).ok()?;
    let yy: i32 = v[0..2].parse().ok()?;
    let mm: u32 = v[2..4].parse().ok()?;
    let mut dd: u32 = v[4..6].parse().ok()?;
    let century = this_year - this_year.rem_euclid(100);
    let mut year = century + yy;
    let diff = year - this_year;
    if diff > 50 {
        year -= 100;
    } else if diff < -49 {
        year += 100;
    }
    if dd == 0 {
        dd = days_in_month(year.rem_euclid(100) as u32, mm);
    }
    Some(format!("{year:04}-{mm:02}-{dd:02}"))
}

fn validate(spec: &AiSpec, ai: &str, value: &str, pos: usize) -> Result<(), BarcodeError> {
    let numeric = matches!(spec.format, FixedNumeric(_) | VarNumeric(_));
    for (i, c) in value.chars().enumerate() {
        let ok = if numeric { c.is_ascii_digit() } else { is_cset82(c) };
        if !ok {
            return Err(BarcodeError::new(
                ErrorCode::BadCharacter,
                pos + i,
                format!("character not allowed in AI ({ai})"),
            ));
        }
    }
    match spec.format {
        FixedNumeric(n) if value.len() != n => {
            return Err(BarcodeError::new(
                ErrorCode::BadLength,
                pos,
                format!("AI ({ai}) needs {n} digits, got {}", value.len()),
            ))
        }
        VarNumeric(max) | VarAlpha(max) if value.chars().count() > max => {
            return Err(BarcodeError::new(
                ErrorCode::TooLong,
                pos,
                format!(
                    "AI ({ai}) allows at most {max} characters, got {} (missing GS separator?)",
                    value.chars().count()
                ),
            ))
        }
        VarNumeric(_) | VarAlpha(_) if value.is_empty() => {
            return Err(BarcodeError::new(
                ErrorCode::BadLength,
                pos,
                format!("AI ({ai}) has an empty value"),
            ))
        }
        _ => {}
    }
    match spec.meaning {
        Checked => {
            let b = value.as_bytes();
            let expected = check_digit(&b[..b.len() - 1]);
            if expected != b[b.len() - 1] {
                return Err(BarcodeError::new(
                    ErrorCode::BadCheckDigit,
                    pos + b.len() - 1,
                    format!("bad check digit in AI ({ai}): expected {}", expected as char),
                ));
            }
        }
        Date => {
            if let Err(why) = check_date(value) {
                return Err(BarcodeError::new(
                    ErrorCode::BadDate,
                    pos,
                    format!("AI ({ai}) is not a date: {why}"),
                ));
            }
        }
        Plain | Decimal => {}
    }
    Ok(())
}

/// Parses an unbracketed element string, AIs separated by GS where their value is of
/// variable length. `offset` is added to positions in errors.
pub fn parse_unbracketed(s: &str, offset: usize) -> Result<Vec<Element>, BarcodeError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        if let Some(r) = rest.strip_prefix(GS) {
            // Tolerate doubled or leading separators: some scanners send one per FNC1.
            pos = s.len() - r.len();
            continue;
        }
        let (spec, ai_len) = lookup_ai(rest)
            .ok_or_else(|| BarcodeError::new(ErrorCode::UnknownAi, offset + pos, "no known GS1 Application Identifier here"))?;
        let ai = &rest[..ai_len];
        let after = &rest[ai_len..];
        let value = match spec.format {
            FixedNumeric(n) => {
                let end = after.char_indices().nth(n).map(|(i, _)| i).unwrap_or(after.len());
                let v = &after[..end];
                if v.contains(GS) {
                    return Err(BarcodeError::new(
                        ErrorCode::BadLength,
                        offset + pos + ai_len,
                        format!("AI ({ai}) cut short by a separator"),
                    ));
                }
                v
            }
            VarNumeric(_) | VarAlpha(_) => after.split(GS).next().unwrap_or(""),
        };
        validate(spec, ai, value, offset + pos + ai_len)?;
        out.push(Element {
            ai: ai.to_string(),
            value: value.to_string(),
        });
        pos += ai_len + value.len();
    }
    Ok(out)
}

/// Parses a bracketed element string: `(01)04601234567893(10)ABC`.
pub fn parse_bracketed(s: &str) -> Result<Vec<Element>, BarcodeError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        let Some(close) = rest.find(')').filter(|_| rest.starts_with('(')) else {
            return Err(BarcodeError::new(ErrorCode::BadSyntax, pos, "expected (AI)"));
        };
        let ai = &rest[1..close];
        let spec = spec_of(ai).ok_or_else(|| BarcodeError::new(ErrorCode::UnknownAi, pos + 1, "unknown AI in brackets"))?;
        let body = &rest[close + 1..];
        // The value runs to the next "(digits)" that names a known AI.
        let mut end = body.len();
        for (i, _) in body.match_indices('(') {
            if let Some(c) = body[i..].find(')') {
                if spec_of(&body[i + 1..i + c]).is_some() {
                    end = i;
                    break;
                }
            }
        }
        let value = &body[..end];
        validate(spec, ai, value, pos + close + 1)?;
        out.push(Element {
            ai: ai.to_string(),
            value: value.to_string(),
        });
        pos += close + 1 + end;
    }
    if out.is_empty() {
        return Err(BarcodeError::new(ErrorCode::Empty, 0, "empty element string"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[Element]) -> Vec<(&str, &str)> {
        v.iter().map(|e| (e.ai.as_str(), e.value.as_str())).collect()
    }

    #[test]
    fn fixed_then_variable_with_gs() {
        let s = "0104601234567893\u{1D}10ABC-1\u{1D}17261231";
        let v = parse_unbracketed(s, 0).unwrap();
        assert_eq!(pairs(&v), [("01", "04601234567893"), ("10", "ABC-1"), ("17", "261231")]);
        // Fixed-length AIs need no separator after them.
        let v = parse_unbracketed("01046012345678931726123110LOT7", 0).unwrap();
        assert_eq!(pairs(&v), [("01", "04601234567893"), ("17", "261231"), ("10", "LOT7")]);
    }

    #[test]
    fn bracketed_form_and_decimals() {
        let v = parse_bracketed("(01)04601234567893(3103)001250(21)A(B)").unwrap();
        assert_eq!(pairs(&v), [("01", "04601234567893"), ("3103", "001250"), ("21", "A(B)")]);
        assert_eq!(v[1].decimals(), Some(3));
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = parse_unbracketed("0104601234567890", 0).unwrap_err();
        assert_eq!((e.code, e.position), (ErrorCode::BadCheckDigit, 15));
        let e = parse_unbracketed("0104601234567893\u{1D}17261332", 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadDate);
        assert_eq!(
            parse_unbracketed("0104601234567893\u{1D}17260231", 0).unwrap_err().code,
            ErrorCode::BadDate
        );
        let e = parse_unbracketed("0104601234567893\u{1D}88ABC", 0).unwrap_err();
        assert_eq!((e.code, e.position), (ErrorCode::UnknownAi, 17));
        assert_eq!(parse_unbracketed("01046012345", 0).unwrap_err().code, ErrorCode::BadLength);
        assert_eq!(parse_unbracketed("3102AB1234", 0).unwrap_err().code, ErrorCode::BadCharacter);
        assert_eq!(
            parse_unbracketed(&format!("21{}", "X".repeat(21)), 0).unwrap_err().code,
            ErrorCode::TooLong
        );
        assert_eq!(parse_bracketed("(01").unwrap_err().code, ErrorCode::BadSyntax);
        assert!(!parse_unbracketed("21серия", 0).unwrap_err().message.contains("серия"));
    }

    #[test]
    fn dates_follow_gs1_rules() {
        assert!(check_date("260200").is_ok(), "DD=00 is allowed");
        assert!(check_date("240229").is_ok());
        assert!(check_date("250229").is_err());
        assert_eq!(date_to_iso("260200", 2026).unwrap(), "2026-02-28");
        assert_eq!(date_to_iso("991231", 2026).unwrap(), "1999-12-31");
        assert_eq!(date_to_iso("761231", 2026).unwrap(), "2076-12-31");
        assert_eq!(date_to_iso("771231", 2026).unwrap(), "1977-12-31");
    }

    #[test]
    fn every_listed_ai_is_in_the_table() {
        for ai in [
            "00", "01", "02", "10", "11", "13", "15", "17", "21", "22", "30", "3100", "3165", "3203", "37", "240", "241", "250", "251",
            "400", "410", "415", "8005", "90", "99",
        ] {
            assert!(spec_of(ai).is_some(), "{ai}");
        }
        assert!(spec_of("3").is_none());
        assert!(spec_of("317").is_none());
    }
}
