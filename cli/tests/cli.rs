//! The `tsd` command's contract: JSON shapes, exit statuses, stdin modes. These
//! run the real binary against real SQLite files in a temporary folder.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tsd(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsd"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The finding of `tsd doctor --json` for one check.
fn finding<'r>(report: &'r Value, check: &str) -> &'r Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {report}"))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(ok(out).trim()).unwrap()
}

const CATALOG: &str = "product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode
P1,A-1,Молоко 3.2%,шт,0,0,,,,4601234567893
P1,A-1,Молоко 3.2%,шт,0,0,box,Коробка 12 шт,12,14601234567890
P2,A-2,Сыр Российский,кг,1,0,,,,2200123000002
";

fn with_catalog() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data");
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, CATALOG).unwrap();
    let report = json(&tsd(&db, &["--json", "import", csv.to_str().unwrap()], None));
    assert_eq!(report["products"]["added"], 2);
    (dir, db)
}

#[test]
fn barcode_parse_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none");
    let v = json(&tsd(
        &db,
        &["--json", "barcode", "parse", "]C10104601234567893\u{1D}10LOT\u{1D}3103001250"],
        None,
    ));
    assert_eq!(v["ok"], true);
    assert_eq!(v["kind"], "gs1");
    assert_eq!(v["gtin"], "04601234567893");
    assert_eq!(v["ais"][1], serde_json::json!({"ai": "10", "value": "LOT"}));
    assert_eq!(v["weight_grams"], 1250);
    assert_eq!(v["serial"], Value::Null);
    assert_eq!(v["error"], Value::Null);
    for key in ["input", "ok", "kind", "gtin", "ais", "serial", "weight_grams", "error"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert!(!db.exists(), "parsing needs no data folder");

    let bad = tsd(&db, &["--json", "barcode", "parse", "4601234567890"], None);
    assert_eq!(bad.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["error"]["code"].clone()),
        (Value::Bool(false), Value::from("bad_check_digit"))
    );

    let lines = ok(&tsd(
        &db,
        &["barcode", "parse", "--stdin"],
        Some("4601234567893\n46009333\n04252614\n0104601234567893215Ab7Xz9Qw2Lk9\u{1D}93Ab1z\n2200123012500\nхлам\n4601234567890\n"),
    ));
    let kinds: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| v["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        ["ean13", "ean8", "upce", "marking", "weight", "unknown", "null"].map(|k| if k == "null" { Value::Null } else { Value::from(k) })
    );
}

#[test]
fn lookup_search_and_stdin() {
    let (_d, db) = with_catalog();
    let v = json(&tsd(&db, &["--json", "lookup", "14601234567890"], None));
    assert_eq!(
        (v["found"].clone(), v["product"]["id"].clone(), v["quantity"].clone()),
        (Value::Bool(true), Value::from("P1"), Value::from(12))
    );
    let out = ok(&tsd(
        &db,
        &["lookup", "--stdin"],
        Some("4601234567893\n4600000000008\n2200123012500\n"),
    ));
    let v: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["found"], true);
    assert_eq!(v[1]["found"], false);
    assert_eq!(v[1]["gtin"], "04600000000008", "not found still shows what was parsed");
    assert_eq!(
        (v[2]["product"]["id"].clone(), v[2]["quantity"].clone()),
        (Value::from("P2"), Value::from(1.25))
    );
    let hits = json(&tsd(&db, &["--json", "search", "СЫР"], None));
    assert_eq!(hits[0]["id"], "P2");
}

