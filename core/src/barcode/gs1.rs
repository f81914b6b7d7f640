//! GS1 element strings: the AI table, GS-separated and bracketed forms, check
//! digits, dates and implied decimals.

use super::error::{BarcodeError, ErrorCode};
use super::gtin::check_digit;

/// The group separator that scanners send for FNC1 inside a GS1 code.
pub const GS: char = '\u{1D}';

use super::ai_table::{self, AiEntry, Cset};

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

/// The table entry of a complete AI such as `01` or `3103` (the whole GS1 table:
/// see [`ai_table`]).
pub fn spec_of(ai: &str) -> Option<&'static AiEntry> {
    ai_table::table().get(ai)
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

/// GS1 character set 39 (what AIs of type Y may hold).
pub fn is_cset39(c: char) -> bool {
    matches!(c, '#' | '-' | '/' | '0'..='9' | 'A'..='Z')
}

fn in_cset(cset: Cset, c: char) -> bool {
    match cset {
        Cset::Numeric => c.is_ascii_digit(),
        Cset::Cset82 => is_cset82(c),
        Cset::Cset39 => is_cset39(c),
        Cset::Base64Url => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='),
    }
}

/// Checks one component's content with the dictionary's linter `name`; `None` when
/// it passes (or is a check this runtime does not make: company-prefix positions,
/// country and currency code lists, coupons — the format is still checked).
fn lint(name: &str, v: &str) -> Option<(ErrorCode, String)> {
    let num = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<u32>().ok());
    let bad_date = |why: &str| Some((ErrorCode::BadDate, why.to_string()));
    match name {
        "csum" => {
            let b = v.as_bytes();
            let (body, last) = b.split_at(b.len().checked_sub(1)?);
            let expected = check_digit(body);
            (expected != last[0]).then(|| (ErrorCode::BadCheckDigit, format!("bad check digit: expected {}", expected as char)))
        }
        "yymmd0" => check_date(v).err().and_then(bad_date),
        "yymmdd" => match check_date(v) {
            Err(why) => bad_date(why),
            Ok(()) if v.ends_with("00") => bad_date("day 00 is not allowed here"),
            Ok(()) => None,
        },
        "yyyymmdd" => v.get(2..).and_then(|rest| check_date(rest).err()).and_then(bad_date),
        "hhmi" => (num(0..2)? > 23 || num(2..4)? > 59).then(|| (ErrorCode::BadDate, "not a time (HHMM)".into())),
        "hh" => (num(0..2)? > 23).then(|| (ErrorCode::BadDate, "not an hour (HH)".into())),
        "yesno" => (!matches!(v, "0" | "1")).then(|| (ErrorCode::BadSyntax, "must be 0 or 1".into())),
        "zero" => (v != "0").then(|| (ErrorCode::BadSyntax, "must be 0".into())),
        "nonzero" => v
            .bytes()
            .all(|b| b == b'0')
            .then(|| (ErrorCode::BadSyntax, "must not be zero".into())),
        "nozeroprefix" => (v.len() > 1 && v.starts_with('0')).then(|| (ErrorCode::BadSyntax, "must not start with 0".into())),
        "hasnondigit" => v
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| (ErrorCode::BadSyntax, "must hold a non-digit".into())),
        "pieceoftotal" => {
            let half = v.len() / 2;
            let (piece, total) = (num(0..half)?, num(half..v.len())?);
            (piece == 0 || total == 0 || piece > total).then(|| (ErrorCode::BadSyntax, format!("piece {piece} of {total}")))
        }
        "pcenc" => {
            let b = v.as_bytes();
            let bad = b.iter().enumerate().any(|(i, &c)| {
                c == b'%' && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            });
            bad.then(|| (ErrorCode::BadSyntax, "bad %-encoding".into()))
        }
        _ => None,
    }
}

