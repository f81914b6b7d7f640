//! `tsd-server loadgen`: a fleet of simulated terminals against a server on
//! loopback, for sizing (not a test: `scripts/bench.sh` runs it, figures in
//! `docs/benchmarks.md`).
//!
//! Each simulated terminal has its own device token and syncs every `interval`
//! (first syncs spread evenly over one interval, so the rate is steady from the
//! start): `hello`, 0–2 finished documents of 5–50 scans pushed with their
//! idempotency keys, the catalog offer (a share of terminals starts one version
//! behind and downloads the delta), tasks, the status report. Online lookups go at
//! a fixed total rate from the share of terminals that is scanning, each at
//! scanning rate (one code every `scan_every`), nine in ten for codes in the catalog.
//! Open loop: a sync's latency is counted from when it was due, so a server that
//! falls behind shows it. Bounded by `duration`; only loopback addresses.
//!
//! `--morning N` runs the morning after a publish instead: a new version is
//! published, N terminals (most one version behind, one in ten holding nothing)
//! ask for it at once; reported are the time until all hold it, bytes and errors.

use crate::error::{Error, Result};
use crate::Server;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tsd_core::catalog::Format;
use tsd_core::package::{Header, Kind, PackageWriter};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// The server, or its instances (`http://127.0.0.1:PORT`; loopback only): each
    /// request goes to the next, as behind a round-robin balancer.
    pub urls: Vec<String>,
    /// Simulated terminals.
    pub terminals: usize,
    /// Each terminal syncs this often.
    pub interval: Duration,
    /// How long the run lasts.
    pub duration: Duration,
    /// Online lookups per second, all terminals together.
    pub lookups_per_sec: f64,
    /// A scanning terminal looks a code up this often: the lookups come from
    /// `lookups_per_sec × scan_every` terminals (all of them at most), in turn.
    pub scan_every: Duration,
    /// Share of terminals that start one catalog version behind (they download the
    /// delta at their first sync).
    pub behind: f64,
    /// Products of the catalog published when none is.
    pub products: u64,
    /// Server processes whose CPU time and memory are reported.
    pub server_pids: Vec<u32>,
    /// Instead of the fleet run: this many terminals ask for a new version at once.
    pub morning: Option<usize>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Percentiles {
    fn of(mut us: Vec<u64>) -> Percentiles {
        if us.is_empty() {
            return Percentiles::default();
        }
        us.sort_unstable();
        let at = |q: f64| us[((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1] as f64 / 1000.0;
        Percentiles {
            count: us.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: *us.last().unwrap_or(&0) as f64 / 1000.0,
        }
    }
}

/// CPU and memory of one server process over the run.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessUse {
    /// Its pid.
    pub pid: u32,
    /// CPU seconds (user + system) over the run.
    pub cpu_seconds: f64,
    /// CPU seconds per second of run (1.0 = one core busy).
    pub cores: f64,
    /// Resident memory at the end, MiB.
    pub rss_mib: f64,
    /// Peak resident memory, MiB.
    pub peak_rss_mib: f64,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// `fleet` or `morning`.
    pub scenario: &'static str,
    /// Simulated terminals.
    pub terminals: usize,
    /// Seconds each syncs.
    pub interval_s: f64,
    /// Seconds the run lasted.
    pub duration_s: f64,
    /// Syncs that went through (status reported).
    pub syncs: u64,
    /// Of them per second.
    pub syncs_per_sec: f64,
    /// Sync latency from when it was due to its status answered.
    pub sync_latency: Percentiles,
    /// Online lookups answered.
    pub lookups: u64,
    /// Of them per second.
    pub lookups_per_sec: f64,
    /// Lookup latency from when it was due.
    pub lookup_latency: Percentiles,
    /// Failed requests (network, timeouts, statuses other than expected), by what.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Documents the server acknowledged as stored.
    pub documents_acknowledged: u64,
    /// Documents the server holds that this run sent (must equal the above).
    pub documents_on_server: u64,
    /// Package bytes downloaded.
    pub package_bytes: u64,
    /// Deltas and snapshots downloaded.
    pub downloads: (u64, u64),
    /// The server processes' CPU and memory.
    pub server: Vec<ProcessUse>,
}

#[derive(Default)]
struct Tally {
    syncs: AtomicU64,
    lookups: AtomicU64,
    acknowledged: AtomicU64,
    package_bytes: AtomicU64,
    deltas: AtomicU64,
    snapshots: AtomicU64,
    sync_us: Mutex<Vec<u64>>,
    lookup_us: Mutex<Vec<u64>>,
    errors: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Tally {
    fn error(&self, what: String) {
        *crate::lock(&self.errors).entry(what).or_insert(0) += 1;
    }
}

/// The simulated fleet's set-up, kept in `DIR/loadgen/` of the admin's data folder.
pub struct Fleet {
    tokens: Vec<String>,
    barcodes: Vec<String>,
    work: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    crate::io(path)
}

/// A changed copy of a generated CSV catalog: every 50th product renamed (a realistic
/// day's changes, so that a delta is small next to the snapshot).
fn changed_catalog(from: &Path, to: &Path, tag: &str) -> Result<()> {
    let bad = |e: csv::Error| Error::BadRequest(format!("{}: {e}", from.display()));
    let mut reader = csv::Reader::from_path(from).map_err(bad)?;
    let mut writer = csv::Writer::from_path(to).map_err(bad)?;
    writer.write_record(reader.headers().map_err(bad)?).map_err(bad)?;
    for record in reader.records() {
        let mut fields: Vec<String> = record.map_err(bad)?.iter().map(str::to_string).collect();
        // Every row of a product (one per barcode) alike.
        let n: u64 = fields[0].trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(1);
        if n.is_multiple_of(50) && fields.len() > 2 {
            fields[2] = format!("{} {tag}", fields[2]);
        }
        writer.write_record(&fields).map_err(bad)?;
    }
    writer.flush().map_err(io(to))
}

impl Fleet {
    /// Makes sure the catalog (two versions, so a delta exists) and `terminals`
    /// devices exist, keeping the tokens and barcodes for the next runs.
    pub fn prepare(server: &Server, dir: &Path, terminals: usize, products: u64) -> Result<Fleet> {
        let work = dir.join("loadgen");
        std::fs::create_dir_all(work.join("tmp")).map_err(io(&work))?;
        let barcodes_path = work.join("barcodes.txt");
        if server.store().latest_catalog()?.is_none() {
            let generated = tsd_core::catalog::generate(&work.join("catalog"), products, 11)?;
            server.publish_catalog(&generated.catalog, Format::Csv)?;
            let v2 = work.join("catalog-v2.csv");
            changed_catalog(&generated.catalog, &v2, "v2")?;
            server.publish_catalog(&v2, Format::Csv)?;
            std::fs::copy(&generated.barcodes, &barcodes_path).map_err(io(&barcodes_path))?;
        }
        let barcodes: Vec<String> = std::fs::read_to_string(&barcodes_path)
            .map_err(|e| {
                Error::Conflict(format!(
                    "{}: {e} — a catalog was published without the load generator; use a fresh data folder",
                    barcodes_path.display()
                ))
            })?
            .lines()
            .map(str::to_string)
            .collect();
        let tokens_path = work.join("tokens.txt");
        let mut tokens: Vec<String> = std::fs::read_to_string(&tokens_path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if tokens.len() < terminals {
            let now = crate::now_ms();
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&tokens_path)
                .map_err(io(&tokens_path))?;
            for start in (tokens.len()..terminals).step_by(5000) {
                let batch: Vec<(String, String, String)> = (start..terminals.min(start + 5000))
                    .map(|i| {
                        let token = crate::random_token("tsd_dev_");
                        (format!("loadgen-{i:06}"), crate::token_hash(&token), token)
                    })
                    .collect();
                let rows: Vec<(String, String)> = batch.iter().map(|(n, h, _)| (n.clone(), h.clone())).collect();
                server.store().add_devices(&rows, now)?;
                use std::io::Write;
                for (_, _, token) in batch {
                    writeln!(out, "{token}").map_err(io(&tokens_path))?;
                    tokens.push(token);
                }
            }
        }
        tokens.truncate(terminals);
        Ok(Fleet { tokens, barcodes, work })
    }
}

/// Only loopback: the generator never loads a server elsewhere.
fn check_loopback(url: &str) -> Result<()> {
    let host = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .map(|h| h.rsplit_once(':').map_or(h, |(h, _)| h))
        .ok_or_else(|| Error::BadRequest(format!("--url {url:?}: give http://127.0.0.1:PORT")))?;
    if ["127.0.0.1", "[::1]", "localhost"].contains(&host) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "--url {url:?}: the load generator runs against loopback only"
        )))
    }
}

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    urls: Vec<String>,
    next: AtomicU64,
}

