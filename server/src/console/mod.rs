//! The admin console: the server's state and its everyday actions in a web page
//! under `/admin`, rendered here from compile-time-checked templates
//! (`server/templates/console/`), in Russian, with no front-end build and nothing
//! fetched from elsewhere (a few lines of script refresh a page's data in place).
//!
//! Accounts are the console's own (`tsd-server admin add NAME [--read-only]`),
//! apart from device tokens and integration keys: passwords kept as Argon2id
//! hashes, a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under TLS,
//! eight hours), a CSRF token in every form, a `viewer` role that only looks (the
//! server refuses its actions, not only the page). Every action goes to the audit
//! log. The console calls the same server operations as the HTTP API and the
//! subcommands: nothing is implemented twice.

mod pages;
mod russian;

use crate::api::{blocking, App};
use crate::error::{Error, Result};
use crate::store::ConsoleSession;
use crate::{now_ms, random_token, token_hash, Server};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The session cookie.
pub const COOKIE: &str = "tsd_console";
/// A session lasts this long.
const SESSION_MS: i64 = 8 * 3600 * 1000;
/// Roles.
pub const ADMIN: &str = "admin";
/// See [`ADMIN`].
pub const VIEWER: &str = "viewer";

type St = State<Arc<App>>;

/// What the console keeps between requests: the catalog publish started from it.
#[derive(Default)]
pub struct ConsoleState {
    /// The last catalog publish started here (running, or how it ended).
    pub(crate) publish: std::sync::Mutex<Option<Arc<PublishJob>>>,
}

/// A catalog publish started from the console and watched on the catalog page:
/// it runs on a thread of its own, so the page shows where it is.
pub(crate) struct PublishJob {
    /// The uploaded file's name.
    pub file: String,
    pub started: std::time::Instant,
    pub state: tokio::sync::watch::Sender<PublishState>,
}

/// Where a [`PublishJob`] is.
#[derive(Debug, Clone)]
pub(crate) enum PublishState {
    Running(crate::PublishStep),
    Published(String),
    Failed(String),
}

/// An Argon2id hash of a password (PHC string), salted with 16 random bytes.
pub fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string())
}

/// Whether `password` matches a hash [`hash_password`] made.
pub fn password_matches(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, checked when the user does not exist so that a
/// wrong name takes as long as a wrong password.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password(&random_token("")).unwrap_or_default());

impl Server {
    /// Adds a console account (or gives it a new password and role) and returns
    /// the password (shown once; only its hash is kept).
    pub fn add_admin(&self, name: &str, read_only: bool) -> Result<String> {
        if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::BadRequest("an account name is 1 to 100 characters".into()));
        }
        let password = random_token("").chars().take(20).collect::<String>();
        let role = if read_only { VIEWER } else { ADMIN };
        self.store.set_admin(name.trim(), &hash_password(&password)?, role, now_ms())?;
        self.store
            .audit("tsd-server", "admin.add", &format!("{} ({role})", name.trim()), now_ms())?;
        Ok(password)
    }

    /// Checks a console sign-in; returns the session cookie's value. A wrong name
    /// and a wrong password are refused alike.
    pub fn console_login(&self, user: &str, password: &str) -> Result<String> {
        let account = self.store.admin(user)?;
        let hash = account.as_ref().map_or(DECOY.as_str(), |(h, _)| h.as_str());
        if !password_matches(hash, password) || account.is_none() {
            return Err(Error::Unauthorized("Неверное имя или пароль".into()));
        }
        let token = random_token("");
        let now = now_ms();
        self.store
            .add_console_session(&token_hash(&token), user, &random_token(""), now, now + SESSION_MS)?;
        self.store.audit(user, "console.login", "вход", now)?;
        Ok(token)
    }
}

/// The signed-in admin of a request (a page asks for it; without a live session
/// the browser is sent to the sign-in page).
pub struct Admin {
    /// The session.
    pub session: ConsoleSession,
    /// SHA-256 of its cookie.
    pub cookie_hash: String,
}

