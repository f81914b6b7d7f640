//! AIM symbology identifiers (`]C1`, `]d2`, `]Q3`, `]E0`…) that scanners put in
//! front of the data when configured to.

/// The symbology a scan came from, when the scanner said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbology {
    /// `]E0`: EAN-13, UPC-A or UPC-E.
    Ean13,
    /// `]E4`: EAN-8.
    Ean8,
    /// `]I0`/`]I1`: Interleaved 2 of 5 (ITF-14).
    Itf,
    /// `]C0`: Code 128.
    Code128,
    /// `]C1`: GS1-128.
    Gs1_128,
    /// `]d1`: Data Matrix.
    DataMatrix,
    /// `]d2`: GS1 DataMatrix (marking codes).
    Gs1DataMatrix,
    /// `]Q1`: QR Code.
    Qr,
    /// `]Q3`: GS1 QR Code.
    Gs1Qr,
    /// `]e0`: GS1 DataBar.
    Gs1DataBar,
    /// `]A0`: Code 39.
    Code39,
    /// Any other well-formed identifier.
    Other([u8; 2]),
}

impl Symbology {
    /// True for symbologies whose data is a GS1 element string.
    pub fn is_gs1(self) -> bool {
        matches!(
            self,
            Symbology::Gs1_128 | Symbology::Gs1DataMatrix | Symbology::Gs1Qr | Symbology::Gs1DataBar
        )
    }

    /// The identifier without the leading `]`.
    pub fn id(self) -> String {
        let s: &str = match self {
            Symbology::Ean13 => "E0",
            Symbology::Ean8 => "E4",
            Symbology::Itf => "I1",
            Symbology::Code128 => "C0",
            Symbology::Gs1_128 => "C1",
            Symbology::DataMatrix => "d1",
            Symbology::Gs1DataMatrix => "d2",
            Symbology::Qr => "Q1",
            Symbology::Gs1Qr => "Q3",
            Symbology::Gs1DataBar => "e0",
            Symbology::Code39 => "A0",
            Symbology::Other(b) => return String::from_utf8_lossy(&b).into_owned(),
        };
        s.to_string()
    }
}

/// Splits a raw scan into its symbology (if any) and the payload: strips a leading
/// `]Xn` identifier, a leading FNC1/GS, and a trailing CR/LF.
pub fn strip(raw: &str) -> (Option<Symbology>, &str) {
    let s = raw.trim_end_matches(['\r', '\n']);
    let b = s.as_bytes();
    let (sym, rest) = if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric() {
        let sym = match &b[1..3] {
            b"E0" | b"E3" => Symbology::Ean13,
            b"E4" => Symbology::Ean8,
            b"I0" | b"I1" => Symbology::Itf,
            b"C0" => Symbology::Code128,
            b"C1" => Symbology::Gs1_128,
            b"d1" => Symbology::DataMatrix,
            b"d2" => Symbology::Gs1DataMatrix,
            b"Q1" => Symbology::Qr,
            b"Q3" => Symbology::Gs1Qr,
            b"e0" => Symbology::Gs1DataBar,
            b"A0" => Symbology::Code39,
            other => Symbology::Other([other[0], other[1]]),
        };
        (Some(sym), &s[3..])
    } else {
        (None, s)
    };
    (sym, rest.trim_start_matches('\u{1D}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(strip("]C10104601234567893"), (Some(Symbology::Gs1_128), "0104601234567893"));
        assert_eq!(strip("]d2\u{1D}01046\r\n"), (Some(Symbology::Gs1DataMatrix), "01046"));
        assert_eq!(strip("]E04601234567893").0, Some(Symbology::Ean13));
        assert_eq!(strip("]Z9abc"), (Some(Symbology::Other(*b"Z9")), "abc"));
        assert_eq!(strip("]]abc"), (None, "]]abc"));
        assert_eq!(strip("]"), (None, "]"));
    }
}