#[test]
fn documents_end_to_end() {
    let (_d, db) = with_catalog();
    let doc = json(&tsd(&db, &["--json", "doc", "new", "receiving"], None));
    let id = doc["id"].as_str().unwrap().to_string();
    let out = tsd(
        &db,
        &["doc", "scan", &id, "--stdin"],
        Some("4601234567893\n14601234567890\nWHATEVER-1\n4601234567890\n4601234567893\n"),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rejected label makes the run exit 1, after the other scans"
    );
    let out = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5);
    let seqs: Vec<&str> = lines.iter().map(|l| l.split('\t').next().unwrap()).collect();
    assert!(seqs[..3].iter().chain(&seqs[4..]).all(|s| s.parse::<i64>().is_ok()), "{lines:?}");
    assert!(lines[3].starts_with("-\terror"), "a bad label is reported in line: {}", lines[3]);
    let one = json(&tsd(&db, &["--json", "doc", "scan", &id, "14601234567890", "--qty", "2"], None));
    assert_eq!(
        (one["status"].clone(), one["qty"].clone()),
        (Value::from("accepted"), Value::from(24))
    );
    assert!(one.as_object().unwrap().keys().next().unwrap() == "seq");
    json(&tsd(&db, &["--json", "doc", "undo", &id], None));
    let shown = json(&tsd(&db, &["--json", "doc", "show", &id], None));
    let scans = shown["scans"].as_array().unwrap();
    assert_eq!(scans.len(), 6);
    assert_eq!(scans[0]["raw"], "4601234567893");
    assert!(scans.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
    let p1 = shown["lines"].as_array().unwrap().iter().find(|l| l["product"] == "P1").unwrap();
    assert_eq!(p1["actual"], 14, "1 + 12 + 1; the two boxes were undone");
    json(&tsd(&db, &["--json", "doc", "complete", &id], None));
    let refused = tsd(&db, &["--json", "doc", "scan", &id, "4601234567893"], None);
    assert_eq!(refused.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert_eq!(err["error"]["code"], "document_completed");
    let list = json(&tsd(&db, &["--json", "doc", "list"], None));
    assert_eq!(list[0]["status"], "completed");

    let tasks = db.parent().unwrap().join("tasks.jsonl");
    std::fs::write(
        &tasks,
        "{\"id\":\"T1\",\"type\":\"picking\",\"lines\":[{\"product\":\"P1\",\"qty\":1}]}\n",
    )
    .unwrap();
    assert_eq!(
        json(&tsd(&db, &["--json", "doc", "import-tasks", tasks.to_str().unwrap()], None))["added"],
        1
    );
    let over = ok(&tsd(&db, &["doc", "scan", "T1", "--stdin"], Some("4601234567893\n4601234567893\n")));
    assert!(over.lines().nth(1).unwrap().contains("refused: more than planned"), "{over}");
}

#[test]
fn errors_name_the_file_and_line_and_exit_non_zero() {
    let (d, db) = with_catalog();
    let bad = d.path().join("bad.csv");
    std::fs::write(&bad, "product_id,name,barcode\nP9,Новый,4601234567008\nP10,Другой,123456789013\n").unwrap();
    let out = tsd(&db, &["import", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("line 3") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(json(&tsd(&db, &["--json", "stats"], None))["products"], 2);
    let out = tsd(&db, &["doc", "show", "nope"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("document nope not found"));
    let newer = tempfile::tempdir().unwrap();
    std::fs::write(
        newer.path().join("journal.db"),
        b"not a database at all, but long enough to have a header...................",
    )
    .unwrap();
    let out = tsd(newer.path(), &["doc", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("left as it is"));
}

#[test]
fn generator_and_demo_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let v = json(&tsd(
        &dir.path().join("db"),
        &["--json", "dev", "gen-catalog", "--products", "300", "--out", out.to_str().unwrap()],
        None,
    ));
    assert_eq!(v["products"], 300);
    let codes = std::fs::read_to_string(out.join("barcodes.txt")).unwrap();
    assert_eq!(codes.lines().count() as u64, v["barcode_count"].as_u64().unwrap());
    let demo = ok(&tsd(&dir.path().join("demo"), &["demo"], None));
    for needle in [
        "EAN-8",
        "UPC-E",
        "ITF-14",
        "GS1-128",
        "marking code",
        "tobacco",
        "weight",
        "refused",
        "undo",
        "completed",
        "each exactly once: true",
        "the next sync applied v1",
        "Сок яблочный 1 л (from the server), again: from the cache",
        "status sent; ZPL received",
        "^FD129.90^FS",
        "found false, server unreachable",
        "acknowledged [\"",
    ] {
        assert!(demo.contains(needle), "demo output lacks {needle}:\n{demo}");
    }
}

/// `tsd sync --server`: a JSON report, exit 0 when everything went; exit 1 and a
/// typed error when the server is gone and documents wait.
#[test]
fn sync_with_a_server_reports_and_exits_non_zero_while_anything_waits() {
    let (dir, db) = with_catalog();
    let server_dir = dir.path().join("server");
    let csv = dir.path().join("c.csv");
    let server = tsd_server::Server::open(&server_dir).unwrap();
    server.publish_catalog(&csv, tsd_core::catalog::Format::Csv).unwrap();
    let token = server.add_device("t1").unwrap();
    let bg = tsd_server::run::Background::start(server, "127.0.0.1:0", None).unwrap();
    let doc = json(&tsd(&db, &["--json", "doc", "new", "receiving"], None))["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&tsd(&db, &["doc", "scan", &doc, "4601234567893"], None));
    ok(&tsd(&db, &["doc", "complete", &doc], None));
    let v = json(&tsd(&db, &["--json", "sync", "--server", &bg.url, "--token", &token], None));
    assert_eq!(v["report"]["pushed"][0], doc.as_str());
    assert_eq!(v["report"]["catalog_version"], 1);
    assert_eq!(v["status"]["synced"], true);
    let url = bg.url.clone();
    bg.stop();

    let doc2 = json(&tsd(&db, &["--json", "doc", "new", "receiving"], None))["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&tsd(&db, &["doc", "complete", &doc2], None));
    let out = tsd(&db, &["--json", "sync", "--server", &url, "--token", &token], None);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim()).unwrap();
    assert_eq!(err["error"]["code"], "network", "{err}");
    let out = tsd(&db, &["sync", "--server", &url], None);
    assert!(!out.status.success(), "a token is required");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let (_d, db) = with_catalog();
    for args in [&["lookup", "--stdin"][..], &["barcode", "parse", "--stdin"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tsd"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        drop(child.stdout.take()); // the reader goes away, like `| head -0`
        let feeder = std::thread::spawn(move || {
            for _ in 0..20_000 {
                if stdin.write_all(b"4601234567893\n").is_err() {
                    break;
                }
            }
        });
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !err.contains("panicked"),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}

#[test]
fn exchange_folder_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (ex, db, csv, key) = (
        dir.path().join("ex"),
        dir.path().join("tsd"),
        dir.path().join("c.csv"),
        dir.path().join("key"),
    );
    std::fs::write(&csv, CATALOG).unwrap();
    std::fs::write(&key, "shared secret\n").unwrap();
    let (ex_s, csv_s, key_s) = (ex.to_str().unwrap(), csv.to_str().unwrap(), key.to_str().unwrap());
    let put = json(&tsd(
        &db,
        &["--json", "exchange", "put-catalog", "--folder", ex_s, csv_s, "--key-file", key_s],
        None,
    ));
    assert_eq!(
        (put["records"].clone(), put["signed"].clone()),
        (Value::from(1), Value::Bool(true)),
        "one column block"
    );
    let sync = json(&tsd(
        &db,
        &["--json", "sync", "--folder", ex_s, "--key-file", key_s, "--require-signed"],
        None,
    ));
    assert_eq!(sync["applied"].as_array().unwrap().len(), 1);
    assert_eq!(json(&tsd(&db, &["--json", "lookup", "4601234567893"], None))["product"]["id"], "P1");

    let doc = json(&tsd(&db, &["--json", "doc", "new", "receiving"], None));
    let id = doc["id"].as_str().unwrap();
    ok(&tsd(&db, &["doc", "scan", id, "14601234567890"], None));
    ok(&tsd(&db, &["doc", "complete", id], None));
    let waiting = tsd(&db, &["--json", "sync", "--folder", ex_s, "--key-file", key_s], None);
    assert_eq!(waiting.status.code(), Some(1), "non-zero while a document is unacknowledged");
    let report: Value = serde_json::from_slice(&waiting.stdout).unwrap();
    assert_eq!(
        (report["pushed"][0].clone(), report["waiting"].clone()),
        (Value::from(id), Value::from(1))
    );

    let out = dir.path().join("docs.jsonl");
    let collected = json(&tsd(
        &db,
        &[
            "--json",
            "exchange",
            "collect",
            "--folder",
            ex_s,
            "--out",
            out.to_str().unwrap(),
            "--key-file",
            key_s,
        ],
        None,
    ));
    assert_eq!(collected["documents"][0], id);
    let line: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(line["lines"][0]["actual"], 12);
    let done = json(&tsd(&db, &["--json", "sync", "--folder", ex_s, "--key-file", key_s], None));
    assert_eq!(
        (done["acknowledged"][0].clone(), done["waiting"].clone()),
        (Value::from(id), Value::from(0))
    );
}

/// The PC side as the person next to 1C runs it: a second `collect` before the
/// accounting system took the first hand-off file refuses, overwrites nothing and
/// acknowledges nothing; `tsd barcode parse` says which readings it tried.
#[test]
fn collect_never_overwrites_a_hand_off_file_and_parse_lists_readings() {
    let (dir, db) = with_catalog();
    let folder = dir.path().join("exchange");
    let (f, out) = (folder.to_str().unwrap(), dir.path().join("out.jsonl"));
    let o = out.to_str().unwrap();
    let complete_one = || {
        let doc = json(&tsd(&db, &["--json", "doc", "new", "receiving"], None));
        let id = doc["id"].as_str().unwrap().to_string();
        ok(&tsd(&db, &["doc", "scan", &id, "4601234567893"], None));
        ok(&tsd(&db, &["doc", "complete", &id], None));
        tsd(&db, &["sync", "--folder", f], None);
        id
    };
    let first = complete_one();
    ok(&tsd(&db, &["exchange", "collect", "--folder", f, "--out", o], None));
    let handed = std::fs::read_to_string(&out).unwrap();
    assert!(handed.contains(&first));
    let second = complete_one();
    let refused = tsd(&db, &["exchange", "collect", "--folder", f, "--out", o], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("still holds the last hand-off"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), handed, "not overwritten");
    std::fs::remove_file(&out).unwrap();
    ok(&tsd(&db, &["exchange", "collect", "--folder", f, "--out", o], None));
    assert!(std::fs::read_to_string(&out).unwrap().contains(&second));

    let parsed = json(&tsd(&db, &["--json", "barcode", "parse", "04124498"], None));
    assert_eq!(parsed["kind"], "upce");
    assert_eq!(parsed["readings"], serde_json::json!(["upce", "ean8"]));
}

/// What the person with an Excel export sees: the encoding read, unknown columns
/// as warnings (refused with --strict), --columns for the rest; a CommerceML file
/// of changes only is refused as an exchange-folder snapshot (it would delete the
/// rest of the catalog on the terminals).
#[test]
fn imports_say_what_they_read_and_what_they_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = dir.path().join("excel.csv");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("Код;Наименование;Штрихкод;Остаток\r\nP1;Сыр;4601234567893;5\r\n");
    std::fs::write(&csv, &bytes).unwrap();
    let report = json(&tsd(&db, &["--json", "import", csv.to_str().unwrap()], None));
    assert_eq!(report["encoding"], "windows-1251");
    assert!(report["warnings"][0].as_str().unwrap().contains("«Остаток»"), "{report}");
    let text = ok(&tsd(&db, &["import", csv.to_str().unwrap()], None));
    assert!(text.contains("warning: column 4 «Остаток»"), "{text}");
    let strict = tsd(&db, &["import", "--strict", csv.to_str().unwrap()], None);
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("excel.csv: line 1:"));
    let mapped = tsd(
        &db,
        &[
            "--json",
            "import",
            "--columns",
            "barcode=Штрихкод,code=Остаток",
            "--encoding",
            "cp1251",
            csv.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(json(&mapped)["warnings"].as_array().unwrap().len(), 0);
    let offers = dir.path().join("offers.xml");
    std::fs::write(&offers, include_str!("../../core/tests/data/cml/offers0_1.xml")).unwrap();
    let folder = dir.path().join("exchange");
    let out = tsd(
        &db,
        &[
            "exchange",
            "put-catalog",
            "--folder",
            folder.to_str().unwrap(),
            offers.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("changes only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Errors with a known fix end with it: data from a newer build says to update the
/// app (and `doctor` says the same about the file), a file that is not UTF-8 names
/// the encodings accepted.
#[test]
fn errors_end_with_what_to_do() {
    let (dir, db) = with_catalog();
    // As a newer app would leave journal.db: a schema version this build does not know.
    let journal = rusqlite::Connection::open(db.join("journal.db")).unwrap();
    journal.pragma_update(None, "user_version", 99).unwrap();
    drop(journal);
    let out = tsd(&db, &["doc", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema version 99 is newer"), "{err}");
    assert!(err.contains("what to do: update the app"), "{err}");
    let out = tsd(&db, &["--json", "doc", "list"], None);
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "schema_too_new");
    assert!(err["error"]["next_step"].as_str().unwrap().starts_with("update the app"), "{err}");
    let doctor = tsd(&db, &["--json", "doctor"], None);
    assert_eq!(doctor.status.code(), Some(1), "doctor fails on it");
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let journal = finding(&report, "journal.db");
    assert_eq!(journal["level"], "fail", "{report}");
    assert!(journal["fix"].as_str().unwrap().contains("update tsd"), "{report}");

    // Windows-1251 bytes read as UTF-8.
    let csv = dir.path().join("cp1251.csv");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("product_id,name,barcode\nP9,Сыр,4601234567893\n");
    std::fs::write(&csv, &bytes).unwrap();
    let fresh = dir.path().join("fresh");
    let out = tsd(&fresh, &["import", csv.to_str().unwrap(), "--encoding", "utf-8"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(err.contains("what to do:") && err.contains("--encoding windows-1251"), "{err}");
}

/// `tsd doctor` on a healthy folder with a kept server: every check passes, and it
/// says how far the clock is from the server's.
#[test]
fn doctor_checks_the_folder_and_the_kept_server() {
    let (_dir, db) = with_catalog();
    let empty = tsd(&db, &["doctor"], None);
    let text = ok(&empty);
    for line in [
        "ok    catalog.db",
        "ok    journal.db",
        "ok    free space",
        "ok    server",
        "all checks passed",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    // A kept server that answers and knows the terminal.
    let server_dir = tempfile::tempdir().unwrap();
    let server = tsd_server::Server::open(server_dir.path()).unwrap();
    let token = server.add_device("ТСД-1").unwrap();
    let bg = tsd_server::run::Background::start(server, "127.0.0.1:0", None).unwrap();
    ok(&tsd(&db, &["server", "set", &bg.url, "--token", &token], None));
    let report = json(&tsd(&db, &["--json", "doctor"], None));
    let level = |report: &Value, check: &str| Some(finding(report, check)["level"].clone());
    assert_eq!(level(&report, "server"), Some(Value::from("ok")), "{report}");
    assert_eq!(level(&report, "token"), Some(Value::from("ok")), "{report}");
    assert_eq!(
        level(&report, "clock"),
        Some(Value::from("ok")),
        "same machine, same clock: {report}"
    );
    // A token the server does not know.
    ok(&tsd(&db, &["server", "set", &bg.url, "--token", "not-a-token"], None));
    let out = tsd(&db, &["--json", "doctor"], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(level(&report, "token"), Some(Value::from("fail")), "{report}");

    // Over HTTPS with a certificate 10 days from expiry (trusted through --ca):
    // verified, and the expiry is a warning for the server's admin.
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let today = tsd_server::now_ms() / 86_400_000;
    let date = |days: i64| {
        let (y, m, d) = tsd_core::calendar::civil_from_days(today + days);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    params.not_before = date(-1);
    params.not_after = date(10);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_pem, key_pem) = (server_dir.path().join("cert.pem"), server_dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let tls = tsd_server::run::TlsFiles {
        cert: cert_pem.clone(),
        key: key_pem,
    };
    let tls_server = tsd_server::Server::open(&server_dir.path().join("tls")).unwrap();
    let tls_token = tls_server.add_device("ТСД-2").unwrap();
    let tls_bg = tsd_server::run::Background::start(tls_server, "127.0.0.1:0", Some(tls)).unwrap();
    assert!(tls_bg.url.starts_with("https://"), "{}", tls_bg.url);
    ok(&tsd(
        &db,
        &[
            "server",
            "set",
            &tls_bg.url,
            "--token",
            &tls_token,
            "--ca",
            cert_pem.to_str().unwrap(),
        ],
        None,
    ));
    let report = json(&tsd(&db, &["--json", "doctor"], None));
    assert_eq!(level(&report, "server"), Some(Value::from("ok")), "{report}");
    assert_eq!(level(&report, "certificate"), Some(Value::from("warn")), "{report}");
    let cert_finding = finding(&report, "certificate");
    assert!(cert_finding["detail"].as_str().unwrap().contains("day(s) left"), "{report}");
    // The same server not trusted (no --ca): the certificate check fails and says why.
    ok(&tsd(&db, &["server", "set", &tls_bg.url, "--token", &tls_token], None));
    let out = tsd(&db, &["--json", "doctor"], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(level(&report, "server"), Some(Value::from("fail")), "{report}");

    // A kept server that does not answer: named, failed, with what to do.
    ok(&tsd(&db, &["server", "set", "http://127.0.0.1:9", "--token", "t"], None));
    let down = tsd(&db, &["--json", "doctor"], None);
    assert_eq!(down.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&down.stdout).unwrap();
    let server = finding(&report, "server");
    assert_eq!(server["level"], "fail", "{report}");
    assert!(server["detail"].as_str().unwrap().contains("127.0.0.1:9"), "{report}");
    assert!(server["fix"].as_str().unwrap().contains("network"), "{report}");
}

/// The help that ships: bash loads the completion script and completes a
/// subcommand from it; a manual page is written for every command.
#[test]
fn completions_load_in_bash_and_every_command_has_a_manual_page() {
    let script = format!(
        "source <('{}' completions bash) && complete -p tsd && COMP_WORDS=(tsd exch) COMP_CWORD=1; _tsd tsd exch tsd; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        env!("CARGO_BIN_EXE_tsd")
    );
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    let text = ok(&out);
    assert!(text.contains("-F _tsd tsd"), "{text}");
    assert!(
        text.lines().any(|l| l.trim() == "exchange"),
        "`tsd exch<TAB>` completes to exchange: {text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man1");
    let v = json(&tsd(&dir.path().join("db"), &["--json", "dev", "man", man.to_str().unwrap()], None));
    let pages = v["pages"].as_u64().unwrap();
    let files = std::fs::read_dir(&man).unwrap().count() as u64;
    assert_eq!(files, pages);
    let collect = std::fs::read_to_string(man.join("tsd-exchange-collect.1")).unwrap();
    assert!(collect.contains(".TH tsd-exchange-collect 1"), "{collect}");
    assert!(collect.contains("never overwritten") || collect.contains("\\-\\-out"), "{collect}");
    assert!(!dir.path().join("db").exists(), "writing manual pages opens no data folder");
}