impl Admin {
    /// Refuses an action to a viewer, and a form without this session's CSRF token.
    pub fn may_act(&self, csrf: Option<&str>) -> Result<()> {
        use subtle_eq as eq;
        if !csrf.is_some_and(|c| eq(c.as_bytes(), self.session.csrf.as_bytes())) {
            return Err(Error::Forbidden(
                "the form is stale or was not sent from this console: reload the page".into(),
            ));
        }
        if self.session.role != ADMIN {
            return Err(Error::Forbidden(
                "this account only looks (role viewer): nothing was changed".into(),
            ));
        }
        Ok(())
    }

    /// Writes an action to the audit log.
    pub fn audit(&self, server: &Server, action: &str, detail: &str) -> Result<()> {
        server.store().audit(&self.session.user, action, detail, now_ms())
    }
}

/// Compares two byte strings in time that depends on their length only.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Not signed in: pages go to the sign-in form.
pub struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        Redirect::to("/admin/login").into_response()
    }
}

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> std::result::Result<Self, Self::Rejection> {
        let Some(token) = cookie_value(&parts.headers) else {
            return Err(SignIn.into_response());
        };
        let cookie_hash = token_hash(&token);
        let (app, hash) = (app.clone(), cookie_hash.clone());
        match blocking(move || app.server.store().console_session(&hash, now_ms())).await {
            Ok(Some(session)) => Ok(Admin { session, cookie_hash }),
            Ok(None) => Err(SignIn.into_response()),
            Err(e) => Err(pages::error_page(e)),
        }
    }
}

/// The session cookie as set at sign-in (or cleared, with an empty value).
fn session_cookie(value: &str, tls: bool, max_age_s: i64) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .expect("cookie text is ASCII")
}

/// Headers every console answer carries: nothing cached, not framed, scripts and
/// styles only from the console itself.
async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"),
    );
    resp
}

/// The console's routes (under `/admin`).
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/terminals") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/terminals") }))
        .route("/admin/login", get(pages::login_form).post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route(
            "/admin/static/console.css",
            get(|| async { static_file("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/admin/static/console.js",
            get(|| async { static_file("text/javascript; charset=utf-8", JS) }),
        )
        .route("/admin/terminals", get(pages::terminals).post(pages::add_terminal))
        .route("/admin/terminals/revoke", post(pages::revoke_terminal))
        .route("/admin/documents", get(pages::documents))
        .route("/admin/documents/{id}", get(pages::document))
        .route("/admin/documents/{id}/ack", post(pages::ack_document))
        .route("/admin/documents/{id}/export", get(pages::export_document))
        // A catalog upload is limited by the server's catalog limit, checked as it
        // streams in; every other form by axum's default (2 MiB).
        .route(
            "/admin/catalog",
            get(pages::catalog)
                .post(pages::publish_catalog)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/admin/tasks", get(pages::tasks).post(pages::add_tasks))
        .route("/admin/config", get(pages::config).post(pages::publish_config))
        .route("/admin/printing", get(pages::printing).post(pages::add_printer))
        .route("/admin/printing/retry", post(pages::retry_print))
        .route(
            "/admin/apps",
            get(pages::apps)
                .post(pages::publish_app)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/admin/logs", get(pages::logs))
        .route("/admin/logs/{id}", get(pages::log_bundle))
        .route("/admin/audit", get(pages::audit))
        .route_layer(axum::middleware::from_fn(guard))
}

const CSS: &str = include_str!("../../templates/console/console.css");
const JS: &str = include_str!("../../templates/console/console.js");

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_only() {
        let h = hash_password("секрет-1").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches(&h, "секрет-1"));
        assert!(!password_matches(&h, "секрет-2"));
        assert!(!password_matches("not a hash", "секрет-1"));
        assert_ne!(hash_password("секрет-1").unwrap(), h, "salted");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; tsd_console=abc; b=2"));
        assert_eq!(cookie_value(&h).as_deref(), Some("abc"));
        assert!(subtle_eq(b"abc", b"abc") && !subtle_eq(b"abc", b"abd") && !subtle_eq(b"abc", b"ab"));
    }
}
