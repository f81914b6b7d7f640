//! `tsd demo`: generates a small catalog, then walks through every barcode kind
//! and every document rule, printing what happened at each step.

use crate::output;
use std::path::Path;
use tsd_core::barcode::check_digit;
use tsd_core::catalog::Format;
use tsd_core::documents::{qty_json, ScanStatus, TaskDocument};
use tsd_core::{Error, Runtime};

/// Products the generated catalog does not have: UPC-E, marked shoes, dairy with a
/// short marking code, cigarettes.
const EXTRA: &str = r#"{"id":"DEMO-UPC","code":"US-1","name":"Арахисовое масло (импорт, UPC)","unit":"шт","barcodes":["042100005264"]}
{"id":"DEMO-SHOES","code":"SH-38","name":"Туфли женские, размер 38","unit":"пара","marked":true,"barcodes":["4607000000014"]}
{"id":"DEMO-MILK","code":"ML-1","name":"Молоко питьевое 2,5% 1 л","unit":"шт","marked":true,"barcodes":["4601234567893"]}
{"id":"DEMO-CIG","code":"CG-1","name":"Сигареты «Пример» 20 шт","unit":"пачка","marked":true,"barcodes":["4606203084623"]}
"#;

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body.as_bytes()) as char)
}

fn first_line_with(path: &Path, pred: impl Fn(&[&str]) -> bool) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .find(|f| pred(&f.iter().map(String::as_str).collect::<Vec<_>>()))
        .ok_or_else(|| Error::InvalidArgument("the generated catalog lacks a demo product".into()))
}