/// Checks a value against the AI's components: character sets, lengths, and the
/// content checks the dictionary names. `pos` is where the value starts in the scan.
fn validate(entry: &AiEntry, ai: &str, value: &str, pos: usize) -> Result<(), BarcodeError> {
    if value.is_empty() {
        return Err(BarcodeError::new(
            ErrorCode::BadLength,
            pos,
            format!("AI ({ai}) has an empty value"),
        ));
    }
    // Every GS1 character set is ASCII: a value that is not is refused at its first
    // other character, and the rest works on bytes (no allocation on the scan path).
    if let Some(i) = value.chars().position(|c| !c.is_ascii()) {
        return Err(BarcodeError::new(
            ErrorCode::BadCharacter,
            pos + i,
            format!("character not allowed in AI ({ai})"),
        ));
    }
    let len = value.len();
    let mut at = 0;
    for c in &entry.components {
        let left = len - at;
        if left == 0 && c.optional {
            break;
        }
        let take = if c.min == c.max { c.max } else { left.min(c.max) };
        if left < take || left < c.min {
            return Err(BarcodeError::new(
                ErrorCode::BadLength,
                pos + at,
                format!("AI ({ai}) needs {} characters, got {len}", entry.fixed_len().unwrap_or(at + c.min)),
            ));
        }
        let part = &value[at..at + take];
        if let Some(i) = part.chars().position(|ch| !in_cset(c.cset, ch)) {
            return Err(BarcodeError::new(
                ErrorCode::BadCharacter,
                pos + at + i,
                format!("character not allowed in AI ({ai})"),
            ));
        }
        for l in &c.linters {
            if let Some((code, why)) = lint(l, part) {
                let (at_char, message) = match code {
                    ErrorCode::BadCheckDigit => (pos + at + take - 1, format!("{why} in AI ({ai})")),
                    ErrorCode::BadDate => (pos + at, format!("AI ({ai}) is not a date: {why}")),
                    _ => (pos + at, format!("AI ({ai}): {why}")),
                };
                return Err(BarcodeError::new(code, at_char, message));
            }
        }
        at += take;
    }
    if at < len {
        return Err(BarcodeError::new(
            ErrorCode::TooLong,
            pos + at,
            format!(
                "AI ({ai}) allows at most {} characters, got {len} (missing GS separator?)",
                entry.max_len()
            ),
        ));
    }
    Ok(())
}

