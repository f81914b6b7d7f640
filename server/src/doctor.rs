//! `tsd-server doctor`: what is wrong with this server's data, database,
//! certificate and address, in words, with what to do.
//!
//! A missing or damaged `server.db` is reported and never created or changed; the
//! server is opened (as `serve` opens it) only once the files checked out.

use crate::{Database, Server};
use std::path::{Path, PathBuf};
use tsd_term::doctor::{certificate_expiry, data_folder, free_space, sqlite_file, Level, Report};

/// Below this much free space the next catalog version may not fit.
const LOW_SPACE: u64 = 1 << 30;

/// What `doctor` checks: the options `serve` would run with.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The data folder.
    pub data: PathBuf,
    /// The PostgreSQL database, when not the data folder's SQLite.
    pub database: Option<Database>,
    /// The address `serve` listens on.
    pub listen: Option<String>,
    /// The TLS certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Runs every check.
pub fn check(setup: &Setup) -> Report {
    let mut r = Report::default();
    let dir = &setup.data;
    let exists = data_folder(
        &mut r,
        dir,
        "pass --data DIR (or set TSD_SERVER_DATA); `tsd-server serve` creates a new one",
        "give the server's user write access (the package runs it as user tsd-server)",
    );
    if exists {
        if setup.database.is_none() {
            sqlite_file(
                &mut r,
                &dir.join("server.db"),
                crate::store::SCHEMA_VERSION,
                "update tsd-server: a newer version wrote this data",
            );
        }
        free_space(&mut r, dir, LOW_SPACE);
    }
    if let Some((cert, key)) = &setup.tls {
        certificate(&mut r, cert, key);
    }
    if let Some(listen) = &setup.listen {
        address(&mut r, listen);
    }
    if !r.failed() {
        contents(&mut r, setup);
    }
    r
}

/// The server opens (the database is reachable and its schema known), and has
/// what terminals need.
fn contents(r: &mut Report, setup: &Setup) {
    let server = match Server::open_with(&setup.data, setup.database.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            let fix = match &setup.database {
                Some(_) => "check --database (TSD_DATABASE): host, port, user, password and database name; and that PostgreSQL runs",
                None => "see the message; the data folder was not changed",
            };
            r.add(Level::Fail, "database", e.to_string(), Some(fix));
            return;
        }
    };
    if setup.database.is_some() {
        r.ok("database", "PostgreSQL answers and its schema is known");
    }
    match server.store().latest_catalog() {
        Ok(Some(c)) => r.ok("catalog", format!("version {} published", c.version)),
        Ok(None) => r.add(
            Level::Warn,
            "catalog",
            "no catalog published: terminals recognise nothing",
            Some("tsd-server catalog publish FILE (or let 1C's exchange send one)"),
        ),
        Err(e) => r.add(Level::Fail, "catalog", e.to_string(), None),
    }
    match server.devices() {
        Ok(d) if d.is_empty() => r.add(
            Level::Warn,
            "terminals",
            "none added yet",
            Some("tsd-server device add NAME --qr --url URL, then scan the code on the terminal"),
        ),
        Ok(d) => {
            let seen = d.iter().filter(|d| d.last_seen.is_some()).count();
            r.ok("terminals", format!("{} added, {seen} of them synced at least once", d.len()));
        }
        Err(e) => r.add(Level::Fail, "terminals", e.to_string(), None),
    }
}

/// The certificate and key load, belong together, and are not about to expire.
fn certificate(r: &mut Report, cert: &Path, key: &Path) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Result<Vec<CertificateDer<'static>>, _> = CertificateDer::pem_file_iter(cert).and_then(|i| i.collect());
    let certs = match certs {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            r.add(
                Level::Fail,
                "certificate",
                format!("{}: no certificate in it", cert.display()),
                Some("give the PEM file of the certificate chain (-----BEGIN CERTIFICATE-----)"),
            );
            return;
        }
        Err(e) => {
            r.add(
                Level::Fail,
                "certificate",
                format!("{}: {e}", cert.display()),
                Some("give the PEM file of the certificate chain, readable by the server's user"),
            );
            return;
        }
    };
    let private = match PrivateKeyDer::from_pem_file(key) {
        Ok(k) => k,
        Err(e) => {
            r.add(
                Level::Fail,
                "certificate",
                format!("{}: {e}", key.display()),
                Some("give the PEM private key of the certificate, readable by the server's user"),
            );
            return;
        }
    };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let matched = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(certs.clone(), private)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = matched {
        r.add(
            Level::Fail,
            "certificate",
            format!("the key does not fit the certificate: {e}"),
            Some("give the key the certificate was issued for"),
        );
        return;
    }
    certificate_expiry(
        r,
        "certificate",
        &certs[0],
        ", key fits",
        "renew the certificate before it expires (terminals refuse an expired one); terminals with a pinned fingerprint then need a new setup code",
    );
}

/// The address `serve` would listen on is free (nothing else holds it).
fn address(r: &mut Report, listen: &str) {
    match std::net::TcpListener::bind(listen) {
        Ok(_) => r.ok("address", format!("{listen} is free to listen on")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => r.add(
            Level::Warn,
            "address",
            format!("{listen} is taken"),
            Some("a tsd-server may already run there (systemctl status tsd-server); otherwise choose another --listen"),
        ),
        Err(e) => r.add(
            Level::Fail,
            "address",
            format!("{listen}: {e}"),
            Some("give --listen as HOST:PORT with an address of this machine"),
        ),
    }
}