/// Runs the demo in `db` (or a temporary folder that is removed afterwards).
pub fn run(db: Option<&Path>, products: u64, json: bool) -> Result<(), Error> {
    let temp = tempfile::tempdir().map_err(|source| Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let data = db.map(Path::to_path_buf).unwrap_or_else(|| temp.path().join("data"));
    let say = |s: String| {
        if !json {
            out!("{s}");
        }
    };
    say(format!("TSD offline runtime demo — data folder {}\n", data.display()));

    let generating = tsd_term::Bar::spinner(&format!("generating a catalog of {products} products"));
    let generated = tsd_core::catalog::generate(&temp.path().join("export"), products, 42)?;
    generating.finish();
    let extra = temp.path().join("export/extra.jsonl");
    std::fs::write(&extra, EXTRA).map_err(|source| Error::Io {
        path: extra.clone(),
        source,
    })?;
    let rt = Runtime::open(&data)?;
    for (file, format) in [
        (&generated.catalog, Format::Csv),
        (&generated.cells, Format::Csv),
        (&extra, Format::Jsonl),
    ] {
        let bar = tsd_term::Bar::reading(file, format);
        let r = rt.import_catalog(file, format, &mut |rows| {
            bar.read_so_far(rows, "indexing and committing");
            true
        })?;
        bar.finish();
        say(format!(
            "1. import {}: {} rows → {} products, {} barcodes, {} cells added (catalog version {})",
            file.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
            r.rows,
            r.products.added,
            r.barcodes.added,
            r.cells.added,
            r.version
        ));
    }
    let bar = tsd_term::Bar::reading(&generated.catalog, Format::Csv);
    let again = rt.import_catalog(&generated.catalog, Format::Csv, &mut |rows| {
        bar.read_so_far(rows, "comparing and committing");
        true
    })?;
    bar.finish();
    say(format!(
        "   re-import of the same file: {} products unchanged, changed anything: {}\n",
        again.products.unchanged,
        again.changed()
    ));

    let hits = rt.search("молоко простокв", 3)?;
    say(format!(
        "2. search \"молоко простокв\": {}\n",
        hits.iter().map(|p| format!("{} {}", p.id, p.name)).collect::<Vec<_>>().join("; ")
    ));

    // Codes of the generated catalog, found by what the generator writes.
    let boxed = first_line_with(&generated.catalog, |f| f[6] == "box")?;
    let ean8 = first_line_with(&generated.catalog, |f| f[9].len() == 8)?;
    let upca = first_line_with(&generated.catalog, |f| f[9].len() == 12)?;
    let weighed = first_line_with(&generated.catalog, |f| f[4] == "1")?;
    let item = &weighed[9][2..7];
    let crypto = "MEUCIQDa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ+";
    let scans: Vec<(&str, String)> = vec![
        (
            "EAN-13 with symbology prefix",
            format!(
                "]E0{}",
                &first_line_with(&generated.catalog, |f| f[9].starts_with("46") && f[9].len() == 13)?[9]
            ),
        ),
        ("ITF-14 box of 12", boxed[9].clone()),
        ("EAN-8", ean8[9].clone()),
        ("UPC-A", upca[9].clone()),
        ("UPC-E (expanded to UPC-A 042100005264)", "04252614".to_string()),
        ("in-store weight code, 1.375 kg", with_check(&format!("22{item}01375"))),
        (
            "GS1-128: GTIN, batch, expiry, count 3",
            "]C10104601234567893\u{1D}10L-2611\u{1D}17270331\u{1D}303".to_string(),
        ),
        (
            "marking code, full (01 21 91 92)",
            format!("]d20104607000000014215Ab7Xz9Qw2Lk9\u{1D}91EE06\u{1D}92{crypto}"),
        ),
        (
            "marking code, short (93), scanner dropped GS",
            "010460123456789321aB3cD993Ab1z".to_string(),
        ),
        ("tobacco pack code, 29 characters", "04606203084623-AbC1dEFGhJkLmN".to_string()),
        ("cell label", "CELL-A-01".to_string()),
        ("unknown code (receiving keeps it)", "]C0SUPPLIER-LABEL-77".to_string()),
        (
            "the same marked shoes again",
            format!("]d20104607000000014215Ab7Xz9Qw2Lk9\u{1D}91EE06\u{1D}92{crypto}"),
        ),
    ];
    let doc = rt.new_document("receiving")?;
    say(format!("3. receiving document {} ({}): every barcode kind", doc.number, doc.id));
    for (what, raw) in &scans {
        match rt.scan(&doc.id, raw, None) {
            Ok(o) => {
                if json {
                    out!("{}", output::scan_json(raw, &o));
                }
                say(format!("   {what:<44} {}", output::scan_line(raw, &o)));
            }
            Err(Error::Barcode(e)) => say(format!("   {what:<44} rejected: {e}")),
            Err(e) => return Err(e),
        }
    }
    say("   a label with a wrong check digit:".to_string());
    match rt.scan(&doc.id, "4601234567890", None) {
        Err(Error::Barcode(e)) => say(format!("   {:<44} rejected ({}): {e}", "EAN-13 4601234567890", e.code.as_str())),
        other => say(format!("   unexpected: {other:?}")),
    }
    let (undo, undone) = rt.undo(&doc.id)?;
    say(format!("   undo → journal entry {undo} cancels {undone}"));
    let shown = rt.document(&doc.id)?;
    say(format!("   lines of {}:", shown.header.number));
    for l in &shown.lines {
        let name = l.name.clone().or_else(|| l.raw.clone()).unwrap_or_default();
        say(format!(
            "     {:<12} {:<48} {}",
            l.product.clone().unwrap_or_else(|| "?".into()),
            output::printable(&name),
            qty_json(l.actual)
        ));
    }
    rt.complete(&doc.id)?;
    say(format!(
        "   completed; outbox: {} document(s) waiting to be sent\n",
        rt.outbox()?.len()
    ));

    let product = &boxed[0];
    let task = TaskDocument {
        id: "TASK-DEMO-1".into(),
        doc_type: "picking".into(),
        number: "ОТ-00042".into(),
        lines: vec![serde_json::from_value(serde_json::json!({"product": product, "qty": 12}))
            .map_err(|e| Error::InvalidArgument(e.to_string()))?],
        cancelled: false,
    };
    rt.add_tasks(&[task])?;
    say(format!("4. picking task ОТ-00042: plan 12 of {product}; over-scan is refused"));
    for raw in [boxed[9].clone(), boxed[9].clone()] {
        let o = rt.scan("TASK-DEMO-1", &raw, None)?;
        if json {
            out!("{}", output::scan_json(&raw, &o));
        }
        say(format!("   {}", output::scan_line(&raw, &o)));
        if let ScanStatus::Refused(v) = o.status {
            say(format!(
                "   ↑ refused and journaled ({}), the line stays at {}",
                v.as_str(),
                qty_json(o.actual)
            ));
        }
    }
    let transfer = rt.new_document("transfer")?;
    let o = rt.scan(&transfer.id, &boxed[9], None)?;
    say(format!(
        "5. transfer {}: goods before a cell → {}",
        transfer.number,
        output::scan_line(&boxed[9], &o)
    ));
    rt.close()?;
    say("\nEvery journal entry above was on disk before its line was printed.\n".to_string());
    let barcodes: Vec<String> = std::fs::read_to_string(&generated.barcodes)
        .map_err(|source| Error::Io {
            path: generated.barcodes.clone(),
            source,
        })?
        .lines()
        .map(str::to_string)
        .collect();
    #[cfg(feature = "server")]
    return crate::demo_sync::run(&temp.path().join("sync"), &generated.catalog, &barcodes, json);
    #[cfg(not(feature = "server"))]
    {
        let _ = (barcodes, json);
        say("(This tsd was built without the server feature: the sync part of the demo is left out.)".to_string());
        Ok(())
    }
}
