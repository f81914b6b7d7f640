//! The public error of `tsd-core`: one enum, stable codes, converted in one place.
//!
//! Each variant says who is at fault and whether a retry can help. Messages name
//! what failed (file, line, SQL step) and never contain raw marking codes.

use crate::barcode::BarcodeError;
use std::path::PathBuf;

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database was written by a newer build (user/installer at fault: old app on
    /// new data). Nothing was changed; install the newer app.
    #[error("{path}: schema version {found} is newer than this build supports ({supported}); nothing was changed")]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file is not a TSD database or is damaged. It is left untouched for
    /// recovery; retrying will not help.
    #[error("{path}: cannot be used: {reason}; the file was left as it is for recovery")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite or the header check said.
        reason: String,
    },
    /// SQLite failed at the named step (disk full, I/O error…). `retryable` tells.
    #[error("database error while {step}: {source}")]
    Sqlite {
        /// What the runtime was doing.
        step: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An import file has a bad row (the exporter is at fault). Nothing was imported.
    #[error("{path}: line {line}: {reason}; nothing was imported")]
    Import {
        /// The import file.
        path: PathBuf,
        /// 1-based line of the bad row.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A scan that is not a valid barcode (the label or the scanner is at fault).
    #[error("barcode rejected: {0}")]
    Barcode(#[from] BarcodeError),
    /// No document with this id.
    #[error("document {0} not found")]
    DocumentNotFound(String),
    /// The document is completed and frozen.
    #[error("document {0} is completed and can no longer change")]
    DocumentCompleted(String),
    /// No document type with this id in the configuration.
    #[error("unknown document type {0:?}")]
    UnknownDocumentType(String),
    /// Undo asked for on a document with no scan left to undo.
    #[error("nothing to undo in document {0}")]
    NothingToUndo(String),
    /// Configuration that does not validate (the configurator is at fault).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A caller passed something meaningless (negative quantity, empty id).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A package was refused (truncated, damaged, foreign, unsigned, too new) or
    /// could not be read; the message names the file and the reason.
    #[error(transparent)]
    Package(#[from] crate::package::PackageError),
    /// The operation was cancelled between batches; nothing was committed.
    #[error("cancelled; nothing was changed")]
    Cancelled,
    /// The server could not be reached or answered with a transient failure
    /// (no network, timeout, connection cut, 408/429/5xx). A later sync will retry.
    #[error("{step}: {message}")]
    Network {
        /// What the runtime was doing.
        step: &'static str,
        /// What went wrong.
        message: String,
        /// How long the server asked us to wait (`Retry-After`).
        retry_after: Option<std::time::Duration>,
    },
    /// The server refused the request (bad token, unknown route, a document it will
    /// not take). Retrying the same request will not help until someone acts.
    #[error("{step}: server answered {status}: {message}")]
    Server {
        /// What the runtime was doing.
        step: &'static str,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server speaks another protocol version; one side needs an update.
    #[error("protocol mismatch: {0}")]
    Protocol(String),
    /// The TLS connection was refused: unknown CA, wrong pinned fingerprint, bad
    /// certificate name.
    #[error("{step}: TLS: {message}")]
    Tls {
        /// What the runtime was doing.
        step: &'static str,
        /// rustls' reason.
        message: String,
    },
    /// Another sync is running on this runtime.
    #[error("a sync is already running")]
    SyncInProgress,
    /// A downloaded or delivered app update does not match its size or SHA-256; it
    /// was not offered for install (and a download was deleted).
    #[error("{path}: {reason}")]
    BadUpdate {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
}

impl Error {
    /// Stable machine-readable code, for JSON output and the JNI exception table.
    pub fn code(&self) -> &'static str {
        match self {
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::Corrupt { .. } => "corrupt_database",
            Error::Sqlite { .. } => "database",
            Error::Io { .. } => "io",
            Error::Import { .. } => "import",
            Error::Barcode(_) => "barcode",
            Error::DocumentNotFound(_) => "document_not_found",
            Error::DocumentCompleted(_) => "document_completed",
            Error::UnknownDocumentType(_) => "unknown_document_type",
            Error::NothingToUndo(_) => "nothing_to_undo",
            Error::Config(_) => "config",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Package(_) => "package",
            Error::Cancelled => "cancelled",
            Error::Network { .. } => "network",
            Error::Server { .. } => "server",
            Error::Protocol(_) => "protocol",
            Error::Tls { .. } => "tls",
            Error::SyncInProgress => "sync_in_progress",
            Error::BadUpdate { .. } => "bad_update",
        }
    }

    /// What the person in front of the error can do about it, when the fix is
    /// known: "update the app" for data or a package from a newer build, the
    /// accepted encodings for a file that is not UTF-8. Words for a person, not for
    /// a program; `None` when the message already says all there is.
    pub fn next_step(&self) -> Option<&'static str> {
        use crate::package::{PackageError, Refusal};
        Some(match self {
            Error::SchemaTooNew { .. } => "update the app: a newer version wrote this data (or open the data folder with the version that wrote it)",
            Error::Corrupt { .. } => "restore the file from a backup, or move it aside and start afresh (documents in a damaged journal.db that were not sent are then lost)",
            Error::Import { reason, .. } if reason.contains("not UTF-8") => {
                "save the file as UTF-8, or name its encoding: --encoding windows-1251 (1C's and Excel's usual), utf-16le or utf-16be"
            }
            Error::Import { .. } => "correct that row in the file (or in the export that made it) and import again; nothing was changed",
            Error::Sqlite { source, .. } if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) => "free disk space and try again; nothing was lost",
            Error::Sqlite { source, .. }
                if matches!(source.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)) =>
            {
                "another program holds the data folder; try again when it has finished"
            }
            Error::Package(PackageError::Refused { reason, .. }) => match reason {
                Refusal::TooNew { .. } => "update the app: the package was made by a newer version",
                Refusal::Truncated | Refusal::BadChecksum => "the file was damaged on its way: put it into the folder again (or let the next sync fetch it anew)",
                Refusal::Unsigned | Refusal::BadSignature => "sign packages with the key the terminal holds (--key-file on both sides)",
                Refusal::OutOfOrder { .. } => "give the terminal the full catalog (a snapshot) first, then the changes",
                Refusal::Foreign | Refusal::Malformed(_) => "this is not a package made by tsd; put only tsd's packages into to-device/",
            },
            Error::Network { .. } => "check the network and the server address; nothing was lost, and the next sync sends what is waiting",
            Error::Server { status: 401 | 403, .. } => "the terminal's token is unknown or was revoked: enroll the terminal again with a new setup code",
            Error::Protocol(_) => "update the app or the server so both speak the same protocol version",
            Error::Tls { .. } => "check the server's certificate: its CA (--ca), the pinned fingerprint (--pin) and the name in the URL",
            Error::SyncInProgress => "wait for the running sync to finish, then try again",
            Error::BadUpdate { .. } => "fetch the update again; the damaged file was not installed",
            _ => return None,
        })
    }

    /// True when the same call may succeed later (busy database, full disk freed,
    /// transient I/O).
    pub fn retryable(&self) -> bool {
        match self {
            Error::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                )
            ),
            Error::Io { .. } | Error::Cancelled | Error::Network { .. } | Error::SyncInProgress | Error::BadUpdate { .. } => true,
            _ => false,
        }
    }
}

/// Attaches the step name to SQLite errors: `stmt.execute(..).step("inserting a scan")?`.
pub(crate) trait SqlStep<T> {
    fn step(self, step: &'static str) -> Result<T>;
}

impl<T> SqlStep<T> for rusqlite::Result<T> {
    fn step(self, step: &'static str) -> Result<T> {
        self.map_err(|source| Error::Sqlite { step, source })
    }
}