impl Http {
    /// One request; the body of a success, else an error named by route and status.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        extra: &[(&str, String)],
        body: Bytes,
        route: &str,
    ) -> std::result::Result<(u16, Bytes), String> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!(
                "{}{path}",
                self.urls[self.next.fetch_add(1, Ordering::Relaxed) as usize % self.urls.len()]
            ))
            .header("Authorization", format!("Bearer {token}"))
            .header("TSD-Protocol", "1");
        for (k, v) in extra {
            req = req.header(*k, v);
        }
        let req = req.body(Full::new(body)).map_err(|e| format!("{route}: {e}"))?;
        let resp = tokio::time::timeout(Duration::from_secs(60), self.client.request(req))
            .await
            .map_err(|_| format!("{route}: timeout"))?
            .map_err(|e| format!("{route}: {}", if e.is_connect() { "connect" } else { "network" }))?;
        let status = resp.status().as_u16();
        let bytes = tokio::time::timeout(Duration::from_secs(60), resp.into_body().collect())
            .await
            .map_err(|_| format!("{route}: timeout"))?
            .map_err(|_| format!("{route}: body cut"))?
            .to_bytes();
        if status >= 400 {
            return Err(format!("{route}: {status}"));
        }
        Ok((status, bytes))
    }
}

/// Names this run's documents apart from an earlier run's on the same server.
static RUN: std::sync::LazyLock<i64> = std::sync::LazyLock::new(crate::now_ms);

