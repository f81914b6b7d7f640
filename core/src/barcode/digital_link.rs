//! GS1 Digital Link URIs (`https://id.gs1.org/01/04601234567893/10/ABC?17=261231`):
//! QR codes and Data Matrix symbols that carry a web address in place of an element
//! string (GS1's 2027 move to 2D at the till makes these common on packaging). Any
//! domain and any path before the identifiers; the primary key and its qualifiers
//! in the path as `/AI/value` (or the short names `/gtin/`, `/lot/`, `/ser/`…); data
//! attributes in the query as `AI=value`; other query parameters (`linkType`…)
//! ignored. The result is the same element string the barcode it replaces would
//! give. Marking codes (Честный ЗНАК) never travel as Digital Link: their crypto
//! tail is not a GS1 attribute.

use super::ai_table;
use super::error::{BarcodeError, ErrorCode};
use super::gs1::Element;

/// The short names GS1 Digital Link 1.0 allowed in paths, with their AIs.
const ALIASES: &[(&str, &str)] = &[
    ("sscc", "00"),
    ("gtin", "01"),
    ("lot", "10"),
    ("ser", "21"),
    ("cpv", "22"),
    ("tpx", "235"),
    ("gdti", "253"),
    ("gcn", "255"),
    ("ginc", "401"),
    ("gsin", "402"),
    ("gln", "414"),
    ("party", "417"),
    ("grai", "8003"),
    ("giai", "8004"),
    ("itip", "8006"),
    ("cpid", "8010"),
    ("gmn", "8013"),
    ("gsrnp", "8017"),
    ("gsrn", "8018"),
    ("glnx", "254"),
];

fn ai_of(segment: &str) -> Option<&str> {
    if segment.bytes().all(|b| b.is_ascii_digit()) {
        return ai_table::table().get(segment).map(|e| e.ai.as_str());
    }
    ALIASES.iter().find(|(name, _)| *name == segment).map(|(_, ai)| *ai)
}

fn percent_decode(s: &str, at: usize) -> Result<String, BarcodeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| BarcodeError::new(ErrorCode::BadSyntax, at + i, "bad %-encoding in a Digital Link URI"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| BarcodeError::new(ErrorCode::BadSyntax, at, "a Digital Link value is not UTF-8"))
}

/// True when a scan looks like a web address (it is then read as Digital Link, or
/// kept as an opaque code when it names no GS1 key).
pub fn looks_like(text: &str) -> bool {
    // On every scan: a byte comparison, no allocation. The scheme is lower case,
    // or upper case as QR's alphanumeric mode encodes it; mixed case is not a
    // Digital Link (GS1 Digital Link URI syntax 1.x, §4).
    ["https://", "http://", "HTTPS://", "HTTP://"].iter().any(|p| text.starts_with(p))
}

/// The element string a Digital Link URI carries, or `None` when the address names
/// no GS1 primary key (an ordinary web address). A URI that names a key but breaks
/// the syntax is an error that says where.
pub fn parse(uri: &str) -> Option<Result<Vec<Element>, BarcodeError>> {
    let scheme_end = uri.find("://")? + 3;
    let rest = &uri[scheme_end..];
    let path_start = scheme_end + rest.find('/')?;
    let (path, query) = match uri[path_start..].split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (&uri[path_start..], None),
    };
    let query = query.map(|q| q.split_once('#').map_or(q, |(q, _)| q));
    let segments: Vec<&str> = path.split('/').collect();
    // The primary key: the first segment naming an AI that is a Digital Link key,
    // followed by its value (any path before it is the resolver's own).
    let key_at = (1..segments.len().saturating_sub(1))
        .find(|&i| ai_of(segments[i]).is_some_and(|ai| ai_table::table().get(ai).is_some_and(|e| e.dl_key.is_some())))?;
    Some(elements(uri, path_start, &segments[key_at..], query))
}

