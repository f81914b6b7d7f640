//! Running the server (issue 14 §2–3): liveness and readiness, Prometheus metrics
//! that count what terminals did, and a SIGTERM that ends the process cleanly.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tsd_server::run::Background;

/// The value of one sample line of an exposition (`name{labels} value`).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn health_readiness_and_metrics_count_what_terminals_did() {
    let w = World::new(5);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let get = |path: &str| {
        let mut r = agent.get(format!("{}{path}", bg.url)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(get("/healthz"), (200, "ok\n".into()));
    assert_eq!(get("/readyz"), (200, "ready\n".into()));

    // A terminal syncs (downloads the catalog), completes a document and syncs it.
    let (rt, _) = w.terminal("t1");
    let s = settings(&bg.url, &token);
    rt.sync_server(&s, &mut |_| {}).unwrap();
    scan_and_complete(&rt, &w.barcodes[..2]);
    rt.sync_server(&s, &mut |_| {}).unwrap();
    // Two online lookups: one the server knows, one it does not.
    for code in [w.barcodes[0].as_str(), "4600000000008"] {
        let resp = agent
            .get(format!("{}/v1/device/lookup?k={code}", bg.url))
            .header("Authorization", format!("Bearer {token}"))
            .header("TSD-Protocol", "1")
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }

    let (status, text) = get("/metrics");
    assert_eq!(status, 200);
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics text");
    assert_eq!(sample(&text, "tsd_documents_received_total"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "tsd_online_lookups_total{outcome=\"hit\"}"), Some(1.0));
    assert_eq!(sample(&text, "tsd_online_lookups_total{outcome=\"miss\"}"), Some(1.0));
    assert_eq!(sample(&text, "tsd_devices_seen_last_hour"), Some(1.0));
    assert_eq!(
        sample(&text, "tsd_syncs_completed_total{via=\"direct\"}"),
        Some(2.0),
        "two syncs went through"
    );
    assert!(sample(&text, "tsd_http_requests_total{route=\"/v1/hello\",method=\"GET\",status=\"200\"}").unwrap() >= 2.0);
    // Routes by pattern, never by raw path: package names do not make series.
    let served = sample(
        &text,
        "tsd_http_response_bytes_total{route=\"/v1/device/packages/{name}\",method=\"GET\"}",
    )
    .unwrap();
    assert!(served > 0.0, "the catalog package's bytes are counted");
    assert!(!text.contains("snapshot-v1"), "no raw paths in labels");
    assert!(text.contains("tsd_http_request_duration_seconds_bucket{"));
    assert_eq!(sample(&text, "tsd_print_jobs{state=\"queued\"}"), Some(0.0));
    bg.stop();
}

/// systemd, Docker and orchestrators stop a service with SIGTERM: the server stops
/// accepting, finishes what it was doing and exits 0 (the default action would kill
/// it with the signal). With `--metrics-listen` the metrics live on their own
/// address only, and with `--admin-listen` the console on its own.
#[cfg(unix)]
#[test]
fn sigterm_ends_the_server_cleanly_and_metrics_can_live_apart() {
    let w = World::new(3);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsd-server"))
        .arg("--data")
        .arg(&w.server_dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut line, mut metrics_line, mut console_line) = (String::new(), String::new(), String::new());
    out.read_line(&mut line).unwrap();
    out.read_line(&mut metrics_line).unwrap();
    out.read_line(&mut console_line).unwrap();
    let console_url = console_line.trim().strip_prefix("admin console on ").unwrap().to_string();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_string();
    let metrics_url = metrics_line.trim().strip_prefix("metrics on ").unwrap().to_string();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    assert_eq!(agent.get(format!("{url}/readyz")).call().unwrap().status().as_u16(), 200);
    // --metrics-listen: the exposition on its own address, not on the public one.
    assert_eq!(agent.get(format!("{url}/metrics")).call().unwrap().status().as_u16(), 404);
    let mut m = agent.get(&metrics_url).call().unwrap();
    assert_eq!(m.status().as_u16(), 200);
    assert!(m
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("tsd_http_requests_total{route=\"/readyz\""));
    // --admin-listen: the console there (its sign-in form), not on the public
    // address; and nothing of the API on the console's.
    let agent_no_redirects = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    assert_eq!(agent.get(format!("{url}/admin/login")).call().unwrap().status().as_u16(), 404);
    let mut form = agent.get(format!("{console_url}/login")).call().unwrap();
    assert_eq!(form.status().as_u16(), 200);
    assert!(form.body_mut().read_to_string().unwrap().contains("name=\"password\""));
    let api = agent_no_redirects
        .get(format!("{}/v1/hello", console_url.trim_end_matches("/admin")))
        .call()
        .unwrap();
    assert_eq!(api.status().as_u16(), 303, "the API is not on the console's address");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert!(agent.get(format!("{url}/healthz")).call().is_err(), "no longer accepting");
}
