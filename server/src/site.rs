//! 1C's "exchange with a site" (Обмен с сайтом, CommerceML's HTTP protocol), so
//! that an admin puts this server's address in 1C's exchange node and the catalog
//! publishes itself on 1C's schedule:
//!
//! 1. `GET ?type=catalog&mode=checkauth` with HTTP Basic authentication (a user made
//!    with `tsd-server 1c user NAME`): `success`, the cookie name, its value
//!    (`sessid=` and `timestamp=` lines follow for newer 1C releases);
//! 2. `GET ?type=catalog&mode=init`: `zip=yes`, `file_limit=<bytes>` — 1C then
//!    sends one zip, or the XML files, in parts of at most that size;
//! 3. `POST ?type=catalog&mode=file&filename=NAME`: one part, appended to NAME;
//! 4. `GET ?type=catalog&mode=import&filename=NAME` until it answers `success`
//!    (`progress` while the catalog is being published; `failure` and a reason).
//!
//! `import0_1.xml` is published together with the `offers0_1.xml`/`prices0_1.xml`
//! of the same exchange (one catalog version); the import call for the offers then
//! finds the same catalog and makes no version. A file of changes only is merged
//! onto the latest version. Images (`import_files/…`) are accepted and dropped.
//! `type=sale` (orders) is not implemented: terminals' documents are not orders;
//! they are taken from `GET /v1/documents` (see docs/1c.md).

use crate::api::{blocking, App};
use crate::error::{Error, Result};
use crate::store::Area;
use crate::{io, lock, now_ms, random_token, token_hash, Server};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tsd_core::catalog::{Format, ReadOptions};

/// The cookie checkauth hands out.
pub const COOKIE: &str = "tsd_1c";
/// A session lives this long (an exchange of a million products takes minutes).
const SESSION_MS: i64 = 24 * 3600 * 1000;

/// How the exchange is served.
#[derive(Debug, Clone, Copy)]
pub struct SiteSettings {
    /// The largest part 1C may send in one request (`file_limit`).
    pub file_limit: u64,
    /// How long an import call waits for the publish before answering `progress`.
    pub import_wait: Duration,
}

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            file_limit: 64 << 20,
            import_wait: Duration::from_secs(20),
        }
    }
}

/// A publish started by an import call.
#[derive(Default)]
pub(crate) struct Job {
    /// `None` while it runs; then the answer for 1C.
    done: Mutex<Option<std::result::Result<String, String>>>,
    finished: Condvar,
}

impl Server {
    /// Adds a 1C exchange user (or gives it a new password) and returns the
    /// password (shown once; only its hash is kept).
    pub fn add_site_user(&self, name: &str) -> Result<String> {
        if name.trim().is_empty() || name.len() > 100 || name.contains(':') {
            return Err(Error::BadRequest("a 1C exchange user name is 1 to 100 characters, no ':'".into()));
        }
        // Random, long and typed once into 1C: a SHA-256 of it is safe to keep.
        let password = random_token("").chars().take(24).collect::<String>();
        self.store.set_site_user(name, &token_hash(&password), now_ms())?;
        Ok(password)
    }

    /// Checks a 1C user's password and starts a session; returns its cookie value.
    pub fn site_login(&self, user: &str, password: &str) -> Result<String> {
        match self.store.site_user(user)? {
            Some(hash) if hash == token_hash(password) => {
                let token = random_token("");
                let now = now_ms();
                self.store.add_site_session(&token_hash(&token), user, now, now - SESSION_MS)?;
                Ok(token)
            }
            _ => Err(Error::Unauthorized("wrong 1C exchange user or password".into())),
        }
    }

    /// The user of a live session.
    pub fn site_session(&self, token: &str) -> Result<Option<String>> {
        self.store.site_session(&token_hash(token), now_ms() - SESSION_MS)
    }

    /// Where a session's files are received.
    fn site_dir(&self, token: &str) -> PathBuf {
        self.tmp_dir().join("1c").join(&token_hash(token)[..24])
    }

