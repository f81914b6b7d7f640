//! A pseudo-terminal for a command's standard error: what a person at a terminal
//! sees of its progress. Shared by `cli/tests/progress.rs` (through `#[path]`) and
//! `server/tests/progress.rs`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `program ARGS` with standard error on a fresh pseudo-terminal (100
/// columns) and standard output piped; returns (standard output, what the
/// terminal received). The command must succeed.
pub fn on_terminal(program: &Path, args: &[&str]) -> (Vec<u8>, String) {
    let size = nix::pty::Winsize {
        ws_row: 30,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&size, None).expect("openpty");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    // The terminal's side, read until the last writer (the child) is gone.
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break, // EIO once the slave side is closed
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{} {args:?}: {:?}", program.display(), out.status);
    (out.stdout, reader.join().unwrap())
}

/// 1234567 → "1,234,567", as the progress line writes counts.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
