//! The one error type of barcode parsing.
//!
//! Messages say *what* and *where* (character position, AI) but never echo the
//! scanned value itself: a marking code's serial and crypto tail must not end up in
//! logs or on a screen that somebody photographs.

use std::fmt;

/// What went wrong while parsing a raw scan. The string form (`as_str`) is part of
/// the `tsd barcode parse --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Nothing left after the symbology prefix and line ending were stripped.
    Empty,
    /// A GTIN, SSCC or GLN whose last digit does not match the mod-10 check.
    BadCheckDigit,
    /// A numeric code of a length no symbology gives, or a fixed-length AI cut short.
    BadLength,
    /// A character that the field does not allow (letter in a numeric AI, a byte
    /// outside the GS1 character set 82).
    BadCharacter,
    /// Digits where an AI was expected that name no AI in the table.
    UnknownAi,
    /// A YYMMDD value that is no calendar date.
    BadDate,
    /// A variable-length AI longer than its maximum (often: the scanner dropped a GS).
    TooLong,
    /// A bracketed element string with an unbalanced or empty bracket.
    BadSyntax,
    /// A code that claims to be a marking code (Честный ЗНАК) but lacks GTIN or serial.
    BadMarkingCode,
}

impl ErrorCode {
    /// Stable machine-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Empty => "empty",
            ErrorCode::BadCheckDigit => "bad_check_digit",
            ErrorCode::BadLength => "bad_length",
            ErrorCode::BadCharacter => "bad_character",
            ErrorCode::UnknownAi => "unknown_ai",
            ErrorCode::BadDate => "bad_date",
            ErrorCode::TooLong => "too_long",
            ErrorCode::BadSyntax => "bad_syntax",
            ErrorCode::BadMarkingCode => "bad_marking_code",
        }
    }
}

/// A rejected scan: the code, the character position (0-based, after the symbology
/// prefix) and a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarcodeError {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Character position in the payload where the problem was found.
    pub position: usize,
    /// Human-readable explanation; never contains the scanned value.
    pub message: String,
}

impl BarcodeError {
    pub(crate) fn new(code: ErrorCode, position: usize, message: impl Into<String>) -> Self {
        BarcodeError {
            code,
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for BarcodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for BarcodeError {}
