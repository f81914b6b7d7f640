//! The JSON shapes shared by the `tsd` command and the JNI bridge (the Kotlin side
//! decodes the same objects). A contract: add fields, never rename or remove them.

use crate::barcode::{BarcodeError, Parsed};
use crate::documents::{qty_json, ScanOutcome, ScanStatus};
use crate::resolve::{Resolution, Target};
use crate::Error;
use serde_json::{json, Value};

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
