use crate::barcode::check_digit;
use crate::catalog::Format;
use crate::documents::{ScanStatus, TaskDocument, Violation};
use crate::{Error, Runtime};

const CATALOG: &str = "product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode
P1,A-1,Молоко 3.2%,шт,0,0,,,,4601234567893
P1,A-1,Молоко 3.2%,шт,0,0,box,Коробка 12 шт,12,14601234567890
P2,A-2,Сыр Российский,кг,1,0,,,,2200123000002
P3,A-3,Туфли женские,шт,0,1,,,,4607000000014
";
const CELLS: &str = "cell_id,name,barcode\nA-01,Ряд A,CELL-A-01\n";
const CRYPTO: &str = "MEUCIQDa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ+/";

fn runtime() -> (tempfile::TempDir, Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(&dir.path().join("data")).unwrap();
    for (name, text) in [("c.csv", CATALOG), ("cells.csv", CELLS)] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        rt.import_catalog(&p, Format::Csv, &mut |_| true).unwrap();
    }
    (dir, rt)
}

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body.as_bytes()) as char)
}

fn marking(serial: &str) -> String {
    format!("]d20104607000000014 21{serial}\u{1D}91EE06\u{1D}92{}", &CRYPTO[..44]).replace(' ', "")
}

#[test]
fn receiving_stores_every_kind_and_sums_lines() {
    let (_d, rt) = runtime();
    let doc = rt.new_document("receiving").unwrap();
    let ok = |raw: &str, qty: Option<i64>| {
        let o = rt.scan(&doc.id, raw, qty).unwrap();
        assert_eq!(o.status, ScanStatus::Accepted, "{raw:?}");
        o
    };
    assert_eq!(ok("]E04601234567893", None).qty, 1000);
    assert_eq!(ok("14601234567890", None).qty, 12_000, "box of 12");
    assert_eq!(ok("14601234567890", Some(2000)).qty, 24_000, "two boxes");
    assert_eq!(ok(&with_check("220012301250"), None).qty, 1250, "1.25 kg");
    let gs1 = ok("]C10104601234567893\u{1D}10LOT-7\u{1D}17271231", None);
    assert_eq!(gs1.resolution.attributes.batch.as_deref(), Some("LOT-7"));
    let m = ok(&marking("5Ab7Xz9Qw2Lk9"), None);
    assert_eq!(m.resolution.hit().unwrap().product.id, "P3");
    let unknown = ok("]C0NOT-IN-CATALOG", None);
    assert!(!unknown.resolution.found());

    let dup = rt.scan(&doc.id, &marking("5Ab7Xz9Qw2Lk9"), None).unwrap();
    assert_eq!(dup.status, ScanStatus::Refused(Violation::DuplicateMark));
    assert!(dup.seq.is_some(), "a refusal is journaled too");

    let shown = rt.document(&doc.id).unwrap();
    let line = |p: &str| shown.lines.iter().find(|l| l.product.as_deref() == Some(p)).unwrap().actual;
    assert_eq!(line("P1"), 1000 + 12_000 + 24_000 + 1000);
    assert_eq!(line("P2"), 1250);
    assert_eq!(line("P3"), 1000);
    assert_eq!(
        shown.lines.iter().find(|l| l.product.is_none()).unwrap().raw.as_deref(),
        Some("]C0NOT-IN-CATALOG")
    );
    assert_eq!(
        shown
            .lines
            .iter()
            .find(|l| l.product.as_deref() == Some("P1"))
            .unwrap()
            .name
            .as_deref(),
        Some("Молоко 3.2%")
    );
    let marked = shown.scans.iter().find(|e| e.product.as_deref() == Some("P3")).unwrap();
    assert_eq!(marked.mark.as_deref(), Some("046070000000145Ab7Xz9Qw2Lk9"));
    assert!(
        marked.attrs.as_ref().unwrap()["marking"].as_str().unwrap().contains("\u{1D}92"),
        "full code kept to send back"
    );
    let seqs: Vec<i64> = shown.scans.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn undo_correct_and_complete() {
    let (_d, rt) = runtime();
    let doc = rt.new_document("inventory").unwrap();
    assert!(matches!(rt.undo(&doc.id), Err(Error::NothingToUndo(_))));
    rt.scan(&doc.id, "4601234567893", None).unwrap();
    let second = rt.scan(&doc.id, "14601234567890", None).unwrap();
    let (_, undone) = rt.undo(&doc.id).unwrap();
    assert_eq!(Some(undone), second.seq);
    let actual = |rt: &Runtime| rt.document(&doc.id).unwrap().lines[0].actual;
    assert_eq!(actual(&rt), 1000);
    rt.set_quantity(&doc.id, "P1", 5000).unwrap();
    assert_eq!(actual(&rt), 5000);
    assert_eq!(rt.set_quantity(&doc.id, "P1", 5000).unwrap(), None, "no entry when nothing changes");
    rt.undo(&doc.id).unwrap();
    assert_eq!(actual(&rt), 1000, "the correction was undone");
    assert!(matches!(rt.set_quantity(&doc.id, "P1", -1), Err(Error::InvalidArgument(_))));

    assert!(rt.complete(&doc.id).unwrap());
    assert!(!rt.complete(&doc.id).unwrap(), "completing twice changes nothing");
    assert_eq!(rt.outbox().unwrap(), std::slice::from_ref(&doc.id));
    assert!(matches!(rt.scan(&doc.id, "4601234567893", None), Err(Error::DocumentCompleted(_))));
    assert!(matches!(rt.undo(&doc.id), Err(Error::DocumentCompleted(_))));
    let shown = rt.document(&doc.id).unwrap();
    assert_eq!(shown.scans.last().unwrap().kind, "complete");
    assert!(matches!(
        rt.scan("no-such-doc", "4601234567893", None),
        Err(Error::DocumentNotFound(_))
    ));
}

#[test]
fn picking_task_refuses_overscan_and_goods_outside_the_plan() {
    let (_d, rt) = runtime();
    let task: TaskDocument =
        serde_json::from_str(r#"{"id":"T-1","type":"picking","number":"ОТ-7","lines":[{"product":"P1","qty":2}]}"#).unwrap();
    assert_eq!(rt.add_tasks(std::slice::from_ref(&task)).unwrap(), 1);
    assert_eq!(rt.add_tasks(&[task]).unwrap(), 0, "a re-sent task changes nothing");
    let status = |raw: &str| rt.scan("T-1", raw, None).unwrap().status;
    assert_eq!(status("4601234567893"), ScanStatus::Accepted);
    assert_eq!(status("4601234567893"), ScanStatus::Accepted);
    assert_eq!(status("4601234567893"), ScanStatus::Refused(Violation::Overscan));
    assert_eq!(status("14601234567890"), ScanStatus::Refused(Violation::Overscan));
    assert_eq!(status(&with_check("220012300500")), ScanStatus::Refused(Violation::NotInPlan));
    assert_eq!(status("4600000000008"), ScanStatus::Refused(Violation::UnknownProduct));
    let shown = rt.document("T-1").unwrap();
    assert_eq!((shown.lines[0].planned, shown.lines[0].actual), (Some(2000), 2000));
    assert_eq!(shown.lines.len(), 1, "refusals do not make lines");
    assert_eq!(shown.scans.iter().filter(|e| e.kind == "refused").count(), 4);
    let bad: TaskDocument = serde_json::from_str(r#"{"id":"T-2","type":"shipping","lines":[]}"#).unwrap();
    assert!(matches!(rt.add_tasks(&[bad]), Err(Error::UnknownDocumentType(_))));
}

#[test]
fn transfer_needs_a_cell_first() {
    let (_d, rt) = runtime();
    let doc = rt.new_document("transfer").unwrap();
    assert_eq!(
        rt.scan(&doc.id, "4601234567893", None).unwrap().status,
        ScanStatus::Refused(Violation::CellRequired)
    );
    assert_eq!(rt.scan(&doc.id, "CELL-A-01", None).unwrap().status, ScanStatus::CellSet);
    assert_eq!(rt.scan(&doc.id, "4601234567893", None).unwrap().status, ScanStatus::Accepted);
    let last = rt.document(&doc.id).unwrap().scans.pop().unwrap();
    assert_eq!(last.cell.as_deref(), Some("A-01"));
}

#[test]
fn configured_quantity_prompt_and_marked_quantity() {
    let (_d, rt) = runtime();
    rt.set_config(r#"{"document_types":[{"id":"count","quantity_prompt":true,"allow_unknown":true}]}"#)
        .unwrap();
    let doc = rt.new_document("count").unwrap();
    let o = rt.scan(&doc.id, "14601234567890", None).unwrap();
    assert_eq!((o.status, o.seq), (ScanStatus::NeedQuantity, None));
    assert_eq!(rt.scan(&doc.id, "14601234567890", Some(3000)).unwrap().qty, 36_000);
    assert_eq!(
        rt.scan(&doc.id, &marking("QWErty1234567"), Some(2000)).unwrap().status,
        ScanStatus::Refused(Violation::MarkedQuantity)
    );
    assert!(matches!(
        rt.scan(&doc.id, "14601234567890", Some(0)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(rt.new_document("receiving"), Err(Error::UnknownDocumentType(_))));
    assert!(matches!(
        rt.set_config("{\"document_types\":[{\"id\":\"\"}]}"),
        Err(Error::Config(_))
    ));
    assert!(matches!(rt.scan(&doc.id, "4601234567890", Some(1000)), Err(Error::Barcode(_))));
}

#[test]
fn the_journal_is_append_only_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = {
        let rt = Runtime::open(&data).unwrap();
        let doc = rt.new_document("receiving").unwrap();
        rt.scan(&doc.id, "SOMETHING", None).unwrap();
        // Dropped without close(): the commit alone must have made it durable.
        doc.id
    };
    let rt = Runtime::open(&data).unwrap();
    assert_eq!(rt.document(&id).unwrap().scans.len(), 1);
    let conn = rusqlite::Connection::open(data.join("journal.db")).unwrap();
    let err = conn.execute("UPDATE journal SET qty = 5", []).unwrap_err();
    assert!(err.to_string().contains("append-only"));
    assert!(conn.execute("DELETE FROM journal", []).is_err());
}

/// GS1 pairing rules: a code that breaks them is taken with its warning by default
/// and refused by a document type that asks for strict GS1.
#[test]
fn strict_gs1_types_refuse_codes_that_break_the_pairing_rules() {
    let (_d, rt) = runtime();
    rt.set_config(r#"{"document_types":[{"id":"relaxed","allow_overscan":true},{"id":"strict","allow_overscan":true,"strict_gs1":true}]}"#)
        .unwrap();
    let broken = "(01)04601234567893(37)5";
    let relaxed = rt.new_document("relaxed").unwrap();
    let o = rt.scan(&relaxed.id, broken, None).unwrap();
    assert_eq!(o.status, ScanStatus::Accepted);
    assert_eq!(
        o.resolution.parsed.warnings,
        [
            "AI (01) may not appear with (37)",
            "AI (37) needs (00)+(02) or (00)+(8026) in the same code"
        ]
    );
    let strict = rt.new_document("strict").unwrap();
    let o = rt.scan(&strict.id, broken, None).unwrap();
    assert_eq!(o.status, ScanStatus::Refused(Violation::Gs1Rules));
    let fine = rt.scan(&strict.id, "(01)04601234567893(10)LOT-7", None).unwrap();
    assert_eq!(fine.status, ScanStatus::Accepted);
}

/// A weighed product's plain code asks for the weight (one "unit" would be a
/// kilogram nobody weighed); a scale's weight label for goods sold by the piece is
/// refused.
#[test]
fn weighed_and_piece_goods_are_told_apart() {
    let (dir, rt) = runtime();
    let piece_label_item = with_check("230045600000");
    let extra = dir.path().join("extra.csv");
    std::fs::write(&extra, format!("product_id,name,weighted,barcode\nP5,Пакет,0,{piece_label_item}\n")).unwrap();
    rt.import_catalog(&extra, Format::Csv, &mut |_| true).unwrap();
    let doc = rt.new_document("receiving").unwrap();
    // Cheese (weighed) by its catalog code: the weight is asked, nothing stored.
    let o = rt.scan(&doc.id, "2200123000002", None).unwrap();
    assert_eq!((o.status, o.seq), (ScanStatus::NeedQuantity, None));
    assert_eq!(rt.scan(&doc.id, "2200123000002", Some(750)).unwrap().qty, 750);
    // Its scale label carries the weight.
    assert_eq!(rt.scan(&doc.id, &with_check("220012301250"), None).unwrap().qty, 1250);
    // A weight label whose item code names piece goods.
    let o = rt.scan(&doc.id, &with_check("230045601250"), None).unwrap();
    assert_eq!(o.status, ScanStatus::Refused(Violation::WeightLabelForPiece));
    assert_eq!(rt.document(&doc.id).unwrap().lines.iter().map(|l| l.actual).sum::<i64>(), 2000);
}
