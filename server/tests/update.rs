//! Client app updates: published on the server (or left in the exchange folder's
//! update/), found by the runtime, downloaded resumably, verified by size and
//! SHA-256 — and a corrupt or partial file is never handed over for install.

mod common;
use common::*;
use tsd_core::update::put_app;
use tsd_core::Error;
use tsd_server::run::Background;

fn apk(dir: &std::path::Path, name: &str, seed: u64) -> (std::path::PathBuf, Vec<u8>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let bytes: Vec<u8> = (0..300_000).map(|_| rng.u8(..)).collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

#[test]
fn an_update_downloads_resumably_and_only_a_verified_file_is_offered() {
    let w = World::new(5);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let (file, bytes) = apk(w.dir.path(), "tsd-2.4.0.apk", 1);
    let published = admin.publish_app(&file, 12, "2.4.0", 10).unwrap();
    assert_eq!(published.size, bytes.len() as u64);
    assert_eq!(
        admin.publish_app(&file, 12, "2.4.0", 10).unwrap(),
        published,
        "the same again changes nothing"
    );
    assert!(admin.publish_app(&file, 11, "2.3.9", 0).is_err(), "never backwards");
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    rt.set_server(Some(&settings(&bg.url, &token))).unwrap();

    let update = rt.check_app_update(9).unwrap().expect("12 is newer than 9");
    assert_eq!(update, published);
    assert!(update.required_for(9) && !update.required_for(10));
    assert!(rt.check_app_update(12).unwrap().is_none());

    // A download cut halfway resumes from where it stopped.
    let half = bytes.len() / 2;
    std::fs::create_dir_all(data.join("updates")).unwrap();
    std::fs::write(data.join("updates/app-12.apk.part"), &bytes[..half]).unwrap();
    let mut first = None;
    let path = rt
        .download_app_update(&update, &mut |done, _| {
            first.get_or_insert(done);
            true
        })
        .unwrap();
    assert!(
        first.unwrap() > half as u64,
        "resumed after {half} bytes, first progress at {first:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // The server's copy is damaged: the download does not verify, nothing is offered.
    let (file13, _) = apk(w.dir.path(), "tsd-2.5.0.apk", 2);
    admin.publish_app(&file13, 13, "2.5.0", 0).unwrap();
    let stored = w.server_dir.join("apps/app-13.apk");
    let mut damaged = std::fs::read(&stored).unwrap();
    damaged[1000] ^= 0x40;
    std::fs::write(&stored, damaged).unwrap();
    let update13 = rt.check_app_update(12).unwrap().unwrap();
    let e = rt.download_app_update(&update13, &mut |_, _| true).unwrap_err();
    assert!(matches!(e, Error::BadUpdate { .. }), "{e}");
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert!(!data.join("updates/app-13.apk").exists(), "a file that does not verify is not kept");
    assert!(!data.join("updates/app-13.apk.part").exists());
    bg.stop();

    // Without a network: the PC leaves the update in the exchange folder.
    let root = w.dir.path().join("exchange");
    let (file20, bytes20) = apk(w.dir.path(), "tsd-3.0.0.apk", 3);
    put_app(&root, &file20, 20, "3.0.0", 0).unwrap();
    let (found, path) = rt.folder_app_update(&root, 13).unwrap().unwrap();
    assert_eq!(found.version_code, 20);
    assert_eq!(std::fs::read(&path).unwrap(), bytes20);
    assert!(rt.folder_app_update(&root, 20).unwrap().is_none(), "not newer");
    std::fs::write(root.join("update/app-20.apk"), &bytes20[..1000]).unwrap();
    let e = rt.folder_app_update(&root, 13).unwrap_err();
    assert!(matches!(e, Error::BadUpdate { .. }) && e.to_string().contains("app-20.apk"), "{e}");
}
