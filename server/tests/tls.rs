//! HTTPS with certificates made in the test: a private CA signs the server's
//! certificate. A terminal trusting that CA syncs; one without it is refused; a
//! wrong pinned fingerprint is refused even with the CA; the right pin alone is
//! enough (a server with a self-made certificate).

mod common;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tsd_core::Error;
use tsd_server::run::{Background, TlsFiles};

struct Pki {
    ca_pem: String,
    server_der: Vec<u8>,
    files: TlsFiles,
}

fn pki(dir: &std::path::Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Склад CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "tsd-server");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let files = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_der: cert.der().to_vec(),
        files,
    }
}

#[test]
fn tls_trusts_the_custom_ca_or_the_pin_and_nothing_else() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let pki = pki(w.dir.path());
    let bg = Background::start(w.server(), "127.0.0.1:0", Some(pki.files.clone())).unwrap();
    assert!(bg.url.starts_with("https://127.0.0.1:"), "{}", bg.url);
    let (rt, _) = w.terminal("t1");
    scan_and_complete(&rt, &w.barcodes[..2]);

    // No custom CA: Mozilla's roots do not know this CA.
    let e = rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("issuer"), "{e}");
    assert_eq!(rt.sync_status().unwrap().last_error_code.as_deref(), Some("tls"));

    // The right CA, a wrong pin: refused.
    let mut s = settings(&bg.url, &token);
    s.ca_pem = Some(pki.ca_pem.clone().into_bytes());
    s.pin_sha256 = Some("00".repeat(32));
    let e = rt.sync_server(&s, &mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::Tls { .. }) && e.to_string().contains("pinned"), "{e}");
    assert_eq!(rt.outbox().unwrap().len(), 1, "nothing was sent over an untrusted link");

    // The right CA: synced.
    s.pin_sha256 = None;
    let r = rt.sync_server(&s, &mut |_| {}).unwrap();
    assert_eq!((r.pushed.len(), r.catalog_version), (1, 1));

    // The pin alone (no CA) is enough; `:`-separated upper-case hex is accepted.
    let fp = tsd_core::sync::tls::fingerprint(&pki.server_der).to_uppercase();
    let pairs: Vec<String> = fp.as_bytes().chunks(2).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let mut pinned = settings(&bg.url, &token);
    pinned.pin_sha256 = Some(pairs.join(":"));
    let (rt2, _) = w.terminal("t2");
    let token2 = admin.add_device("t2").unwrap();
    pinned.token = token2;
    assert_eq!(rt2.sync_server(&pinned, &mut |_| {}).unwrap().catalog_version, 1);

    // A CA file that holds no certificate is a clear argument error.
    let mut bad = settings(&bg.url, &token);
    bad.ca_pem = Some(b"not a pem".to_vec());
    assert!(matches!(rt.sync_server(&bad, &mut |_| {}), Err(Error::InvalidArgument(_))));
    bg.stop();
}
