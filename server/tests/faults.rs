//! A fault-injecting proxy between terminals and a real server on loopback: it
//! cuts requests and responses at random bytes, delays, answers 503 with
//! `Retry-After`, answers 500/502 after the server did the work, and replays
//! requests. Several terminals scan and sync through it for 200+ randomized rounds
//! while the server publishes catalog versions and hands out tasks. At the end the
//! server holds every completed document exactly once, every terminal's catalog
//! equals the final version, and no outbox holds anything.

mod common;
use common::proxy::Proxy;
use common::*;
use std::sync::atomic::Ordering;
use tsd_core::catalog::Format;
use tsd_server::run::Background;

#[test]
fn two_hundred_rounds_through_a_faulty_network_end_exactly_once() {
    let seed = std::env::var("TSD_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("fault seed {seed} (rerun with TSD_FAULT_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let w = World::new(400);
    let admin = w.server();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let proxy = Proxy::start(bg.addr, seed);
    let url = format!("http://{}", proxy.addr);

    let names = ["t1", "t2", "t3"];
    let terminals: Vec<_> = names
        .iter()
        .map(|n| {
            let token = admin.add_device(n).unwrap();
            let (rt, data) = w.terminal(n);
            (rt, data, settings(&url, &token))
        })
        .collect();
    let mut completed = Vec::new();
    let mut tasks: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    let mut latest = w.catalog.clone();
    let (mut ok_syncs, mut failed_syncs) = (0, 0);
    for round in 0..220 {
        let t = rng.usize(0..terminals.len());
        let (rt, _, s) = &terminals[t];
        match rng.u32(0..100) {
            0..=39 => {
                let codes: Vec<String> = (0..rng.usize(1..5))
                    .map(|_| w.barcodes[rng.usize(0..w.barcodes.len())].clone())
                    .collect();
                completed.push(scan_and_complete(rt, &codes));
            }
            40..=84 => match rt.sync_server(s, &mut |_| {}) {
                Ok(_) => ok_syncs += 1,
                Err(e) => {
                    assert!(
                        matches!(e, tsd_core::Error::Network { .. } | tsd_core::Error::Server { .. }),
                        "round {round}: unexpected error kind: {e}"
                    );
                    failed_syncs += 1;
                }
            },
            85..=92 => {
                let next = w.dir.path().join(format!("v-{round}.csv"));
                change(&w.catalog, &next, rng.usize(4..30), &format!("r{round}"));
                admin.publish_catalog(&next, Format::Csv).unwrap();
                latest = next;
            }
            _ => {
                let id = format!("Т-{round}");
                let line = format!(r#"{{"id":"{id}","type":"picking","number":"{round}","lines":[{{"product":"P00000001","qty":1}}]}}"#);
                admin.add_tasks(names[t], &line).unwrap();
                tasks[t].push(id);
            }
        }
    }
    let st = &proxy.stats;
    let counts = [
        &st.cut_request,
        &st.unavailable,
        &st.error_after,
        &st.replayed,
        &st.cut_response,
        &st.delayed,
    ]
    .map(|c| c.load(Ordering::Relaxed));
    eprintln!(
        "syncs ok {ok_syncs} failed {failed_syncs}; faults cut_request/503/error_after/replayed/cut_response/delayed = {counts:?}, passed {}, resumed downloads {}",
        st.passed.load(Ordering::Relaxed),
        st.ranged.load(Ordering::Relaxed)
    );
    assert!(counts.iter().all(|&c| c > 0), "every fault kind happened: {counts:?}");
    assert!(ok_syncs > 0 && failed_syncs > 0, "some syncs got through the faults, some did not");

    // The network heals; each terminal syncs until nothing waits.
    proxy.faults.store(false, Ordering::SeqCst);
    let server_version = admin.store().latest_catalog().unwrap().unwrap().version;
    let want = reference_dump(w.dir.path(), &latest);
    for (i, (rt, data, s)) in terminals.iter().enumerate() {
        let report = rt.sync_server(s, &mut |_| {}).unwrap();
        assert_eq!(report.waiting, 0);
        let status = rt.sync_status().unwrap();
        assert!(status.synced, "{status:?}");
        assert_eq!(status.catalog_version, server_version);
        assert!(rt.outbox().unwrap().is_empty());
        assert_eq!(catalog_dump(data), want, "terminal {} has the final catalog", names[i]);
        for id in &tasks[i] {
            assert!(rt.document(id).is_ok(), "{} has task {id}", names[i]);
        }
        for (j, others) in tasks.iter().enumerate() {
            if j != i {
                for id in others {
                    assert!(rt.document(id).is_err(), "{} must not see {}'s task {id}", names[i], names[j]);
                }
            }
        }
    }
    let stored = stored_counts(&admin);
    let mut want_docs: Vec<_> = completed.clone();
    want_docs.sort();
    assert_eq!(
        stored.keys().cloned().collect::<Vec<_>>(),
        want_docs,
        "every completed document is on the server"
    );
    assert!(stored.values().all(|&n| n == 1), "each exactly once: {stored:?}");
    bg.stop();
}
