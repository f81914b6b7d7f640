//! The admin console in a real Chromium and a real Firefox, driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, `firefox-esr`, and `geckodriver`
//! from crates.io; `scripts/test.sh` installs them), against a
//! real server with a real terminal syncing: sign in (a wrong password first),
//! watch the terminal appear by the page's own refresh, open the document it
//! completes and acknowledge it, publish a catalog by choosing a file and see the
//! terminal take it, get a configuration error at the field, add a terminal and
//! see its QR code. Each page is saved as a screenshot (1366×768) under
//! `target/console-screenshots/`, or where `TSD_CONSOLE_SCREENSHOTS` says
//! (`docs/console/` for the README).

mod common;
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CATALOG: &str = "product_id,name,packaging_id,packaging_name,factor,barcode
P1,\"Молоко 3,2% 1 л\",,,,4601234567893
P2,\"Кефир 1% 0,9 л\",,,,4601234567909
";

/// A WebDriver server on a free port, stopped when dropped; which browser it drives.
struct Driver(Child, u16, Kind);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chromium,
    Firefox,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn found(candidates: &[&str], missing: &str) -> String {
    candidates
        .iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .map(|b| b.to_string())
        .unwrap_or_else(|| panic!("{missing} Run the tests with scripts/test.sh (it installs them)."))
}

/// Starts the WebDriver server for `kind` and waits until it says it listens.
fn driver(kind: Kind) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (mut command, ready) = match kind {
        Kind::Chromium => {
            let bin = found(
                &["chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
                "this test needs Chromium and its WebDriver: chromedriver was not found (apt-get install chromium chromium-driver).",
            );
            let mut c = Command::new(bin);
            c.arg(format!("--port={port}"));
            (c, "started successfully")
        }
        Kind::Firefox => {
            let home = std::env::var("HOME").unwrap_or_default();
            let bin = found(
                &["geckodriver", &format!("{home}/.cargo/bin/geckodriver")],
                "this test needs Firefox and geckodriver (apt-get install firefox-esr; cargo install geckodriver).",
            );
            let mut c = Command::new(bin);
            c.args(["--port", &port.to_string()]);
            (c, "Listening on")
        }
    };
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if line.contains(ready) {
            break;
        }
    }
    assert!(line.contains(ready), "the WebDriver server did not start: {line}");
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Driver(child, port, kind)
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    match driver.2 {
        Kind::Chromium => caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1366,768", "--lang=ru-RU", "--force-device-scale-factor=1"],
            }),
        ),
        Kind::Firefox => {
            let mut options = serde_json::json!({
                "args": ["-headless", "--width=1366", "--height=768"],
                "prefs": {"intl.accept_languages": "ru-RU"},
            });
            if std::path::Path::new("/usr/bin/firefox-esr").exists() {
                options["binary"] = "/usr/bin/firefox-esr".into();
            }
            caps.insert("moz:firefoxOptions".into(), options)
        }
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a browser session")
}

