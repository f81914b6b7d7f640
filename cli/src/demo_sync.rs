//! The sync half of `tsd demo`: both offline modes end to end on loopback.
//! With a server: catalog published, terminal syncs, scans offline, server
//! stopped, scans go on, server back, the due sync delivers every document once.
//! Then the server-mode extras: a configuration update published on the server and
//! applied by the next sync, and goods the terminal never downloaded found online
//! (HYDB), then "server unreachable" once it is gone.
//! Without a server: the same packages through an exchange folder.

use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tsd_core::catalog::Format;
use tsd_core::sync::exchange;
use tsd_core::sync::{Backoff, ServerSettings};
use tsd_core::{Error, Runtime};
use tsd_server::run::Background;
use tsd_server::Server;

fn server_error(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("demo server: {e}"))
}

fn scan_some(rt: &Runtime, codes: &[String]) -> Result<String, Error> {
    let doc = rt.new_document("receiving")?;
    for c in codes {
        rt.scan(&doc.id, c, None)?;
    }
    rt.complete(&doc.id)?;
    Ok(doc.id)
}

/// Codes of goods the accounting system adds after the terminal's last sync.
const NEW_CODES: [&str; 2] = ["4820000000017", "4820000000024"];

/// A configuration update, then goods the terminal has never downloaded found online.
fn server_mode_extras(
    dir: &Path,
    catalog: &Path,
    server: &Server,
    rt: &Runtime,
    settings: &ServerSettings,
    say: &dyn Fn(String),
    step: &dyn Fn(&str, serde_json::Value),
) -> Result<(), Error> {
    let config = r#"{"schema": 1,
        "document_types": [
            {"id": "receiving", "name": "Приёмка", "prefix": "ПР", "allow_overscan": true, "allow_unknown": true},
            {"id": "returns", "name": "Возврат", "prefix": "ВЗ"}],
        "catalogs": {"products": "device_then_server"},
        "online_lookup": {"timeout_ms": 1500, "cache_ttl_s": 3600}}"#;
    let (version, _) = server.publish_config(config).map_err(server_error)?;
    let r = rt.sync_server(settings, &mut |_| {})?;
    step("config_update", json!({"published": version, "applied": r.config_applied}));
    say(format!(
        "\n   configuration v{version} published on the server; the next sync applied {}: new type «{}», products looked up online on a miss",
        r.config_applied.map_or("nothing".to_string(), |v| format!("v{v}")),
        rt.config().doc_type("returns")?.name
    ));
    let mut text = std::fs::read_to_string(catalog).map_err(|source| Error::Io {
        path: catalog.to_path_buf(),
        source,
    })?;
    let mut publish = |name: &str, line: String| -> Result<i64, Error> {
        text += &line;
        let file = dir.join(name);
        std::fs::write(&file, &text).map_err(|source| Error::Io {
            path: file.clone(),
            source,
        })?;
        Ok(server.publish_catalog(&file, Format::Csv).map_err(server_error)?.version)
    };
    let v2 = publish("catalog-v2.csv", format!("N1,B-1,Сок яблочный 1 л,шт,0,0,,,,{}\n", NEW_CODES[0]))?;
    rt.set_server(Some(settings))?;
    let online = rt.resolve(NEW_CODES[0])?;
    let cached = rt.resolve(NEW_CODES[0])?;
    step("online_lookup", tsd_core::json::lookup_json(NEW_CODES[0], &Ok(online.clone())));
    say(format!(
        "   catalog v{v2} adds apple juice; without a sync the terminal scans {}: {} (from the {}), again: from the {}",
        NEW_CODES[0],
        online.hit().map_or("not found", |h| h.product.name.as_str()),
        online.source.as_str(),
        cached.source.as_str()
    ));
    print_label(server, rt, settings, NEW_CODES[0], say, step)?;
    let v3 = publish("catalog-v3.csv", format!("N2,B-2,Сок томатный 1 л,шт,0,0,,,,{}\n", NEW_CODES[1]))?;
    say(format!("   catalog v{v3} adds tomato juice ({}), not yet synced", NEW_CODES[1]));
    Ok(())
}

/// What the demo's printer received.
type Received = Arc<Mutex<Vec<u8>>>;

