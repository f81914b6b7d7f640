//! The load generator's small sibling (the figures come from scripts/bench-fleet.sh):
//! `tsd-server loadgen` against a real server on loopback, a few hundred simulated
//! terminals for two seconds — every sync and lookup answered, every document the
//! server acknowledged stored, the report complete; and it refuses an address that
//! is not loopback.

use std::process::Command;
use tsd_server::run::Background;

const BIN: &str = env!("CARGO_BIN_EXE_tsd-server");

#[test]
fn a_small_fleet_syncs_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("srv");
    // The fleet is set up by the generator (devices, two catalog versions) before
    // the server starts, as bench-fleet.sh does.
    let setup = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args([
            "loadgen",
            "--url",
            "http://127.0.0.1:9",
            "--terminals",
            "300",
            "--duration-secs",
            "0",
            "--products",
            "400",
        ])
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
    let bg = Background::start(tsd_server::Server::open(&data).unwrap(), "127.0.0.1:0", None).unwrap();
    let run = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args([
            "loadgen",
            "--url",
            &bg.url,
            "--terminals",
            "300",
            "--interval-secs",
            "2",
            "--duration-secs",
            "2",
        ])
        .args(["--lookups-per-sec", "100", "--behind", "0.1"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(report["syncs"], 300, "each terminal once in one interval: {report}");
    assert!(report["lookups"].as_u64().unwrap() >= 190, "{report}");
    assert!(report["documents_acknowledged"].as_u64().unwrap() > 100, "{report}");
    assert_eq!(
        report["documents_acknowledged"], report["documents_on_server"],
        "nothing lost: {report}"
    );
    assert_eq!(report["downloads"][0], 30, "one in ten started behind and took the delta: {report}");
    assert!(report["sync_latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    bg.stop();

    let refused = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args([
            "loadgen",
            "--url",
            "http://10.1.2.3:8480",
            "--terminals",
            "1",
            "--duration-secs",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("loopback only"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