    /// Whether the exchange's files must also be kept by the storage: it is shared
    /// by instances (PostgreSQL), any of which may get 1C's next request.
    fn site_shared(&self) -> bool {
        self.store.backend() != "sqlite"
    }

    /// Under which name the storage keeps a session's file (`None`: its list).
    fn site_key(token: &str, name: Option<&Path>) -> String {
        let what = name.map_or_else(|| "\u{1f}list".to_string(), |n| format!("\u{1f}{}", n.display()));
        format!("1c-{}", token_hash(&format!("{token}{what}")))
    }

    /// The names of the files a session received, as the storage keeps them.
    fn site_names(&self, token: &str) -> Result<Vec<PathBuf>> {
        let Some(list) = self.store.open_file(Area::Exchange, &Self::site_key(token, None))? else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(&list).map_err(io(&list))?;
        Ok(text.lines().filter_map(safe_relative).collect())
    }

    /// Starts a session's list afresh (`init`).
    fn site_reset(&self, token: &str) -> Result<()> {
        let empty = tempfile::NamedTempFile::new_in(self.tmp_dir()).map_err(io(&self.tmp_dir()))?;
        self.store.keep_file(Area::Exchange, &Self::site_key(token, None), empty.path())
    }

    /// Brings the local copy of a session's file up to what the storage keeps
    /// (another instance may have received its parts so far).
    fn site_fetch(&self, token: &str, name: &Path, local: &Path) -> Result<()> {
        let Some(kept) = self.store.open_file(Area::Exchange, &Self::site_key(token, Some(name)))? else {
            return Ok(());
        };
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        if size(local) != size(&kept) {
            if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::copy(&kept, local).map_err(io(local))?;
        }
        Ok(())
    }

    /// Drops what the storage keeps of a finished exchange.
    fn site_forget(&self, token: &str) -> Result<()> {
        for name in self.site_names(token)? {
            self.store.drop_file(Area::Exchange, &Self::site_key(token, Some(&name)))?;
        }
        self.store.drop_file(Area::Exchange, &Self::site_key(token, None))
    }

    /// Keeps a session's file as received so far, and its name in the list.
    fn site_keep(&self, token: &str, name: &Path, local: &Path) -> Result<()> {
        self.store.keep_file(Area::Exchange, &Self::site_key(token, Some(name)), local)?;
        let mut names = self.site_names(token)?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_path_buf());
            let list = tempfile::NamedTempFile::new_in(self.tmp_dir()).map_err(io(&self.tmp_dir()))?;
            let text: String = names.iter().map(|n| format!("{}\n", n.display())).collect();
            std::fs::write(list.path(), text).map_err(io(list.path()))?;
            self.store.keep_file(Area::Exchange, &Self::site_key(token, None), list.path())?;
        }
        Ok(())
    }
}

/// A file name 1C sent, checked: relative, no `..`, no drive; `\` taken as `/`.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let name = name.replace('\\', "/");
    let mut out = PathBuf::new();
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(':') || part.contains('\0') || part.len() > 200 {
            return None;
        }
        out.push(part);
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// The protocol's plain-text answers.
fn text(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn failure(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    // One line: 1C shows the second line of the answer as the reason.
    let reason = reason.to_string().replace(['\r', '\n'], " ");
    text(status, format!("failure\n{reason}\n"))
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    // 1C sends the user name in UTF-8 (a Cyrillic name too).
    let pair = String::from_utf8(bytes).ok()?;
    let (user, password) = pair.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The session token of a request: the cookie, else `sessid=` in the query.
fn session_token(headers: &HeaderMap, q: &HashMap<String, String>) -> Option<String> {
    let from_cookie = headers.get_all(header::COOKIE).iter().find_map(|v| {
        v.to_str().ok()?.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_string())
        })
    });
    from_cookie.or_else(|| q.get("sessid").cloned())
}

