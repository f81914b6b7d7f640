//! Shared set-up for the sync tests: a real server (in-process on loopback, or the
//! `tsd-server` binary), real terminals (`tsd_core::Runtime` on real files).
#![allow(dead_code)]

pub mod printer;
pub mod proxy;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tsd_core::catalog::Format;
use tsd_core::sync::{Backoff, ServerSettings};
use tsd_core::Runtime;
use tsd_server::Server;

/// Settings for tests: short timeouts and backoff so faults cost little time.
pub fn settings(url: &str, token: &str) -> ServerSettings {
    let mut s = ServerSettings::new(url, token);
    s.timeout = Duration::from_secs(5);
    s.backoff = Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
    };
    s
}

/// A generated catalog file with `products` products (deterministic by seed).
pub fn catalog(dir: &Path, products: u64, seed: u64) -> (PathBuf, Vec<String>) {
    let g = tsd_core::catalog::generate(&dir.join(format!("gen-{seed}")), products, seed).unwrap();
    let barcodes = std::fs::read_to_string(&g.barcodes).unwrap().lines().map(str::to_string).collect();
    (g.catalog, barcodes)
}

/// A changed version of a CSV catalog: every `step`-th product renamed, every
/// `step+1`-th product left out.
pub fn change(csv_in: &Path, out: &Path, step: usize, tag: &str) {
    let mut reader = csv::Reader::from_path(csv_in).unwrap();
    let mut writer = csv::Writer::from_path(out).unwrap();
    writer.write_record(reader.headers().unwrap()).unwrap();
    for record in reader.records() {
        let mut fields: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        let n: usize = fields[0].trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
        if n.is_multiple_of(step + 1) {
            continue;
        }
        if n.is_multiple_of(step) {
            fields[2] = format!("{} {tag}", fields[2]);
        }
        writer.write_record(&fields).unwrap();
    }
    writer.flush().unwrap();
}

/// Every product, packaging and barcode row of a terminal's catalog, sorted.
pub fn catalog_dump(data: &Path) -> Vec<String> {
    let conn = Connection::open(data.join("catalog.db")).unwrap();
    let mut st = conn
        .prepare(
            "SELECT p.id || '|' || p.name || '|' || coalesce(quote(b.barcode), '') || '|' || coalesce(k.id, '') || '|' || coalesce(k.factor, '')
             FROM products p LEFT JOIN barcodes b ON b.product = p.pk LEFT JOIN packagings k ON k.pk = b.packaging ORDER BY 1",
        )
        .unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// The catalog a terminal has after importing `file` directly.
pub fn reference_dump(dir: &Path, file: &Path) -> Vec<String> {
    let data = dir.join(format!("reference-{}", uuid_like()));
    let rt = Runtime::open(&data).unwrap();
    rt.import_catalog(file, Format::Csv, &mut |_| true).unwrap();
    rt.close().unwrap();
    catalog_dump(&data)
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A server data folder with a published catalog and devices.
pub struct World {
    pub dir: tempfile::TempDir,
    pub server_dir: PathBuf,
    pub catalog: PathBuf,
    pub barcodes: Vec<String>,
}

impl World {
    pub fn new(products: u64) -> World {
        let dir = tempfile::tempdir().unwrap();
        let server_dir = dir.path().join("server");
        let (catalog, barcodes) = catalog(dir.path(), products, 7);
        let server = Server::open(&server_dir).unwrap();
        server.publish_catalog(&catalog, Format::Csv).unwrap();
        World {
            dir,
            server_dir,
            catalog,
            barcodes,
        }
    }

    /// Another handle on the same data folder (the one serving keeps its own).
    pub fn server(&self) -> Server {
        Server::open(&self.server_dir).unwrap()
    }

    pub fn terminal(&self, name: &str) -> (Runtime, PathBuf) {
        let data = self.dir.path().join(name);
        (Runtime::open(&data).unwrap(), data)
    }
}

/// Scans `codes` into a new receiving document and completes it.
pub fn scan_and_complete(rt: &Runtime, codes: &[String]) -> String {
    let doc = rt.new_document("receiving").unwrap();
    for c in codes {
        rt.scan(&doc.id, c, None).unwrap();
    }
    assert!(rt.complete(&doc.id).unwrap());
    doc.id
}

/// Finished documents on the server, by terminal document id → how many times stored.
pub fn stored_counts(server: &Server) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for d in server.store().documents(false).unwrap() {
        *counts.entry(d.doc_id).or_insert(0) += 1;
    }
    counts
}

/// A fresh PostgreSQL database on the test cluster (`TSD_TEST_POSTGRES`, which
/// `scripts/test.sh` sets after starting a throwaway cluster with
/// `scripts/postgres.sh`).
pub fn postgres() -> tsd_server::Database {
    let Ok(url) = std::env::var("TSD_TEST_POSTGRES") else {
        panic!(
            "this test needs PostgreSQL: TSD_TEST_POSTGRES is not set. Run the tests with scripts/test.sh \
             (it installs PostgreSQL when missing and starts a throwaway cluster), or start one with \
             `scripts/postgres.sh start DIR` and export TSD_TEST_POSTGRES=<the URL it prints>"
        )
    };
    let name = format!("tsd_test_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {url}: {e}"));
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    });
    let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
    tsd_server::Database {
        url: format!("{base}/{name}"),
        max_connections: 8,
    }
}