fn shots() -> PathBuf {
    let dir = std::env::var_os("TSD_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    // Chromium's are the README's; Firefox's go beside them, named for it.
    let firefox = c.capabilities().and_then(|caps| caps.get("browserName")).and_then(|b| b.as_str()) == Some("firefox");
    let name = if firefox { format!("firefox-{name}") } else { name.to_string() };
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Waits (polling the page) until `css` matches an element whose text contains `text`.
async fn wait_text(c: &Client, css: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if t.contains(text) {
                    return t;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {css} with {text:?}: {}",
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

#[test]
fn the_console_in_chromium() {
    in_browser(Kind::Chromium);
}

/// The same walk in Firefox (Debian's `firefox-esr`, `geckodriver` from crates.io).
#[test]
fn the_console_in_firefox() {
    in_browser(Kind::Firefox);
}

fn in_browser(kind: Kind) {
    let ConsoleWorld {
        dir,
        server,
        csv,
        token,
        password,
        viewer,
        bg,
    } = ConsoleWorld::new(CATALOG);
    let driver = driver(kind);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(drive(&driver, &bg.url, dir.path(), &server, &token, (&password, &viewer), &csv));
    bg.stop();
}

async fn drive(
    driver: &Driver,
    base: &str,
    dir: &std::path::Path,
    server: &tsd_server::Server,
    token: &str,
    (password, viewer): (&str, &str),
    csv: &std::path::Path,
) {
    let c = browser(driver).await;
    let url = |p: &str| format!("{base}{p}");

    // Sign in: a wrong password first.
    c.goto(&url("/admin/terminals")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/admin/login"));
    fill(&c, "input[name=user]", "Ирина").await;
    fill(&c, "input[name=password]", "не тот").await;
    click(&c, "button[type=submit]").await;
    wait_text(&c, ".error", "Неверное имя или пароль").await;
    shot(&c, "login").await;
    fill(&c, "input[name=user]", "Ирина").await;
    fill(&c, "input[name=password]", password).await;
    click(&c, "button[type=submit]").await;
    wait_text(&c, "h1", "Терминалы").await;

    // The terminal syncs; the open page shows it by its own refresh.
    let data_t1 = dir.join("t1");
    let s = settings(base, token);
    let t1 = data_t1.clone();
    let s2 = s.clone();
    let doc_id = tokio::task::spawn_blocking(move || {
        let rt = tsd_core::Runtime::open(&t1).unwrap();
        rt.sync_server(&s2, &mut |_| {}).unwrap();
        let doc = rt.new_document("receiving").unwrap();
        for code in ["4601234567893", "4601234567893", "4601234567909"] {
            rt.scan(&doc.id, code, None).unwrap();
        }
        assert!(rt.complete(&doc.id).unwrap());
        rt.sync_server(&s2, &mut |_| {}).unwrap();
        doc.id
    })
    .await
    .unwrap();
    let row = wait_text(&c, "tr[data-terminal='ТСД-1']", "полный").await;
    assert!(row.contains("v1"), "{row}");
    shot(&c, "terminals").await;

    // The document it completed: opened from the list, lines and scans as on the
    // terminal, acknowledged with the button.
    c.goto(&url("/admin/documents")).await.unwrap();
    wait_text(&c, "#documents tbody", "ТСД-1").await;
    shot(&c, "documents").await;
    click(&c, "#documents tbody a").await;
    let lines = wait_text(&c, "#lines", "Молоко").await;
    assert!(lines.contains("Молоко 3,2% 1 л") && lines.contains("Кефир 1% 0,9 л"), "{lines}");
    let scans = c.find(Locator::Css("#scans")).await.unwrap().text().await.unwrap();
    assert_eq!(scans.matches("4601234567893").count(), 2, "{scans}");
    click(&c, "#ack").await;
    wait_text(&c, "#acked", "Подтверждён").await;
    shot(&c, "document").await;
    let stored = server.store().documents(false).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].doc_id, doc_id);
    assert!(stored[0].acked_at.is_some(), "acknowledged on the server");

    // A catalog published by choosing a file; the terminal takes it.
    let v2 = dir.join("каталог-2.csv");
    std::fs::write(
        &v2,
        format!("{}P3,Ряженка,,,,4601234567916\n", std::fs::read_to_string(csv).unwrap()),
    )
    .unwrap();
    c.goto(&url("/admin/catalog")).await.unwrap();
    c.find(Locator::Css("input[type=file]"))
        .await
        .unwrap()
        .send_keys(v2.to_str().unwrap())
        .await
        .unwrap();
    click(&c, "#publish button[type=submit]").await;
    wait_text(&c, "#published", "Опубликована версия v2").await;
    let t1 = data_t1.clone();
    let s2 = s.clone();
    tokio::task::spawn_blocking(move || {
        let rt = tsd_core::Runtime::open(&t1).unwrap();
        assert_eq!(rt.sync_server(&s2, &mut |_| {}).unwrap().catalog_version, 2);
    })
    .await
    .unwrap();
    wait_text(&c, "tr[data-version='2'] .holders", "ТСД-1").await;
    shot(&c, "catalog").await;

    // A configuration with an error: shown at the field, nothing published.
    c.goto(&url("/admin/config")).await.unwrap();
    fill(&c, "#config", r#"{"document_types": [{"id": "", "name": "Приёмка"}]}"#).await;
    click(&c, "#config-form button[type=submit]").await;
    wait_text(&c, "#config-error", "id").await;
    shot(&c, "config").await;
    assert!(server.store().latest_config().unwrap().is_none());
    // Fixed, it is published.
    fill(
        &c,
        "#config",
        r#"{"document_types": [{"id": "receiving", "name": "Приёмка"}, {"id": "picking", "name": "Отбор"}]}"#,
    )
    .await;
    click(&c, "#config-form button[type=submit]").await;
    wait_text(&c, "#config-published", "v1").await;
    assert_eq!(server.store().latest_config().unwrap().unwrap().0, 1);

    // A label job fails (the printer's address has nobody listening), then goes
    // once the printer is there and the job is retried with the button.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    c.goto(&url("/admin/printing")).await.unwrap();
    fill(&c, "#add-printer input[name=name]", "zebra-1").await;
    fill(&c, "#add-printer input[name=address]", &closed).await;
    click(&c, "#add-printer button[type=submit]").await;
    wait_text(&c, "#printers", "zebra-1").await;
    let (t1, s2) = (data_t1.clone(), s.clone());
    let job = tokio::task::spawn_blocking(move || {
        let rt = tsd_core::Runtime::open(&t1).unwrap();
        let job = rt.print_label("zebra-1", "4601234567893", 1, Some("89.90")).unwrap();
        rt.sync_server(&s2, &mut |_| {}).unwrap();
        job.id
    })
    .await
    .unwrap();
    let row = format!("tr[data-job='{job}']");
    wait_text(&c, &format!("{row} .state"), "не удалось").await;
    shot(&c, "printing").await;
    let (printer, zpl) = common::printer::fake_printer(&[]);
    fill(&c, "#add-printer input[name=name]", "zebra-1").await;
    fill(&c, "#add-printer input[name=address]", &printer).await;
    click(&c, "#add-printer button[type=submit]").await;
    wait_text(&c, "#printers", &printer).await;
    click(&c, &format!("{row} button")).await;
    wait_text(&c, &format!("{row} .state"), "отправлено на принтер").await;
    assert_eq!(zpl.lock().unwrap().labels.len(), 1, "printed once");

    // A terminal added here: its QR code on screen.
    c.goto(&url("/admin/terminals")).await.unwrap();
    fill(&c, "#add-terminal input[name=name]", "ТСД-2").await;
    click(&c, "#add-terminal button[type=submit]").await;
    wait_text(&c, "section.added h2", "ТСД-2").await;
    assert!(c.find(Locator::Css("section.added .qr svg")).await.is_ok());
    shot(&c, "terminal-added").await;

    c.goto(&url("/admin/audit")).await.unwrap();
    let audit = wait_text(&c, "#audit", "document.ack").await;
    assert!(audit.contains("catalog.publish") && audit.contains("terminal.add"), "{audit}");
    shot(&c, "audit").await;

    // A request without the session's token is refused by the server.
    let forged =
        "return fetch('/admin/documents/1/ack', {method: 'POST', body: new URLSearchParams({csrf: 'forged'})}).then(r => r.status)";
    assert_eq!(c.execute(forged, vec![]).await.unwrap(), serde_json::json!(403));

    // A read-only account: no buttons, and its own valid form is refused too.
    click(&c, "header .who button").await;
    wait_text(&c, "h1", "Сервер ТСД").await;
    fill(&c, "input[name=user]", "аудитор").await;
    fill(&c, "input[name=password]", viewer).await;
    click(&c, "button[type=submit]").await;
    wait_text(&c, "header .who", "только просмотр").await;
    assert!(c.find(Locator::Css("#add-terminal")).await.is_err(), "no form to add a terminal");
    c.goto(&url("/admin/documents/1")).await.unwrap();
    wait_text(&c, "#lines", "Молоко").await;
    assert!(c.find(Locator::Css("#ack")).await.is_err(), "no acknowledge button");
    let acted = "return fetch('/admin/terminals/revoke', {method: 'POST', body: new URLSearchParams({csrf: document.querySelector('input[name=csrf]').value, name: 'ТСД-1'})}).then(r => r.status)";
    assert_eq!(c.execute(acted, vec![]).await.unwrap(), serde_json::json!(403));
    assert!(server.device(token).is_ok(), "the terminal was not revoked");
    shot(&c, "viewer").await;

    // On a tablet held upright: every page fits its width (no sideways
    // scrolling), the tables scroll inside themselves.
    c.set_window_size(800, 1280).await.unwrap();
    for page in [
        "terminals",
        "documents",
        "documents/1",
        "tasks",
        "catalog",
        "config",
        "printing",
        "apps",
        "logs",
        "audit",
    ] {
        c.goto(&url(&format!("/admin/{page}"))).await.unwrap();
        wait_text(&c, "h1", "").await;
        let widths = c
            .execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![])
            .await
            .unwrap();
        let (scroll, inner) = (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap());
        assert!(scroll <= inner, "/admin/{page} is {scroll} px wide on an {inner} px tablet screen");
    }
    c.goto(&url("/admin/terminals")).await.unwrap();
    wait_text(&c, "h1", "Терминалы").await;
    shot(&c, "tablet-terminals").await;
    c.close().await.unwrap();
}
