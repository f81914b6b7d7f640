//! The exchange folder end to end on real files: the PC side puts a catalog and
//! collects documents, the terminal syncs; every kind of bad file is refused with
//! its reason and leaves the databases as they were.

use std::path::{Path, PathBuf};
use tsd_core::catalog::Format;
use tsd_core::fsx::safe_name;
use tsd_core::sync::exchange::{self, collect, put_catalog};
use tsd_core::sync::folder;
use tsd_core::Runtime;

const KEY: &[u8] = b"warehouse-7 shared key";
const CATALOG: &str =
    "product_id,name,packaging_id,factor,barcode\nP1,Молоко,,,4601234567893\nP1,Молоко,box,12,14601234567890\nP2,Кефир,,,4601234567909\n";

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    rt: Runtime,
    csv: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("exchange");
    let rt = Runtime::open(&dir.path().join("terminal-1")).unwrap();
    let csv = dir.path().join("catalog.csv");
    std::fs::write(&csv, CATALOG).unwrap();
    Setup { root, rt, csv, _dir: dir }
}

fn to_device(root: &Path, name: &str) -> PathBuf {
    root.join(folder::TO_DEVICE).join(name)
}

#[test]
fn catalog_goes_in_documents_come_out_exactly_once() {
    let s = setup();
    let (name, header) = put_catalog(&s.root, &s.csv, Format::Csv, 1, Some(KEY)).unwrap();
    assert!(header.signed);
    let r = s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    assert_eq!(r.applied, std::slice::from_ref(&name));
    assert!(s.rt.resolve("14601234567890").unwrap().found(), "lookups see the applied catalog");
    assert!(s.root.join(folder::ARCHIVE).join(&name).exists());

    // A re-copied package changes nothing.
    std::fs::copy(s.root.join(folder::ARCHIVE).join(&name), to_device(&s.root, "again.tsdpkg")).unwrap();
    let before = s.rt.catalog_stats().unwrap();
    let r = s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    assert_eq!((r.applied.len(), r.skipped.clone()), (0, vec!["again.tsdpkg".to_string()]));
    assert_eq!(s.rt.catalog_stats().unwrap(), before);

    // A completed document waits until the PC side has collected it.
    let doc = s.rt.new_document("receiving").unwrap();
    s.rt.scan(&doc.id, "4601234567893", None).unwrap();
    s.rt.complete(&doc.id).unwrap();
    let r = s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    assert_eq!((r.pushed.clone(), r.waiting), (vec![doc.id.clone()], 1));
    let r = s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    assert!(r.pushed.is_empty(), "exported once");
    assert_eq!(r.waiting, 1, "never reported as sent before the acknowledgement");

    let out = s.root.parent().unwrap().join("collected.jsonl");
    let c = collect(&s.root, &out, Some(KEY), true).unwrap();
    assert_eq!(c.documents, std::slice::from_ref(&doc.id));
    let text = std::fs::read_to_string(&out).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["id"], doc.id.as_str());
    assert_eq!(line["scans"][0]["raw"], "4601234567893");
    assert!(
        collect(&s.root, &out, Some(KEY), true).unwrap().documents.is_empty(),
        "collected once"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        text,
        "an empty collect leaves the hand-off file alone"
    );

    // Another document while the accounting system has not taken the file yet:
    // refused, nothing overwritten or acknowledged; collected once the file is gone.
    let second = s.rt.new_document("receiving").unwrap();
    s.rt.scan(&second.id, "4601234567909", None).unwrap();
    s.rt.complete(&second.id).unwrap();
    s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    let err = collect(&s.root, &out, Some(KEY), true).unwrap_err();
    assert!(err.to_string().contains("still holds the last hand-off"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text, "not overwritten");
    assert!(!s.root.join(folder::TO_DEVICE).join(folder::ack_name(&second.id)).exists());
    std::fs::rename(&out, s.root.parent().unwrap().join("imported-by-1c.jsonl")).unwrap();
    assert_eq!(
        collect(&s.root, &out, Some(KEY), true).unwrap().documents,
        std::slice::from_ref(&second.id)
    );

    let r = s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    assert_eq!(
        (r.acknowledged.clone(), r.waiting),
        (vec![second.id.clone()], 0),
        "the first ack came with the sync above"
    );
    assert!(s.rt.outbox().unwrap().is_empty());
}

