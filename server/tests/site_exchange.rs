//! 1C's "exchange with a site" end to end on loopback, driven by a client that
//! speaks it as 1C does (issue 13 §2): a 401 challenge answered with Basic
//! credentials, the checkauth cookie, init, a zip sent in parts of `file_limit`,
//! import until `success`; then a terminal syncs and finds the goods. Also: wrong
//! credentials, a broken zip, a part cut off mid-way and sent again, a repeated
//! import that makes no new catalog version, offers alone merged as changes.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;
use tsd_server::api::Limits;
use tsd_server::run::Background;
use tsd_server::site::SiteSettings;

const IMPORT: &str = include_str!("../../core/tests/data/cml/import0_1.xml");
const OFFERS: &str = include_str!("../../core/tests/data/cml/offers0_1.xml");

struct OneC {
    agent: ureq::Agent,
    url: String,
    user: String,
    password: String,
    cookie: Option<String>,
}

impl OneC {
    fn new(bg: &Background, user: &str, password: &str) -> OneC {
        OneC {
            agent: ureq::Agent::config_builder().http_status_as_error(false).build().new_agent(),
            url: format!("{}/1c/exchange", bg.url),
            user: user.into(),
            password: password.into(),
            cookie: None,
        }
    }

    fn answer(resp: ureq::http::Response<ureq::Body>) -> (u16, Vec<String>) {
        let status = resp.status().as_u16();
        let mut resp = resp;
        let body = resp.body_mut().read_to_string().unwrap();
        (status, body.lines().map(str::to_string).collect())
    }

    fn get(&self, query: &str) -> (u16, Vec<String>) {
        let mut req = self.agent.get(format!("{}?{query}", self.url));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        Self::answer(req.call().unwrap())
    }

    /// checkauth as 1C's HTTP client does it: unauthenticated first, then the
    /// credentials once challenged.
    fn checkauth(&mut self) -> (u16, Vec<String>) {
        let (status, lines) = self.get("type=catalog&mode=checkauth");
        assert_eq!(status, 401, "a challenge first: {lines:?}");
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password));
        let resp = self
            .agent
            .get(format!("{}?type=catalog&mode=checkauth", self.url))
            .header("Authorization", format!("Basic {basic}"))
            .call()
            .unwrap();
        let (status, lines) = Self::answer(resp);
        if lines.first().map(String::as_str) == Some("success") {
            self.cookie = Some(format!("{}={}", lines[1], lines[2]));
        }
        (status, lines)
    }

    fn file(&self, name: &str, part: &[u8]) -> (u16, Vec<String>) {
        let mut req = self.agent.post(format!("{}?type=catalog&mode=file&filename={name}", self.url));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        Self::answer(req.send(part).unwrap())
    }

    /// A whole file in parts of `file_limit`, as 1C sends it.
    fn send(&self, name: &str, bytes: &[u8], limit: usize) {
        for part in bytes.chunks(limit) {
            let (status, lines) = self.file(name, part);
            assert_eq!((status, lines[0].as_str()), (200, "success"), "{name}: {lines:?}");
        }
    }

    /// import until it is not `progress` any more.
    fn import(&self, name: &str) -> Vec<String> {
        for _ in 0..600 {
            let (status, lines) = self.get(&format!("type=catalog&mode=import&filename={name}"));
            assert_eq!(status, 200, "{lines:?}");
            if lines[0] != "progress" {
                return lines;
            }
        }
        panic!("import of {name} never finished");
    }
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn start(w: &World, file_limit: u64) -> Background {
    let site = SiteSettings {
        file_limit,
        import_wait: Duration::ZERO,
    };
    Background::start_site(w.server(), "127.0.0.1:0", None, Limits::default(), site).unwrap()
}

