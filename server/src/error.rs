//! The server's error: each variant maps to one HTTP status and a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Result with the server's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request or a subcommand can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or unknown token or key.
    #[error("{0}")]
    Unauthorized(String),
    /// The client speaks a protocol version this server does not.
    #[error("{0}")]
    Protocol(String),
    /// Bad request: a bad parameter, header or body.
    #[error("{0}")]
    BadRequest(String),
    /// Signed in, but not allowed to do this (a viewer's action, a forged form).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// A handler failed unexpectedly (it panicked); nothing was committed.
    #[error("internal error: {0}")]
    Internal(String),
    /// The body is larger than allowed for this route.
    #[error("request body larger than {0} bytes")]
    TooLarge(u64),
    /// The client stopped sending in the middle of a request.
    #[error("{0}")]
    Timeout(String),
    /// The runtime core refused something (bad catalog row, bad package…).
    #[error(transparent)]
    Core(#[from] tsd_core::Error),
    /// The database failed.
    #[error("database error while {step}: {source}")]
    Storage {
        /// What the server was doing.
        step: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL failed (or could not be reached).
    #[error("PostgreSQL error while {step}: {message}")]
    Database {
        /// What the server was doing.
        step: &'static str,
        /// What the database or its pool said.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// HTTP status and stable code.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::Protocol(_) => (StatusCode::UPGRADE_REQUIRED, "protocol"),
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Error::Core(e) if !e.retryable() => (StatusCode::UNPROCESSABLE_ENTITY, e.code()),
            Error::Core(_) | Error::Storage { .. } | Error::Database { .. } | Error::Io { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if status.is_server_error() {
            log::error!("{self}");
        }
        let body = tsd_core::protocol::ErrorBody {
            error: code.into(),
            message: self.to_string(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        }
        response
    }
}
