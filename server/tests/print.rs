//! Printing through the server: jobs made on the terminal survive a restart, travel
//! with a sync, are printed by the server's queue over raw TCP exactly once even
//! when the printer connection is cut mid-job, and their status comes back.
//!
//! The printer is a stand-in on loopback that behaves like a ZPL printer where it
//! matters: one parser across connections, a label printed at `^XZ` of an open
//! format, `^XA` inside an open format ignored, a stray `^XZ` ignored, `~HS`
//! answered with three status strings.

mod common;
use common::printer::{fake_printer, Fault};
use common::*;
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use tsd_server::print::PrintSettings;
use tsd_server::run::Background;

fn fast() -> PrintSettings {
    PrintSettings {
        connect_timeout: Duration::from_secs(1),
        reply_timeout: Duration::from_secs(2),
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
        max_attempts: 3,
        lease: Duration::from_secs(60),
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_job_prints_exactly_once_through_cut_connections() {
    let w = World::new(20);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    // Connections in order: job 1 body (cut mid-body), body again, end (closed right
    // after ^XZ, unconfirmed), end again; job 2 body (closed once all of it
    // arrived, unconfirmed), body again, end; job 3 body, end.
    let (addr, zpl) = fake_printer(&[(0, Fault::CutAfter(40)), (2, Fault::CloseAfterEnd), (4, Fault::CloseAtStatus)]);
    admin.add_printer("zebra-1", &addr).unwrap();

    // Jobs made offline survive a restart of the terminal.
    let (rt, data) = w.terminal("t1");
    let s = settings("http://127.0.0.1:9", &token);
    let mut server = w.server();
    server.set_print_settings(fast());
    let bg = Background::start(server, "127.0.0.1:0", None).unwrap();
    let s = tsd_core::sync::ServerSettings { url: bg.url.clone(), ..s };
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let a = rt.print_label("zebra-1", &w.barcodes[0], 2, Some("89.90")).unwrap();
    let b = rt.print_label("zebra-1", &w.barcodes[1], 1, None).unwrap();
    let doc = rt.new_document("receiving").unwrap();
    rt.scan(&doc.id, &w.barcodes[2], None).unwrap();
    let c = rt.print_document("zebra-1", &doc.id, 1).unwrap();
    drop(rt);
    let rt = tsd_core::Runtime::open(&data).unwrap();
    assert_eq!(rt.print_jobs().unwrap().len(), 3);

    let report = rt.sync_server(&s, &mut |_| {}).unwrap();
    assert_eq!(report.print_jobs_sent, vec![a.id.clone(), b.id.clone(), c.id.clone()]);
    assert!(
        rt.sync_server(&s, &mut |_| {}).unwrap().print_jobs_sent.is_empty(),
        "handed over once"
    );
    wait_until("three jobs sent", || {
        admin
            .store()
            .print_jobs(None, 10)
            .unwrap()
            .iter()
            .filter(|j| j.status == "sent")
            .count()
            == 3
    });
    let labels = zpl.lock().unwrap().labels.clone();
    assert_eq!(labels.len(), 3, "{labels:#?}");
    for (job, copies) in [(&a, 2), (&b, 1), (&c, 1)] {
        let printed: Vec<_> = labels.iter().filter(|l| l.contains(&format!("tsd job {}", job.id))).collect();
        assert_eq!(printed.len(), 1, "job {} printed {} times", job.id, printed.len());
        assert!(printed[0].contains(&format!("^PQ{copies},")), "{}", printed[0]);
    }
    assert!(labels[0].contains("89.90") && labels[0].contains("^BEN"), "{}", labels[0]);
    assert_eq!(zpl.lock().unwrap().connections, 9, "one retry per cut, nothing more");
    let jobs = admin.store().print_jobs(None, 10).unwrap();
    let attempts: Vec<i64> = jobs.iter().map(|j| j.attempts).collect();
    assert_eq!(attempts, vec![0, 1, 2], "failed attempts, newest job first");

    // The terminal learns the outcome with its next sync.
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let statuses = rt.print_jobs().unwrap();
    assert!(statuses.iter().all(|(_, s)| s.status == "sent"), "{statuses:?}");
    bg.stop();

    // And `tsd-server print list` shows them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsd-server"))
        .args(["--data", w.server_dir.to_str().unwrap(), "print", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(listed.as_array().unwrap().iter().all(|j| j["status"] == "sent"));
}

#[test]
fn jobs_for_unknown_or_unreachable_printers_fail_with_the_reason() {
    let w = World::new(5);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    admin.add_printer("dead", &dead).unwrap();
    let mut server = w.server();
    server.set_print_settings(fast());
    let bg = Background::start(server, "127.0.0.1:0", None).unwrap();
    let (rt, _) = w.terminal("t1");
    let s = settings(&bg.url, &token);
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let unknown = rt.print_label("nope", &w.barcodes[0], 1, None).unwrap();
    let off = rt.print_label("dead", &w.barcodes[0], 1, None).unwrap();
    rt.sync_server(&s, &mut |_| {}).unwrap();
    wait_until("both failed", || {
        admin
            .store()
            .print_jobs(None, 10)
            .unwrap()
            .iter()
            .filter(|j| j.status == "failed")
            .count()
            == 2
    });
    rt.sync_server(&s, &mut |_| {}).unwrap();
    let statuses: HashMap<String, _> = rt.print_jobs().unwrap().into_iter().map(|(j, s)| (j.id, s)).collect();
    let reason = |id: &str| statuses[id].message.clone().unwrap_or_default();
    assert_eq!(statuses[&unknown.id].status, "failed");
    assert!(reason(&unknown.id).contains("no printer named \"nope\""), "{}", reason(&unknown.id));
    assert_eq!(statuses[&off.id].status, "failed");
    assert!(reason(&off.id).contains("gave up after 3 attempts"), "{}", reason(&off.id));

    // A bad job over HTTP is refused with the reason; nothing is queued.
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut resp = agent
        .post(format!("{}/v1/device/print", bg.url))
        .header("Authorization", format!("Bearer {token}"))
        .header("TSD-Protocol", "1")
        .send(r#"{"id":"x","printer":"p","template":"poster","copies":1,"fields":{}}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.body_mut().read_to_string().unwrap().contains("unknown print template"));
    assert_eq!(admin.store().print_jobs(None, 10).unwrap().len(), 2);
    let queue: VecDeque<_> = admin.store().open_print_jobs().unwrap().into();
    assert!(queue.is_empty());
    bg.stop();
}
