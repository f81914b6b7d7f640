//! `POST /v1/catalog` with files as 1C and Excel write them (issue 13 §3): the
//! encoding detected, Russian headers, `columns=`, warnings in the answer, errors
//! that say "request body, line N" and never a server path, CommerceML by its
//! content type.

mod common;

use common::*;
use tsd_server::run::Background;

fn post(agent: &ureq::Agent, url: &str, key: &str, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let mut resp = agent
        .post(url)
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
}

#[test]
fn uploads_are_read_as_people_export_them() {
    let w = World::new(3);
    let admin = w.server();
    let key = admin.new_integration_key().unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let url = format!("{}/v1/catalog", bg.url);

    // Windows-1251, `;`, CRLF, Russian headers, a column nobody knows.
    let text = "Код;Наименование;Штрихкод;Цена\r\nP1;Молоко «Домик»;4601234567893;89,90\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let (status, answer) = post(&agent, &url, &key, "text/csv", bytes.into_owned());
    assert_eq!(status, 200, "{answer}");
    assert!(answer["warnings"][0].as_str().unwrap().contains("«Цена»"), "{answer}");

    // A bad row: the line, named as the request body.
    let text = "Код;Наименование;Штрихкод\r\nP1;A;4601234567893\r\nP2;B;4,60123E+12\r\n";
    let (status, answer) = post(&agent, &url, &key, "text/csv", text.as_bytes().to_vec());
    assert_eq!(status, 422, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.starts_with("request body: line 3:") && message.contains("scientific"),
        "{message}"
    );
    assert!(!message.contains(&admin.tmp_dir().display().to_string()), "{message}");

    // columns= maps a header nobody knows; strict=true refuses the unknown one.
    let text = "Номенклатура.Код;Номенклатура;EAN-13;Цена\nP9;Чай;4600000000008;1\n";
    let mapped = format!("{url}?columns=product_id%3D%D0%9D%D0%BE%D0%BC%D0%B5%D0%BD%D0%BA%D0%BB%D0%B0%D1%82%D1%83%D1%80%D0%B0.%D0%9A%D0%BE%D0%B4,barcode%3DEAN-13");
    let (status, answer) = post(&agent, &mapped, &key, "text/csv", text.as_bytes().to_vec());
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&agent, &format!("{mapped}&strict=true"), &key, "text/csv", text.as_bytes().to_vec());
    assert!(status == 422 && answer["message"].as_str().unwrap().contains("«Цена»"), "{answer}");

    // CommerceML by its content type.
    let import = include_str!("../../core/tests/data/cml/import0_1.xml");
    let (status, answer) = post(&agent, &url, &key, "application/xml", import.as_bytes().to_vec());
    assert_eq!(status, 200, "{answer}");
    let token = admin.add_device("t1").unwrap();
    let (rt, _) = w.terminal("t1");
    rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    assert_eq!(rt.resolve("4600000000008").unwrap().hit().unwrap().product.id, "5f1c2b4e-0001");
    bg.stop();
}
