//! The JSON shapes the `tsd` command prints. These are a contract that outside
//! tools rely on: add fields, never rename or remove them.

use serde_json::{json, Value};
use tsd_core::barcode::{BarcodeError, Parsed};
use tsd_core::documents::{qty_json, ScanOutcome, ScanStatus};
use tsd_core::resolve::{Resolution, Target};
use tsd_core::Error;

/// `{"code", "message"}` of a core error.
pub fn error_json(e: &Error) -> Value {
    match e {
        Error::Barcode(b) => json!({"code": b.code.as_str(), "message": b.to_string()}),
        other => json!({"code": other.code(), "message": other.to_string()}),
    }
}

/// The `tsd barcode parse` object.
pub fn parsed_json(input: &str, parsed: &Result<Parsed, BarcodeError>) -> Value {
    match parsed {
        Ok(p) => json!({
            "input": input,
            "ok": true,
            "kind": p.kind.as_str(),
            "gtin": p.gtin.map(|g| g.to_string()),
            "ais": p.elements.iter().map(|e| json!({"ai": e.ai, "value": e.value})).collect::<Vec<_>>(),
            "serial": p.serial(),
            "weight_grams": p.weight_grams(),
            "error": null,
            "symbology": p.symbology.map(|s| s.id()),
            "batch": p.batch(),
            "expiry": p.expiry(),
            "marking_form": p.marking.as_ref().map(|m| m.form().as_str()),
        }),
        Err(e) => json!({
            "input": input,
            "ok": false,
            "kind": null,
            "gtin": null,
            "ais": [],
            "serial": null,
            "weight_grams": null,
            "error": {"code": e.code.as_str(), "message": e.to_string()},
        }),
    }
}

/// The `tsd lookup` object.
pub fn lookup_json(input: &str, res: &Result<Resolution, Error>) -> Value {
    match res {
        Ok(r) => {
            let (product, packaging, cell) = match &r.target {
                Target::Product(h) => (
                    serde_json::to_value(&h.product).ok(),
                    h.packaging
                        .as_ref()
                        .map(|k| json!({"id": k.id, "name": k.name, "factor": qty_json(k.factor)})),
                    None,
                ),
                Target::Cell(c) => (None, None, serde_json::to_value(c).ok()),
                Target::NotFound => (None, None, None),
            };
            json!({
                "input": input,
                "found": r.found(),
                "kind": r.parsed.kind.as_str(),
                "gtin": r.parsed.gtin.map(|g| g.to_string()),
                "product": product,
                "packaging": packaging,
                "quantity": qty_json(r.qty),
                "cell": cell,
                "attributes": r.attributes,
                "error": null,
            })
        }
        Err(e) => json!({"input": input, "found": false, "error": error_json(e)}),
    }
}

/// The object printed for one scan into a document (seq first).
pub fn scan_json(input: &str, o: &ScanOutcome) -> Value {
    let violation = match o.status {
        ScanStatus::Refused(v) => Some(v),
        _ => None,
    };
    let hit = o.resolution.hit();
    json!({
        "seq": o.seq,
        "status": o.status.as_str(),
        "violation": violation.map(|v| v.as_str()),
        "message": violation.map(|v| v.message()),
        "input": input,
        "found": o.resolution.found(),
        "kind": o.resolution.parsed.kind.as_str(),
        "product": hit.map(|h| h.product.id.clone()),
        "name": hit.map(|h| h.product.name.clone()),
        "packaging": hit.and_then(|h| h.packaging.as_ref()).map(|k| k.id.clone()),
        "qty": qty_json(o.qty),
        "actual": qty_json(o.actual),
        "planned": o.planned.map(qty_json),
        "attributes": o.resolution.attributes,
    })
}

/// Shows control characters (the GS separator above all) as `<GS>`/`\u{..}` and
/// leaves every printable character, Cyrillic included, as it is.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{1D}' => "<GS>".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// One tab-separated line for a scan, beginning with the seq (`-` if nothing was
/// stored).
pub fn scan_line(input: &str, o: &ScanOutcome) -> String {
    let seq = o.seq.map_or("-".to_string(), |s| s.to_string());
    let what = match (o.resolution.hit(), &o.resolution.target) {
        (Some(h), _) => format!("{} {}", h.product.id, h.product.name),
        (None, Target::Cell(c)) => format!("cell {}", c.id),
        _ => format!("not in catalog: {}", printable(input)),
    };
    let status = match o.status {
        ScanStatus::Refused(v) => format!("refused: {}", v.message()),
        s => s.as_str().to_string(),
    };
    let plan = o.planned.map(|p| format!(" of {}", qty_json(p))).unwrap_or_default();
    format!("{seq}\t{status}\t{what}\t+{}\t= {}{plan}", qty_json(o.qty), qty_json(o.actual))
}
