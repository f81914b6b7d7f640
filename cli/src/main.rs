//! `tsd`: the desktop face of the TSD runtime — import a catalog, look codes up,
//! work with documents, run the demo and the benchmarks. Every command calls the
//! same `tsd_core::Runtime` the terminal app calls; none holds logic of its own.

#![forbid(unsafe_code)]

/// `println!` that ends the process quietly when the reader went away (`tsd … |
/// head`): a closed pipe is not an error worth a panic or a message.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

mod bench;
mod demo;
#[cfg(feature = "server")]
mod demo_sync;
mod doctor;
mod output;
mod usb;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tsd_core::catalog::{parse_quantity, Format};
use tsd_core::documents::TaskDocument;
use tsd_core::{barcode, Error, Runtime};

#[derive(Parser)]
#[command(name = "tsd", version, about = "Offline runtime for barcode terminals: catalog, scans, documents")]
struct Cli {
    /// Data location: a folder holding catalog.db and journal.db (created if absent).
    #[arg(long, global = true, env = "TSD_DB")]
    db: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress on standard error (it is shown only when standard error is a
    /// terminal anyway; standard output never carries it).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a catalog file (CSV or JSON Lines) in one transaction.
    Import {
        /// The file.
        file: PathBuf,
        /// csv, jsonl or xml (CommerceML) (default: from the extension).
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Resolve a scan against the catalog.
    Lookup(CodeOrStdin),
    /// Search products by name or code (word prefixes).
    Search {
        /// Words to find.
        text: String,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// A record of a generic catalog (on the terminal, or online when routed).
    Record {
        /// The catalog's name (`reasons`, `carriers`…).
        catalog: String,
        /// The record's id.
        id: String,
    },
    /// Catalog counts and version.
    Stats,
    /// Barcode tools.
    Barcode {
        #[command(subcommand)]
        command: BarcodeCommand,
    },
    /// Documents and scanning.
    Doc {
        #[command(subcommand)]
        command: DocCommand,
    },
    /// Runtime configuration (document types, weight templates).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The PC side of the exchange folder.
    Exchange {
        #[command(subcommand)]
        command: ExchangeCommand,
    },
    /// The terminal side of a sync: with the exchange folder (--folder), a server
    /// (--server), or the server kept by `tsd server set` (neither).
    Sync(SyncArgs),
    /// The sync server this terminal keeps (for syncs and online lookups).
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// Client app updates: from the kept server or an exchange folder, verified.
    Update {
        #[command(subcommand)]
        command: UpdateCommand,
    },
    /// The runtime's log files (logs/ in the data folder).
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Printing through the server: jobs go with the next sync.
    Print {
        #[command(subcommand)]
        command: PrintCommand,
    },
    /// Walk through every barcode kind and document rule on a generated catalog.
    Demo {
        /// Products of the generated catalog (more makes the import, publish and
        /// first sync long enough to watch their progress).
        #[arg(long, default_value_t = 1_000)]
        products: u64,
    },
    /// Developer tools: catalog generator, benchmarks.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Checks the data folder (files, schema versions, integrity, free space) and
    /// the kept server (reachable, certificate, clock), and says what is wrong.
    Doctor,
    /// Prints a shell completion script: `source <(tsd completions bash)`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
struct CodeOrStdin {
    /// The raw scan (use --stdin for one code a line).
    #[arg(required_unless_present = "stdin")]
    code: Option<String>,
    /// Read one raw code a line from standard input.
    #[arg(long, conflicts_with = "code")]
    stdin: bool,
}

#[derive(Subcommand)]
enum BarcodeCommand {
    /// Parse a raw scan (no catalog needed).
    Parse(CodeOrStdin),
}

#[derive(Subcommand)]
enum DocCommand {
    /// Create a document of a type (receiving, picking, transfer, inventory…).
    New {
        /// Document type id.
        doc_type: String,
    },
    /// List documents.
    List,
    /// Show a document: lines and journal.
    Show {
        /// Document id.
        id: String,
    },
    /// Scan into a document; each line is printed after it is durable.
    Scan {
        /// Document id.
        id: String,
        /// The raw scan (or --stdin).
        #[arg(required_unless_present = "stdin")]
        code: Option<String>,
        /// Read one raw code a line from standard input.
        #[arg(long, conflicts_with = "code")]
        stdin: bool,
        /// Quantity of the scanned packaging (decimal).
        #[arg(long)]
        qty: Option<String>,
    },
    /// Undo the latest scan or correction.
    Undo {
        /// Document id.
        id: String,
    },
    /// Set a product's actual quantity (base units, decimal).
    SetQty {
        /// Document id.
        id: String,
        /// Product id.
        product: String,
        /// Quantity.
        qty: String,
    },
    /// Complete a document: freeze it and queue it for sending.
    Complete {
        /// Document id.
        id: String,
    },
    /// Add task documents from a JSON Lines file (one task a line).
    ImportTasks {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Args)]
struct KeyArgs {
    /// File holding the key shared by the PC side and the terminal (signs and
    /// verifies packages).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Refuse unsigned packages.
    #[arg(long)]
    require_signed: bool,
}

#[derive(Args)]
struct SyncArgs {
    /// Exchange folder root (holding to-device/ and from-device/).
    #[arg(long, conflicts_with = "server")]
    folder: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    server: ServerOptions,
    /// Keep retrying (with the runtime's backoff) for up to this many seconds while
    /// anything is left unsent or the sync fails.
    #[arg(long, default_value_t = 0)]
    retry_for: u64,
}

#[derive(Args)]
struct ServerArgs {
    /// Sync server URL (http:// or https://).
    url: String,
    /// Device token (`tsd-server device add NAME`).
    #[arg(long, env = "TSD_TOKEN")]
    token: String,
    /// Extra trusted CA certificate (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Pinned SHA-256 fingerprint of the server certificate (hex).
    #[arg(long)]
    pin: Option<String>,
}

#[derive(Subcommand)]
enum UpdateCommand {
    /// Is a newer version published on the kept server?
    Check {
        /// The running app's version code.
        #[arg(long)]
        current: i64,
    },
    /// Download (resuming) and verify the newer version; prints the verified file.
    Download {
        /// The running app's version code.
        #[arg(long)]
        current: i64,
    },
    /// A verified newer version in an exchange folder's update/.
    Folder {
        /// Exchange folder root.
        folder: PathBuf,
        /// The running app's version code.
        #[arg(long)]
        current: i64,
    },
}

#[derive(Subcommand)]
enum LogsCommand {
    /// Sends a log bundle to the kept server.
    Send {
        /// The app version to report.
        #[arg(long, default_value = concat!("tsd ", env!("CARGO_PKG_VERSION")))]
        app_version: String,
    },
    /// Leaves a log bundle in an exchange folder's from-device/.
    ToFolder {
        /// Exchange folder root.
        folder: PathBuf,
        /// The app version to report.
        #[arg(long, default_value = concat!("tsd ", env!("CARGO_PKG_VERSION")))]
        app_version: String,
    },
}

#[derive(Subcommand)]
enum PrintCommand {
    /// A price label for the product a code names (name, barcode, price, date).
    Label {
        /// The printer's name on the server.
        printer: String,
        /// A scan of the product.
        code: String,
        /// Copies.
        #[arg(long, default_value_t = 1)]
        copies: u32,
        /// Price as printed (default: from a price-embedded code, else none).
        #[arg(long)]
        price: Option<String>,
    },
    /// A document form: number, type, lines with quantities.
    Doc {
        /// The printer's name on the server.
        printer: String,
        /// Document id.
        id: String,
        /// Copies.
        #[arg(long, default_value_t = 1)]
        copies: u32,
    },
    /// Print jobs with their status, newest first.
    List,
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Keep this server (checked, not contacted).
    Set(ServerArgs),
    /// Show the kept server (never the token).
    Show,
    /// Forget the kept server.
    Clear,
    /// Set up from a setup code (`tsd-server device add NAME --qr`).
    Enroll {
        /// The code's text (`tsd://setup?…`).
        code: String,
    },
}

/// How a catalog file is read.
#[derive(clap::Args, Debug, Clone)]
struct ReadArgs {
    /// The file's encoding: utf-8, windows-1251, utf-16le, utf-16be (default: detected).
    #[arg(long)]
    encoding: Option<String>,
    /// Columns named explicitly: field=Header,… (for headers not understood out of the box).
    #[arg(long)]
    columns: Option<String>,
    /// Refuse columns that are not catalog fields and a file without a barcode column.
    #[arg(long)]
    strict: bool,
}

impl ReadArgs {
    fn options(&self) -> Result<tsd_core::catalog::ReadOptions, Error> {
        tsd_core::catalog::ReadOptions::from_args(self.encoding.as_deref(), self.columns.as_deref(), self.strict)
            .map_err(Error::InvalidArgument)
    }
}

#[derive(Subcommand)]
enum ExchangeCommand {
    /// Build a catalog snapshot package from a CSV/JSONL file into FOLDER/to-device/.
    PutCatalog {
        /// Exchange folder root.
        #[arg(long)]
        folder: PathBuf,
        /// The catalog file (the forms `tsd import` takes).
        file: PathBuf,
        /// csv, jsonl or xml (CommerceML) (default: from the extension).
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        read: ReadArgs,
        /// Catalog version to stamp (default: seconds since 1970).
        #[arg(long)]
        version: Option<i64>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Build a catalog delta package (what changed from BASE to FILE) into FOLDER/to-device/.
    PutDelta {
        /// Exchange folder root.
        #[arg(long)]
        folder: PathBuf,
        /// The previous export the terminals have (as of --from-version).
        #[arg(long)]
        base: PathBuf,
        /// The new export.
        file: PathBuf,
        /// csv or jsonl (default: from the extension).
        #[arg(long)]
        format: Option<String>,
        /// The version the terminals are at (the base's).
        #[arg(long)]
        from_version: i64,
        /// The version after applying.
        #[arg(long)]
        to_version: i64,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Put task documents (JSON Lines, one task a line) into FOLDER/to-device/.
    PutTasks {
        /// Exchange folder root.
        #[arg(long)]
        folder: PathBuf,
        /// The tasks file.
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Put a terminal configuration (JSON, validated) into FOLDER/to-device/.
    PutConfig {
        /// Exchange folder root.
        #[arg(long)]
        folder: PathBuf,
        /// The configuration file.
        file: PathBuf,
        /// Its version; the terminal applies only a version newer than the one in force.
        #[arg(long)]
        version: i64,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Collect finished documents from FOLDER/from-device/ into a JSON Lines file and
    /// acknowledge them.
    Collect {
        /// Exchange folder root.
        #[arg(long)]
        folder: PathBuf,
        /// Output JSON Lines file. Never overwritten: while it exists (the
        /// accounting system has not taken it), collect refuses and acknowledges
        /// nothing; with nothing to collect it is not written.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Put an app file (APK) and its manifest into FOLDER/update/ for terminals
    /// without a network.
    PutApp {
        /// Exchange folder root.
        #[arg(long)]
        folder: PathBuf,
        /// The APK.
        file: PathBuf,
        /// Its Android versionCode.
        #[arg(long)]
        version_code: i64,
        /// Its versionName.
        #[arg(long, default_value = "")]
        version_name: String,
        /// Terminals below this version code must update first.
        #[arg(long, default_value_t = 0)]
        min_version: i64,
    },
    /// Server mode over a folder (the RDP case, or after copying by hand): push the
    /// terminal's documents and logs to the server as that terminal, fetch its
    /// catalog changes, tasks and configuration into FOLDER/to-device/.
    Bridge {
        /// Exchange folder root (the terminal's, or the PC's copy of it).
        #[arg(long)]
        folder: PathBuf,
        #[command(flatten)]
        server: ServerOptions,
    },
    /// Move the exchange files over a USB cable with adb; with --server, bridge them
    /// to the server in between (server mode without a network).
    Usb {
        /// The terminal (`adb devices`).
        #[arg(long)]
        serial: String,
        /// The PC's exchange folder.
        #[arg(long, default_value = "exchange")]
        folder: PathBuf,
        /// The app's exchange root on the terminal.
        #[arg(long, default_value = usb::REMOTE)]
        remote: String,
        #[command(flatten)]
        server: ServerOptions,
    },
}

/// How to reach the sync server, when one is named.
#[derive(Args)]
struct ServerOptions {
    /// Sync server URL (http:// or https://).
    #[arg(long, requires = "token")]
    server: Option<String>,
    /// Device token (`tsd-server device add NAME`); a bridge acts as that terminal.
    #[arg(long, env = "TSD_TOKEN")]
    token: Option<String>,
    /// Extra trusted CA certificate (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Pinned SHA-256 fingerprint of the server certificate (hex).
    #[arg(long)]
    pin: Option<String>,
}

impl ServerOptions {
    /// The settings, when `--server` was given.
    fn settings(&self) -> Result<Option<tsd_core::sync::ServerSettings>, Error> {
        self.server
            .as_deref()
            .map(|url| {
                server_settings(
                    url,
                    self.token.as_deref().unwrap_or_default(),
                    self.ca.as_deref(),
                    self.pin.as_deref(),
                )
            })
            .transpose()
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Show the configuration in force.
    Show,
    /// Load a configuration JSON file.
    Set {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Write a deterministic realistic catalog (catalog.csv, cells.csv, barcodes.txt).
    GenCatalog {
        /// Number of products.
        #[arg(long)]
        products: u64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Also write the products as a CommerceML 2.08 import.xml (what 1C exports).
        #[arg(long)]
        commerceml: bool,
    },
    /// Run the benchmarks and write a Markdown report.
    Bench(bench::BenchArgs),
    /// In-process lookup latency over a barcode list (used by `bench`).
    BenchLookup(bench::LookupArgs),
    /// Scan-to-durable commit latency (used by `bench`).
    BenchScan(bench::ScanArgs),
    /// Writes the manual pages (tsd.1, tsd-doc-scan.1, …) into a folder (for
    /// packaging).
    Man {
        /// The folder (created if absent).
        dir: PathBuf,
    },
}

/// A command failure: the core error, or a usage problem found by `tsd` itself.
enum Failure {
    Core(Error),
    /// Already reported; just exit non-zero.
    Reported,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

type CmdResult = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tsd_term::progress::set_quiet(cli.quiet);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::from(1),
        Err(Failure::Core(e)) => {
            if cli.json {
                eprintln!("{}", json!({"error": output::error_json(&e)}));
            } else {
                eprintln!("error: {e}");
                if let Some(next) = e.next_step() {
                    eprintln!("  what to do: {next}");
                }
            }
            ExitCode::from(1)
        }
    }
}

/// Writes one line to standard output; exits with status 0 on a closed pipe.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

fn db_path(cli: &Cli) -> PathBuf {
    cli.db.clone().unwrap_or_else(|| PathBuf::from("tsd-data"))
}

fn open(cli: &Cli) -> Result<Runtime, Error> {
    Runtime::open(&db_path(cli))
}

fn print(cli: &Cli, value: serde_json::Value, text: impl FnOnce() -> String) {
    if cli.json {
        out!("{value}");
    } else {
        out!("{}", text());
    }
}

fn read_key(args: &KeyArgs) -> Result<Option<Vec<u8>>, Error> {
    match &args.key_file {
        None => Ok(None),
        Some(path) => {
            let key = std::fs::read(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let key = key.trim_ascii().to_vec();
            if key.is_empty() {
                return Err(Error::InvalidArgument(format!("{}: the key file is empty", path.display())));
            }
            Ok(Some(key))
        }
    }
}

fn server_settings(url: &str, token: &str, ca: Option<&Path>, pin: Option<&str>) -> Result<tsd_core::sync::ServerSettings, Error> {
    let mut settings = tsd_core::sync::ServerSettings::new(url, token);
    if let Some(ca) = ca {
        settings.ca_pem = Some(std::fs::read(ca).map_err(|source| Error::Io {
            path: ca.to_path_buf(),
            source,
        })?);
    }
    settings.pin_sha256 = pin.map(str::to_string);
    Ok(settings)
}

/// `tsd print label|doc|list`.
fn print_command(cli: &Cli, command: &PrintCommand) -> CmdResult {
    let rt = open(cli)?;
    match command {
        PrintCommand::Label {
            printer,
            code,
            copies,
            price,
        } => {
            let job = rt.print_label(printer, code, *copies, price.as_deref())?;
            print(cli, json!(job), || {
                format!("print job {} queued for {printer}; it goes with the next sync", job.id)
            });
        }
        PrintCommand::Doc { printer, id, copies } => {
            let job = rt.print_document(printer, id, *copies)?;
            print(cli, json!(job), || {
                format!("print job {} queued for {printer}; it goes with the next sync", job.id)
            });
        }
        PrintCommand::List => {
            let jobs = rt.print_jobs()?;
            let value = json!(jobs
                .iter()
                .map(|(j, s)| json!({"job": j, "status": s.status, "message": s.message}))
                .collect::<Vec<_>>());
            print(cli, value, || {
                let rows: Vec<Vec<String>> = jobs
                    .iter()
                    .map(|(j, s)| {
                        vec![
                            j.printer.clone(),
                            j.template.clone(),
                            j.copies.to_string(),
                            s.status.to_string(),
                            s.message.clone().unwrap_or_default(),
                            j.id.clone(),
                        ]
                    })
                    .collect();
                tsd_term::table(&["PRINTER", "TEMPLATE", "COPIES", "STATUS", "MESSAGE", "JOB"], &rows)
                    .trim_end()
                    .to_string()
            });
        }
    }
    rt.close()?;
    Ok(())
}

/// `tsd server set|show|clear`.
fn server(cli: &Cli, command: &ServerCommand) -> CmdResult {
    let rt = open(cli)?;
    match command {
        ServerCommand::Set(a) => {
            let settings = server_settings(&a.url, &a.token, a.ca.as_deref(), a.pin.as_deref())?;
            rt.set_server(Some(&settings))?;
        }
        ServerCommand::Clear => rt.set_server(None)?,
        ServerCommand::Enroll { code } => {
            let device = rt.enroll(code)?;
            eprintln!("set up as device {device:?}");
        }
        ServerCommand::Show => {}
    }
    let kept = rt.server();
    rt.close()?;
    let value = json!(kept.as_ref().map(|s| json!({
        "url": s.url,
        "custom_ca": s.ca_pem.is_some(),
        "pin_sha256": s.pin_sha256,
    })));
    print(cli, value, || match &kept {
        Some(s) => format!(
            "server {}{}{}",
            s.url,
            if s.ca_pem.is_some() { ", custom CA" } else { "" },
            s.pin_sha256.as_ref().map(|p| format!(", pinned {p}")).unwrap_or_default()
        ),
        None => "no server is set up".into(),
    });
    Ok(())
}

/// `tsd sync --server` (or the kept server): one sync, or retries under the
/// runtime's backoff for up to `--retry-for` seconds. Exits non-zero when
/// anything is left unsent.
fn sync_server(cli: &Cli, args: &SyncArgs) -> Result<(), Failure> {
    let rt = open(cli)?;
    let settings = match args.server.settings()? {
        Some(settings) => settings,
        None => rt
            .server()
            .ok_or_else(|| Error::InvalidArgument("pass --folder DIR or --server URL, or keep a server with `tsd server set`".into()))?,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.retry_for);
    let quiet = cli.quiet || cli.json;
    let bar = tsd_term::Bar::spinner("connecting");
    let mut last_step = None;
    let result = loop {
        let result = rt.sync_server(&settings, &mut |p| show_sync_step(&bar, &mut last_step, p));
        let retry = match &result {
            Ok(r) => r.waiting > 0,
            Err(e) => e.retryable() || matches!(e, Error::Server { .. }),
        };
        if !retry || std::time::Instant::now() >= deadline {
            break result;
        }
        let status = rt.sync_status()?;
        let wait = (status.next_attempt_at - now_ms()).max(0) as u64;
        if let Err(e) = &result {
            if !quiet {
                bar.note(&format!("sync failed ({e}); next attempt in {:.1} s", wait as f64 / 1000.0));
            }
        }
        bar.wait("waiting to retry");
        last_step = None;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(wait).min(left));
    };
    bar.finish();
    let status = rt.sync_status()?;
    rt.close()?;
    let report = result?;
    print(
        cli,
        json!({ "report": report, "status": status, "peak_rss_kib": bench::peak_rss_kib() }),
        || {
            format!(
            "pushed {} (already stored {}), catalog v{} -> v{} ({} package(s), {} bytes), {} new task(s); {} document(s) waiting; {:.2} s",
            report.pushed.len(),
            report.already_stored.len(),
            report.catalog_from,
            report.catalog_version,
            report.packages.len(),
            report.bytes_down,
            report.tasks_added,
            report.waiting,
            report.seconds
        )
        },
    );
    if report.waiting > 0 {
        eprintln!("{} document(s) not yet acknowledged by the server", report.waiting);
        return Err(Failure::Reported);
    }
    Ok(())
}

/// Moves the sync's progress line on: a new step starts the line afresh (what it
/// counts: documents, bytes downloaded, records applied), and the count follows.
pub(crate) fn show_sync_step(bar: &tsd_term::Bar, last: &mut Option<tsd_core::sync::Step>, p: tsd_core::sync::Progress) {
    use tsd_core::sync::Step;
    use tsd_term::progress::Unit;
    let total = (p.total > 0).then_some(p.total);
    if *last != Some(p.step) {
        let (what, unit) = match p.step {
            Step::Push => ("sending documents", Some(Unit::Items)),
            Step::Print => ("sending print jobs", Some(Unit::Items)),
            Step::Download => ("downloading catalog", Some(Unit::Bytes)),
            Step::Apply => ("applying catalog", Some(Unit::Records)),
            // Single requests: nothing to count.
            Step::Tasks => ("fetching tasks", None),
            Step::Config => ("fetching configuration", None),
            Step::Status => ("reporting status", None),
        };
        match unit {
            Some(unit) => bar.step(what, unit, total),
            None => bar.wait(what),
        }
        *last = Some(p.step);
    } else if total.is_some() && bar.total() != total {
        bar.set_total(p.total);
    }
    bar.set(p.done);
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn format_of(file: &Path, format: &Option<String>) -> Result<Format, Error> {
    match format {
        Some(f) => Format::from_name(f).ok_or_else(|| Error::InvalidArgument(format!("unknown format {f:?} (csv, jsonl or xml)"))),
        None => Format::from_path(file).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: cannot tell the format from the extension; pass --format",
                file.display()
            ))
        }),
    }
}

fn quantity(s: &str) -> Result<i64, Error> {
    parse_quantity(s)
        .filter(|q| *q > 0)
        .ok_or_else(|| Error::InvalidArgument(format!("quantity {s:?} is not a positive number with at most 3 decimals")))
}

fn stdin_lines() -> impl Iterator<Item = String> {
    std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .map(|l| l.trim_end_matches('\r').to_string())
}

fn run(cli: &Cli) -> CmdResult {
    match &cli.command {
        Command::Import { file, format, read } => {
            let format = format_of(file, format)?;
            let read = read.options()?;
            let rt = open(cli)?;
            let started = std::time::Instant::now();
            let bar = tsd_term::Bar::reading(file, format);
            let report = rt.import_catalog_with(file, format, &read, &mut |rows| {
                bar.read_so_far(rows, "indexing and committing");
                true
            })?;
            bar.finish();
            let secs = started.elapsed().as_secs_f64();
            let mut value = serde_json::to_value(&report).unwrap_or_default();
            value["seconds"] = json!(secs);
            value["rows_per_second"] = json!((report.rows as f64 / secs.max(1e-9)).round());
            value["peak_rss_kib"] = json!(bench::peak_rss_kib());
            rt.close()?;
            print(cli, value, || {
                let c = |c: tsd_core::catalog::Counts| format!("{} added, {} changed, {} unchanged", c.added, c.changed, c.unchanged);
                format!(
                    "imported {} rows in {secs:.2} s\n  products:   {}\n  packagings: {}\n  barcodes:   {}\n  cells:      {}\n  records:    {}\ncatalog version {}",
                    report.rows,
                    c(report.products),
                    c(report.packagings),
                    c(report.barcodes),
                    c(report.cells),
                    c(report.records),
                    report.version
                ) + &report.warnings.iter().map(|w| format!("\nwarning: {w}")).collect::<String>()
            });
            Ok(())
        }
        Command::Lookup(args) => {
            let rt = open(cli)?;
            if args.stdin {
                let out = std::io::stdout();
                let mut out = std::io::BufWriter::new(out.lock());
                let written = stdin_lines().try_for_each(|line| writeln!(out, "{}", output::lookup_json(&line, &rt.resolve(&line))));
                match written.and_then(|()| out.flush()) {
                    // The reader went away (`| head`): stop quietly.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    Err(source) => {
                        return Err(Error::Io {
                            path: "stdout".into(),
                            source,
                        }
                        .into())
                    }
                    Ok(()) => return Ok(()),
                }
            }
            let code = args.code.as_deref().unwrap_or_default();
            let res = rt.resolve(code);
            let value = output::lookup_json(code, &res);
            let res = res?;
            let source = match res.source {
                tsd_core::resolve::Source::Device => String::new(),
                other => format!("  (from the {})", other.as_str()),
            };
            let unreachable = res.server_unreachable.as_ref().map(|w| format!("; {w}")).unwrap_or_default();
            print(cli, value, || match &res.target {
                tsd_core::resolve::Target::Product(h) => format!(
                    "{} {} [{}]{}  qty {}{source}{unreachable}",
                    h.product.id,
                    h.product.name,
                    res.parsed.kind.as_str(),
                    h.packaging.as_ref().map(|k| format!(" {}", k.name)).unwrap_or_default(),
                    tsd_core::documents::qty_json(res.qty)
                ),
                tsd_core::resolve::Target::Cell(c) => format!("cell {} {}{source}{unreachable}", c.id, c.name),
                tsd_core::resolve::Target::NotFound => format!(
                    "not found ({}{}){unreachable}",
                    res.parsed.kind.as_str(),
                    res.parsed.gtin.map(|g| format!(", GTIN {g}")).unwrap_or_default()
                ),
            });
            Ok(())
        }
        Command::Search { text, limit } => {
            let rt = open(cli)?;
            let hits = rt.search(text, *limit)?;
            print(cli, json!(hits), || {
                hits.iter()
                    .map(|p| format!("{}\t{}\t{}", p.id, p.code, p.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        Command::Stats => {
            let rt = open(cli)?;
            let s = rt.catalog_stats()?;
            print(cli, json!(s), || {
                format!(
                    "version {}: {} products, {} packagings, {} barcodes, {} cells, {} records",
                    s.version, s.products, s.packagings, s.barcodes, s.cells, s.records
                )
            });
            Ok(())
        }
        Command::Barcode {
            command: BarcodeCommand::Parse(args),
        } => {
            let templates = match cli.db.as_deref().filter(|p| p.exists()) {
                Some(_) => open(cli)?.config().weight_templates,
                None => tsd_core::config::Config::default().weight_templates,
            };
            if args.stdin {
                for line in stdin_lines() {
                    out!("{}", output::parsed_json(&line, &barcode::parse(&line, &templates)));
                }
                return Ok(());
            }
            let code = args.code.as_deref().unwrap_or_default();
            let parsed = barcode::parse(code, &templates);
            let value = output::parsed_json(code, &parsed);
            if cli.json {
                out!("{value}");
            } else {
                match &parsed {
                    Ok(p) => {
                        out!("kind: {}", p.kind.as_str());
                        if let Some(g) = p.gtin {
                            out!("gtin: {g}");
                        }
                        for e in &p.elements {
                            out!("({}) {}", e.ai, output::printable(&e.value));
                        }
                        if let Some(w) = p.weight_grams() {
                            out!("weight: {w} g");
                        }
                    }
                    Err(e) => eprintln!("error: {} ({})", e, e.code.as_str()),
                }
            }
            if parsed.is_err() {
                return Err(Failure::Reported);
            }
            Ok(())
        }
        Command::Doc { command } => doc(cli, command),
        Command::Config { command } => {
            let rt = open(cli)?;
            if let ConfigCommand::Set { file } = command {
                let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
                    path: file.clone(),
                    source,
                })?;
                rt.set_config(&text)?;
            }
            let config = rt.config();
            print(cli, json!(config), || serde_json::to_string_pretty(&config).unwrap_or_default());
            Ok(())
        }
        Command::Exchange { command } => exchange(cli, command),
        Command::Sync(args) if args.folder.is_none() => sync_server(cli, args),
        Command::Server { command } => server(cli, command),
        Command::Record { catalog, id } => {
            let rt = open(cli)?;
            let r = rt.record(catalog, id)?;
            rt.close()?;
            print(cli, json!(r), || match &r.record {
                Some(v) => format!("{v}  (from the {})", r.source.as_str()),
                None => format!(
                    "not found{}",
                    r.server_unreachable.as_ref().map(|w| format!("; {w}")).unwrap_or_default()
                ),
            });
            if r.record.is_none() {
                return Err(Failure::Reported);
            }
            Ok(())
        }
        Command::Print { command } => print_command(cli, command),
        Command::Update { command } => {
            let rt = open(cli)?;
            let value = match command {
                UpdateCommand::Check { current } => json!({ "update": rt.check_app_update(*current)? }),
                UpdateCommand::Download { current } => match rt.check_app_update(*current)? {
                    None => json!({ "update": null }),
                    Some(u) => {
                        let file = rt.download_app_update(&u, &mut |_, _| true)?;
                        json!({ "update": u, "file": file, "required": u.required_for(*current) })
                    }
                },
                UpdateCommand::Folder { folder, current } => match rt.folder_app_update(folder, *current)? {
                    None => json!({ "update": null }),
                    Some((u, file)) => json!({ "update": u, "file": file, "required": u.required_for(*current) }),
                },
            };
            rt.close()?;
            print(cli, value.clone(), || value.to_string());
            Ok(())
        }
        Command::Logs { command } => {
            let rt = open(cli)?;
            let value = match command {
                LogsCommand::Send { app_version } => json!({ "bundle": rt.send_logs(app_version)? }),
                LogsCommand::ToFolder { folder, app_version } => json!({ "file": rt.logs_to_folder(folder, app_version)? }),
            };
            rt.close()?;
            print(cli, value.clone(), || value.to_string());
            Ok(())
        }
        Command::Sync(args) => {
            let key = read_key(&args.key)?;
            let rt = open(cli)?;
            let folder = args.folder.as_deref().unwrap_or(Path::new("."));
            let bar = tsd_term::Bar::spinner("syncing with the folder");
            let mut applying = false;
            let report = rt.sync_folder_observed(folder, key.as_deref(), args.key.require_signed, &mut |records| {
                if !std::mem::replace(&mut applying, true) {
                    bar.step("applying catalog", tsd_term::progress::Unit::Records, None);
                }
                bar.set(records);
                true
            })?;
            bar.finish();
            rt.close()?;
            let mut value = json!(report);
            value["peak_rss_kib"] = json!(bench::peak_rss_kib());
            print(cli, value, || {
                let mut s = format!(
                    "pushed {}, acknowledged {}, applied {}, skipped {}, rejected {}; {} document(s) waiting",
                    report.pushed.len(),
                    report.acknowledged.len(),
                    report.applied.len(),
                    report.skipped.len(),
                    report.rejected.len(),
                    report.waiting
                );
                for r in &report.rejected {
                    s += &format!("\n  rejected {}: {}", r.file, r.reason);
                }
                s
            });
            if report.waiting > 0 {
                eprintln!("{} document(s) not yet acknowledged by the PC side", report.waiting);
                return Err(Failure::Reported);
            }
            Ok(())
        }
        Command::Demo { products } => Ok(demo::run(cli.db.as_deref(), *products, cli.json)?),
        Command::Doctor => {
            let report = doctor::check(&db_path(cli));
            print(cli, json!(report), || report.text());
            if report.failed() {
                return Err(Failure::Reported);
            }
            Ok(())
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            tsd_term::help::completions(<Cli as clap::CommandFactory>::command(), *shell, &mut out);
            write_stdout(format_args!("{}", String::from_utf8_lossy(&out).trim_end()));
            Ok(())
        }
        Command::Dev { command } => match command {
            DevCommand::GenCatalog {
                products,
                seed,
                out,
                commerceml,
            } => {
                let g = tsd_core::catalog::generate(out, *products, *seed)?;
                let xml = if *commerceml {
                    let path = out.join("import.xml");
                    tsd_core::catalog::csv_to_commerceml(&g.catalog, &path)?;
                    Some(path)
                } else {
                    None
                };
                print(
                    cli,
                    json!({"catalog": g.catalog, "cells": g.cells, "barcodes": g.barcodes, "products": g.products, "barcode_count": g.barcode_count, "rows": g.rows, "commerceml": xml}),
                    || {
                        format!(
                            "wrote {} ({} products, {} barcodes, {} rows), {} and {}",
                            g.catalog.display(),
                            g.products,
                            g.barcode_count,
                            g.rows,
                            g.cells.display(),
                            g.barcodes.display()
                        )
                    },
                );
                Ok(())
            }
            #[cfg(feature = "server")]
            DevCommand::Bench(args) => Ok(bench::run(args)?),
            #[cfg(not(feature = "server"))]
            DevCommand::Bench(_) => Err(Error::InvalidArgument(
                "this tsd was built without the server feature: the benchmarks publish and sync over HTTP (build with default features)"
                    .into(),
            )
            .into()),
            DevCommand::BenchLookup(args) => Ok(bench::lookup(&db_path(cli), args)?),
            DevCommand::BenchScan(args) => Ok(bench::scan(&db_path(cli), args)?),
            DevCommand::Man { dir } => {
                let pages = tsd_term::help::man_pages(<Cli as clap::CommandFactory>::command(), dir, &[("tsd-server", "tsd-kept-server")])
                    .map_err(|source| Error::Io { path: dir.clone(), source })?;
                print(cli, json!({ "pages": pages.len() }), || {
                    format!("{} manual pages in {}", pages.len(), dir.display())
                });
                Ok(())
            }
        },
    }
}

fn doc(cli: &Cli, command: &DocCommand) -> CmdResult {
    let rt = open(cli)?;
    match command {
        DocCommand::New { doc_type } => {
            let h = rt.new_document(doc_type)?;
            print(cli, json!(h), || format!("{}\t{}\t{}", h.id, h.number, h.doc_type));
        }
        DocCommand::List => {
            let docs = rt.documents()?;
            print(cli, json!(docs), || {
                let rows: Vec<Vec<String>> = docs
                    .iter()
                    .map(|h| {
                        vec![
                            h.number.clone(),
                            h.doc_type.clone(),
                            format!("{:?}", h.status).to_lowercase(),
                            tsd_term::table::utc_minute(h.created_at),
                            h.id.clone(),
                        ]
                    })
                    .collect();
                tsd_term::table(&["NUMBER", "TYPE", "STATUS", "CREATED (UTC)", "ID"], &rows)
                    .trim_end()
                    .to_string()
            });
        }
        DocCommand::Show { id } => {
            let d = rt.document(id)?;
            print(cli, json!(d), || {
                let q = tsd_core::documents::qty_json;
                let mut s = format!(
                    "{} {} ({}, {:?})\n",
                    d.header.number, d.header.doc_type, d.header.id, d.header.status
                )
                .to_string();
                for l in &d.lines {
                    let what = l
                        .product
                        .clone()
                        .map(|p| format!("{p} {}", l.name.clone().unwrap_or_default()))
                        .unwrap_or_else(|| format!("? {}", output::printable(&l.raw.clone().unwrap_or_default())));
                    s += &format!(
                        "  {what}: {}{}\n",
                        q(l.actual),
                        l.planned.map(|p| format!(" of {}", q(p))).unwrap_or_default()
                    );
                }
                s += &format!("  {} journal entries", d.scans.len());
                s
            });
        }
        DocCommand::Scan { id, code, stdin, qty } => {
            let qty = qty.as_deref().map(quantity).transpose()?;
            let one = |raw: &str| -> Result<String, Error> {
                let o = rt.scan(id, raw, qty)?;
                Ok(if cli.json {
                    output::scan_json(raw, &o).to_string()
                } else {
                    output::scan_line(raw, &o)
                })
            };
            if *stdin {
                let mut failed = false;
                for line in stdin_lines() {
                    match one(&line) {
                        // The line is printed only after the journal commit returned.
                        Ok(text) => out!("{text}"),
                        Err(Error::Barcode(e)) => {
                            failed = true;
                            if cli.json {
                                out!(
                                    "{}",
                                    json!({"seq": null, "status": "error", "input": line, "error": {"code": e.code.as_str(), "message": e.to_string()}})
                                );
                            } else {
                                out!("-\terror: {e}\t{}", output::printable(&line));
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                if failed {
                    return Err(Failure::Reported);
                }
            } else {
                out!("{}", one(code.as_deref().unwrap_or_default())?);
            }
        }
        DocCommand::Undo { id } => {
            let (seq, target) = rt.undo(id)?;
            print(cli, json!({"seq": seq, "undone": target}), || format!("{seq}\tundid {target}"));
        }
        DocCommand::SetQty { id, product, qty } => {
            let q = parse_quantity(qty)
                .ok_or_else(|| Error::InvalidArgument(format!("quantity {qty:?} is not a number with at most 3 decimals")))?;
            if rt.product(product)?.is_none() {
                return Err(Error::InvalidArgument(format!("product {product} is not in the catalog")).into());
            }
            let seq = rt.set_quantity(id, product, q)?;
            print(cli, json!({"seq": seq}), || {
                seq.map_or("unchanged".into(), |s| format!("{s}\tset {product} to {qty}"))
            });
        }
        DocCommand::Complete { id } => {
            let done = rt.complete(id)?;
            print(cli, json!({"completed": true, "changed": done}), || {
                if done {
                    format!("completed {id}")
                } else {
                    format!("{id} was already completed")
                }
            });
        }
        DocCommand::ImportTasks { file } => {
            let tasks = read_tasks(file)?;
            let added = rt.add_tasks(&tasks)?;
            print(cli, json!({"tasks": tasks.len(), "added": added}), || {
                format!("{} tasks read, {added} new", tasks.len())
            });
        }
    }
    rt.close()?;
    Ok(())
}

fn exchange(cli: &Cli, command: &ExchangeCommand) -> CmdResult {
    match command {
        ExchangeCommand::PutApp {
            folder,
            file,
            version_code,
            version_name,
            min_version,
        } => {
            let u = tsd_core::update::put_app(folder, file, *version_code, version_name, *min_version)?;
            print(cli, json!(u), || {
                format!("{}/update/{} ({} bytes, sha256 {})", folder.display(), u.file, u.size, u.sha256)
            });
        }
        ExchangeCommand::Bridge { folder, server } => {
            let settings = server
                .settings()?
                .ok_or_else(|| Error::InvalidArgument("a bridge needs --server URL --token T (the terminal's token)".into()))?;
            let r = tsd_core::sync::bridge::bridge(folder, &settings)?;
            print(cli, json!(r), || {
                format!(
                    "pushed {} (already stored {}), logs {}, fetched {:?}{}",
                    r.pushed.len(),
                    r.already_stored.len(),
                    r.logs.len(),
                    r.fetched,
                    r.refused.iter().map(|(n, why)| format!("\n  left {n}: {why}")).collect::<String>()
                )
            });
        }
        ExchangeCommand::Usb {
            serial,
            folder,
            remote,
            server,
        } => {
            let r = usb::run(serial, folder, remote, server.settings()?.as_ref())?;
            print(cli, json!(r), || {
                let mut s = format!(
                    "exchange-usb: pulled {}, pushed {}, cleaned {} (device {serial}, {remote})",
                    r.pulled.len(),
                    r.pushed.len(),
                    r.cleaned.len()
                );
                if let Some(b) = &r.bridge {
                    s += &format!(
                        "\nbridged: {} document(s) to the server ({} already there), {} package(s) from it",
                        b.pushed.len(),
                        b.already_stored.len(),
                        b.fetched.len()
                    );
                }
                s
            });
        }
        ExchangeCommand::PutCatalog {
            folder,
            file,
            format,
            read,
            version,
            key,
        } => {
            let format = format_of(file, format)?;
            let read = read.options()?;
            let version = version.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0)
            });
            let bar = tsd_term::Bar::reading(file, format);
            let (name, header, warnings) = tsd_core::sync::exchange::put_catalog_observed(
                folder,
                file,
                format,
                &read,
                version,
                read_key(key)?.as_deref(),
                &mut |step| match step {
                    tsd_core::sync::exchange::PutStep::Reading(rows) => bar.read_so_far(rows, "reading"),
                    tsd_core::sync::exchange::PutStep::Writing => bar.wait("writing the package"),
                },
            )?;
            bar.finish();
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            let value = json!({"file": name, "package_id": header.package_id, "records": header.records, "version": header.to_version, "signed": header.signed, "warnings": warnings, "peak_rss_kib": bench::peak_rss_kib()});
            print(cli, value, || {
                format!(
                    "wrote {}/to-device/{name}: {} records, version {}",
                    folder.display(),
                    header.records,
                    header.to_version
                )
            });
        }
        ExchangeCommand::PutDelta {
            folder,
            base,
            file,
            format,
            from_version,
            to_version,
            key,
        } => {
            let format = format_of(file, format)?;
            let bar = tsd_term::Bar::spinner("comparing the two files and building the package of changes");
            let (name, header) =
                tsd_core::sync::exchange::put_delta(folder, base, file, format, *from_version, *to_version, read_key(key)?.as_deref())?;
            bar.finish();
            let value = json!({"file": name, "package_id": header.package_id, "records": header.records, "from_version": header.from_version,
                "to_version": header.to_version, "signed": header.signed, "peak_rss_kib": bench::peak_rss_kib()});
            print(cli, value, || {
                format!(
                    "wrote {}/to-device/{name}: {} records, version {} → {}",
                    folder.display(),
                    header.records,
                    from_version,
                    to_version
                )
            });
        }
        ExchangeCommand::PutTasks { folder, file, key } => {
            let (name, header) = tsd_core::sync::exchange::put_tasks(folder, file, read_key(key)?.as_deref())?;
            let value = json!({"file": name, "package_id": header.package_id, "records": header.records, "signed": header.signed});
            print(cli, value, || {
                format!("wrote {}/to-device/{name}: {} task(s)", folder.display(), header.records)
            });
        }
        ExchangeCommand::PutConfig {
            folder,
            file,
            version,
            key,
        } => {
            let (name, header) = tsd_core::sync::exchange::put_config(folder, file, *version, read_key(key)?.as_deref())?;
            let value = json!({"file": name, "package_id": header.package_id, "version": header.to_version, "signed": header.signed});
            print(cli, value, || {
                format!("wrote {}/to-device/{name}: configuration v{version}", folder.display())
            });
        }
        ExchangeCommand::Collect { folder, out, key } => {
            let c = tsd_core::sync::exchange::collect(folder, out, read_key(key)?.as_deref(), key.require_signed)?;
            print(cli, json!(c), || {
                let mut s = format!("{} document(s) collected into {}", c.documents.len(), out.display());
                for r in &c.rejected {
                    s += &format!("\n  rejected {}: {}", r.file, r.reason);
                }
                s
            });
        }
    }
    Ok(())
}

fn read_tasks(file: &Path) -> Result<Vec<TaskDocument>, Error> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let mut tasks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let t = serde_json::from_str(line).map_err(|e| Error::Import {
            path: file.to_path_buf(),
            line: i as u64 + 1,
            reason: format!("bad task JSON: {e}"),
        })?;
        tasks.push(t);
    }
    Ok(tasks)
}
