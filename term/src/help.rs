//! The help that ships with the binaries, generated from the clap definitions:
//! shell completions (`tsd completions bash`) and manual pages (one per command
//! and subcommand, `tsd-doc-scan(1)`), so neither can drift from the commands.

use clap::Command;
use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `shell`'s completion script for `cmd` to `out`.
pub fn completions(mut cmd: Command, shell: Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Writes a manual page (section 1) for `cmd` and for each of its subcommands,
/// named `NAME.1`, `NAME-SUB.1`, … into `dir`; returns the files written.
pub fn man_pages(cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd;
    cmd.build();
    let mut written = Vec::new();
    let name = cmd.get_name().to_string();
    page(&cmd, &name, dir, &mut written)?;
    Ok(written)
}

fn page(cmd: &Command, name: &str, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if cmd.is_hide_set() || cmd.get_name() == "help" {
        return Ok(());
    }
    let titled = cmd.clone().name(name.to_string()).bin_name(name.replace('-', " "));
    let mut text = Vec::new();
    clap_mangen::Man::new(titled).render(&mut text)?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, text)?;
    written.push(file);
    for sub in cmd.get_subcommands() {
        page(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn demo() -> Command {
        Command::new("demo").about("A demo").subcommand(
            Command::new("doc")
                .about("Documents")
                .subcommand(Command::new("scan").about("Scans").arg(Arg::new("code"))),
        )
    }

    #[test]
    fn a_page_for_each_command_and_subcommand() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("man1");
        let files = man_pages(demo(), &dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["demo.1", "demo-doc.1", "demo-doc-scan.1"]);
        let scan = std::fs::read_to_string(dir.join("demo-doc-scan.1")).unwrap();
        assert!(scan.contains(".TH demo-doc-scan 1"), "{scan}");
        assert!(scan.contains("Scans"), "{scan}");
    }

    #[test]
    fn bash_completions_name_the_subcommands() {
        let mut out = Vec::new();
        completions(demo(), Shell::Bash, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("complete -F _demo"), "{text}");
        assert!(text.contains("scan"));
    }
}
