//! Progress as a person at a terminal sees it: `tsd import` with standard error on
//! a pseudo-terminal draws a progress line there, and standard output carries
//! exactly what it carries in a pipe. Without a terminal, or with `--quiet`, no
//! progress at all.

#[path = "../../server/tests/common/pty.rs"]
mod pty;

use pty::group;
use std::path::Path;
use std::process::Command;

/// `tsd ARGS` with standard error on a pseudo-terminal.
fn on_terminal(args: &[&str]) -> (Vec<u8>, String) {
    pty::on_terminal(Path::new(env!("CARGO_BIN_EXE_tsd")), args)
}

fn catalog(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tsd"))
        .args([
            "--db",
            dir.join("gen-db").to_str().unwrap(),
            "dev",
            "gen-catalog",
            "--products",
            "50000",
            "--out",
        ])
        .arg(dir.join("gen"))
        .output()
        .unwrap();
    assert!(out.status.success());
    dir.join("gen/catalog.csv").to_str().unwrap().to_string()
}

#[test]
fn import_shows_progress_on_a_terminal_and_keeps_standard_output_clean() {
    let dir = tempfile::tempdir().unwrap();
    let csv = catalog(dir.path());
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    assert!(rows > 65_536, "more rows than one progress batch: {rows}");
    let db = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    let (stdout, terminal) = on_terminal(&["--json", "--db", &db("a"), "import", &csv]);
    // The line counts toward the file's row count, with a bar, a rate and time left…
    let total = format!("/{} rows", group(rows as u64));
    assert!(terminal.contains("reading"), "{terminal:?}");
    assert!(terminal.contains(&total), "no {total:?} in {terminal:?}");
    assert!(terminal.contains("65,536/"), "a count past the first batch: {terminal:?}");
    assert!(terminal.contains("left") && terminal.contains("/s"), "{terminal:?}");
    // …and is redrawn in place, then cleared.
    assert!(terminal.contains('\r') || terminal.contains("\x1b["), "{terminal:?}");
    // Standard output: the JSON report alone.
    let text = String::from_utf8(stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["rows"], rows as u64);
    assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");

    // In a pipe: the same kind of output and not a byte of progress.
    let piped = Command::new(env!("CARGO_BIN_EXE_tsd"))
        .args(["--json", "--db", &db("b"), "import", &csv])
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert_eq!(
        String::from_utf8_lossy(&piped.stderr),
        "",
        "nothing on a standard error that is not a terminal"
    );
    let piped: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(piped["rows"], report["rows"]);

    // --quiet on a terminal: nothing either.
    let (_, quiet) = on_terminal(&["--quiet", "--json", "--db", &db("c"), "import", &csv]);
    assert_eq!(quiet, "", "--quiet draws nothing");
}
