//! `tsd-server`: the reference sync server and its admin commands.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use tsd_server::api::Limits;
use tsd_server::run::{serve_foreground, TlsFiles};
use tsd_server::Server;

#[derive(Parser)]
#[command(name = "tsd-server", version, about = "Reference sync server for TSD terminals")]
struct Cli {
    /// Data folder (server.db, catalog versions, packages).
    #[arg(long, global = true, env = "TSD_SERVER_DATA", default_value = "tsd-server-data")]
    data: PathBuf,
    /// Keep everything in this PostgreSQL database instead of the data folder's
    /// SQLite (postgres://user:password@host:port/database). Instances sharing one
    /// database serve the same terminals; each keeps its own --data for caches.
    #[arg(long, global = true, env = "TSD_DATABASE")]
    database: Option<String>,
    /// Most PostgreSQL connections this instance opens.
    #[arg(long, global = true, env = "TSD_DATABASE_POOL", default_value_t = 16)]
    database_pool: usize,
    /// No progress on standard error (it is shown only when standard error is a
    /// terminal anyway).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the HTTP(S) API; prints `listening on URL` once ready.
    Serve {
        #[command(flatten)]
        net: NetArgs,
        /// Largest catalog upload, in MiB.
        #[arg(long, env = "TSD_MAX_CATALOG_MIB", default_value_t = 4096)]
        max_catalog_mib: u64,
        /// Largest finished document, in MiB.
        #[arg(long, env = "TSD_MAX_DOCUMENT_MIB", default_value_t = 32)]
        max_document_mib: u64,
        /// Serve /metrics on this address only (plain HTTP), not on --listen.
        #[arg(long, env = "TSD_METRICS_LISTEN")]
        metrics_listen: Option<String>,
        /// Serve the admin console (/admin) on this address only, not on --listen
        /// (with the same TLS certificate when there is one).
        #[arg(long, env = "TSD_ADMIN_LISTEN")]
        admin_listen: Option<String>,
        /// Seconds a print job stays this instance's once its worker took it: on a
        /// shared PostgreSQL, another instance takes it over only after this (the
        /// first died mid-job). Longer than one attempt takes.
        #[arg(long, env = "TSD_PRINT_LEASE_SECS", default_value_t = 60)]
        print_lease_secs: u64,
    },
    /// Checks what `serve` would run with: the data folder (files, schema,
    /// integrity, free space), the database, the certificate (key, expiry), the
    /// address, and what terminals need (a catalog, devices); says what is wrong.
    Doctor {
        #[command(flatten)]
        net: NetArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Asks the running server whether it is ready (GET /readyz on --listen, plain
    /// HTTP): exit status 0 when it is. For container health checks.
    Health {
        #[command(flatten)]
        net: NetArgs,
    },
    /// Prints a shell completion script: `source <(tsd-server completions bash)`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Writes the manual pages (tsd-server.1, tsd-server-serve.1, …) into a
    /// folder (for packaging).
    #[command(hide = true)]
    Man {
        /// The folder (created if absent).
        dir: PathBuf,
    },
    /// Terminals.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Integration keys for the accounting system.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Catalog versions.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Terminal configuration (document types, weight templates).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Task documents.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Finished documents.
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// Label and document printers (raw TCP, port 9100).
    #[command(subcommand)]
    Printer(PrinterCommand),
    /// The print queue.
    #[command(subcommand)]
    Print(PrintCommand),
    /// Log bundles terminals sent.
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Client app versions terminals update to.
    #[command(subcommand)]
    App(AppCommand),
    /// Simulated terminals against a server on loopback, for sizing (see
    /// docs/benchmarks.md). Uses --data/--database to set the fleet up (devices,
    /// catalog) and to count what arrived; prints a JSON report.
    Loadgen {
        /// The server under load (loopback only); repeat for each instance of a
        /// fleet: requests go round-robin, as behind a balancer.
        #[arg(long = "url", required = true)]
        urls: Vec<String>,
        /// Simulated terminals.
        #[arg(long, default_value_t = 10_000)]
        terminals: usize,
        /// Each terminal syncs this often (seconds).
        #[arg(long, default_value_t = 300.0)]
        interval_secs: f64,
        /// How long the run lasts (seconds).
        #[arg(long, default_value_t = 60.0)]
        duration_secs: f64,
        /// Online lookups per second, all terminals together.
        #[arg(long, default_value_t = 0.0)]
        lookups_per_sec: f64,
        /// A scanning terminal looks a code up this often (seconds): the lookups
        /// come from lookups-per-sec × this many terminals.
        #[arg(long, default_value_t = 1.0)]
        scan_every_secs: f64,
        /// Share of terminals one catalog version behind at the start (delta downloads).
        #[arg(long, default_value_t = 0.05)]
        behind: f64,
        /// Products of the catalog published when none is.
        #[arg(long, default_value_t = 100_000)]
        products: u64,
        /// A server process to report CPU and memory of (repeat for each instance).
        #[arg(long = "server-pid")]
        server_pids: Vec<u32>,
        /// Instead: publish a new version and have this many terminals ask for it at once.
        #[arg(long)]
        morning: Option<usize>,
    },
    /// Accounts of the admin console (/admin in a browser).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// 1C's "exchange with a site" (Обмен с сайтом) at /1c/exchange.
    #[command(subcommand, name = "1c")]
    OneC(OneCCommand),
}

/// Where `serve` listens and with which certificate; each also from the
/// environment (the package's /etc/tsd-server/tsd-server.env sets them).
#[derive(clap::Args)]
struct NetArgs {
    /// Address and port (port 0 picks a free one).
    #[arg(long, env = "TSD_LISTEN", default_value = "127.0.0.1:8480")]
    listen: String,
    /// PEM certificate chain: serve HTTPS.
    #[arg(long, env = "TSD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "TSD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Adds a console account (or gives it a new password); prints the password once.
    Add {
        /// The account's name (what the sign-in form asks).
        name: String,
        /// The account only looks: it cannot publish, acknowledge, add or revoke.
        #[arg(long)]
        read_only: bool,
    },
}

#[derive(Subcommand)]
enum OneCCommand {
    /// Adds the user 1C's exchange node logs in as (or gives it a new password);
    /// prints the password once.
    User {
        /// The user name to set in 1C («Пользователь»).
        name: String,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Publishes an app file (APK) as a new version.
    Publish {
        /// The APK.
        file: PathBuf,
        /// Its Android versionCode (must be newer than the latest).
        #[arg(long)]
        version_code: i64,
        /// Its versionName, shown to the operator.
        #[arg(long, default_value = "")]
        version_name: String,
        /// Terminals below this version code must update first.
        #[arg(long, default_value_t = 0)]
        min_version: i64,
    },
    /// Lists published versions, newest first.
    List,
}

#[derive(Subcommand)]
enum LogsCommand {
    /// Lists log bundles, newest first.
    List {
        /// JSON output (an array).
        #[arg(long)]
        json: bool,
    },
    /// Prints one bundle as text (or writes it to --out).
    Get {
        /// Bundle id.
        id: i64,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PrinterCommand {
    /// Adds a printer (or changes its address).
    Add {
        /// The name terminals print to.
        name: String,
        /// HOST:PORT of its raw port, e.g. 10.0.0.7:9100.
        address: String,
    },
    /// Lists printers.
    List,
}

#[derive(Subcommand)]
enum PrintCommand {
    /// Lists print jobs, newest first, with their status.
    List {
        /// JSON output (an array).
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Registers a terminal and prints its token (shown once), or with --qr a setup
    /// code to scan on the terminal instead.
    Add {
        /// Device name.
        name: String,
        /// Print `{"name", "token"}` (or `{"name", "setup_code"}`).
        #[arg(long)]
        json: bool,
        /// Print a setup code (text and QR) instead of the token.
        #[arg(long)]
        qr: bool,
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// A new setup code for an existing terminal (a replaced or reset device).
    Setup {
        /// Device name.
        name: String,
        /// Print `{"name", "setup_code"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// Lists terminals with their last status.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct SetupArgs {
    /// The URL terminals reach this server at (required with a setup code).
    #[arg(long)]
    url: Option<String>,
    /// The server's TLS certificate (PEM): its fingerprint goes into the code.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Minutes the code stays valid.
    #[arg(long, default_value_t = 60)]
    ttl_min: u64,
    /// Also write the QR code as SVG.
    #[arg(long)]
    qr_svg: Option<PathBuf>,
}

/// Makes a setup code and prints it as text and QR (or JSON).
fn print_setup(server: &Server, name: &str, create: bool, json: bool, a: &SetupArgs) -> Result<(), Box<dyn std::error::Error>> {
    let url = a
        .url
        .as_deref()
        .ok_or("a setup code needs --url (the address terminals reach this server at)")?;
    let pem = a
        .tls_cert
        .as_ref()
        .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .transpose()?;
    let code = server.setup_code(name, create, url, pem.as_deref(), std::time::Duration::from_secs(a.ttl_min * 60))?;
    let text = code.to_text();
    let qr = qrcode::QrCode::new(text.as_bytes()).map_err(|e| format!("QR code: {e}"))?;
    if let Some(svg) = &a.qr_svg {
        let image = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(300, 300).build();
        std::fs::write(svg, image).map_err(|e| format!("{}: {e}", svg.display()))?;
    }
    if json {
        out(&format!(
            "{}\n",
            serde_json::json!({ "name": name, "setup_code": text, "expires_in_min": a.ttl_min })
        ));
    } else {
        let art = qr.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build();
        out(&format!(
            "{art}\n{text}\nscan it on the terminal within {} min; it works once\n",
            a.ttl_min
        ));
    }
    Ok(())
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Creates an integration key and prints it (shown once).
    New,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Publishes a catalog file (CSV, JSON Lines or CommerceML, as `tsd import` takes).
    Publish {
        /// The file.
        file: PathBuf,
        /// csv, jsonl or xml (CommerceML) (default: by extension).
        #[arg(long)]
        format: Option<String>,
        /// The file's encoding: utf-8, windows-1251, utf-16le, utf-16be (default: detected).
        #[arg(long)]
        encoding: Option<String>,
        /// Columns named explicitly: field=Header,… (for headers not understood out of the box).
        #[arg(long)]
        columns: Option<String>,
        /// Refuse columns that are not catalog fields and a file without a barcode column.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Publishes a configuration (JSON); a change becomes the next version.
    Publish {
        /// The JSON file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TasksCommand {
    /// Adds task documents (JSON Lines) for a device.
    Add {
        /// Device name.
        #[arg(long)]
        device: String,
        /// The JSON Lines file.
        file: PathBuf,
    },
    /// Withdraws a task: removed from the terminal at its next sync unless work on it
    /// has started (then it is finished and sent as usual).
    Cancel {
        /// Task id.
        id: String,
        /// Only from this device (default: every device it was given to).
        #[arg(long)]
        device: Option<String>,
    },
}

#[derive(Subcommand)]
enum DocumentsCommand {
    /// Lists finished documents not yet acknowledged (with lines and scans).
    List {
        /// JSON output (an array).
        #[arg(long)]
        json: bool,
        /// Include acknowledged documents.
        #[arg(long)]
        all: bool,
    },
    /// Acknowledges documents by server id.
    Ack {
        /// Server ids.
        ids: Vec<i64>,
    },
}

fn main() {
    let cli = Cli::parse();
    tsd_term::progress::set_quiet(cli.quiet);
    if let Err(e) = run(cli) {
        let mut err = std::io::stderr();
        let _ = writeln!(err, "tsd-server: {e}");
        if let Some(next) = next_step(e.as_ref()) {
            let _ = writeln!(err, "  what to do: {next}");
        }
        std::process::exit(1);
    }
}

/// What to do about an error, when the fix is known (the core's advice for its
/// errors, the server's for its own).
fn next_step(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(core) = e.downcast_ref::<tsd_core::Error>() {
        return core.next_step();
    }
    match e.downcast_ref::<tsd_server::error::Error>()? {
        tsd_server::error::Error::Core(core) => core.next_step(),
        _ => None,
    }
}

fn format_of(file: &Path, given: Option<&str>) -> Result<tsd_core::catalog::Format, String> {
    use tsd_core::catalog::Format;
    match given {
        Some(name) => Format::from_name(name).ok_or_else(|| format!("format {name:?}: use csv, jsonl or xml")),
        None => Format::from_path(file).ok_or_else(|| format!("{}: name the format with --format csv|jsonl|xml", file.display())),
    }
}

/// GET /readyz from the server listening on `listen` (a wildcard address is asked
/// on loopback); the answer's status line when it is 200.
fn ready(listen: &str) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::Read;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
    let timeout = std::time::Duration::from_secs(5);
    let mut addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("{listen}: {e}"))?
        .next()
        .ok_or_else(|| format!("{listen}: no address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut answer = Vec::new();
    stream.take(16 << 10).read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or("").to_string();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(status)
    } else {
        Err(format!("{addr}: not ready: {}", answer.lines().last().unwrap_or(&status)).into())
    }
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error of the command.
    let _ = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush());
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let database = cli.database.clone().map(|url| tsd_server::Database {
        url,
        max_connections: cli.database_pool,
    });
    // What needs no server opened (and must not create a data folder).
    match &cli.command {
        Command::Completions { shell } => {
            let mut text = Vec::new();
            tsd_term::help::completions(<Cli as clap::CommandFactory>::command(), *shell, &mut text);
            out(&String::from_utf8_lossy(&text));
            return Ok(());
        }
        Command::Man { dir } => {
            let pages = tsd_term::help::man_pages(<Cli as clap::CommandFactory>::command(), dir, &[])
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            out(&format!("{} manual pages in {}\n", pages.len(), dir.display()));
            return Ok(());
        }
        Command::Health { net } => {
            if net.tls_cert.is_some() {
                return Err("tsd-server health speaks plain HTTP; it cannot ask a server that serves HTTPS (check /readyz with a client that trusts its certificate)".into());
            }
            let answer = ready(&net.listen)?;
            out(&format!("{answer}\n"));
            return Ok(());
        }
        Command::Doctor { net, json } => {
            let report = tsd_server::doctor::check(&tsd_server::doctor::Setup {
                data: cli.data.clone(),
                database,
                listen: Some(net.listen.clone()),
                tls: net.tls_cert.clone().zip(net.tls_key.clone()),
            });
            if *json {
                out(&format!("{}\n", serde_json::to_string(&report)?));
            } else {
                out(&format!("{}\n", report.text()));
            }
            if report.failed() {
                // The report said what failed and what to do.
                std::process::exit(1);
            }
            return Ok(());
        }
        _ => {}
    }
    let server = Server::open_with(&cli.data, database.as_ref())?;
    with_server(server, &cli.data, cli.command)
}

/// The commands that work on an opened server.
fn with_server(server: Server, data: &Path, command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Completions { .. } | Command::Man { .. } | Command::Doctor { .. } | Command::Health { .. } => {
            return Err("internal: answered before the server opens".into());
        }
        Command::Serve {
            net: NetArgs { listen, tls_cert, tls_key },
            max_catalog_mib,
            max_document_mib,
            metrics_listen,
            admin_listen,
            print_lease_secs,
        } => {
            let mut server = server;
            server.set_print_settings(tsd_server::print::PrintSettings {
                lease: std::time::Duration::from_secs(print_lease_secs.max(1)),
                ..Default::default()
            });
            let limits = Limits {
                catalog: max_catalog_mib << 20,
                document: max_document_mib << 20,
                ..Limits::default()
            };
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| TlsFiles { cert, key });
            serve_foreground(
                server,
                &listen,
                tls,
                limits,
                metrics_listen.as_deref(),
                admin_listen.as_deref(),
                |on| {
                    out(&format!("listening on {}\n", on.url));
                    if let Some(m) = &on.metrics {
                        out(&format!("metrics on {m}\n"));
                    }
                    if let Some(c) = &on.console {
                        out(&format!("admin console on {c}\n"));
                    }
                },
            )
            .map_err(|e| e.to_string())?;
        }
        Command::Loadgen {
            urls,
            terminals,
            interval_secs,
            duration_secs,
            lookups_per_sec,
            scan_every_secs,
            behind,
            products,
            server_pids,
            morning,
        } => {
            let settings = tsd_server::loadgen::LoadSettings {
                urls,
                terminals,
                interval: std::time::Duration::from_secs_f64(interval_secs.max(0.001)),
                duration: std::time::Duration::from_secs_f64(duration_secs.max(0.0)),
                lookups_per_sec,
                scan_every: std::time::Duration::from_secs_f64(scan_every_secs.max(0.001)),
                behind: behind.clamp(0.0, 1.0),
                products,
                server_pids,
                morning,
            };
            let report = tsd_server::loadgen::run(&server, data, &settings)?;
            out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
        }
        Command::Device(DeviceCommand::Add {
            name,
            json,
            qr: true,
            setup,
        }) => print_setup(&server, &name, true, json, &setup)?,
        Command::Device(DeviceCommand::Setup { name, json, setup }) => print_setup(&server, &name, false, json, &setup)?,
        Command::Device(DeviceCommand::Add { name, json, .. }) => {
            let token = server.add_device(&name)?;
            if json {
                out(&format!("{}\n", serde_json::json!({ "name": name, "token": token })));
            } else {
                out(&format!("{token}\n"));
            }
        }
        Command::Device(DeviceCommand::List { json }) => {
            let devices = server.devices()?;
            if json {
                out(&format!("{}\n", serde_json::to_string(&devices)?));
            } else {
                let rows: Vec<Vec<String>> = devices
                    .iter()
                    .map(|d| {
                        let status = d.status.as_ref();
                        let field = |k: &str| status.and_then(|s| s.get(k)).map(|v| v.to_string()).unwrap_or_default();
                        vec![
                            d.name.clone(),
                            d.last_seen.map(tsd_term::table::utc_minute).unwrap_or_else(|| "never".into()),
                            field("catalog_version"),
                            field("waiting"),
                            d.app_version.map(|v| v.to_string()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                out(&tsd_term::table(&["DEVICE", "LAST SEEN (UTC)", "CATALOG", "WAITING", "APP"], &rows));
            }
        }
        Command::Key(KeyCommand::New) => out(&format!("{}\n", server.new_integration_key()?)),
        Command::Admin(AdminCommand::Add { name, read_only }) => out(&format!("{}\n", server.add_admin(&name, read_only)?)),
        Command::OneC(OneCCommand::User { name }) => out(&format!("{}\n", server.add_site_user(&name)?)),
        Command::Catalog(CatalogCommand::Publish {
            file,
            format,
            encoding,
            columns,
            strict,
        }) => {
            let format = format_of(&file, format.as_deref())?;
            let read = tsd_core::catalog::ReadOptions::from_args(encoding.as_deref(), columns.as_deref(), strict)?;
            let bar = tsd_term::Bar::reading(&file, format);
            let published = server.publish_catalog_observed(&file, format, &read, &mut |step| step.show_on(&bar))?;
            bar.finish();
            for w in &published.warnings {
                let _ = writeln!(std::io::stderr(), "warning: {w}");
            }
            out(&format!("{}\n", serde_json::to_string(&published)?));
        }
        Command::Config(ConfigCommand::Publish { file }) => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let (version, changed) = server.publish_config(&text)?;
            out(&format!("{}\n", serde_json::json!({ "version": version, "changed": changed })));
        }
        Command::Tasks(TasksCommand::Add { device, file }) => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let added = server.add_tasks(&device, &text)?;
            out(&format!("{}\n", serde_json::json!({ "added": added })));
        }
        Command::Tasks(TasksCommand::Cancel { id, device }) => {
            let devices = server.cancel_task(&id, device.as_deref())?;
            out(&format!("{}\n", serde_json::json!({ "cancelled": devices })));
        }
        Command::Documents(DocumentsCommand::List { json, all }) => {
            let docs = server.store().documents(!all)?;
            if json {
                out(&format!("{}\n", serde_json::to_string(&docs)?));
            } else {
                let rows: Vec<Vec<String>> = docs
                    .iter()
                    .map(|d| {
                        let text = |k: &str| d.document.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                        let lines = d.document.get("lines").and_then(|l| l.as_array()).map_or(0, Vec::len);
                        vec![
                            d.id.to_string(),
                            d.device.clone(),
                            text("number"),
                            text("type"),
                            lines.to_string(),
                            tsd_term::table::utc_minute(d.received_at),
                            if d.acked_at.is_some() { "yes" } else { "no" }.to_string(),
                            d.doc_id.clone(),
                        ]
                    })
                    .collect();
                out(&tsd_term::table(
                    &["ID", "DEVICE", "NUMBER", "TYPE", "LINES", "RECEIVED (UTC)", "ACKED", "DOCUMENT"],
                    &rows,
                ));
            }
        }
        Command::Printer(PrinterCommand::Add { name, address }) => server.add_printer(&name, &address)?,
        Command::Printer(PrinterCommand::List) => {
            let rows: Vec<Vec<String>> = server.store().printers()?.into_iter().map(|(n, a)| vec![n, a]).collect();
            out(&tsd_term::table(&["PRINTER", "ADDRESS"], &rows));
        }
        Command::Print(PrintCommand::List { json, limit }) => {
            let jobs = server.store().print_jobs(None, limit)?;
            if json {
                out(&format!("{}\n", serde_json::to_string(&jobs)?));
            } else {
                let rows: Vec<Vec<String>> = jobs
                    .into_iter()
                    .map(|j| {
                        vec![
                            j.id.to_string(),
                            j.device,
                            j.printer,
                            j.job.template,
                            j.job.copies.to_string(),
                            j.status.to_string(),
                            j.message.unwrap_or_default(),
                        ]
                    })
                    .collect();
                out(&tsd_term::table(
                    &["ID", "DEVICE", "PRINTER", "TEMPLATE", "COPIES", "STATUS", "MESSAGE"],
                    &rows,
                ));
            }
        }
        Command::App(AppCommand::Publish {
            file,
            version_code,
            version_name,
            min_version,
        }) => {
            let update = server.publish_app(&file, version_code, &version_name, min_version)?;
            out(&format!("{}\n", serde_json::to_string(&update)?));
        }
        Command::App(AppCommand::List) => out(&format!("{}\n", serde_json::to_string(&server.store().apps()?)?)),
        Command::Logs(LogsCommand::List { json }) => {
            let bundles = server.store().logs(1000)?;
            if json {
                out(&format!("{}\n", serde_json::to_string(&bundles)?));
            } else {
                let rows: Vec<Vec<String>> = bundles
                    .iter()
                    .map(|b| {
                        vec![
                            b.id.to_string(),
                            b.device.clone(),
                            tsd_term::table::utc_minute(b.received_at),
                            b.size.to_string(),
                            b.info["app_version"].to_string(),
                            b.info["config_version"].to_string(),
                        ]
                    })
                    .collect();
                out(&tsd_term::table(
                    &["ID", "DEVICE", "RECEIVED (UTC)", "BYTES", "APP", "CONFIG"],
                    &rows,
                ));
            }
        }
        Command::Logs(LogsCommand::Get { id, out: file }) => {
            let text = server.logs_text(id)?;
            match file {
                Some(f) => std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))?,
                None => out(&text),
            }
        }
        Command::Documents(DocumentsCommand::Ack { ids }) => {
            for id in ids {
                if !server.store().ack_document(id, tsd_server::now_ms())? {
                    return Err(format!("no document {id}").into());
                }
            }
        }
    }
    Ok(())
}
