//! GTIN family: EAN-8, EAN-13, UPC-A, UPC-E, ITF-14, all normalised to 14 digits.

use super::error::{BarcodeError, ErrorCode};
use std::fmt;

/// A validated 14-digit GTIN. Every GTIN form is stored and looked up as this, so a
/// product is found whether its EAN-13, its UPC-A or a GTIN-14 inside a GS1 string
/// is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin14([u8; 14]);

/// The GS1 mod-10 check digit of `digits` (the data digits, check digit excluded).
pub fn check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// True when `s` is all ASCII digits and its last digit is the mod-10 check digit.
pub fn has_valid_check(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.iter().all(u8::is_ascii_digit) && check_digit(&b[..b.len() - 1]) == b[b.len() - 1]
}

impl Gtin14 {
    /// Validates an 8-, 12-, 13- or 14-digit GTIN and left-pads it with zeros.
    pub fn parse(s: &str) -> Result<Gtin14, BarcodeError> {
        let b = s.as_bytes();
        if let Some(i) = b.iter().position(|c| !c.is_ascii_digit()) {
            return Err(BarcodeError::new(ErrorCode::BadCharacter, i, "GTIN must be digits"));
        }
        if !matches!(b.len(), 8 | 12 | 13 | 14) {
            return Err(BarcodeError::new(
                ErrorCode::BadLength,
                b.len(),
                format!("GTIN of {} digits (8, 12, 13 or 14 expected)", b.len()),
            ));
        }
        let expected = check_digit(&b[..b.len() - 1]);
        if expected != b[b.len() - 1] {
            return Err(BarcodeError::new(
                ErrorCode::BadCheckDigit,
                b.len() - 1,
                format!("bad GTIN check digit: expected {}", expected as char),
            ));
        }
        let mut out = [b'0'; 14];
        out[14 - b.len()..].copy_from_slice(b);
        Ok(Gtin14(out))
    }

    /// Expands an 8-digit UPC-E (number system 0 or 1, six digits, check digit) into
    /// its UPC-A form and validates the check digit against that.
    pub fn from_upce(s: &str) -> Result<Gtin14, BarcodeError> {
        let b = s.as_bytes();
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return Err(BarcodeError::new(ErrorCode::BadLength, 0, "UPC-E must be 8 digits"));
        }
        if b[0] != b'0' && b[0] != b'1' {
            return Err(BarcodeError::new(ErrorCode::BadCharacter, 0, "UPC-E number system must be 0 or 1"));
        }
        let d = &b[1..7];
        let mut a = Vec::with_capacity(12);
        a.push(b[0]);
        match d[5] {
            b'0'..=b'2' => {
                a.extend_from_slice(&[d[0], d[1], d[5]]);
                a.extend_from_slice(b"0000");
                a.extend_from_slice(&[d[2], d[3], d[4]]);
            }
            b'3' => {
                a.extend_from_slice(&[d[0], d[1], d[2]]);
                a.extend_from_slice(b"00000");
                a.extend_from_slice(&[d[3], d[4]]);
            }
            b'4' => {
                a.extend_from_slice(&[d[0], d[1], d[2], d[3]]);
                a.extend_from_slice(b"00000");
                a.push(d[4]);
            }
            _ => {
                a.extend_from_slice(&d[..5]);
                a.extend_from_slice(b"0000");
                a.push(d[5]);
            }
        }
        let expected = check_digit(&a);
        if expected != b[7] {
            return Err(BarcodeError::new(
                ErrorCode::BadCheckDigit,
                7,
                format!("bad UPC-E check digit: expected {}", expected as char),
            ));
        }
        a.push(expected);
        let mut out = [b'0'; 14];
        out[2..].copy_from_slice(&a);
        Ok(Gtin14(out))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        // The constructor only ever stores ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("00000000000000")
    }

    /// The shortest usual form: EAN-13 when the indicator digit is 0, else GTIN-14.
    pub fn short(&self) -> &str {
        if self.0[0] == b'0' {
            &self.as_str()[1..]
        } else {
            self.as_str()
        }
    }
}

impl fmt::Display for Gtin14 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_forms_normalise_to_one_gtin() {
        let ean13 = Gtin14::parse("4601234567893").unwrap();
        assert_eq!(ean13.as_str(), "04601234567893");
        assert_eq!(Gtin14::parse("04601234567893").unwrap(), ean13);
        let upca = Gtin14::parse("036000291452").unwrap();
        assert_eq!(Gtin14::parse("0036000291452").unwrap(), upca);
        assert_eq!(Gtin14::parse("46009333").unwrap().as_str(), "00000046009333");
    }

    #[test]
    fn check_digits_are_enforced() {
        let e = Gtin14::parse("4601234567890").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadCheckDigit);
        assert!(e.message.contains('3'));
        assert_eq!(Gtin14::parse("46012345678").unwrap_err().code, ErrorCode::BadLength);
        assert_eq!(Gtin14::parse("46012345678a3").unwrap_err().code, ErrorCode::BadCharacter);
    }

    #[test]
    fn upce_expands_to_upca() {
        // Classic examples: 0425261 + check 4 → 042100005264 (last digit 1 rule).
        assert_eq!(Gtin14::from_upce("04252614").unwrap().as_str(), "00042100005264");
        // Last digit 3: 01234533 → 012300000455? compute through the rule instead.
        let g = Gtin14::from_upce("01234565").unwrap();
        assert_eq!(g.as_str(), "00012345000065");
        assert_eq!(Gtin14::from_upce("04252615").unwrap_err().code, ErrorCode::BadCheckDigit);
        assert_eq!(Gtin14::from_upce("24252614").unwrap_err().code, ErrorCode::BadCharacter);
    }
}
