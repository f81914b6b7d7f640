//! Tasks as an integrator who wrote a 1C connection from the protocol alone meets
//! them: checked against the configuration and catalog when they are added,
//! withdrawn with DELETE, planned in packagings, and never able to stall a
//! terminal's sync.

mod common;

use common::*;
use tsd_core::documents::ScanStatus;
use tsd_server::run::Background;

const CATALOG: &str = "product_id,name,packaging_id,packaging_name,factor,barcode
P1,Молоко,,,,4601234567893
P1,Молоко,box,Коробка 12 шт,12,14601234567890
P2,Кефир,,,,4601234567909
";

fn http(method: &str, url: &str, key: &str, body: &str) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut resp = match method {
        "POST" => agent.post(url).header("Authorization", format!("Bearer {key}")).send(body),
        _ => agent.delete(url).header("Authorization", format!("Bearer {key}")).call(),
    }
    .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

struct Setup {
    dir: tempfile::TempDir,
    server: tsd_server::Server,
    bg: Background,
    key: String,
    token: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("srv");
    let server = tsd_server::Server::open(&server_dir).unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, CATALOG).unwrap();
    server.publish_catalog(&csv, tsd_core::catalog::Format::Csv).unwrap();
    let token = server.add_device("t1").unwrap();
    let key = server.new_integration_key().unwrap();
    let bg = Background::start(tsd_server::Server::open(&server_dir).unwrap(), "127.0.0.1:0", None).unwrap();
    Setup {
        dir,
        server,
        bg,
        key,
        token,
    }
}