#[test]
fn a_1c_exchange_publishes_the_catalog_terminals_then_get() {
    let w = World::new(3);
    let admin = w.server();
    let password = admin.add_site_user("1c-обмен").unwrap();
    let bg = start(&w, 700);
    let before = admin.store().latest_catalog().unwrap().unwrap().version;

    // Wrong password: refused with the challenge again, no session.
    let mut wrong = OneC::new(&bg, "1c-обмен", "nope");
    let (status, lines) = wrong.checkauth();
    assert_eq!((status, lines[0].as_str()), (401, "failure"));
    assert!(wrong.get("type=catalog&mode=init").0 == 401, "no session without checkauth");

    let mut c = OneC::new(&bg, "1c-обмен", &password);
    let (status, lines) = c.checkauth();
    assert_eq!(
        (status, lines[0].as_str(), lines[1].as_str()),
        (200, "success", "tsd_1c"),
        "{lines:?}"
    );
    let (_, init) = c.get("type=catalog&mode=init");
    assert_eq!(init[0], "zip=yes");
    let limit: usize = init[1].strip_prefix("file_limit=").unwrap().parse().unwrap();
    assert_eq!(limit, 700);

    // The zip in parts of file_limit; one part is cut off mid-way and sent again.
    let archive = zip_of(&[("import0_1.xml", IMPORT.as_bytes()), ("offers0_1.xml", OFFERS.as_bytes())]);
    assert!(archive.len() > 2 * limit, "the archive goes in several parts");
    for (i, part) in archive.chunks(limit).enumerate() {
        if i == 1 {
            // A raw request that announces the whole part and sends half of it.
            let mut s = std::net::TcpStream::connect(bg.addr).unwrap();
            let cookie = c.cookie.clone().unwrap();
            write!(
                s,
                "POST /1c/exchange?type=catalog&mode=file&filename=catalog.zip HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Length: {}\r\n\r\n",
                part.len()
            )
            .unwrap();
            s.write_all(&part[..part.len() / 2]).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut ignored = Vec::new();
            let _ = s.read_to_end(&mut ignored);
        }
        let (status, lines) = c.file("catalog.zip", part);
        assert_eq!((status, lines[0].as_str()), (200, "success"), "part {i}: {lines:?}");
    }
    // A picture 1C sends along is taken and dropped.
    assert_eq!(c.file("import_files/ab/abcdef.jpg", b"\xFF\xD8\xFF").1[0], "success");

    let done = c.import("import0_1.xml");
    assert_eq!(done[0], "success", "{done:?}");
    let after = admin.store().latest_catalog().unwrap().unwrap().version;
    assert_eq!(after, before + 1, "one new version for import + offers");
    // The offers' import call finds the same catalog: no new version.
    assert_eq!(c.import("offers0_1.xml")[0], "success");
    assert_eq!(admin.store().latest_catalog().unwrap().unwrap().version, after);
    assert_eq!(c.get("type=catalog&mode=complete").1[0], "success");

    // A terminal syncs and finds the goods, variants included.
    let token = admin.add_device("t1").unwrap();
    let (rt, _) = w.terminal("t1");
    rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    let milk = rt.resolve("4601234567893").unwrap();
    assert_eq!(milk.hit().unwrap().product.id, "5f1c2b4e-0001");
    assert_eq!(
        rt.resolve("4607000000014").unwrap().hit().unwrap().product.name,
        "Футболка (42, красный)"
    );
    assert!(
        !rt.resolve(&w.barcodes[0]).unwrap().found(),
        "the 1C catalog replaced the earlier one"
    );

    // The whole exchange again, as 1C repeats it on its schedule: no new version.
    let mut again = OneC::new(&bg, "1c-обмен", &password);
    again.checkauth();
    again.get("type=catalog&mode=init");
    again.send("import0_1.xml", IMPORT.as_bytes(), limit);
    again.send("offers0_1.xml", OFFERS.as_bytes(), limit);
    let lines = again.import("import0_1.xml");
    assert_eq!(lines[0], "success", "{lines:?}");
    assert_eq!(
        admin.store().latest_catalog().unwrap().unwrap().version,
        after,
        "an equal catalog makes no version"
    );

    // Offers alone (a price or variant change) are merged onto the catalog.
    let changed = OFFERS.replace("Футболка (42, красный)", "Футболка (42, алый)");
    let mut prices = OneC::new(&bg, "1c-обмен", &password);
    prices.checkauth();
    prices.get("type=catalog&mode=init");
    prices.send("offers0_1.xml", changed.as_bytes(), limit);
    let lines = prices.import("offers0_1.xml");
    assert_eq!(lines[0], "success", "{lines:?}");
    rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    assert_eq!(
        rt.resolve("4607000000014").unwrap().hit().unwrap().product.name,
        "Футболка (42, алый)"
    );
    assert!(
        rt.resolve("4601234567893").unwrap().found(),
        "the products the offers do not name stay"
    );
    bg.stop();
}

