//! Printing through the server: jobs made on the terminal survive a restart, travel
//! with a sync, are printed by the server's queue over raw TCP exactly once even
//! when the printer connection is cut mid-job, and their status comes back.
//!
//! The printer is a stand-in on loopback that behaves like a ZPL printer where it
//! matters: one parser across connections, a label printed at `^XZ` of an open
//! format, `^XA` inside an open format ignored, a stray `^XZ` ignored, `~HS`
//! answered with three status strings.

mod common;
use common::*;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tsd_server::print::PrintSettings;
use tsd_server::run::Background;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Close after this many bytes of the connection, answering nothing.
    CutAfter(usize),
    /// Close when `~HS` arrives (everything before it was received).
    CloseAtStatus,
    /// Close right after a `^XZ` is read (the label printed, no confirmation).
    CloseAfterEnd,
}

#[derive(Default)]
struct Zpl {
    pending: Vec<u8>,
    open: Option<Vec<u8>>,
    labels: Vec<String>,
    faults: HashMap<usize, Fault>,
    connections: usize,
}

enum Event {
    Status,
    Printed,
}

impl Zpl {
    /// Parses what is complete; returns the events in order.
    fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        loop {
            let p = &self.pending;
            if p.len() >= 3 && (p[0] == b'^' || p[0] == b'~') {
                match &p[..3] {
                    b"^XA" => {
                        self.open.get_or_insert_with(Vec::new);
                    }
                    b"^XZ" => {
                        if let Some(f) = self.open.take() {
                            self.labels.push(String::from_utf8_lossy(&f).into_owned());
                            events.push(Event::Printed);
                        }
                    }
                    b"~HS" => events.push(Event::Status),
                    _ => {
                        // Another command: up to the next command start.
                        let Some(end) = p[1..].iter().position(|&b| b == b'^' || b == b'~') else {
                            break;
                        };
                        let cmd: Vec<u8> = self.pending.drain(..end + 1).collect();
                        if let Some(f) = &mut self.open {
                            f.extend_from_slice(&cmd);
                        }
                        continue;
                    }
                }
                self.pending.drain(..3);
            } else if !p.is_empty() && p[0] != b'^' && p[0] != b'~' {
                let end = p.iter().position(|&b| b == b'^' || b == b'~').unwrap_or(p.len());
                let text: Vec<u8> = self.pending.drain(..end).collect();
                if let Some(f) = &mut self.open {
                    f.extend_from_slice(&text);
                }
            } else {
                break;
            }
        }
        events
    }
}

const STATUS: &[u8] = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02000,0,0,0,0,2,4,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

fn fake_printer(faults: &[(usize, Fault)]) -> (String, Arc<Mutex<Zpl>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let zpl = Arc::new(Mutex::new(Zpl {
        faults: faults.iter().copied().collect(),
        ..Zpl::default()
    }));
    let state = zpl.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = {
                let mut z = state.lock().unwrap();
                z.connections += 1;
                z.connections - 1
            };
            let fault = state.lock().unwrap().faults.get(&n).copied();
            let mut received = 0;
            let mut buf = [0u8; 64];
            'conn: loop {
                let limit = match fault {
                    Some(Fault::CutAfter(k)) => buf.len().min(k - received),
                    _ => buf.len(),
                };
                if limit == 0 {
                    break;
                }
                let got = match stream.read(&mut buf[..limit]) {
                    Ok(0) | Err(_) => break,
                    Ok(got) => got,
                };
                received += got;
                // Byte by byte, so a close "right after ^XZ" really is right after it.
                for b in &buf[..got] {
                    let events = state.lock().unwrap().feed(std::slice::from_ref(b));
                    for e in events {
                        match (e, fault) {
                            (Event::Printed, Some(Fault::CloseAfterEnd)) => break 'conn,
                            (Event::Status, Some(Fault::CloseAtStatus)) => break 'conn,
                            (Event::Status, _) => {
                                if stream.write_all(STATUS).is_err() {
                                    break 'conn;
                                }
                            }
                            (Event::Printed, _) => {}
                        }
                    }
                }
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    (addr, zpl)
}

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
