//! The server's power cuts: `tsd-server serve` keeps its data folder on a file
//! system that forgets every write not made durable (`tsd-lossyfs`). A terminal
//! completes documents and pushes them over HTTP; at a random moment the server is
//! killed and the power cut (the file system unmounted, mounted again from what
//! was synced). After each cut every document the server acknowledged — the
//! terminal dropped it from its outbox — is on the server exactly once,
//! `server.db` passes `PRAGMA integrity_check`, and the server starts again with
//! no repair; at the end the terminal's outbox drains.
//!
//! `TSD_POWER_SEED=N` replays a run (the seed is printed); `TSD_POWER_SERVER_CUTS`
//! sets how many cuts (25 by default).

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tsd-server");

fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--data").arg(data).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// After a cut: the server's folder opens, intact, with every acknowledged
/// document once.
fn check(data: &Path, acknowledged: &BTreeSet<String>, round: usize) {
    let server = tsd_server::Server::open(data).unwrap_or_else(|e| panic!("after cut {round} the server does not open: {e}"));
    let stored = stored_counts(&server);
    for id in acknowledged {
        assert_eq!(
            stored.get(id),
            Some(&1),
            "after cut {round}: acknowledged document {id} is not on the server once"
        );
    }
    drop(server);
    let conn = rusqlite::Connection::open(data.join("server.db")).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok", "after cut {round}");
}

#[test]
fn documents_the_server_acknowledged_survive_its_power_cuts() {
    let seed = std::env::var("TSD_POWER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    eprintln!("TSD_POWER_SEED={seed}");
    let cuts: usize = std::env::var("TSD_POWER_SERVER_CUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let (backing, at) = (dir.path().join("backing"), dir.path().join("mnt"));
    let mut fs = tsd_lossyfs::mount(&backing, &at).unwrap();
    let data = at.join("srv");
    let (csv, barcodes) = catalog(dir.path(), 200, 3);
    // Set up with the commands; each is done when it returns.
    let token = admin(&data, &["device", "add", "t1"]);
    admin(&data, &["catalog", "publish", csv.to_str().unwrap()]);

    // The terminal's own folder is on an ordinary disk: only the server loses power.
    let rt = tsd_core::Runtime::open(&dir.path().join("terminal")).unwrap();
    let mut completed = BTreeSet::new();
    let mut acknowledged = BTreeSet::new();
    let mut cut_mid_push = 0;
    for round in 0..cuts {
        fs = fs.power_cycle().unwrap();
        check(&data, &acknowledged, round);
        let (mut child, url) = serve_data(&data, "127.0.0.1:0");
        for k in 0..1 + rng.below(6) as usize {
            let codes: Vec<String> = (0..5).map(|i| barcodes[(round * 7 + k * 3 + i) % barcodes.len()].clone()).collect();
            completed.insert(scan_and_complete(&rt, &codes));
        }
        let s = settings(&url, &token);
        // Mostly while pushes are in flight: a push takes a few milliseconds.
        let cut_at = Instant::now() + Duration::from_millis(rng.below(40));
        let syncing = std::thread::scope(|scope| {
            let sync = scope.spawn(|| {
                // Syncs until the server is gone.
                while rt.sync_server(&s, &mut |_| {}).is_ok() && Instant::now() < cut_at {}
            });
            while Instant::now() < cut_at && !sync.is_finished() {
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = child.kill(); // the server's power: the process first…
            child.wait().unwrap();
            sync.join()
        });
        syncing.unwrap();
        let waiting: BTreeSet<String> = rt.outbox().unwrap().into_iter().collect();
        cut_mid_push += waiting.len();
        acknowledged = completed.difference(&waiting).cloned().collect();
        // …then, at the top of the loop, whatever its file system did not sync.
    }
    let fs = fs.power_cycle().unwrap();
    check(&data, &acknowledged, cuts);
    // Once the server stays up, everything still waiting arrives, once.
    let (mut child, url) = serve_data(&data, "127.0.0.1:0");
    rt.sync_server(&settings(&url, &token), &mut |_| {}).unwrap();
    assert!(rt.outbox().unwrap().is_empty());
    let _ = child.kill();
    child.wait().unwrap();
    check(&data, &completed, cuts + 1);
    assert!(!acknowledged.is_empty(), "some pushes must have been acknowledged before a cut");
    eprintln!(
        "{cuts} server power cuts: {} documents completed, a document still on its way at a cut {} times, 0 lost; {} file syncs, {} directory syncs in the last mount",
        completed.len(),
        cut_mid_push,
        fs.stats().file_syncs.load(std::sync::atomic::Ordering::Relaxed),
        fs.stats().dir_syncs.load(std::sync::atomic::Ordering::Relaxed)
    );
}