fn elements(uri: &str, path_start: usize, segments: &[&str], query: Option<&str>) -> Result<Vec<Element>, BarcodeError> {
    let bad = |why: String| BarcodeError::new(ErrorCode::BadSyntax, path_start, why);
    if !segments.len().is_multiple_of(2) {
        return Err(bad("a Digital Link path is /AI/value pairs".into()));
    }
    let mut out = Vec::new();
    for pair in segments.chunks(2) {
        let ai = ai_of(pair[0]).ok_or_else(|| bad(format!("{:?} is not a GS1 Application Identifier", pair[0])))?;
        let mut value = percent_decode(pair[1], path_start)?;
        if ai == "01" && matches!(value.len(), 8 | 12 | 13) {
            value = format!("{value:0>14}");
        }
        out.push(Element { ai: ai.to_string(), value });
    }
    let table = ai_table::table();
    for param in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        // Only numeric keys that are AIs are data attributes; `linkType` and the
        // like belong to the resolver.
        if !key.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let entry = table
            .get(key)
            .ok_or_else(|| bad(format!("query parameter {key:?} is not a GS1 Application Identifier")))?;
        if !entry.dl_attribute {
            return Err(bad(format!("AI ({key}) may not be a Digital Link data attribute")));
        }
        out.push(Element {
            ai: key.to_string(),
            value: percent_decode(value, path_start)?,
        });
    }
    // Each value is checked as in an element string.
    let text: String = out.iter().map(|e| format!("({}){}", e.ai, e.value)).collect();
    super::gs1::parse_bracketed(&text).map_err(|e| BarcodeError::new(e.code, path_start, format!("{} (in {})", e.message, short(uri))))
}

fn short(uri: &str) -> String {
    uri.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barcode::{parse as parse_scan, Kind};

    fn pairs(v: &[Element]) -> Vec<(&str, &str)> {
        v.iter().map(|e| (e.ai.as_str(), e.value.as_str())).collect()
    }

    /// GS1 Digital Link 1.2 examples: any domain and path prefix, short names, query
    /// attributes; the same element string as the barcode they replace.
    #[test]
    fn digital_link_uris_give_the_element_string() {
        let v = parse("https://id.gs1.org/01/04601234567893/10/ABC?17=261231").unwrap().unwrap();
        assert_eq!(pairs(&v), [("01", "04601234567893"), ("10", "ABC"), ("17", "261231")]);
        let same = crate::barcode::gs1::parse_bracketed("(01)04601234567893(10)ABC(17)261231").unwrap();
        assert_eq!(v, same);
        let v = parse("https://shop.example.ru/products/gtin/4601234567893/lot/L%2F7/ser/S1?linkType=gs1:pip&3103=001250")
            .unwrap()
            .unwrap();
        assert_eq!(
            pairs(&v),
            [("01", "04601234567893"), ("10", "L/7"), ("21", "S1"), ("3103", "001250")]
        );
        let sscc = parse("http://example.com/00/373400306809981733").unwrap().unwrap();
        assert_eq!(pairs(&sscc), [("00", "373400306809981733")]);
        // Through the scan parser, with the QR symbology identifier.
        let p = parse_scan("]Q1https://id.gs1.org/01/04601234567893/21/X1?17=261231", &[]).unwrap();
        assert_eq!((p.kind, p.gtin.unwrap().as_str()), (Kind::Gs1, "04601234567893"));
        assert_eq!(p.serial(), Some("X1"));
    }

    #[test]
    fn ordinary_addresses_and_broken_links() {
        assert!(parse("https://example.com/about/us").is_none(), "no GS1 key: not a Digital Link");
        assert_eq!(parse_scan("https://example.com/about", &[]).unwrap().kind, Kind::Unknown);
        let e = parse("https://id.gs1.org/01/04601234567890").unwrap().unwrap_err();
        assert_eq!(e.code, ErrorCode::BadCheckDigit);
        assert!(
            parse("https://id.gs1.org/01/04601234567893/10").unwrap().is_err(),
            "a key without its value pair"
        );
        assert!(
            parse("https://id.gs1.org/01/04601234567893?99=x").unwrap().is_ok(),
            "(99) is an attribute"
        );
        assert!(
            parse("https://id.gs1.org/01/04601234567893?21=S1").unwrap().is_err(),
            "(21) goes in the path, never the query"
        );
        assert!(parse("https://id.gs1.org/01/04601234567893/10/%ZZ").unwrap().is_err());
    }
}
