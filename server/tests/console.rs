//! The admin console over HTTP, as a browser meets it (cookies, forms, CSRF
//! tokens, redirects), with a real terminal syncing against the same server: it
//! appears with its versions, its document is opened and acknowledged, a catalog
//! published by upload reaches it; a viewer cannot act (the server refuses), a
//! form without the session's token is refused, a wrong password is refused alike
//! for a wrong name.

mod common;
use common::printer::fake_printer;
use common::*;
use std::time::{Duration, Instant};

const CATALOG: &str = "product_id,name,packaging_id,packaging_name,factor,barcode
P1,Молоко,,,,4601234567893
P2,Кефир,,,,4601234567909
";

struct Browser {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    csp: Option<String>,
    body: String,
}

impl Browser {
    fn new(base: &str) -> Browser {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Browser {
            agent,
            base: base.to_string(),
            cookie: None,
        }
    }

    fn answer(mut resp: ureq::http::Response<ureq::Body>) -> Answer {
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (location, set_cookie, csp) = (header("location"), header("set-cookie"), header("content-security-policy"));
        Answer {
            status: resp.status().as_u16(),
            location,
            set_cookie,
            csp,
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&self, path: &str) -> Answer {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        Browser::answer(req.call().unwrap())
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        Browser::answer(req.send(body.as_bytes()).unwrap())
    }

    fn upload(&self, path: &str, csrf: &str, file_name: &str, content: &[u8]) -> Answer {
        self.upload_with(path, &[("csrf", csrf)], file_name, content)
    }

    /// A multipart form: `fields`, then the file.
    fn upload_with(&self, path: &str, fields: &[(&str, &str)], file_name: &str, content: &[u8]) -> Answer {
        let boundary = "----tsd-test-boundary";
        let mut body = String::new();
        for (k, v) in fields {
            body += &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
        }
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        let mut body = body.into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .header("Cookie", self.cookie.clone().unwrap_or_default());
        Browser::answer(req.send(&body[..]).unwrap())
    }

    fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        let a = self.post("/admin/login", &[("user", user), ("password", password)]);
        if let Some(c) = &a.set_cookie {
            self.cookie = Some(c.split(';').next().unwrap().to_string());
        }
        a
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self, page: &str) -> String {
        let body = self.get(page).body;
        let at = body.find("name=\"csrf\" value=\"").expect("a form with its token") + 19;
        body[at..at + body[at..].find('"').unwrap()].to_string()
    }
}