fn unauthorised(reason: &str) -> Response {
    let mut r = failure(StatusCode::UNAUTHORIZED, reason);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"tsd-server 1C exchange\", charset=\"UTF-8\""),
    );
    r
}

/// `/1c/exchange`: the whole protocol, GET and POST.
pub async fn exchange(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap, body: Body) -> Response {
    let kind = q.get("type").map(String::as_str).unwrap_or("");
    let mode = q.get("mode").map(String::as_str).unwrap_or("");
    if !matches!(kind, "catalog" | "sale") {
        return failure(StatusCode::BAD_REQUEST, "unknown exchange type: this server takes type=catalog");
    }
    if !matches!(
        mode,
        "checkauth" | "init" | "file" | "import" | "complete" | "deactivate" | "success"
    ) {
        return failure(StatusCode::BAD_REQUEST, format!("unknown mode {mode:?}"));
    }
    if kind == "sale" {
        return failure(
            StatusCode::OK,
            "обмен заказами (type=sale) не поддерживается: документы терминалов забирают через GET /v1/documents (см. docs/1c.md)",
        );
    }
    if mode == "checkauth" {
        let Some((user, password)) = basic(&headers) else {
            return unauthorised("HTTP Basic authentication needed (the exchange node's user and password)");
        };
        let server = app.clone();
        return match blocking(move || server.server.site_login(&user, &password)).await {
            Ok(token) => {
                let mut r = text(
                    StatusCode::OK,
                    format!("success\n{COOKIE}\n{token}\nsessid={token}\ntimestamp={}\n", now_ms() / 1000),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly")) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
            Err(Error::Unauthorized(why)) => unauthorised(&why),
            Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, e),
        };
    }
    let Some(token) = session_token(&headers, &q) else {
        return unauthorised("no session: call mode=checkauth first");
    };
    let check = {
        let app = app.clone();
        let token = token.clone();
        blocking(move || app.server.site_session(&token)).await
    };
    match check {
        Ok(Some(_)) => {}
        Ok(None) => return unauthorised("the session expired or is unknown: call mode=checkauth again"),
        Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
    let dir = app.server.site_dir(&token);
    match mode {
        "init" => {
            // A new exchange: what an earlier one left is dropped.
            let _ = std::fs::remove_dir_all(&dir);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return failure(StatusCode::INTERNAL_SERVER_ERROR, e);
            }
            lock(&app.server.site_jobs).retain(|k, _| !k.starts_with(&format!("{}\u{1f}", dir.display())));
            if app.server.site_shared() {
                let (server, token) = (app.clone(), token.clone());
                if let Err(e) = blocking(move || server.server.site_reset(&token)).await {
                    return failure(StatusCode::INTERNAL_SERVER_ERROR, e);
                }
            }
            let limit = app.site.file_limit.min(app.limits.catalog);
            text(
                StatusCode::OK,
                format!("zip=yes\nfile_limit={limit}\nsessid={token}\nversion=2.08\n"),
            )
        }
        "file" => match receive(&app, &token, &dir, q.get("filename").map(String::as_str), body).await {
            Ok(()) => text(StatusCode::OK, "success\n".into()),
            Err(e) => failure(status_of(&e), e),
        },
        "import" => {
            let Some(name) = q.get("filename").and_then(|n| safe_relative(n)) else {
                return failure(StatusCode::BAD_REQUEST, "mode=import needs a plain relative filename");
            };
            import(&app, &token, &dir, &name).await
        }
        // Newer 1C releases close an exchange with these: what it sent goes.
        _ => {
            if app.server.site_shared() {
                let (server, token) = (app.clone(), token.clone());
                if let Err(e) = blocking(move || server.server.site_forget(&token)).await {
                    log::warn!("files of a finished 1C exchange not dropped: {e}");
                }
            }
            text(StatusCode::OK, "success\n".into())
        }
    }
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// One part of a file: received whole into a temporary file, then appended, so
/// that a part cut off mid-way leaves the file as it was and 1C's retry of that
/// part appends it once.
async fn receive(app: &Arc<App>, token: &str, dir: &Path, filename: Option<&str>, body: Body) -> Result<()> {
    let limit = app.site.file_limit.min(app.limits.catalog);
    // The body is read first, whatever the name: a connection 1C keeps alive must
    // not be left with an unread request body in it.
    let part = crate::api::save_body(app, body, limit).await?;
    let name = filename
        .and_then(safe_relative)
        .ok_or_else(|| Error::BadRequest("mode=file needs a plain relative filename".into()))?;
    let keep = name
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xml") || e.eq_ignore_ascii_case("zip"));
    if !keep {
        // Pictures and the like: the terminal has no use for them.
        return Ok(());
    }
    let target = dir.join(&name);
    let catalog_limit = app.limits.catalog;
    let (server, token) = (app.clone(), token.to_string());
    blocking(move || {
        let shared = server.server.site_shared();
        if shared {
            // The parts so far may have reached another instance.
            server.server.site_fetch(&token, &name, &target)?;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(crate::io(parent))?;
        }
        let have = std::fs::metadata(&target).map_or(0, |m| m.len());
        let add = std::fs::metadata(&part).map_or(0, |m| m.len());
        if have + add > catalog_limit {
            return Err(Error::TooLarge(catalog_limit));
        }
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .map_err(crate::io(&target))?;
        let mut input = std::fs::File::open(&part).map_err(crate::io(&part))?;
        std::io::copy(&mut input, &mut out).map_err(crate::io(&target))?;
        out.sync_all().map_err(crate::io(&target))?;
        if shared {
            server.server.site_keep(&token, &name, &target)?;
        }
        Ok(())
    })
    .await
}

/// Unpacks the zips 1C sent into `dir` (once: a zip is removed after), refusing
/// names that leave the folder and contents beyond `limit` bytes.
fn unzip_all(dir: &Path, limit: u64) -> Result<()> {
    let zips: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(crate::io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        })
        .collect();
    for zip_path in zips {
        let name = zip_path.file_name().and_then(|n| n.to_str()).unwrap_or("the archive").to_string();
        let bad = |why: String| Error::BadRequest(format!("{name}: {why}"));
        let file = std::fs::File::open(&zip_path).map_err(crate::io(&zip_path))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable zip archive ({e})")))?;
        let mut total = 0u64;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
            if entry.is_dir() {
                continue;
            }
            let entry_name = entry.name().map(|n| n.into_owned()).map_err(|e| bad(format!("entry {i}: {e}")))?;
            let Some(rel) = safe_relative(&entry_name) else {
                return Err(bad(format!("entry {entry_name:?} leaves the exchange folder")));
            };
            let keep = rel
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
            if !keep {
                continue;
            }
            let target = dir.join(&rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(crate::io(parent))?;
            }
            let mut out = std::fs::File::create(&target).map_err(crate::io(&target))?;
            // Counted as written: a zip's declared sizes are not to be believed.
            let mut limited = std::io::Read::take(&mut entry, limit.saturating_sub(total) + 1);
            let n = std::io::copy(&mut limited, &mut out).map_err(|e| bad(format!("entry {:?}: {e}", rel.display())))?;
            total += n;
            if total > limit {
                return Err(bad(format!("unpacks to more than {limit} bytes")));
            }
        }
        std::fs::remove_file(&zip_path).map_err(crate::io(&zip_path))?;
        let marker = unzipped_marker(&zip_path);
        std::fs::write(&marker, b"").map_err(crate::io(&marker))?;
    }
    Ok(())
}

