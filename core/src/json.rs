//! The JSON shapes shared by the `tsd` command and the JNI bridge (the Kotlin side
//! decodes the same objects). A contract: add fields, never rename or remove them.

use crate::barcode::{BarcodeError, Parsed};
use crate::catalog::{Cell, Product};
use crate::documents::{qty_json, ScanOutcome, ScanStatus};
use crate::resolve::{Attributes, Resolution, Target};
use crate::Error;
use serde::Serialize;
use serde_json::{json, Value};

/// `{"code", "message"}` of a core error, with `"next_step"` when [`Error::next_step`]
/// knows what to do.
pub fn error_json(e: &Error) -> Value {
    let mut value = match e {
        Error::Barcode(b) => json!({"code": b.code.as_str(), "message": b.to_string()}),
        other => json!({"code": other.code(), "message": other.to_string()}),
    };
    if let Some(next) = e.next_step() {
        value["next_step"] = json!(next);
    }
    value
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
            "warnings": p.warnings,
            "readings": crate::resolve::readings(p),
            "marking_groups": p.marking.as_ref().map(|m| m.groups().iter().map(|g| g.key).collect::<Vec<_>>()),
            "aggregation": p.aggregation(),
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

#[derive(Serialize)]
struct PackagingOut<'a> {
    id: &'a str,
    name: &'a str,
    factor: Value,
}

/// The `tsd lookup` object of a resolved code, serialised field by field (no
/// intermediate map: the JNI bridge returns it for every scan).
#[derive(Serialize)]
struct LookupOut<'a> {
    input: &'a str,
    found: bool,
    kind: &'static str,
    gtin: Option<String>,
    product: Option<&'a Product>,
    packaging: Option<PackagingOut<'a>>,
    quantity: Value,
    cell: Option<&'a Cell>,
    attributes: &'a Attributes,
    source: &'static str,
    server_unreachable: Option<&'a str>,
    reading: Option<&'static str>,
    error: Option<()>,
}

fn lookup_out<'a>(input: &'a str, r: &'a Resolution) -> LookupOut<'a> {
    let (product, packaging, cell) = match &r.target {
        Target::Product(h) => (
            Some(&h.product),
            h.packaging.as_ref().map(|k| PackagingOut {
                id: &k.id,
                name: &k.name,
                factor: qty_json(k.factor),
            }),
            None,
        ),
        Target::Cell(c) => (None, None, Some(c)),
        Target::NotFound => (None, None, None),
    };
    LookupOut {
        input,
        found: r.found(),
        kind: r.parsed.kind.as_str(),
        gtin: r.parsed.gtin.map(|g| g.to_string()),
        product,
        packaging,
        quantity: qty_json(r.qty),
        cell,
        attributes: &r.attributes,
        source: r.source.as_str(),
        server_unreachable: r.server_unreachable.as_deref(),
        reading: r.reading,
        error: None,
    }
}

/// The `tsd lookup` object.
pub fn lookup_json(input: &str, res: &Result<Resolution, Error>) -> Value {
    match res {
        Ok(r) => serde_json::to_value(lookup_out(input, r)).unwrap_or(Value::Null),
        Err(e) => json!({"input": input, "found": false, "error": error_json(e)}),
    }
}

/// [`lookup_json`] as text, written straight from the fields.
pub fn lookup_text(input: &str, res: &Result<Resolution, Error>) -> String {
    match res {
        Ok(r) => serde_json::to_string(&lookup_out(input, r)).unwrap_or_default(),
        Err(_) => lookup_json(input, res).to_string(),
    }
}

#[derive(Serialize)]
struct ScanOut<'a> {
    seq: Option<i64>,
    status: &'static str,
    violation: Option<&'static str>,
    message: Option<&'static str>,
    input: &'a str,
    found: bool,
    kind: &'static str,
    product: Option<&'a str>,
    name: Option<&'a str>,
    packaging: Option<&'a str>,
    qty: Value,
    actual: Value,
    planned: Option<Value>,
    attributes: &'a Attributes,
    source: &'static str,
    server_unreachable: Option<&'a str>,
    reading: Option<&'static str>,
    /// The goods are sold by weight (a `need_quantity` answer then asks for a weight).
    weighed: bool,
}

fn scan_out<'a>(input: &'a str, o: &'a ScanOutcome) -> ScanOut<'a> {
    let violation = match o.status {
        ScanStatus::Refused(v) => Some(v),
        _ => None,
    };
    let hit = o.resolution.hit();
    ScanOut {
        seq: o.seq,
        status: o.status.as_str(),
        violation: violation.map(|v| v.as_str()),
        message: violation.map(|v| v.message()),
        input,
        found: o.resolution.found(),
        kind: o.resolution.parsed.kind.as_str(),
        product: hit.map(|h| h.product.id.as_str()),
        name: hit.map(|h| h.product.name.as_str()),
        packaging: hit.and_then(|h| h.packaging.as_ref()).map(|k| k.id.as_str()),
        qty: qty_json(o.qty),
        actual: qty_json(o.actual),
        planned: o.planned.map(qty_json),
        attributes: &o.resolution.attributes,
        source: o.resolution.source.as_str(),
        server_unreachable: o.resolution.server_unreachable.as_deref(),
        reading: o.resolution.reading,
        weighed: hit.is_some_and(|h| h.product.weighted),
    }
}

/// The object printed for one scan into a document (seq first).
pub fn scan_json(input: &str, o: &ScanOutcome) -> Value {
    serde_json::to_value(scan_out(input, o)).unwrap_or(Value::Null)
}

/// [`scan_json`] as text, written straight from the fields.
pub fn scan_text(input: &str, o: &ScanOutcome) -> String {
    serde_json::to_string(&scan_out(input, o)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text forms the bridge returns are the same objects the command prints.
    #[test]
    fn text_and_value_forms_agree() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(
            &csv,
            "product_id,name,packaging_id,factor,barcode\nP1,Молоко,,,4601234567893\nP1,Молоко,box,12,14601234567890\n",
        )
        .unwrap();
        let rt = crate::Runtime::open(&dir.path().join("d")).unwrap();
        rt.import_catalog(&csv, crate::catalog::Format::Csv, &mut |_| true).unwrap();
        for raw in [
            "14601234567890",
            "]E04601234567893",
            "2900000000003",
            "4601234567890",
            "10L-1\u{1D}",
        ] {
            let r = rt.resolve(raw);
            let text: Value = serde_json::from_str(&lookup_text(raw, &r)).unwrap();
            assert_eq!(text, lookup_json(raw, &r), "{raw}");
        }
        let doc = rt.new_document("receiving").unwrap();
        let o = rt.scan(&doc.id, "14601234567890", None).unwrap();
        let text: Value = serde_json::from_str(&scan_text("14601234567890", &o)).unwrap();
        assert_eq!(text, scan_json("14601234567890", &o));
        assert_eq!(text["packaging"], "box");
        assert_eq!(text["actual"], 12);
    }
}
