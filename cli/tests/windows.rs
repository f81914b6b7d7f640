//! The PC side on Windows: `tsd.exe` (x86_64-pc-windows-gnu, linked by mingw-w64)
//! run under Wine, on Windows paths with Cyrillic names, as the PC next to 1C runs
//! it. `scripts/windows.sh` builds it and readies the Wine prefix; this test runs
//! that script itself, so `cargo test` alone is enough (it needs root to install
//! mingw-w64 and Wine when they are missing, and fails saying so otherwise).
//!
//! What runs under Wine is the real program on the real files: the exchange
//! commands of the PC (`put-catalog`, `put-tasks`, `collect`), the terminal side
//! (`sync --folder`, `doc scan`, `doc complete`) and `exchange usb` finding the
//! `adb.exe` beside `tsd.exe` (a stand-in adb built for Windows: no device here).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// What `scripts/windows.sh` readied.
struct Windows {
    exe: PathBuf,
    prefix: PathBuf,
    tools: PathBuf,
}

fn windows() -> &'static Windows {
    static READY: OnceLock<Windows> = OnceLock::new();
    READY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/windows.sh");
        let out = Command::new("bash").arg(&script).output().expect("bash runs");
        assert!(
            out.status.success(),
            "scripts/windows.sh failed (it builds tsd.exe and readies Wine):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("scripts/windows.sh printed no {key}=: {text}"))
        };
        Windows {
            exe: get("exe"),
            prefix: get("prefix"),
            tools: get("tools"),
        }
    })
}

/// A folder on the prefix's drive C:, as (Linux path, Windows path).
fn drive_c(name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(windows().prefix.join("drive_c"))
        .unwrap();
    let win = format!("C:\\{}", dir.path().file_name().unwrap().to_str().unwrap());
    (dir, win)
}

/// `exe ARGS` under Wine; Windows sees UTF-8 arguments as the Unicode they are.
fn wine(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("wine");
    cmd.arg(exe)
        .args(args)
        .env("WINEPREFIX", &windows().prefix)
        .env("WINEDEBUG", "-all")
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("wine runs")
}