/// Problems with the AIs a code carries together — a required AI missing (10 needs
/// 01…), or two that may not appear together (01 with 37, 01 with 02…) — as
/// sentences. The code still parses; a document type that asks for strict GS1
/// refuses it.
pub fn pairing_warnings(elements: &[Element]) -> Vec<String> {
    if elements.is_empty() {
        return Vec::new();
    }
    let table = ai_table::table();
    let present: Vec<&str> = elements.iter().map(|e| e.ai.as_str()).collect();
    let has = |pattern: &str| present.iter().any(|ai| ai_table::matches(pattern, ai));
    let mut out = Vec::new();
    for e in elements {
        let Some(entry) = table.get(&e.ai) else { continue };
        for group in &entry.requires {
            if !group.iter().any(|option| option.iter().all(|p| has(p))) {
                let options: Vec<String> = group
                    .iter()
                    .map(|o| o.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join("+"))
                    .collect();
                out.push(format!("AI ({}) needs {} in the same code", e.ai, options.join(" or ")));
            }
        }
        for pattern in &entry.excludes {
            if let Some(other) = present.iter().find(|ai| **ai != e.ai && ai_table::matches(pattern, ai)) {
                out.push(format!("AI ({}) may not appear with ({other})", e.ai));
            }
        }
    }
    out
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
        let spec = ai_table::table()
            .at_start(rest)
            .ok_or_else(|| BarcodeError::new(ErrorCode::UnknownAi, offset + pos, "no known GS1 Application Identifier here"))?;
        let ai_len = spec.ai.len();
        let ai = &rest[..ai_len];
        let after = &rest[ai_len..];
        let value = match spec.fixed_len().filter(|_| spec.predefined) {
            Some(n) => {
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
            None => after.split(GS).next().unwrap_or(""),
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

    /// The AIs the first table lacked, in every form a scanner sends them (GS1
    /// General Specifications §3.2 / §7.8 examples; the issue's own vectors).
    #[test]
    fn the_whole_ai_table_is_known() {
        let bracketed = parse_bracketed("(01)12345678901231(235)XYZ(10)BATCH").unwrap();
        assert_eq!(pairs(&bracketed), [("01", "12345678901231"), ("235", "XYZ"), ("10", "BATCH")]);
        let raw = parse_unbracketed("0112345678901231235XYZ\u{1D}10BATCH", 0).unwrap();
        assert_eq!(raw, bracketed);
        let p = crate::barcode::parse("]C10112345678901231235XYZ\u{1D}10BATCH", &[]).unwrap();
        assert_eq!(p.elements, bracketed);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        for (code, want) in [
            ("(7240)PROTO-7(01)04601234567893", "7240"),
            ("(4300)ACME%20LTD(00)373400306809981733", "4300"),
            ("(8013)ABC123", "8013"),
            ("(8200)https://example.com(01)04601234567893", "8200"),
            ("(7011)2612311530(01)04601234567893", "7011"),
        ] {
            let v = parse_bracketed(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(v[0].ai, want, "{code}");
        }
    }

    /// One vector per format class the dictionary uses.
    #[test]
    fn each_format_class_is_checked() {
        let err = |s: &str| parse_bracketed(s).unwrap_err().code;
        // N, fixed, check digit.
        assert_eq!(err("(01)12345678901234"), ErrorCode::BadCheckDigit);
        // N, variable: digits only, at most 8.
        assert!(parse_bracketed("(30)12345678").is_ok());
        assert_eq!(err("(30)123456789"), ErrorCode::TooLong);
        assert_eq!(err("(30)12A"), ErrorCode::BadCharacter);
        // X (CSET 82) and Y (CSET 39, upper case only) and Z (base64url).
        assert!(parse_bracketed("(10)a-B_1/2").is_ok());
        assert_eq!(err("(8010)AB-1/#x"), ErrorCode::BadCharacter);
        assert!(parse_bracketed("(8010)AB-1/#").is_ok());
        assert!(parse_bracketed("(8030)QUJD-_x").is_ok());
        assert_eq!(err("(8030)QUJD+"), ErrorCode::BadCharacter);
        // Dates: YYMMD0 allows day 00, YYMMDD does not; HHMM.
        assert!(parse_bracketed("(17)260200").is_ok());
        assert_eq!(err("(7006)260200"), ErrorCode::BadDate);
        assert!(parse_bracketed("(7003)2612312359").is_ok());
        assert_eq!(err("(7003)2612312460"), ErrorCode::BadDate);
        // Optional component (GRAI: zero, GTIN-13 with check digit, then up to 16 serial).
        assert!(parse_bracketed("(8003)04601234567893").is_ok());
        assert!(parse_bracketed("(8003)04601234567893SN-1").is_ok());
        assert_eq!(err("(8003)14601234567893"), ErrorCode::BadSyntax, "the first digit must be 0");
        // Piece of total, yes/no, %-encoding.
        assert!(parse_bracketed("(8006)046012345678930102").is_ok());
        assert_eq!(err("(8006)046012345678930302"), ErrorCode::BadSyntax);
        assert_eq!(err("(4321)2"), ErrorCode::BadSyntax);
        assert_eq!(err("(4300)ACME%2"), ErrorCode::BadSyntax);
        // Decimals: only 0-5 exist for the 31nn series.
        assert!(spec_of("3105").is_some() && spec_of("3106").is_none());
    }

    #[test]
    fn pairing_rules_are_reported() {
        let w = |s: &str| pairing_warnings(&parse_bracketed(s).unwrap());
        assert!(w("(01)04601234567893(10)LOT").is_empty());
        let lone = w("(10)LOT");
        assert_eq!(lone, ["AI (10) needs (01) or (02) or (03) or (8006) or (8026) in the same code"]);
        assert!(w("(01)04601234567893(37)5").contains(&"AI (01) may not appear with (37)".to_string()));
        assert!(
            w("(00)373400306809981733(02)04601234567893(37)12").is_empty(),
            "a pallet label: SSCC, content, count"
        );
        assert!(w("(02)04601234567893").iter().any(|m| m.contains("needs (37)")));
        assert!(w("(01)04601234567893(250)S2").iter().any(|m| m.contains("(01)+(21)")));
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