#[test]
fn the_admin_watches_a_terminal_and_acts_on_what_it_sent() {
    let ConsoleWorld {
        dir,
        server,
        token,
        password,
        viewer: viewer_password,
        bg,
        ..
    } = ConsoleWorld::new(CATALOG);
    let mut b = Browser::new(&bg.url);

    // Not signed in: every page sends to the sign-in form.
    let a = b.get("/admin/documents");
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/admin/login")));
    // A wrong password and an unknown name are refused alike.
    let wrong = b.sign_in("Ирина", "не тот");
    let unknown = b.sign_in("Пётр", "не тот");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("Неверное имя или пароль"), "{}", wrong.body);
    assert_eq!(wrong.body, unknown.body, "the answer does not tell whether the user exists");
    assert!(wrong.set_cookie.is_none() && b.cookie.is_none());

    // A sign-in form of 3 MiB is refused (413, the connection closed while the
    // client may still be sending), never read and checked as a password.
    let huge = format!("user=x&password={}", "x".repeat(3 << 20));
    let sent = b
        .agent
        .post(format!("{}/admin/login", bg.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(huge.as_bytes());
    match sent {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        Err(e) => assert!(
            ["disconnected", "reset", "Broken pipe"].iter().any(|w| e.to_string().contains(w)),
            "{e}"
        ),
    }

    let ok = b.sign_in("Ирина", &password);
    assert_eq!((ok.status, ok.location.as_deref()), (303, Some("/admin/terminals")));
    let cookie = ok.set_cookie.unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    // The terminal syncs, and appears with the versions it holds.
    let (rt, _) = (tsd_core::Runtime::open(&dir.path().join("t1")).unwrap(), ());
    let s = settings(&bg.url, &token);
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let page = b.get("/admin/terminals");
    assert_eq!(page.status, 200);
    let row = &page.body[page.body.find("data-terminal=\"ТСД-1\"").expect("the terminal's row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("v1") && row.contains("полный"), "{row}");
    let csp = page.csp.unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    // A document it completes appears; lines and scans as on the terminal.
    let doc = rt.new_document("receiving").unwrap();
    rt.scan(&doc.id, "4601234567893", None).unwrap();
    rt.scan(&doc.id, "4601234567893", None).unwrap();
    rt.scan(&doc.id, "2000000000008", None).unwrap();
    assert!(rt.complete(&doc.id).unwrap());
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let list = b.get("/admin/documents?state=pending");
    let id: i64 = {
        let at = list.body.find("data-document=\"").expect("the document listed") + 15;
        list.body[at..at + list.body[at..].find('"').unwrap()].parse().unwrap()
    };
    let one = b.get(&format!("/admin/documents/{id}"));
    assert!(one.body.contains("Молоко"), "{}", one.body);
    let scans = &one.body[one.body.find("id=\"scans\"").unwrap()..];
    assert_eq!(scans.matches("<code>4601234567893</code>").count(), 2, "{scans}");
    assert!(scans.contains("<code>2000000000008</code>"), "{scans}");

    // A form without the session's token changes nothing.
    let forged = b.post(&format!("/admin/documents/{id}/ack"), &[("csrf", "forged")]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(server.store().document(id).unwrap().unwrap().acked_at.is_none());

    // A viewer sees it, but the server refuses its action.
    let mut v = Browser::new(&bg.url);
    assert_eq!(v.sign_in("аудитор", &viewer_password).status, 303);
    let viewer_page = v.get(&format!("/admin/documents/{id}"));
    assert!(viewer_page.body.contains("только просмотр") && !viewer_page.body.contains("id=\"ack\""));
    let viewer_csrf = v.csrf(&format!("/admin/documents/{id}"));
    let refused = v.post(&format!("/admin/documents/{id}/ack"), &[("csrf", &viewer_csrf)]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(server.store().document(id).unwrap().unwrap().acked_at.is_none());

    // The admin acknowledges it; the audit log says who.
    let csrf = b.csrf(&format!("/admin/documents/{id}"));
    let acked = b.post(&format!("/admin/documents/{id}/ack"), &[("csrf", &csrf)]);
    assert_eq!(acked.status, 303);
    assert!(server.store().document(id).unwrap().unwrap().acked_at.is_some());
    let audit = b.get("/admin/audit").body;
    assert!(audit.contains("document.ack") && audit.contains("Ирина"), "{audit}");
    let export = b.get(&format!("/admin/documents/{id}/export?format=csv"));
    assert!(export.body.contains("P1;Молоко;;2"), "{}", export.body);

    // A catalog published by upload reaches the terminal at its next sync.
    let v2 = format!("{CATALOG}P3,Ряженка,,,,4601234567916\n");
    let published = b.upload("/admin/catalog", &csrf, "каталог.csv", v2.as_bytes());
    assert_eq!(published.status, 200, "{}", published.body);
    assert!(published.body.contains("Опубликована версия v2"), "{}", published.body);
    let bad = b.upload("/admin/catalog", &csrf, "плохой.csv", b"product_id,name,barcode\nP9,,123\n");
    assert!(
        bad.body
            .contains("плохой.csv: строка 2: у товара P9 нет наименования; ничего не опубликовано")
            && bad.body.contains("class=\"error\""),
        "{}",
        bad.body
    );
    assert_eq!(rt.sync_server(&s, &mut |_| {}).unwrap().catalog_version, 2);
    let catalog = b.get("/admin/catalog").body;
    let v2_row = &catalog[catalog.find("data-version=\"2\"").unwrap()..];
    assert!(v2_row[..v2_row.find("</tr>").unwrap()].contains("ТСД-1"), "{catalog}");

    // A publish that takes long (here: it waits for one the command line holds)
    // answers at once with the catalog page, which shows where it is and offers
    // no second publish; a second upload is refused; then it ends and says so.
    let held = server.store().publish_lock().unwrap();
    let v3 = format!("{v2}P4,Творог,,,,4601234567923\n");
    let long = b.upload("/admin/catalog", &csrf, "большой.csv", v3.as_bytes());
    assert_eq!(
        (long.status, long.location.as_deref()),
        (303, Some("/admin/catalog")),
        "{}",
        long.body
    );
    let page = b.get("/admin/catalog").body;
    assert!(
        page.contains("id=\"publishing\"") && page.contains("Публикация большой.csv: ждёт окончания другой публикации"),
        "{page}"
    );
    assert!(!page.contains("id=\"publish\""), "no second publish while one runs: {page}");
    let second = b.upload("/admin/catalog", &csrf, "ещё.csv", v3.as_bytes());
    assert!(
        second.body.contains("дождитесь окончания публикации большой.csv"),
        "{}",
        second.body
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = b.get("/admin/catalog").body;
        if page.contains("Опубликована версия v3 из большой.csv") {
            assert!(!page.contains("id=\"publishing\"") && page.contains("id=\"publish\""), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "{page}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(b.get("/admin/audit").body.contains("Опубликована версия v3 из большой.csv"));

    // The configuration: an error is shown at the field and nothing is published;
    // fixed, it is published and the terminal applies it.
    let bad_config = r#"{"document_types": [{"id": "receiving", "name": "Приёмка"}], "online_lookup": {"timeout_ms": 5}}"#;
    let refused = b.post("/admin/config", &[("csrf", &csrf), ("config", bad_config)]);
    assert!(
        refused.body.contains("id=\"config-error\"") && refused.body.contains("timeout_ms"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("aria-invalid=\"true\"") && refused.body.contains(": 5}}"),
        "the text as typed"
    );
    assert!(server.store().latest_config().unwrap().is_none(), "nothing published");
    let good_config = r#"{"document_types": [{"id": "receiving", "name": "Приёмка"}, {"id": "picking", "name": "Отбор"}]}"#;
    let published = b.post("/admin/config", &[("csrf", &csrf), ("config", good_config)]);
    assert!(published.body.contains("Опубликована версия настроек v1"), "{}", published.body);
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let applied = b.get("/admin/config").body;
    let row = &applied[applied.find("<td>ТСД-1</td>").expect("the terminal listed")..];
    assert!(row[..row.find("</tr>").unwrap()].contains("применил"), "{applied}");

    // Tasks: a bad line is refused naming it, nothing given; a good one waits,
    // reaches the terminal, comes back done.
    let bad_task = r#"{"id": "T-1", "type": "receiving", "number": "ПР-1", "lines": [{"product": "P404", "qty": 5}]}"#;
    let refused = b.post("/admin/tasks", &[("csrf", &csrf), ("device", "ТСД-1"), ("tasks", bad_task)]);
    assert!(
        refused.body.contains("id=\"tasks-error\"") && refused.body.contains("line 1") && refused.body.contains("P404"),
        "{}",
        refused.body
    );
    let task = r#"{"id": "T-1", "type": "receiving", "number": "ПР-1", "lines": [{"product": "P1", "qty": 5}]}"#;
    let given = b.post("/admin/tasks", &[("csrf", &csrf), ("device", "ТСД-1"), ("tasks", task)]);
    assert!(given.body.contains("id=\"tasks-added\""), "{}", given.body);
    let task_state = |b: &Browser| {
        let page = b.get("/admin/tasks").body;
        let row = &page[page.find("data-task=\"T-1\"").expect("the task listed")..];
        row[..row.find("</tr>").unwrap()].to_string()
    };
    assert!(task_state(&b).contains("ждёт обмена"), "{}", task_state(&b));
    rt.sync_server(&s, &mut |_| {}).unwrap();
    assert!(task_state(&b).contains("на терминале"), "{}", task_state(&b));
    rt.scan("T-1", "4601234567893", Some(5)).unwrap();
    assert!(rt.complete("T-1").unwrap());
    rt.sync_server(&s, &mut |_| {}).unwrap();
    assert!(task_state(&b).contains("выполнено"), "{}", task_state(&b));

    // An app update published by upload; the terminal asking for updates shows
    // which version it runs.
    let apk = vec![0x50u8; 300 << 10];
    let fields = [
        ("csrf", csrf.as_str()),
        ("version_code", "12"),
        ("version_name", "2.4.0"),
        ("min_version", "0"),
    ];
    let published = b.upload_with("/admin/apps", &fields, "tsd-2.4.0.apk", &apk);
    assert!(published.body.contains("Опубликована версия 2.4.0 (код 12)"), "{}", published.body);
    let offered = tsd_core::sync::http::Client::new(&s)
        .unwrap()
        .app_update(11)
        .unwrap()
        .expect("an update");
    assert_eq!((offered.version_code, offered.size), (12, apk.len() as u64));
    let apps = b.get("/admin/apps").body;
    let row = &apps[apps.find("<tr data-terminal=\"ТСД-1\">").expect("the terminal listed")..];
    assert!(row[..row.find("</tr>").unwrap()].contains("код 11"), "{apps}");

    // A print job fails (no printer listening), then goes once the printer is
    // there and the admin retries it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    assert_eq!(
        b.post("/admin/printing", &[("csrf", &csrf), ("name", "zebra-1"), ("address", &closed)])
            .status,
        303
    );
    let job = rt.print_label("zebra-1", "4601234567893", 1, Some("89.90")).unwrap();
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let state = |b: &Browser| {
        let page = b.get("/admin/printing").body;
        let row = &page[page.find(&format!("data-job=\"{}\"", job.id)).expect("the job listed")..];
        row[..row.find("</tr>").unwrap()].to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !state(&b).contains("не удалось") {
        assert!(Instant::now() < deadline, "{}", state(&b));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (printer, zpl) = fake_printer(&[]);
    assert_eq!(
        b.post("/admin/printing", &[("csrf", &csrf), ("name", "zebra-1"), ("address", &printer)])
            .status,
        303
    );
    let id = server.store().print_jobs(None, 10).unwrap()[0].id.to_string();
    assert_eq!(b.post("/admin/printing/retry", &[("csrf", &csrf), ("id", &id)]).status, 303);
    while !state(&b).contains("отправлено на принтер") {
        assert!(Instant::now() < deadline, "{}", state(&b));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(zpl.lock().unwrap().labels.len(), 1, "printed once");

    // A terminal added in the console gets its setup code on screen; revoking a
    // terminal shuts it out.
    let added = b.post("/admin/terminals", &[("csrf", &csrf), ("name", "ТСД-2"), ("url", &bg.url)]);
    assert!(added.body.contains("<svg") && added.body.contains("tsd://setup?"), "{}", added.body);
    let revoked = b.post("/admin/terminals/revoke", &[("csrf", &csrf), ("name", "ТСД-1")]);
    assert_eq!(revoked.status, 303);
    assert!(rt.sync_server(&s, &mut |_| {}).is_err(), "a revoked terminal is refused");

    // Signed out: the cookie no longer opens anything.
    let out = b.post("/admin/logout", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(b.get("/admin/terminals").status, 303);
    bg.stop();
}

/// The admin makes an account on the command line: the password printed once
/// signs in, `--read-only` makes a viewer, a second `add` gives a new password.
#[test]
fn accounts_come_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let add = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsd-server"))
            .arg("--data")
            .arg(dir.path())
            .args(["admin", "add"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = add(&["аудитор", "--read-only"]);
    assert!(first.len() >= 16, "{first:?}");
    let server = tsd_server::Server::open(dir.path()).unwrap();
    let token = server.console_login("аудитор", &first).unwrap();
    let session = server
        .store()
        .console_session(&tsd_server::token_hash(&token), tsd_server::now_ms())
        .unwrap()
        .unwrap();
    assert_eq!(session.role, "viewer");
    let second = add(&["аудитор"]);
    assert!(
        server.console_login("аудитор", &first).is_err(),
        "the old password no longer signs in"
    );
    assert!(server.console_login("аудитор", &second).is_ok());
}
