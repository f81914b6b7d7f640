//! Log collection: the runtime's own rotating log in its folder, bundled with the
//! device's versions and sent to the server or left in the exchange folder —
//! without tokens or marking-code crypto tails, ever.
//!
//! One test in this binary: the `log` backend is process-wide.

mod common;
use common::*;
use tsd_server::run::Background;

#[test]
fn logs_reach_the_server_and_the_pc_without_secrets() {
    let w = World::new(5);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    rt.set_server(Some(&settings(&bg.url, &token))).unwrap();
    rt.sync_saved_server(&mut |_| {}).unwrap();
    let mark = "0104601234567893215Abc12\u{1d}91EE07\u{1d}92dGhpcyBpcyBhIHRlc3Q=";
    log::warn!("a line with secrets: Authorization: Bearer {token}; scanned {mark}");

    let id = rt.send_logs("2.3.4 (17)").unwrap();
    let listed = admin.store().logs(10).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].device, "t1");
    assert_eq!(listed[0].info["app_version"], "2.3.4 (17)");
    assert_eq!(listed[0].info["catalog_version"], 1);
    let text = admin.logs_text(id).unwrap();
    assert!(text.contains("runtime") && text.contains("opened"), "{text}");
    assert!(text.contains("a line with secrets"), "{text}");
    assert!(text.contains("0104601234567893215Abc12"), "the code's identity stays: {text}");
    for secret in [token.as_str(), "EE07", "dGhpcyBpcyBhIHRlc3Q="] {
        assert!(!text.contains(secret), "{secret} reached the server's copy");
        for entry in std::fs::read_dir(data.join("logs")).unwrap() {
            let file = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!file.contains(secret), "{secret} reached the terminal's log file");
        }
    }

    // `tsd-server logs get` prints the same text.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsd-server"))
        .args(["--data", w.server_dir.to_str().unwrap(), "logs", "get", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
    bg.stop();

    // Without a server: into from-device/, where the PC's collect files it under logs/.
    let root = w.dir.path().join("exchange");
    let bundle = rt.logs_to_folder(&root, "2.3.4 (17)").unwrap();
    assert!(bundle.starts_with(root.join("from-device")));
    let collected = tsd_core::sync::exchange::collect(&root, &w.dir.path().join("docs.jsonl"), None, false).unwrap();
    assert_eq!(collected.logs.len(), 1, "{collected:?}");
    assert!(collected.rejected.is_empty());
    assert!(root.join("logs").join(&collected.logs[0]).exists());

    // A bundle with a wrong kind is refused with the reason.
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let resp = agent
        .post(format!("{}/v1/device/logs", bg.url))
        .header("Authorization", format!("Bearer {token}"))
        .header("TSD-Protocol", "1")
        .send(&b"not a package"[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    assert_eq!(admin.store().logs(10).unwrap().len(), 1);
    bg.stop();
}