/// A label printer's raw port on loopback for the demo: keeps the bytes, answers
/// `~HS` (host status) the way a ZPL printer does.
fn capture_printer() -> Result<(String, Received), Error> {
    let io = |source| Error::Io {
        path: "127.0.0.1:0".into(),
        source,
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?.to_string();
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let kept = bytes.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                let mut all = kept.lock().unwrap_or_else(|p| p.into_inner());
                all.extend_from_slice(&buf[..n]);
                if all.ends_with(b"~HS") {
                    let _ = conn.write_all(b"\x02030,0,0\x03\r\n\x02000,0,0\x03\r\n\x021234,0\x03\r\n");
                }
            }
        }
    });
    Ok((addr, bytes))
}

/// A price label printed through the server: queued on the terminal, sent with a
/// sync, rendered and printed by the server, its status back with the next sync.
fn print_label(
    server: &Server,
    rt: &Runtime,
    settings: &ServerSettings,
    code: &str,
    say: &dyn Fn(String),
    step: &dyn Fn(&str, serde_json::Value),
) -> Result<(), Error> {
    let (addr, printed) = capture_printer()?;
    server.add_printer("zebra-1", &addr).map_err(server_error)?;
    let job = rt.print_label("zebra-1", code, 2, Some("129.90"))?;
    rt.sync_server(settings, &mut |_| {})?;
    let started = Instant::now();
    while !String::from_utf8_lossy(&printed.lock().unwrap_or_else(|p| p.into_inner())).ends_with("^XZ~HS") {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(server_error("the label did not reach the printer in 20 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100)); // the server records "sent"
    rt.sync_server(settings, &mut |_| {})?;
    let status = rt.print_jobs()?.into_iter().find(|(j, _)| j.id == job.id).map(|(_, s)| s);
    let zpl = String::from_utf8_lossy(&printed.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    step("print", json!({"job": job, "status": status, "zpl": zpl}));
    say(format!(
        "   label for «{}» ×2 printed through the server on zebra-1 ({addr}): status {}; ZPL received:",
        job.fields.get("name").map_or("", String::as_str),
        status.map_or("?".into(), |s| s.status)
    ));
    for line in zpl.lines().filter(|l| l.contains("^FD") || l.contains("^PQ")) {
        say(format!("     {line}"));
    }
    Ok(())
}

/// Runs the sync demo in `dir` with the generated `catalog` and its `barcodes`.
pub fn run(dir: &Path, catalog: &Path, barcodes: &[String], json: bool) -> Result<(), Error> {
    let say = |s: String| {
        if !json {
            out!("{s}");
        }
    };
    let step = |name: &str, value: serde_json::Value| {
        if json {
            out!("{}", json!({ "step": name, "result": value }));
        }
    };
    let codes = |from: usize, n: usize| barcodes[from..from + n].to_vec();

    // 6. With a server.
    let server_dir = dir.join("server");
    let server = Server::open(&server_dir).map_err(server_error)?;
    let bar = tsd_term::Bar::reading(catalog, Format::Csv);
    let published = server
        .publish_catalog_observed(catalog, Format::Csv, &Default::default(), &mut |step| step.show_on(&bar))
        .map_err(server_error)?;
    bar.finish();
    let token = server.add_device("ТСД-1").map_err(server_error)?;
    let bg = Background::start(server, "127.0.0.1:0", None).map_err(server_error)?;
    let addr = bg.addr;
    say(format!(
        "6. with a server: tsd-server on {} — catalog v{} published ({} bytes), device ТСД-1 registered",
        bg.url, published.version, published.snapshot_bytes
    ));
    let rt = Runtime::open(&dir.join("terminal"))?;
    let mut settings = ServerSettings::new(&bg.url, &token);
    settings.backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(2),
    };
    let bar = tsd_term::Bar::spinner("connecting");
    let mut last = None;
    let r = rt.sync_server(&settings, &mut |p| crate::show_sync_step(&bar, &mut last, p))?;
    bar.finish();
    step("first_sync", json!(r));
    say(format!(
        "   first sync: catalog v{} → v{} ({} bytes) in {:.2} s",
        r.catalog_from, r.catalog_version, r.bytes_down, r.seconds
    ));
    let a = scan_some(&rt, &codes(0, 3))?;
    say(format!(
        "   scanned 3 codes offline, completed {a}; waiting: {}",
        rt.sync_status()?.waiting
    ));
    let r = rt.sync_server(&settings, &mut |_| {})?;
    step("push", json!(r));
    say(format!("   sync: {} document(s) delivered", r.pushed.len()));

    bg.stop();
    say("   server stopped (Wi-Fi gone); the operator keeps scanning:".to_string());
    let b = scan_some(&rt, &codes(3, 4))?;
    let c = scan_some(&rt, &codes(7, 2))?;
    let e = rt.sync_server(&settings, &mut |_| {}).unwrap_err();
    let status = rt.sync_status()?;
    step("offline", json!({ "error": e.to_string(), "status": status }));
    say(format!(
        "   completed {b} and {c}; sync fails ({}) — status: {} waiting, synced = {}, next attempt in {} ms",
        e.code(),
        status.waiting,
        status.synced,
        (status.next_attempt_at - crate::now_ms()).max(0)
    ));

    let server = Server::open(&server_dir).map_err(server_error)?;
    let bg = Background::start(server, &addr.to_string(), None).map_err(server_error)?;
    say(format!("   server back on {}; the terminal syncs when its retry is due:", bg.url));
    let started = Instant::now();
    let mut attempts = 0;
    while !rt.sync_status()?.synced && started.elapsed() < Duration::from_secs(30) {
        if rt.sync_due()? {
            attempts += 1;
            if let Ok(r) = rt.sync_server(&settings, &mut |_| {}) {
                step("automatic_sync", json!(r));
                say(format!(
                    "   automatic sync after {:.1} s: {} document(s) delivered, {} waiting",
                    started.elapsed().as_secs_f64(),
                    r.pushed.len(),
                    r.waiting
                ));
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let again = rt.sync_server(&settings, &mut |_| {})?;
    let check = Server::open(&server_dir).map_err(server_error)?;
    let stored = check.store().documents(false).map_err(server_error)?;
    let once = [&a, &b, &c]
        .iter()
        .all(|id| stored.iter().filter(|d| &&d.doc_id == id).count() == 1);
    step(
        "server_documents",
        json!({ "stored": stored.len(), "each_once": once, "attempts": attempts }),
    );
    say(format!(
        "   server holds {} document(s), each exactly once: {once}; another sync sends {}",
        stored.len(),
        again.pushed.len()
    ));
    server_mode_extras(dir, catalog, &check, &rt, &settings, &say, &step)?;
    bg.stop();
    let offline = rt.resolve(NEW_CODES[1])?;
    step(
        "online_lookup_offline",
        tsd_core::json::lookup_json(NEW_CODES[1], &Ok(offline.clone())),
    );
    say(format!(
        "   server stopped again: {} → found {}, {}",
        NEW_CODES[1],
        offline.found(),
        offline.server_unreachable.as_deref().unwrap_or("?")
    ));

    // 7. Without a server: the exchange folder.
    let root = dir.join("exchange");
    let (name, header) = exchange::put_catalog(&root, catalog, Format::Csv, 2, None)?;
    say(format!(
        "\n7. without a server: the PC put {name} ({} records) into {}/to-device",
        header.records,
        root.display()
    ));
    let usb = Runtime::open(&dir.join("terminal-usb"))?;
    let r = usb.sync_folder(&root, None, false)?;
    say(format!("   terminal folder sync: applied {:?}", r.applied));
    let d = scan_some(&usb, &codes(10, 2))?;
    let r = usb.sync_folder(&root, None, false)?;
    say(format!(
        "   completed {d}; folder sync wrote it to from-device/ ({} waiting)",
        r.waiting
    ));
    let out = dir.join("collected.jsonl");
    let collected = exchange::collect(&root, &out, None, false)?;
    say(format!(
        "   PC collected {} document(s) into {} and left an acknowledgement",
        collected.documents.len(),
        out.display()
    ));
    let r = usb.sync_folder(&root, None, false)?;
    step(
        "folder",
        json!({ "collected": collected.documents, "acknowledged": r.acknowledged, "waiting": r.waiting }),
    );
    say(format!(
        "   next folder sync: acknowledged {:?}; waiting {}",
        r.acknowledged, r.waiting
    ));
    rt.close()?;
    usb.close()?;
    Ok(())
}