/// A finished document of `scans` scans as a package (built by the core's writer,
/// as a terminal does).
fn document_package(
    work: &Path,
    device: usize,
    n: u64,
    scans: usize,
    barcodes: &[String],
    rng: &mut fastrand::Rng,
) -> Result<(String, String, Bytes)> {
    let id = format!("lg-{}-{device}-{n}-{}", *RUN, rng.u32(..));
    let completed = crate::now_ms();
    let scans: Vec<serde_json::Value> = (0..scans)
        .map(|i| serde_json::json!({"seq": i + 1, "raw": barcodes[rng.usize(..barcodes.len())], "qty": 1, "at": completed - 1000}))
        .collect();
    let doc = serde_json::json!({"id": id, "type": "receiving", "number": format!("{n}"), "completed_at": completed, "scans": scans});
    let mut header = Header::new(Kind::FinishedDocuments, "loadgen", 1);
    header.package_id = id.clone();
    let file = tempfile::NamedTempFile::new_in(work).map_err(io(work))?;
    let mut w = PackageWriter::create(file.path(), &header, None).map_err(tsd_core::Error::from)?;
    w.write(&doc.to_string()).map_err(tsd_core::Error::from)?;
    w.finish().map_err(tsd_core::Error::from)?;
    let bytes = std::fs::read(file.path()).map_err(io(file.path()))?;
    Ok((id.clone(), format!("{id}@{completed}"), Bytes::from(bytes)))
}

