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
///
/// `renamed` gives a command another page name where the usual one would be
/// another program's: `tsd server` (the server a terminal keeps) would write
/// `tsd-server.1` over the page of the `tsd-server` program, so `tsd` passes
/// `("tsd-server", "tsd-kept-server")`. Its subcommands follow (`tsd-kept-server-set.1`).
pub fn man_pages(cmd: Command, dir: &Path, renamed: &[(&str, &str)]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd;
    cmd.build();
    let mut written = Vec::new();
    let name = cmd.get_name().to_string();
    page(&cmd, &name, &name, dir, renamed, &mut written)?;
    Ok(written)
}

/// `page` names the file, `usage` is how the command is typed (`tsd-server serve`).
fn page(
    cmd: &Command,
    page_name: &str,
    usage: &str,
    dir: &Path,
    renamed: &[(&str, &str)],
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if cmd.is_hide_set() || cmd.get_name() == "help" {
        return Ok(());
    }
    let page_name = renamed
        .iter()
        .find(|(from, _)| *from == page_name)
        .map_or(page_name.to_string(), |(_, to)| to.to_string());
    let titled = cmd.clone().name(page_name.clone()).bin_name(usage.to_string());
    let mut text = Vec::new();
    clap_mangen::Man::new(titled).render(&mut text)?;
    let file = dir.join(format!("{page_name}.1"));
    std::fs::write(&file, text)?;
    written.push(file);
    for sub in cmd.get_subcommands() {
        let (sub_page, sub_usage) = (format!("{page_name}-{}", sub.get_name()), format!("{usage} {}", sub.get_name()));
        page(sub, &sub_page, &sub_usage, dir, renamed, written)?;
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
        let files = man_pages(demo(), &dir, &[]).unwrap();
        assert_eq!(names(&files), ["demo.1", "demo-doc.1", "demo-doc-scan.1"]);
        let scan = std::fs::read_to_string(dir.join("demo-doc-scan.1")).unwrap();
        assert!(scan.contains(".TH demo-doc-scan 1"), "{scan}");
        assert!(scan.contains("Scans"), "{scan}");
        // The synopsis is how it is typed.
        assert!(scan.contains("demo doc scan"), "{scan}");
    }

    #[test]
    fn a_page_that_would_be_another_programs_is_renamed_with_its_subcommands() {
        let tmp = tempfile::tempdir().unwrap();
        let files = man_pages(demo(), tmp.path(), &[("demo-doc", "demo-papers")]).unwrap();
        assert_eq!(names(&files), ["demo.1", "demo-papers.1", "demo-papers-scan.1"]);
        let scan = std::fs::read_to_string(tmp.path().join("demo-papers-scan.1")).unwrap();
        assert!(scan.contains("demo doc scan"), "typed as before: {scan}");
    }

    fn names(files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
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