#[test]
fn bad_files_are_refused_with_their_reason_and_change_nothing() {
    let s = setup();
    let (good, _) = put_catalog(&s.root, &s.csv, Format::Csv, 1, Some(KEY)).unwrap();
    let bytes = std::fs::read(to_device(&s.root, &good)).unwrap();
    std::fs::remove_file(to_device(&s.root, &good)).unwrap();

    let mut flipped = bytes.clone();
    let mid = bytes.len() / 2;
    flipped[mid] ^= 0x10;
    let mut future = bytes.clone();
    future[8] = 9;
    std::fs::write(to_device(&s.root, "a-truncated.tsdpkg"), &bytes[..bytes.len() - 100]).unwrap();
    std::fs::write(to_device(&s.root, "b-flipped.tsdpkg"), &flipped).unwrap();
    std::fs::write(to_device(&s.root, "c-foreign.tsdpkg"), "ИНН;КПП;Наименование\n").unwrap();
    std::fs::write(to_device(&s.root, "d-future.tsdpkg"), &future).unwrap();
    std::fs::write(to_device(&s.root, "e readme.txt"), "hello").unwrap();
    std::fs::write(to_device(&s.root, "f-notes.txt"), "hello").unwrap();
    std::fs::write(to_device(&s.root, "g-half.tsdpkg.part"), &bytes[..10]).unwrap();
    let unsigned_csv = s.csv.clone();
    let (unsigned, _) = put_catalog(&s.root, &unsigned_csv, Format::Csv, 1, None).unwrap();
    let journal_before = std::fs::read(s.rt.dir().join("journal.db")).unwrap();

    let r = s.rt.sync_folder(&s.root, Some(KEY), true).unwrap();
    let codes: Vec<(&str, &str)> = r.rejected.iter().map(|x| (x.file.as_str(), x.code.as_str())).collect();
    assert_eq!(
        codes,
        [
            ("a-truncated.tsdpkg", "truncated"),
            ("b-flipped.tsdpkg", "bad_checksum"),
            ("c-foreign.tsdpkg", "foreign"),
            (unsigned.as_str(), "unsigned"),
            ("d-future.tsdpkg", "too_new"),
            ("e readme.txt", "bad_name"),
            ("f-notes.txt", "not_a_package"),
        ]
    );
    assert!(r.applied.is_empty());
    assert_eq!(s.rt.catalog_stats().unwrap(), Default::default(), "the catalog is unchanged");
    assert_eq!(std::fs::read(s.rt.dir().join("journal.db")).unwrap(), journal_before);
    for x in &r.rejected {
        let reason = std::fs::read_to_string(s.root.join(folder::REJECTED).join(format!("{}.reason.txt", x.file))).unwrap();
        assert!(reason.starts_with(&x.code), "{reason}");
    }
    assert!(to_device(&s.root, "g-half.tsdpkg.part").exists(), ".part files are left alone");
    // A key other than the PC side's is a bad signature.
    std::fs::write(to_device(&s.root, "h-good.tsdpkg"), &bytes).unwrap();
    let r = s.rt.sync_folder(&s.root, Some(b"another key"), true).unwrap();
    assert_eq!(r.rejected[0].code, "bad_signature");
}

#[test]
fn names_outside_the_safe_set_are_refused() {
    for bad in [
        "../catalog.tsdpkg",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "C:x",
        "ведомость.tsdpkg",
        "",
        "a b",
    ] {
        assert!(safe_name(bad).is_err(), "{bad:?}");
    }
    for good in ["catalog-001.tsdpkg", "doc-0f3a.ack", "A_b.c-d"] {
        assert!(safe_name(good).is_ok(), "{good}");
    }
    assert_eq!(
        folder::document_package_name("3b0c6f5e-1c1e-4a8e-9d61-1b4d9f0d8a11"),
        "doc-3b0c6f5e-1c1e-4a8e-9d61-1b4d9f0d8a11.tsdpkg"
    );
    let task = folder::document_package_name("ЗК-000123/2026");
    assert!(safe_name(&task).is_ok(), "{task}");
}