/// One terminal's sync, as the runtime makes it. Returns the catalog version it
/// then holds.
async fn sync(http: &Http, tally: &Tally, fleet: &Fleet, device: usize, since: i64, n: u64) -> std::result::Result<i64, String> {
    let token = &fleet.tokens[device];
    http.call("GET", "/v1/hello", token, &[], Bytes::new(), "hello").await?;
    let mut rng = fastrand::Rng::with_seed(n ^ (device as u64) << 20);
    for k in 0..rng.usize(0..=2) {
        let scans = rng.usize(5..=50);
        let (work, barcodes) = (fleet.work.join("tmp"), &fleet.barcodes);
        let mut r = rng.clone();
        let (_, key, body) = tokio::task::block_in_place(|| document_package(&work, device, n * 3 + k as u64, scans, barcodes, &mut r))
            .map_err(|e| format!("building a document: {e}"))?;
        let (_, answer) = http
            .call("POST", "/v1/device/documents", token, &[("Idempotency-Key", key)], body, "push")
            .await?;
        let answer: serde_json::Value = serde_json::from_slice(&answer).map_err(|_| "push: not JSON".to_string())?;
        if answer["stored"].as_bool() == Some(true) {
            tally.acknowledged.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (_, offer) = http
        .call(
            "GET",
            &format!("/v1/device/catalog?since={since}"),
            token,
            &[],
            Bytes::new(),
            "offer",
        )
        .await?;
    let offer: tsd_core::protocol::Offer = serde_json::from_slice(&offer).map_err(|_| "offer: not JSON".to_string())?;
    for p in &offer.packages {
        let (_, bytes) = http
            .call(
                "GET",
                &format!("/v1/device/packages/{}", p.name),
                token,
                &[],
                Bytes::new(),
                "package",
            )
            .await?;
        if bytes.len() as i64 != p.size {
            return Err(format!("package: {} bytes of {}", bytes.len(), p.size));
        }
        tally.package_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let counter = if p.kind == "delta" { &tally.deltas } else { &tally.snapshots };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    http.call("GET", "/v1/device/tasks?after=0", token, &[], Bytes::new(), "tasks")
        .await?;
    let status = serde_json::json!({"catalog_version": offer.version, "waiting": 0, "loadgen": true});
    http.call("POST", "/v1/device/status", token, &[], Bytes::from(status.to_string()), "status")
        .await?;
    Ok(offer.version)
}

fn process_times(pid: u32) -> Option<(f64, f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based), in clock ticks (100 a second).
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some((ticks / 100.0, kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0))
}

/// Runs the load and reports. `server` is the admin's handle on the same storage
/// (it counts what arrived).
pub fn run(server: &Server, dir: &Path, s: &LoadSettings) -> Result<LoadReport> {
    if s.urls.is_empty() {
        return Err(Error::BadRequest("give the server's --url".into()));
    }
    for url in &s.urls {
        check_loopback(url)?;
    }
    let terminals = s.morning.unwrap_or(s.terminals);
    let fleet = Arc::new(Fleet::prepare(server, dir, terminals, s.products)?);
    let latest = server.store().latest_catalog()?.map_or(0, |l| l.version);
    let docs_before = server.store().document_ids(false, 0, i64::MAX)?.last().copied().unwrap_or(0);
    let cpu_before: Vec<Option<(f64, f64, f64)>> = s.server_pids.iter().map(|&p| process_times(p)).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(io(dir))?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http = Arc::new(Http {
        client: Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(4096)
            .build(connector),
        urls: s.urls.iter().map(|u| u.trim_end_matches('/').to_string()).collect(),
        next: AtomicU64::new(0),
    });
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let scenario = if let Some(n) = s.morning {
        // A new version, then every terminal asks for it at once.
        let next = fleet.work.join(format!("catalog-morning-{}.csv", latest + 1));
        changed_catalog(&fleet.work.join("catalog").join("catalog.csv"), &next, &format!("m{}", latest + 1))?;
        server.publish_catalog(&next, Format::Csv)?;
        rt.block_on(async {
            let mut tasks = Vec::with_capacity(n);
            for device in 0..n {
                let (http, tally, fleet) = (http.clone(), tally.clone(), fleet.clone());
                let since = if device % 10 == 0 { 0 } else { latest };
                tasks.push(tokio::spawn(async move {
                    let t = Instant::now();
                    match sync(&http, &tally, &fleet, device, since, 1).await {
                        Ok(_) => {
                            tally.syncs.fetch_add(1, Ordering::Relaxed);
                            crate::lock(&tally.sync_us).push(t.elapsed().as_micros() as u64);
                        }
                        Err(e) => tally.error(e),
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        "morning"
    } else {
        rt.block_on(fleet_run(http.clone(), tally.clone(), fleet.clone(), s, latest));
        "fleet"
    };
    let elapsed = started.elapsed().as_secs_f64();
    drop(rt);
    let docs_after = server.store().document_ids(false, docs_before, i64::MAX)?.len() as u64;
    let server_use = s
        .server_pids
        .iter()
        .zip(cpu_before)
        .filter_map(|(&pid, before)| {
            let (cpu0, _, _) = before?;
            let (cpu1, rss, peak) = process_times(pid)?;
            Some(ProcessUse {
                pid,
                cpu_seconds: cpu1 - cpu0,
                cores: (cpu1 - cpu0) / elapsed,
                rss_mib: rss,
                peak_rss_mib: peak,
            })
        })
        .collect();
    let t = &tally;
    let (sync_us, lookup_us) = (
        std::mem::take(&mut *crate::lock(&t.sync_us)),
        std::mem::take(&mut *crate::lock(&t.lookup_us)),
    );
    let errors = crate::lock(&t.errors).clone();
    Ok(LoadReport {
        scenario,
        terminals,
        interval_s: s.interval.as_secs_f64(),
        duration_s: elapsed,
        syncs: t.syncs.load(Ordering::Relaxed),
        syncs_per_sec: t.syncs.load(Ordering::Relaxed) as f64 / elapsed,
        sync_latency: Percentiles::of(sync_us),
        lookups: t.lookups.load(Ordering::Relaxed),
        lookups_per_sec: t.lookups.load(Ordering::Relaxed) as f64 / elapsed,
        lookup_latency: Percentiles::of(lookup_us),
        errors,
        documents_acknowledged: t.acknowledged.load(Ordering::Relaxed),
        documents_on_server: docs_after,
        package_bytes: t.package_bytes.load(Ordering::Relaxed),
        downloads: (t.deltas.load(Ordering::Relaxed), t.snapshots.load(Ordering::Relaxed)),
        server: server_use,
    })
}

/// The fleet: each terminal's syncs at its own phase of the interval, lookups at
/// their rate, until the duration is over (syncs under way are let finish).
async fn fleet_run(http: Arc<Http>, tally: Arc<Tally>, fleet: Arc<Fleet>, s: &LoadSettings, latest: i64) {
    let start = tokio::time::Instant::now();
    let end = start + s.duration;
    let n = fleet.tokens.len();
    let spacing = s.interval.as_secs_f64() / n.max(1) as f64;
    let mut running = Vec::new();
    // Syncs: terminal i at i × spacing, then every interval.
    let syncs = {
        let (http, tally, fleet) = (http.clone(), tally.clone(), fleet.clone());
        let (interval, behind) = (s.interval, s.behind);
        tokio::spawn(async move {
            let mut handles = Vec::new();
            let mut versions: Vec<i64> = (0..n)
                .map(|i| if (i as f64) < behind * n as f64 { latest - 1 } else { latest })
                .collect();
            let mut round = 0u64;
            'outer: loop {
                for (device, version) in versions.iter_mut().enumerate() {
                    let due = start + interval * round as u32 + Duration::from_secs_f64(spacing * device as f64);
                    if due >= end {
                        break 'outer;
                    }
                    tokio::time::sleep_until(due).await;
                    let (http, tally, fleet, since) = (http.clone(), tally.clone(), fleet.clone(), *version);
                    // A terminal that synced once holds the latest version.
                    *version = latest;
                    handles.push(tokio::spawn(async move {
                        match sync(&http, &tally, &fleet, device, since, round + 1).await {
                            Ok(_) => {
                                tally.syncs.fetch_add(1, Ordering::Relaxed);
                                crate::lock(&tally.sync_us).push(due.elapsed().as_micros() as u64);
                            }
                            Err(e) => tally.error(e),
                        }
                    }));
                }
                round += 1;
            }
            for h in handles {
                let _ = h.await;
            }
        })
    };
    running.push(syncs);
    if s.lookups_per_sec > 0.0 {
        let every = Duration::from_secs_f64(1.0 / s.lookups_per_sec);
        // The scanning terminals, spread over the fleet, each in turn.
        let scanners = ((s.lookups_per_sec * s.scan_every.as_secs_f64()).round() as usize).clamp(1, n);
        running.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(5);
            let mut handles = Vec::new();
            let mut due = start;
            let mut turn = 0usize;
            while due < end {
                tokio::time::sleep_until(due).await;
                let device = (turn % scanners) * (n / scanners);
                turn += 1;
                let code = if rng.u8(..10) == 0 {
                    format!("20{:011}", rng.u64(..100_000_000_000))
                } else {
                    fleet.barcodes[rng.usize(..fleet.barcodes.len())].clone()
                };
                let (http, tally, fleet) = (http.clone(), tally.clone(), fleet.clone());
                let at = due;
                handles.push(tokio::spawn(async move {
                    let path = format!("/v1/device/lookup?k={code}");
                    match http.call("GET", &path, &fleet.tokens[device], &[], Bytes::new(), "lookup").await {
                        Ok(_) => {
                            tally.lookups.fetch_add(1, Ordering::Relaxed);
                            crate::lock(&tally.lookup_us).push(at.elapsed().as_micros() as u64);
                        }
                        Err(e) => tally.error(e),
                    }
                }));
                due += every;
            }
            for h in handles {
                let _ = h.await;
            }
        }));
    }
    for r in running {
        let _ = r.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_loaded() {
        assert!(check_loopback("http://127.0.0.1:8480").is_ok());
        assert!(check_loopback("http://[::1]:8480/").is_ok());
        assert!(check_loopback("http://localhost:1").is_ok());
        for url in [
            "http://10.0.0.5:8480",
            "https://127.0.0.1:8480",
            "http://127.0.0.1.evil.com:80",
            "127.0.0.1:80",
        ] {
            assert!(check_loopback(url).is_err(), "{url}");
        }
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let p = Percentiles::of((1..=1000).map(|ms| ms * 1000).collect());
        assert_eq!(
            (p.count, p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms),
            (1000, 500.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(Percentiles::of(vec![]).count, 0);
    }
}