#[test]
fn a_task_the_terminal_could_not_take_is_refused_naming_its_line() {
    let s = setup();
    let url = format!("{}/v1/tasks?device=t1", s.bg.url);
    let good = r#"{"id":"T-1","type":"picking","lines":[{"product":"P1","qty":2}]}"#;
    for (bad, says) in [
        (
            r#"{"id":"T-2","type":"audit","lines":[{"product":"P1","qty":1}]}"#,
            "document type \"audit\"",
        ),
        (
            r#"{"id":"T-2","type":"picking","lines":[{"product":"NOPE","qty":1}]}"#,
            "product \"NOPE\" is not in the published catalog v1",
        ),
        (
            r#"{"id":"T-2","type":"picking","lines":[{"product":"P1","packaging":"pallet","qty":1}]}"#,
            "no packaging \"pallet\"",
        ),
        (
            r#"{"id":"T-2","type":"picking","lines":[{"product":"P1","qty":1.2345}]}"#,
            "quantity 1.2345",
        ),
        (r#"{"id":"","type":"picking"}"#, "needs an id"),
    ] {
        let (status, answer) = http("POST", &url, &s.key, &format!("{good}\n{bad}\n"));
        assert_eq!(status, 400, "{bad}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.starts_with("line 2:") && message.contains(says), "{bad}: {message}");
    }
    assert_eq!(s.server.store().tasks_after(1, 0).unwrap().len(), 0, "nothing was added");
    let (status, answer) = http("POST", &url, &s.key, good);
    assert_eq!((status, &answer["added"]), (200, &serde_json::json!(1)));
    s.bg.stop();
}

#[test]
fn a_withdrawn_task_leaves_the_terminal_unless_work_started() {
    let s = setup();
    s.server
        .add_tasks(
            "t1",
            "{\"id\":\"T-1\",\"type\":\"picking\",\"lines\":[{\"product\":\"P1\",\"qty\":2}]}\n\
             {\"id\":\"T-2\",\"type\":\"picking\",\"lines\":[{\"product\":\"P2\",\"qty\":1}]}\n",
        )
        .unwrap();
    let rt = tsd_core::Runtime::open(&s.dir.path().join("t1")).unwrap();
    let cfg = settings(&s.bg.url, &s.token);
    assert_eq!(rt.sync_server(&cfg, &mut |_| {}).unwrap().tasks_added, 2);
    assert_eq!(rt.scan("T-2", "4601234567909", None).unwrap().status, ScanStatus::Accepted);

    for id in ["T-1", "T-2"] {
        let (status, answer) = http("DELETE", &format!("{}/v1/tasks/{id}", s.bg.url), &s.key, "");
        assert_eq!((status, answer["cancelled"].clone()), (200, serde_json::json!(["t1"])), "{answer}");
    }
    assert_eq!(http("DELETE", &format!("{}/v1/tasks/T-9", s.bg.url), &s.key, "").0, 404);
    let report = rt.sync_server(&cfg, &mut |_| {}).unwrap();
    assert_eq!(report.tasks_cancelled, vec!["T-1".to_string(), "T-2".to_string()]);
    let ids: Vec<String> = rt.documents().unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, vec!["T-2".to_string()], "T-1 removed; T-2 kept: work had started");
    let status = rt.sync_status().unwrap();
    assert_eq!(status.set_aside_tasks.len(), 1);
    assert!(
        status.set_aside_tasks[0].reason.contains("withdrawn"),
        "{:?}",
        status.set_aside_tasks
    );
    // The operator finishes it; it goes back as usual.
    assert!(rt.complete("T-2").unwrap());
    assert_eq!(rt.sync_server(&cfg, &mut |_| {}).unwrap().pushed, vec!["T-2".to_string()]);
    s.bg.stop();
}

/// The configuration comes before the tasks: a task of a type only the new
/// configuration defines is taken in the same sync.
#[test]
fn a_task_of_a_new_document_type_arrives_with_its_configuration() {
    let s = setup();
    let rt = tsd_core::Runtime::open(&s.dir.path().join("t1")).unwrap();
    let cfg = settings(&s.bg.url, &s.token);
    rt.sync_server(&cfg, &mut |_| {}).unwrap();
    s.server
        .publish_config(r#"{"document_types":[{"id":"picking"},{"id":"audit","name":"Ревизия","allow_overscan":true}]}"#)
        .unwrap();
    s.server
        .add_tasks(
            "t1",
            r#"{"id":"R-1","type":"audit","lines":[{"product":"P1","packaging":"box","qty":2}]}"#,
        )
        .unwrap();
    let report = rt.sync_server(&cfg, &mut |_| {}).unwrap();
    assert!(report.config_applied.is_some());
    assert_eq!(report.tasks_added, 1);
    assert!(rt.sync_status().unwrap().set_aside_tasks.is_empty());

    // Planned in boxes: 2 boxes of 12 are 24 units, and the screen can say "2 × Коробка".
    let line = rt.document("R-1").unwrap().lines.remove(0);
    assert_eq!(line.planned, Some(24_000));
    assert_eq!(line.planned_as.as_deref(), Some("2 × Коробка 12 шт"));
    s.bg.stop();
}

/// The admin's side: `tsd-server tasks add` and `tasks cancel` on the command line.
#[test]
fn the_admin_withdraws_a_task_from_the_command_line() {
    let s = setup();
    let bin = env!("CARGO_BIN_EXE_tsd-server");
    let data = s.dir.path().join("srv");
    let tasks = s.dir.path().join("tasks.jsonl");
    std::fs::write(
        &tasks,
        "{\"id\":\"T-7\",\"type\":\"picking\",\"lines\":[{\"product\":\"P1\",\"qty\":1}]}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .arg("--data")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(&["tasks", "add", "--device", "t1", tasks.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out, r#"{"added":1}"#);
    let (ok, out, err) = run(&["tasks", "cancel", "T-7"]);
    assert!(ok, "{err}");
    assert_eq!(out, r#"{"cancelled":["t1"]}"#);
    let (ok, _, err) = run(&["tasks", "cancel", "T-7"]);
    assert!(!ok && err.contains("no open task"), "cancelled once: {err}");
    s.bg.stop();
}