#[test]
fn task_documents_arrive_once_and_bad_ones_are_refused() {
    let s = setup();
    let tasks = s.root.parent().unwrap().join("tasks.jsonl");
    std::fs::write(
        &tasks,
        "{\"id\":\"ЗК-000123/2026\",\"type\":\"picking\",\"number\":\"ОТ-7\",\"lines\":[{\"product\":\"P1\",\"qty\":2}]}\n",
    )
    .unwrap();
    let (name, header) = exchange::put_tasks(&s.root, &tasks, None).unwrap();
    assert_eq!(header.records, 1);
    let r = s.rt.sync_folder(&s.root, None, false).unwrap();
    assert_eq!(r.applied, std::slice::from_ref(&name));
    let doc = s.rt.document("ЗК-000123/2026").unwrap();
    assert_eq!(doc.lines[0].planned, Some(2000));
    std::fs::copy(s.root.join(folder::ARCHIVE).join(&name), to_device(&s.root, "tasks-again.tsdpkg")).unwrap();
    let r = s.rt.sync_folder(&s.root, None, false).unwrap();
    assert_eq!(r.skipped, ["tasks-again.tsdpkg"]);
    assert_eq!(s.rt.documents().unwrap().len(), 1);

    // A task of a type the terminal does not know is set aside with the reason
    // (see the next test), not a refused package.
    std::fs::write(&tasks, "{\"id\":\"T-9\",\"type\":\"shipping\",\"lines\":[]}\n").unwrap();
    exchange::put_tasks(&s.root, &tasks, None).unwrap();
    let r = s.rt.sync_folder(&s.root, None, false).unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let aside = s.rt.sync_status().unwrap().set_aside_tasks;
    assert!(aside[0].id == "T-9" && aside[0].reason.contains("shipping"), "{aside:?}");
    assert_eq!(s.rt.documents().unwrap().len(), 1);
    std::fs::write(&tasks, "{\"id\":\"\",\"type\":\"picking\"}\n").unwrap();
    assert!(matches!(
        exchange::put_tasks(&s.root, &tasks, None),
        Err(tsd_core::Error::Import { line: 1, .. })
    ));
}

/// Catalog versions never go back: an older snapshot arriving after a newer one
/// (two paths, or a stale copy) is skipped and changes nothing; the terminal's
/// state for the PC side says which version it holds.
#[test]
fn an_older_catalog_package_is_skipped_not_applied() {
    let s = setup();
    let dir = s.csv.parent().unwrap().to_path_buf();
    let newer = dir.join("newer.csv");
    std::fs::write(&newer, CATALOG.replace("Кефир", "Кефир 2.5%")).unwrap();
    put_catalog(&s.root, &newer, Format::Csv, 5, None).unwrap();
    s.rt.sync_folder(&s.root, None, false).unwrap();
    let (old, _) = put_catalog(&s.root, &s.csv, Format::Csv, 3, None).unwrap();
    let r = s.rt.sync_folder(&s.root, None, false).unwrap();
    assert_eq!(r.skipped, vec![old]);
    assert!(r.applied.is_empty() && r.rejected.is_empty(), "{r:?}");
    assert_eq!(s.rt.lookup_barcode("4601234567909").unwrap().unwrap().product.name, "Кефир 2.5%");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.root.join("from-device").join(folder::STATUS)).unwrap()).unwrap();
    assert_eq!(state["catalog_version"], 5);
    assert_eq!(state["device"], "terminal-1");
}

