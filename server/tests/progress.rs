//! The admin publishing a catalog at a terminal: `tsd-server catalog publish`
//! with standard error on a pseudo-terminal shows the reading against the file's
//! rows (after the wait for other publishes) and then the publish's steps in
//! words, while standard output carries the JSON answer alone; in a pipe, no
//! progress at all.

#[path = "common/pty.rs"]
mod pty;

use std::path::Path;
use std::process::Command;

#[test]
fn catalog_publish_shows_its_steps_on_a_terminal_and_keeps_standard_output_clean() {
    let dir = tempfile::tempdir().unwrap();
    // A catalog as the generator writes it: more rows than one progress batch.
    let generated = tsd_core::catalog::generate(&dir.path().join("export"), 40_000, 7).unwrap();
    let rows = std::fs::read_to_string(&generated.catalog).unwrap().lines().count() as u64 - 1;
    assert!(rows > 65_536, "{rows}");
    let csv = generated.catalog.to_str().unwrap();
    let server = Path::new(env!("CARGO_BIN_EXE_tsd-server"));
    let data = dir.path().join("srv");

    let (stdout, terminal) = pty::on_terminal(server, &["--data", data.to_str().unwrap(), "catalog", "publish", csv]);
    // The count comes back after the wait for other publishes…
    let waiting = terminal.find("waiting for other publishes").expect("the wait is shown");
    let total = format!("/{} rows", pty::group(rows));
    let reading = terminal[waiting..]
        .find(&total)
        .unwrap_or_else(|| panic!("no {total:?} after the wait: {terminal:?}"));
    // …and the steps follow in words.
    let building = terminal.find("building the full package").unwrap_or_else(|| panic!("{terminal:?}"));
    assert!(waiting + reading < building, "{terminal:?}");
    let text = String::from_utf8(stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    let published: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(published["version"], 1, "{text}");

    // In a pipe: the answer, and not a byte of progress.
    let piped = Command::new(server)
        .args(["--data", dir.path().join("srv2").to_str().unwrap(), "catalog", "publish", csv])
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "");
    let answer: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(answer["version"], published["version"]);
}