#[test]
fn a_broken_zip_or_a_bad_catalog_fails_with_the_reason() {
    let w = World::new(3);
    let admin = w.server();
    let password = admin.add_site_user("1c").unwrap();
    let bg = start(&w, 1 << 20);
    let version = admin.store().latest_catalog().unwrap().unwrap().version;
    let mut c = OneC::new(&bg, "1c", &password);
    c.checkauth();
    c.get("type=catalog&mode=init");
    let mut archive = zip_of(&[("import.xml", IMPORT.as_bytes())]);
    archive.truncate(archive.len() / 2);
    c.file("v8_exchange.zip", &archive);
    let lines = c.import("import.xml");
    assert_eq!(lines[0], "failure", "{lines:?}");
    assert!(lines[1].contains("v8_exchange.zip"), "{lines:?}");

    // A catalog with a damaged barcode: the element, the line and the reason; the
    // answer names the file as 1C sent it, not a folder of this server.
    c.get("type=catalog&mode=init");
    let bad = IMPORT.replace("<Штрихкод>4601234567893</Штрихкод>", "<Штрихкод>4,60123E+12</Штрихкод>");
    c.file("import.xml", bad.as_bytes());
    let lines = c.import("import.xml");
    assert_eq!(lines[0], "failure");
    assert!(
        lines[1].starts_with("import.xml: line 28:") && lines[1].contains("scientific"),
        "{lines:?}"
    );
    assert!(!lines[1].contains(&admin.tmp_dir().display().to_string()), "{lines:?}");
    assert_eq!(
        admin.store().latest_catalog().unwrap().unwrap().version,
        version,
        "nothing published"
    );

    // Names that leave the exchange folder are refused.
    let (status, lines) = c.file("../../etc/x.xml", b"<x/>");
    assert_eq!((status, lines[0].as_str()), (400, "failure"));
    // Orders are not this server's business, and it says so.
    let (_, lines) = c.get("type=sale&mode=checkauth");
    assert!(lines[0] == "failure" && lines[1].contains("type=sale"), "{lines:?}");
    bg.stop();
}

/// With several instances on PostgreSQL, any of 1C's requests may land on any
/// instance: parts of one file alternate between two, the import calls too, and
/// the catalog is published once, whole.
#[test]
fn a_1c_exchange_spread_over_two_instances_publishes_once() {
    let db = postgres();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        instance(&dir.path().join("a"), Some(&db)),
        instance(&dir.path().join("b"), Some(&db)),
    );
    let password = a.add_site_user("1c-обмен").unwrap();
    let token = a.add_device("t1").unwrap();
    let site = || SiteSettings {
        file_limit: 700,
        import_wait: Duration::ZERO,
    };
    let bg_a = Background::start_site(a, "127.0.0.1:0", None, Limits::default(), site()).unwrap();
    let bg_b = Background::start_site(b, "127.0.0.1:0", None, Limits::default(), site()).unwrap();
    let mut on_a = OneC::new(&bg_a, "1c-обмен", &password);
    on_a.checkauth();
    let mut on_b = OneC::new(&bg_b, "1c-обмен", &password);
    on_b.cookie = on_a.cookie.clone();
    assert_eq!(on_b.get("type=catalog&mode=init").1[0], "zip=yes", "the session is known to both");

    let archive = zip_of(&[("import0_1.xml", IMPORT.as_bytes()), ("offers0_1.xml", OFFERS.as_bytes())]);
    let parts: Vec<&[u8]> = archive.chunks(700).collect();
    assert!(parts.len() >= 3);
    for (i, part) in parts.iter().enumerate() {
        let c = if i % 2 == 0 { &on_a } else { &on_b };
        assert_eq!(c.file("catalog.zip", part).1[0], "success", "part {i}");
    }
    // The import started on one is asked after on the other, and back.
    let first = on_b.import("import0_1.xml");
    assert_eq!(first[0], "success", "{first:?}");
    assert_eq!(on_a.import("import0_1.xml")[0], "success");
    assert_eq!(on_a.import("offers0_1.xml")[0], "success");
    let admin = instance(&dir.path().join("admin"), Some(&db));
    let versions = admin.store().catalog_versions_after(0).unwrap();
    assert_eq!(versions.len(), 1, "published once: {versions:?}");
    // Closed: what 1C sent is dropped from the shared storage.
    let kept = |db: &tsd_server::Database| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let row = client
                .query_one("SELECT count(*) FROM files WHERE area = 'exchange'", &[])
                .await
                .unwrap();
            row.get::<_, i64>(0)
        })
    };
    assert!(kept(&db) > 0, "the exchange's files are kept while it runs");
    assert_eq!(on_b.get("type=catalog&mode=complete").1[0], "success");
    assert_eq!(kept(&db), 0, "and dropped when it is complete");

    // A terminal on either instance finds the goods.
    let (rt, _) = (tsd_core::Runtime::open(&dir.path().join("t1")).unwrap(), ());
    rt.sync_server(&settings(&bg_a.url, &token), &mut |_| {}).unwrap();
    assert_eq!(rt.resolve("4601234567893").unwrap().hit().unwrap().product.id, "5f1c2b4e-0001");
    bg_a.stop();
    bg_b.stop();
}