/// A task the terminal cannot take does not refuse its package or stall the sync:
/// it is set aside with its reason in the sync status, and taken once a newer
/// configuration (applied first) defines its type.
#[test]
fn a_task_the_terminal_cannot_take_is_set_aside_until_its_configuration_comes() {
    let s = setup();
    put_catalog(&s.root, &s.csv, Format::Csv, 1, None).unwrap();
    let tasks = s.root.parent().unwrap().join("tasks.jsonl");
    std::fs::write(
        &tasks,
        "{\"id\":\"A-1\",\"type\":\"audit\",\"lines\":[{\"product\":\"P1\",\"qty\":1}]}\n\
         {\"id\":\"P-1\",\"type\":\"picking\",\"lines\":[{\"product\":\"P1\",\"packaging\":\"box\",\"qty\":2}]}\n\
         {\"id\":\"P-2\",\"type\":\"picking\",\"lines\":[{\"product\":\"P2\",\"packaging\":\"crate\",\"qty\":1}]}\n",
    )
    .unwrap();
    exchange::put_tasks(&s.root, &tasks, None).unwrap();
    let r = s.rt.sync_folder(&s.root, None, false).unwrap();
    assert!(r.rejected.is_empty(), "the package is not refused: {:?}", r.rejected);
    let ids: Vec<String> = s.rt.documents().unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["P-1"]);
    assert_eq!(s.rt.document("P-1").unwrap().lines[0].planned, Some(24_000), "2 boxes of 12");
    let status = s.rt.sync_status().unwrap();
    let why: Vec<(&str, &str)> = status.set_aside_tasks.iter().map(|t| (t.id.as_str(), t.reason.as_str())).collect();
    assert_eq!(why.len(), 2, "{why:?}");
    assert!(
        why[0].0 == "A-1" && why[0].1.contains("\"audit\" is not in this terminal's configuration"),
        "{why:?}"
    );
    assert!(why[1].0 == "P-2" && why[1].1.contains("packaging \"crate\""), "{why:?}");

    // The configuration that defines "audit" arrives; the next sync takes A-1.
    let config = s.root.parent().unwrap().join("config.json");
    std::fs::write(&config, r#"{"document_types":[{"id":"picking"},{"id":"audit"}]}"#).unwrap();
    exchange::put_config(&s.root, &config, 2, None).unwrap();
    s.rt.sync_folder(&s.root, None, false).unwrap();
    let mut ids: Vec<String> = s.rt.documents().unwrap().into_iter().map(|d| d.id).collect();
    ids.sort();
    assert_eq!(ids, ["A-1", "P-1"]);
    let left = s.rt.sync_status().unwrap().set_aside_tasks;
    assert_eq!(left.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["P-2"]);
}

/// A delta between two exports as 1C writes them (Windows-1251, Russian headers)
/// applies on the terminal; a CommerceML export of changes only is refused for a
/// delta or a snapshot (it would delete everything it does not name).
#[test]
fn deltas_from_exports_as_1c_writes_them() {
    let s = setup();
    put_catalog(&s.root, &s.csv, Format::Csv, 1, None).unwrap();
    s.rt.sync_folder(&s.root, None, false).unwrap();
    let (new, _, _) = encoding_rs::WINDOWS_1251.encode(
        "Код;Наименование;Упаковка;Коэффициент;Штрихкод\r\nP1;Молоко 3,2%;;;4601234567893\r\nP1;Молоко 3,2%;box;12;14601234567890\r\nP3;Ряженка;;;4600000000008\r\n",
    );
    let new_path = s.root.parent().unwrap().join("new.csv");
    std::fs::write(&new_path, &new).unwrap();
    let (_, header) = exchange::put_delta(&s.root, &s.csv, &new_path, Format::Csv, 1, 2, None).unwrap();
    assert!(header.records > 0);
    let report = s.rt.sync_folder(&s.root, None, false).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(s.rt.resolve("4601234567893").unwrap().hit().unwrap().product.name, "Молоко 3,2%");
    assert!(s.rt.resolve("4600000000008").unwrap().found());
    assert!(!s.rt.resolve("4601234567909").unwrap().found(), "P2 left the catalog");
    let changes = s.root.parent().unwrap().join("offers.xml");
    std::fs::write(&changes, include_str!("data/cml/offers0_1.xml")).unwrap();
    for result in [
        exchange::put_delta(&s.root, &changes, &changes, Format::CommerceMl, 2, 3, None).map(|_| ()),
        exchange::put_catalog_with(&s.root, &changes, Format::CommerceMl, &Default::default(), 3, None).map(|_| ()),
    ] {
        assert!(result.unwrap_err().to_string().contains("changes only"));
    }
}