fn ok(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// 1C's usual export: Windows-1251, semicolons, CRLF, Russian headers.
const CATALOG_1251: &str =
    "Код;Наименование;Штрихкод;Единица\r\nP1;Молоко «Домик в деревне» 3,2%;4601234567893;шт\r\nP2;Сыр Российский;4607001234562;кг\r\n";

const TASK: &str = r#"{"id":"ЗАД-1","type":"picking","number":"ОТ-7","lines":[{"product":"P1","qty":2}]}"#;

#[test]
fn a_folder_round_trip_with_tsd_exe_on_windows_paths() {
    let w = windows();
    let (dir, c) = drive_c("tsd-обмен-");
    let exchange = format!("{c}\\Обмен с ТСД");
    let data = format!("{c}\\ТСД данные");
    let catalog = format!("{c}\\каталог 1С.csv");
    let tasks = format!("{c}\\задания.jsonl");
    let out = format!("{c}\\документы.jsonl");
    let key = format!("{c}\\ключ.txt");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(CATALOG_1251);
    std::fs::write(dir.path().join("каталог 1С.csv"), &bytes).unwrap();
    std::fs::write(dir.path().join("задания.jsonl"), format!("{TASK}\n")).unwrap();
    std::fs::write(dir.path().join("ключ.txt"), "общий секрет\n").unwrap();
    let tsd = |args: &[&str], what: &str| ok(&wine(&w.exe, args, &[]), what);

    // The PC: the catalog and a task into the folder, signed.
    let put = tsd(
        &[
            "--json",
            "exchange",
            "put-catalog",
            "--folder",
            &exchange,
            &catalog,
            "--key-file",
            &key,
        ],
        "put-catalog",
    );
    assert_eq!(put["signed"], true, "{put}");
    tsd(
        &["--json", "exchange", "put-tasks", "--folder", &exchange, &tasks, "--key-file", &key],
        "put-tasks",
    );
    let to_device: Vec<String> = std::fs::read_dir(dir.path().join("Обмен с ТСД").join("to-device"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(to_device.len(), 2, "the Cyrillic folder holds both packages: {to_device:?}");

    // The terminal side, also tsd.exe: take them, recognise a code, pick the task.
    let sync = tsd(
        &[
            "--json",
            "--db",
            &data,
            "sync",
            "--folder",
            &exchange,
            "--key-file",
            &key,
            "--require-signed",
        ],
        "first sync",
    );
    assert_eq!(sync["applied"].as_array().unwrap().len(), 2, "{sync}");
    let hit = tsd(&["--json", "--db", &data, "lookup", "4601234567893"], "lookup");
    assert_eq!(
        hit["product"]["name"], "Молоко «Домик в деревне» 3,2%",
        "read as Windows-1251: {hit}"
    );
    for _ in 0..2 {
        tsd(&["--json", "--db", &data, "doc", "scan", "ЗАД-1", "4601234567893"], "scan");
    }
    tsd(&["--json", "--db", &data, "doc", "complete", "ЗАД-1"], "complete");
    let pushed = wine(
        &w.exe,
        &["--json", "--db", &data, "sync", "--folder", &exchange, "--key-file", &key],
        &[],
    );
    assert_eq!(pushed.status.code(), Some(1), "waiting for the PC to collect");
    let pushed: Value = serde_json::from_slice(&pushed.stdout).unwrap();
    assert_eq!(pushed["pushed"][0], "ЗАД-1", "{pushed}");

    // The PC collects for 1C; the terminal then sees its document acknowledged.
    let collected = tsd(
        &[
            "--json",
            "exchange",
            "collect",
            "--folder",
            &exchange,
            "--out",
            &out,
            "--key-file",
            &key,
        ],
        "collect",
    );
    assert_eq!(collected["documents"][0], "ЗАД-1", "{collected}");
    let handed = std::fs::read_to_string(dir.path().join("документы.jsonl")).unwrap();
    let doc: Value = serde_json::from_str(handed.lines().next().unwrap()).unwrap();
    assert_eq!(
        (doc["id"].clone(), doc["lines"][0]["actual"].clone()),
        (Value::from("ЗАД-1"), Value::from(2)),
        "{doc}"
    );
    let done = tsd(
        &["--json", "--db", &data, "sync", "--folder", &exchange, "--key-file", &key],
        "last sync",
    );
    assert_eq!(
        (done["acknowledged"][0].clone(), done["waiting"].clone()),
        (Value::from("ЗАД-1"), Value::from(0)),
        "{done}"
    );
    // And the checks read the Windows folder: files, integrity, free space.
    let doctor = tsd(&["--json", "--db", &data, "doctor"], "doctor");
    let levels: Vec<&str> = doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["level"].as_str().unwrap())
        .collect();
    assert!(levels.iter().all(|l| *l == "ok"), "{doctor}");
    assert_eq!(levels.len(), 5, "data folder, two databases, free space, server: {doctor}");
}

#[test]
fn exchange_usb_finds_the_adb_exe_beside_tsd_exe() {
    let w = windows();
    let (dir, c) = drive_c("tsd-usb-");
    // platform-tools unpacked next to tsd.exe, as the README tells; nothing on PATH.
    let programs = dir.path().join("Программы");
    std::fs::create_dir(&programs).unwrap();
    std::fs::copy(&w.exe, programs.join("tsd.exe")).unwrap();
    std::fs::copy(w.tools.join("adb.exe"), programs.join("adb.exe")).unwrap();
    std::fs::create_dir(dir.path().join("устройство")).unwrap();
    let exchange = format!("{c}\\Обмен");
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "product_id,name,barcode\nP1,Чай,4601234567893\n").unwrap();
    let exe = programs.join("tsd.exe");
    ok(
        &wine(
            &exe,
            &["--json", "exchange", "put-catalog", "--folder", &exchange, &format!("{c}\\c.csv")],
            &[],
        ),
        "put-catalog",
    );
    let device_root = format!("{c}\\устройство");
    let run = wine(
        &exe,
        &[
            "--json",
            "exchange",
            "usb",
            "--serial",
            "TSD-1",
            "--folder",
            &exchange,
            "--remote",
            "/sdcard/exchange",
        ],
        &[("FAKE_DEVICE_ROOT", &device_root)],
    );
    let report = ok(&run, "exchange usb");
    assert_eq!(report["pushed"].as_array().unwrap().len(), 1, "{report}");
    let on_device: Vec<String> = std::fs::read_dir(dir.path().join("устройство/sdcard/exchange/to-device"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        on_device.iter().any(|n| n.ends_with(".tsdpkg")),
        "the package reached the device: {on_device:?}"
    );

    // Without it beside and not on PATH: the error says where adb is looked for.
    std::fs::remove_file(programs.join("adb.exe")).unwrap();
    let missing = wine(&exe, &["exchange", "usb", "--serial", "TSD-1", "--folder", &exchange], &[]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("beside tsd"), "{err}");
}