/// Left beside where a zip was once it is unpacked (the zip itself is removed).
fn unzipped_marker(zip: &Path) -> PathBuf {
    let name = zip.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    zip.with_file_name(format!(".{name}.unzipped"))
}

/// The import call: starts the publish (once per exchange and catalog), waits a
/// while, answers `success`, `failure` or `progress`.
async fn import(app: &Arc<App>, token: &str, dir: &Path, name: &Path) -> Response {
    let file = name.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
    let lower = file.to_lowercase();
    if lower.starts_with("rests") || lower.starts_with("stock") {
        // Stock levels: not the terminal's business.
        return text(StatusCode::OK, "success\n".into());
    }
    let limit = app.limits.catalog;
    let dir_owned = dir.to_path_buf();
    let (server, token) = (app.clone(), token.to_string());
    if let Err(e) = blocking(move || {
        if server.server.site_shared() {
            // Parts may have reached other instances: each file is brought up to
            // what the storage keeps (a zip already unpacked here stays so).
            for name in server.server.site_names(&token)? {
                let local = dir_owned.join(&name);
                if !unzipped_marker(&local).exists() {
                    server.server.site_fetch(&token, &name, &local)?;
                }
            }
        }
        unzip_all(&dir_owned, limit)
    })
    .await
    {
        return failure(StatusCode::OK, e);
    }
    // The catalog this call stands for: offers or prices with an import file of the
    // same exchange are published with it.
    let parent = dir.join(name).parent().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
    let suffix = ["offers", "prices"].iter().find_map(|p| lower.strip_prefix(p)).map(str::to_string);
    let target = match suffix.map(|s| parent.join(format!("import{s}"))) {
        Some(import) if import.is_file() => import,
        _ => dir.join(name),
    };
    if !target.is_file() {
        return failure(StatusCode::OK, format!("{file} was not received (send it with mode=file first)"));
    }
    let key = format!("{}\u{1f}{}", dir.display(), target.display());
    let (job, start) = {
        let mut jobs = lock(&app.server.site_jobs);
        match jobs.get(&key) {
            Some(j) => (j.clone(), false),
            None => {
                let j = Arc::new(Job::default());
                jobs.insert(key, j.clone());
                (j, true)
            }
        }
    };
    if start {
        let (app, job, target, dir) = (app.clone(), job.clone(), target.clone(), dir.to_path_buf());
        std::thread::spawn(move || {
            let rel = target.strip_prefix(&dir).unwrap_or(&target).to_path_buf();
            // An import*.xml brings its offers and prices; offers or prices alone
            // are changes, merged onto the latest version.
            let answer = match app
                .server
                .publish_catalog_with(&target, Format::CommerceMl, &ReadOptions::default())
            {
                Ok(p) if p.changed => Ok(format!("catalog version {} published", p.version)),
                Ok(p) => Ok(format!("catalog unchanged (version {})", p.version)),
                Err(e) => {
                    // Names the file as 1C sent it, never this server's folders.
                    let shown = e.to_string().replace(&format!("{}/", dir.display()), "");
                    log::warn!("1C exchange {}: {shown}", rel.display());
                    Err(shown)
                }
            };
            *lock(&job.done) = Some(answer);
            job.finished.notify_all();
        });
    }
    let wait = app.site.import_wait;
    let done = blocking(move || {
        let guard = lock(&job.done);
        let (guard, _) = job
            .finished
            .wait_timeout_while(guard, wait, |d| d.is_none())
            .unwrap_or_else(|p| p.into_inner());
        Ok(guard.clone())
    })
    .await;
    match done {
        Ok(Some(Ok(what))) => text(StatusCode::OK, format!("success\n{what}\n")),
        Ok(Some(Err(why))) => failure(StatusCode::OK, why),
        Ok(None) => text(StatusCode::OK, format!("progress\nпубликуется каталог из {file}\n")),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_1c_stay_inside_the_folder() {
        assert_eq!(safe_relative("import0_1.xml"), Some(PathBuf::from("import0_1.xml")));
        assert_eq!(
            safe_relative("import_files\\ab\\x.jpg"),
            Some(PathBuf::from("import_files/ab/x.jpg"))
        );
        for bad in ["../x.xml", "/etc/passwd", "a/../../b", "C:\\x.xml", "", "a//b", "x\0.xml"] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }
}