/// The two storages every conformance test runs on: SQLite in the data folder,
/// and a fresh PostgreSQL database.
pub fn backends() -> Vec<(&'static str, Option<tsd_server::Database>)> {
    vec![("sqlite", None), ("postgresql", Some(postgres()))]
}

/// An instance on `dir` with the storage `db` (SQLite in `dir` when `None`).
pub fn instance(dir: &Path, db: Option<&tsd_server::Database>) -> Server {
    Server::open_with(dir, db).unwrap()
}

/// The accounting side publishing changed catalogs over HTTP every `every` until
/// `stop`; returns the files the server took (answered 200).
pub fn publisher(
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    url: &str,
    key: &str,
    base: &Path,
    dir: &Path,
    every: Duration,
) -> std::thread::JoinHandle<Vec<PathBuf>> {
    let (url, key, base, dir) = (url.to_string(), key.to_string(), base.to_path_buf(), dir.to_path_buf());
    std::thread::spawn(move || {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let mut published = Vec::new();
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            n += 1;
            let file = dir.join(format!("pub-{n}.csv"));
            change(&base, &file, 5 + n % 17, &format!("p{n}"));
            let sent = agent
                .post(format!("{url}/v1/catalog?format=csv"))
                .header("Authorization", format!("Bearer {key}"))
                .send(&std::fs::read(&file).unwrap()[..]);
            if sent.is_ok_and(|r| r.status().as_u16() == 200) {
                published.push(file);
            }
            std::thread::sleep(every);
        }
        published
    })
}

/// `tsd-server --data DATA serve --listen ADDR` (this package's binary), once it
/// listens: its child and URL.
#[allow(dead_code)] // not every test file serves the binary
pub fn serve_data(data: &Path, listen: &str) -> (std::process::Child, String) {
    serve_binary(
        env!("CARGO_BIN_EXE_tsd-server"),
        &[
            "--data".as_ref(),
            data.as_os_str(),
            "serve".as_ref(),
            "--listen".as_ref(),
            listen.as_ref(),
        ],
    )
}

/// Starts the `tsd-server` binary `bin` with `args` (ending in `serve --listen
/// ADDR …`) and returns it once it printed `listening on URL`, with the URL. A
/// port still held by a killed process is tried again for up to 20 s.
pub fn serve_binary(bin: &str, args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut child = std::process::Command::new(bin)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            return (child, url.to_string());
        }
        let _ = child.wait();
        assert!(std::time::Instant::now() < deadline, "server did not start: {args:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A served data folder for the console's tests: the catalog `catalog` (CSV)
/// published, a terminal «ТСД-1», an admin «Ирина» and a read-only «аудитор»,
/// the server on loopback with a print worker that gives up fast.
pub struct ConsoleWorld {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub csv: PathBuf,
    pub token: String,
    pub password: String,
    pub viewer: String,
    pub bg: tsd_server::run::Background,
}

impl ConsoleWorld {
    pub fn new(catalog: &str) -> ConsoleWorld {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("srv");
        let server = Server::open(&data).unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(&csv, catalog).unwrap();
        server.publish_catalog(&csv, Format::Csv).unwrap();
        let token = server.add_device("ТСД-1").unwrap();
        let password = server.add_admin("Ирина", false).unwrap();
        let viewer = server.add_admin("аудитор", true).unwrap();
        let mut serving = Server::open(&data).unwrap();
        serving.set_print_settings(tsd_server::print::PrintSettings {
            connect_timeout: Duration::from_millis(500),
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            max_attempts: 2,
            ..Default::default()
        });
        let bg = tsd_server::run::Background::start(serving, "127.0.0.1:0", None).unwrap();
        ConsoleWorld {
            dir,
            server,
            csv,
            token,
            password,
            viewer,
            bg,
        }
    }
}
