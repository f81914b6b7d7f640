//! The console's pages and actions. Each page renders its template whole, or
//! only its `<main>` when the console's script asks (`X-Console-Partial: 1`) to
//! refresh the data in place.

use super::{session_cookie, Admin, PublishJob, PublishState, St, ADMIN};
use crate::api::blocking;
use crate::error::{Error, Result};
use crate::now_ms;
use crate::store::{AuditEntry, CatalogVersion, Device, StoredDocument};
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// What every page shows around its content.
pub struct Frame {
    /// The signed-in admin.
    pub user: String,
    /// May act (role admin), else only looks.
    pub can_act: bool,
    /// The session's CSRF token, for the forms.
    pub csrf: String,
    /// The section in the menu.
    pub active: &'static str,
    /// Only `<main>` is rendered (a refresh in place).
    pub partial: bool,
}

fn frame(a: &Admin, active: &'static str, headers: &HeaderMap) -> Frame {
    Frame {
        user: a.session.user.clone(),
        can_act: a.session.role == ADMIN,
        csrf: a.session.csrf.clone(),
        active,
        partial: headers.get("x-console-partial").is_some(),
    }
}

fn html(t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
            body,
        )
            .into_response(),
        Err(e) => error_page(Error::Internal(format!("rendering a page: {e}"))),
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    status: u16,
    message: String,
}

/// An error as a page: its status and message (the JSON API's error, in HTML).
pub fn error_page(e: Error) -> Response {
    let (status, _) = e.status();
    let status = if matches!(e, Error::Unauthorized(_)) {
        StatusCode::UNAUTHORIZED
    } else {
        status
    };
    let page = ErrorPage {
        status: status.as_u16(),
        message: e.to_string(),
    };
    let mut r = html(&page);
    *r.status_mut() = status;
    r
}

/// A page's result: the page, or the error as a page.
pub struct Page(Result<Response>);

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        self.0.unwrap_or_else(error_page)
    }
}

impl From<Result<Response>> for Page {
    fn from(r: Result<Response>) -> Page {
        Page(r)
    }
}

/// Unix ms as the console shows it (UTC here; the script shows local time).
pub fn when(ms: i64) -> String {
    let (y, m, d, hh, mm, ss) = tsd_core::calendar::civil_from_ms(ms);
    format!("{d:02}.{m:02}.{y} {hh:02}:{mm:02}:{ss:02}")
}

// ---- sign-in ----

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    error: Option<String>,
}

pub async fn login_form() -> Response {
    html(&LoginPage { error: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
}

pub async fn login(State(app): St, Form(f): Form<LoginForm>) -> Response {
    let tls = app.tls;
    let user = f.user.trim().to_string();
    match blocking(move || app.server.console_login(&user, &f.password)).await {
        Ok(token) => {
            let mut r = Redirect::to("/admin/terminals").into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&token, tls, super::SESSION_MS / 1000));
            r
        }
        Err(Error::Unauthorized(message)) => {
            let mut r = html(&LoginPage { error: Some(message) });
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(State(app): St, admin: Admin, Form(f): Form<CsrfForm>) -> Response {
    // Signing out is allowed to a viewer too; the token still proves the form.
    if !f
        .csrf
        .as_deref()
        .is_some_and(|c| super::subtle_eq(c.as_bytes(), admin.session.csrf.as_bytes()))
    {
        return error_page(Error::Forbidden("the form is stale: reload the page".into()));
    }
    let tls = app.tls;
    let hash = admin.cookie_hash.clone();
    if let Err(e) = blocking(move || app.server.store().end_console_session(&hash)).await {
        return error_page(e);
    }
    let mut r = Redirect::to("/admin/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, session_cookie("", tls, 0));
    r
}

// ---- terminals ----

/// A terminal as the console lists it.
pub struct TerminalRow {
    pub name: String,
    pub last_seen: String,
    pub last_seen_ms: i64,
    pub stale: bool,
    pub app: String,
    pub catalog: String,
    pub config: String,
    pub waiting: String,
    pub last_sync: String,
    pub sync_ok: bool,
}

fn terminal_row(d: &Device, now: i64, stale_ms: i64) -> TerminalRow {
    let st = d.status.as_ref();
    let field = |k: &str| {
        st.and_then(|s| s.get(k))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
    };
    let status_at = st.and_then(|s| s.get("at")).and_then(|v| v.as_i64());
    let last_seen = d.last_seen.unwrap_or(0);
    // A sync ends with its status report: a request after the last report means
    // a sync that did not get through.
    let (last_sync, sync_ok) = match (status_at, d.last_seen) {
        (None, None) => ("не было".to_string(), true),
        (None, Some(_)) => ("не завершён".to_string(), false),
        (Some(at), Some(seen)) if seen > at + 60_000 => (format!("не завершён (последний полный {})", when(at)), false),
        (Some(at), _) => (format!("полный, {}", when(at)), true),
    };
    TerminalRow {
        name: d.name.clone(),
        last_seen: d.last_seen.map_or_else(|| "никогда".into(), when),
        last_seen_ms: last_seen,
        stale: d.last_seen.is_none_or(|s| now - s > stale_ms),
        app: field("runtime").unwrap_or_else(|| "—".into()),
        catalog: field("catalog_version").map_or_else(|| "—".into(), |v| format!("v{v}")),
        config: field("config_version").map_or_else(|| "—".into(), |v| format!("v{v}")),
        waiting: field("waiting").unwrap_or_else(|| "—".into()),
        last_sync,
        sync_ok,
    }
}

/// A terminal just added: its setup code on screen.
pub struct Added {
    pub name: String,
    pub qr_svg: String,
    pub code: String,
    pub minutes: u64,
}

#[derive(Template)]
#[template(path = "console/terminals.html")]
struct TerminalsPage {
    f: Frame,
    rows: Vec<TerminalRow>,
    stale_hours: i64,
    server_url: String,
    added: Option<Added>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct StaleQuery {
    stale: Option<i64>,
}

fn request_url(app: &crate::api::App, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8480");
    format!("{}://{host}", if app.tls { "https" } else { "http" })
}

async fn terminals_page(
    app: std::sync::Arc<crate::api::App>,
    admin: &Admin,
    headers: &HeaderMap,
    stale_hours: i64,
    added: Option<Added>,
    error: Option<String>,
) -> Result<Response> {
    let server_url = request_url(&app, headers);
    let devices = blocking(move || app.server.devices()).await?;
    let now = now_ms();
    let rows = devices.iter().map(|d| terminal_row(d, now, stale_hours * 3_600_000)).collect();
    Ok(html(&TerminalsPage {
        f: frame(admin, "terminals", headers),
        rows,
        stale_hours,
        server_url,
        added,
        error,
    }))
}

pub async fn terminals(State(app): St, admin: Admin, headers: HeaderMap, Query(q): Query<StaleQuery>) -> Page {
    terminals_page(app, &admin, &headers, q.stale.unwrap_or(24).clamp(1, 24 * 365), None, None)
        .await
        .into()
}

#[derive(Deserialize)]
pub struct AddTerminal {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
}

pub async fn add_terminal(State(app): St, admin: Admin, headers: HeaderMap, Form(f): Form<AddTerminal>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let (name, url) = (f.name.trim().to_string(), f.url.trim().to_string());
        let minutes = 60;
        let result = {
            let (app, name, url) = (app.clone(), name.clone(), url.clone());
            blocking(move || {
                let pem = app.tls_cert.clone();
                let code = app
                    .server
                    .setup_code(&name, true, &url, pem.as_deref(), std::time::Duration::from_secs(minutes * 60))?;
                Ok(code.to_text())
            })
            .await
        };
        let code = match result {
            Ok(code) => code,
            Err(e @ (Error::BadRequest(_) | Error::Conflict(_))) => {
                return terminals_page(app, &admin, &headers, 24, None, Some(e.to_string())).await;
            }
            Err(e) => return Err(e),
        };
        admin.audit(&app.server, "terminal.add", &name)?;
        let qr = qrcode::QrCode::new(code.as_bytes()).map_err(|e| Error::Internal(format!("QR code: {e}")))?;
        let qr_svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(260, 260).build();
        let added = Added {
            name,
            qr_svg,
            code,
            minutes,
        };
        terminals_page(app, &admin, &headers, 24, Some(added), None).await
    }
    .await
    .into()
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
}

pub async fn revoke_terminal(State(app): St, admin: Admin, Form(f): Form<NameForm>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let name = f.name.clone();
        let app2 = app.clone();
        let found = blocking(move || app2.server.revoke_device(&name)).await?;
        if !found {
            return Err(Error::NotFound(format!("no terminal named {:?}", f.name)));
        }
        admin.audit(&app.server, "terminal.revoke", &f.name)?;
        Ok(Redirect::to("/admin/terminals").into_response())
    }
    .await
    .into()
}

// ---- documents ----

/// A finished document as the console lists it.
pub struct DocumentRow {
    pub id: i64,
    pub device: String,
    pub doc_type: String,
    pub number: String,
    pub received: String,
    pub completed: String,
    pub lines: usize,
    pub scans: usize,
    pub acked: Option<String>,
}

fn text_of(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .map_or_else(String::new, |x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
}

/// Document type names of the configuration in force (`receiving` → «Приёмка»).
fn type_names(server: &crate::Server) -> Result<HashMap<String, String>> {
    let config = match server.store().latest_config()? {
        Some((_, json)) => tsd_core::config::Config::from_json(&json)?,
        None => tsd_core::config::Config::default(),
    };
    Ok(config.document_types.into_iter().map(|t| (t.id, t.name)).collect())
}

fn document_row(d: &StoredDocument, names: &HashMap<String, String>) -> DocumentRow {
    let doc = &d.document;
    let count = |k: &str| doc.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
    let doc_type = text_of(doc, "type");
    DocumentRow {
        id: d.id,
        device: d.device.clone(),
        doc_type: names.get(&doc_type).cloned().unwrap_or(doc_type),
        number: text_of(doc, "number"),
        received: when(d.received_at),
        completed: doc.get("completed_at").and_then(|v| v.as_i64()).map_or_else(String::new, when),
        lines: count("lines"),
        scans: count("scans"),
        acked: d.acked_at.map(when),
    }
}

#[derive(Deserialize, Default)]
pub struct DocumentFilter {
    #[serde(default)]
    device: String,
    #[serde(default, rename = "type")]
    doc_type: String,
    /// `pending`, `acked` or empty (all).
    #[serde(default)]
    state: String,
    /// `YYYY-MM-DD`, received on or after.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, received on or before.
    #[serde(default)]
    to: String,
}

/// Unix ms of a `YYYY-MM-DD` day's start (UTC).
fn day_ms(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (it.next()??, it.next()??, it.next()??);
    Some(tsd_core::calendar::days_from_civil(y, m, d)? * 86_400_000)
}

#[derive(Template)]
#[template(path = "console/documents.html")]
struct DocumentsPage {
    f: Frame,
    rows: Vec<DocumentRow>,
    devices: Vec<String>,
    /// (name, id) of the types present.
    types: Vec<(String, String)>,
    filter: DocumentFilter,
    total: usize,
}

/// At most this many rows on the page (the newest that match).
const DOCUMENT_ROWS: usize = 500;

pub async fn documents(State(app): St, admin: Admin, headers: HeaderMap, Query(filter): Query<DocumentFilter>) -> Page {
    async {
        let nonempty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let query = crate::store::DocumentQuery {
            device: nonempty(&filter.device),
            doc_type: nonempty(&filter.doc_type),
            pending: match filter.state.as_str() {
                "pending" => Some(true),
                "acked" => Some(false),
                _ => None,
            },
            from: day_ms(&filter.from),
            to: day_ms(&filter.to).map(|t| t + 86_400_000),
        };
        // Only the page's rows are read: the storage filters and counts.
        let ((docs, total), names, devices) = blocking(move || {
            let store = app.server.store();
            Ok((
                store.find_documents(&query, DOCUMENT_ROWS as i64)?,
                type_names(&app.server)?,
                app.server.devices()?,
            ))
        })
        .await?;
        let devices: Vec<String> = devices.into_iter().map(|d| d.name).collect();
        let mut types: Vec<(String, String)> = names.iter().map(|(id, name)| (name.clone(), id.clone())).collect();
        types.sort();
        let total = total as usize;
        let rows = docs.iter().map(|d| document_row(d, &names)).collect();
        Ok(html(&DocumentsPage {
            f: frame(&admin, "documents", &headers),
            rows,
            devices,
            types,
            filter,
            total,
        }))
    }
    .await
    .into()
}

/// A line of a document: planned against actual.
pub struct LineRow {
    pub product: String,
    pub name: String,
    pub planned: String,
    pub actual: String,
    pub differs: bool,
}

/// A journal entry as the console shows it.
pub struct ScanRow {
    pub seq: String,
    pub at: String,
    pub kind: String,
    pub raw: String,
    pub product: String,
    pub qty: String,
    pub cell: String,
    pub note: String,
    pub refused: bool,
    pub undone: bool,
}

#[derive(Template)]
#[template(path = "console/document.html")]
struct DocumentPage {
    f: Frame,
    row: DocumentRow,
    lines: Vec<LineRow>,
    scans: Vec<ScanRow>,
}

fn number(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(v) => v.as_str().map_or_else(|| v.to_string(), str::to_string),
    }
}

pub async fn document(State(app): St, admin: Admin, headers: HeaderMap, Path(id): Path<i64>) -> Page {
    async {
        let (d, names) = blocking(move || Ok((app.server.store().document(id)?, type_names(&app.server)?))).await?;
        let d = d.ok_or_else(|| Error::NotFound(format!("no document {id}")))?;
        let empty = Vec::new();
        let lines = d
            .document
            .get("lines")
            .and_then(|v| v.as_array())
            .unwrap_or(&empty)
            .iter()
            .map(|l| {
                let (planned, actual) = (number(l.get("planned")), number(l.get("actual")));
                LineRow {
                    product: number(l.get("product")).or_else_empty(number(l.get("raw"))),
                    name: number(l.get("name")).or_else_empty(number(l.get("planned_as"))),
                    differs: !planned.is_empty() && planned != actual,
                    planned: number(l.get("planned_as")).or_else_empty(planned),
                    actual,
                }
            })
            .collect();
        let scans = d
            .document
            .get("scans")
            .and_then(|v| v.as_array())
            .unwrap_or(&empty)
            .iter()
            .map(|s| {
                let kind = number(s.get("kind"));
                ScanRow {
                    seq: number(s.get("seq")),
                    at: s.get("at").and_then(|v| v.as_i64()).map_or_else(String::new, when),
                    refused: kind == "refused",
                    undone: s.get("undone").and_then(|v| v.as_bool()).unwrap_or(false),
                    raw: number(s.get("raw")),
                    product: number(s.get("product")),
                    qty: number(s.get("qty")),
                    cell: number(s.get("cell")),
                    note: number(s.get("violation")),
                    kind,
                }
            })
            .collect();
        Ok(html(&DocumentPage {
            f: frame(&admin, "documents", &headers),
            row: document_row(&d, &names),
            lines,
            scans,
        }))
    }
    .await
    .into()
}

trait OrElseEmpty {
    fn or_else_empty(self, other: String) -> String;
}

impl OrElseEmpty for String {
    fn or_else_empty(self, other: String) -> String {
        if self.is_empty() {
            other
        } else {
            self
        }
    }
}

pub async fn ack_document(State(app): St, admin: Admin, Path(id): Path<i64>, Form(f): Form<CsrfForm>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let app2 = app.clone();
        if !blocking(move || app2.server.store().ack_document(id, now_ms())).await? {
            return Err(Error::NotFound(format!("no document {id}")));
        }
        admin.audit(&app.server, "document.ack", &format!("документ {id}"))?;
        Ok(Redirect::to(&format!("/admin/documents/{id}")).into_response())
    }
    .await
    .into()
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
}

fn csv_field(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub async fn export_document(State(app): St, _admin: Admin, Path(id): Path<i64>, Query(q): Query<ExportQuery>) -> Page {
    async {
        let d = blocking(move || app.server.store().document(id))
            .await?
            .ok_or_else(|| Error::NotFound(format!("no document {id}")))?;
        let (body, kind, ext) = match q.format.as_str() {
            "csv" => {
                // Excel in a Russian locale: `;` and a BOM.
                let mut out = String::from("\u{feff}product;name;planned;actual\r\n");
                for l in d.document.get("lines").and_then(|v| v.as_array()).into_iter().flatten() {
                    let f = |k: &str| csv_field(&number(l.get(k)));
                    out += &format!("{};{};{};{}\r\n", f("product"), f("name"), f("planned"), f("actual"));
                }
                (out, "text/csv; charset=utf-8", "csv")
            }
            _ => (format!("{}\n", d.document), "application/x-ndjson", "jsonl"),
        };
        let name = format!("document-{id}.{ext}");
        Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).expect("ascii"),
                ),
            ],
            body,
        )
            .into_response())
    }
    .await
    .into()
}

/// Streams an uploaded file of a form into `path`, refused once past `limit` bytes.
async fn save_upload(field: &mut axum::extract::multipart::Field<'_>, path: &std::path::Path, limit: u64) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut out = tokio::fs::File::create(path).await.map_err(crate::io(path))?;
    let mut bytes = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| Error::BadRequest(format!("the upload: {e}")))? {
        bytes += chunk.len() as u64;
        if bytes > limit {
            return Err(Error::TooLarge(limit));
        }
        out.write_all(&chunk).await.map_err(crate::io(path))?;
    }
    out.flush().await.map_err(crate::io(path))
}

// ---- catalog ----

/// A catalog version as the console lists it.
pub struct VersionRow {
    pub version: i64,
    pub created: String,
    pub snapshot: String,
    pub delta: String,
    pub holders: Vec<String>,
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b >= 10 << 20 => format!("{} МБ", b >> 20),
        b if b >= 10 << 10 => format!("{} КБ", b >> 10),
        b => format!("{b} Б"),
    }
}

#[derive(Template)]
#[template(path = "console/catalog.html")]
struct CatalogPage {
    f: Frame,
    versions: Vec<VersionRow>,
    none: Vec<String>,
    message: Option<String>,
    error: Option<String>,
    /// A publish under way: its file, step and seconds so far.
    publishing: Option<(String, String, u64)>,
}

async fn catalog_page(
    app: std::sync::Arc<crate::api::App>,
    admin: &Admin,
    headers: &HeaderMap,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response> {
    let app2 = app.clone();
    let (versions, devices): (Vec<CatalogVersion>, Vec<Device>) =
        blocking(move || Ok((app2.server.store().catalog_versions_after(0)?, app2.server.devices()?))).await?;
    let mut holders: HashMap<i64, Vec<String>> = HashMap::new();
    for d in &devices {
        let v = d
            .status
            .as_ref()
            .and_then(|s| s.get("catalog_version"))
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        holders.entry(v).or_default().push(d.name.clone());
    }
    let rows = versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            version: v.version,
            created: when(v.created_at),
            snapshot: size(v.snapshot_size),
            delta: v.delta_size.map_or_else(|| "—".into(), size),
            holders: holders.remove(&v.version).unwrap_or_default(),
        })
        .collect();
    let none = holders.into_values().flatten().collect();
    // The last publish started here: under way, or how it ended.
    let (mut message, mut error, mut publishing) = (message, error, None);
    if let Some(job) = crate::lock(&app.console.publish).clone() {
        match job.state.borrow().clone() {
            PublishState::Running(step) => publishing = Some((job.file.clone(), step_text(step), job.started.elapsed().as_secs())),
            PublishState::Published(m) => message = message.or(Some(m)),
            PublishState::Failed(e) => error = error.or(Some(e)),
        }
    }
    Ok(html(&CatalogPage {
        f: frame(admin, "catalog", headers),
        versions: rows,
        none,
        message,
        error,
        publishing,
    }))
}

pub async fn catalog(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    catalog_page(app, &admin, &headers, None, None).await.into()
}

pub async fn publish_catalog(State(app): St, admin: Admin, headers: HeaderMap, mut form: Multipart) -> Page {
    async {
        let dir = tempfile::tempdir_in(app.server.tmp_dir()).map_err(crate::io(&app.server.tmp_dir()))?;
        let (mut csrf, mut file, mut encoding) = (None, None, None);
        while let Some(mut field) = form.next_field().await.map_err(|e| Error::BadRequest(format!("the upload: {e}")))? {
            match field.name().unwrap_or("") {
                "csrf" => csrf = Some(field.text().await.map_err(|e| Error::BadRequest(e.to_string()))?),
                "encoding" => encoding = Some(field.text().await.map_err(|e| Error::BadRequest(e.to_string()))?),
                "file" => {
                    // The form's token comes first: nothing is stored for a forged form.
                    admin.may_act(csrf.as_deref())?;
                    let name = field.file_name().unwrap_or("catalog.csv").to_string();
                    let path = dir.path().join("upload");
                    save_upload(&mut field, &path, app.limits.catalog).await?;
                    file = Some((name, path));
                }
                _ => {}
            }
        }
        admin.may_act(csrf.as_deref())?;
        let Some((name, path)) = file else {
            return catalog_page(app, &admin, &headers, None, Some("Выберите файл справочника".into())).await;
        };
        let format = tsd_core::catalog::Format::from_path(std::path::Path::new(&name)).unwrap_or(tsd_core::catalog::Format::Csv);
        let read = tsd_core::catalog::ReadOptions::from_args(encoding.as_deref().filter(|e| !e.is_empty()), None, false)
            .map_err(Error::BadRequest)?;
        let read = tsd_core::catalog::ReadOptions {
            label: Some(name.clone()),
            ..read
        };
        let job = {
            let mut slot = crate::lock(&app.console.publish);
            match slot.as_ref().filter(|j| matches!(*j.state.borrow(), PublishState::Running(_))) {
                Some(running) => Err(format!("{name}: дождитесь окончания публикации {}", running.file)),
                None => {
                    let job = Arc::new(PublishJob {
                        file: name.clone(),
                        started: std::time::Instant::now(),
                        state: tokio::sync::watch::Sender::new(PublishState::Running(crate::PublishStep::Waiting)),
                    });
                    *slot = Some(job.clone());
                    Ok(job)
                }
            }
        };
        let job = match job {
            Ok(job) => job,
            Err(busy) => return catalog_page(app, &admin, &headers, None, Some(busy)).await,
        };
        let (app2, job2, user) = (app.clone(), job.clone(), admin.session.user.clone());
        let started = std::thread::Builder::new().name("tsd-publish".into()).spawn(move || {
            let published = app2.server.publish_catalog_observed(&path, format, &read, &mut |step| {
                job2.state.send_replace(PublishState::Running(step));
            });
            drop(dir);
            let end = match published {
                Ok(p) => {
                    let what = if p.changed {
                        format!("Опубликована версия v{} из {name}", p.version)
                    } else {
                        format!("{name} совпадает с версией v{}: новой версии нет", p.version)
                    };
                    if let Err(e) = app2.server.store().audit(&user, "catalog.publish", &what, now_ms()) {
                        log::error!("audit of a catalog publish not written: {e}");
                    }
                    let warnings = if p.warnings.is_empty() {
                        String::new()
                    } else {
                        format!(" Предупреждения: {}", p.warnings.join("; "))
                    };
                    PublishState::Published(what + &warnings)
                }
                Err(e) => PublishState::Failed(format!("{name}: {}", super::russian::error(&e))),
            };
            job2.state.send_replace(end);
        });
        if let Err(e) = started {
            job.state
                .send_replace(PublishState::Failed(format!("the publish did not start: {e}")));
        }
        // A small file's result is on the page that answers the form; a large
        // one's progress is on the catalog page, refreshed until it ends.
        let mut watch = job.state.subscribe();
        let _ = tokio::time::timeout(PUBLISH_ANSWER_WITHIN, watch.wait_for(|s| !matches!(s, PublishState::Running(_)))).await;
        if matches!(*job.state.borrow(), PublishState::Running(_)) {
            return Ok(Redirect::to("/admin/catalog").into_response());
        }
        catalog_page(app, &admin, &headers, None, None).await
    }
    .await
    .into()
}

/// How long the form's answer waits for a publish to end before it shows the
/// catalog page with the publish's progress instead.
const PUBLISH_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// A publish step in the admin's words.
fn step_text(step: crate::PublishStep) -> String {
    use crate::PublishStep::*;
    match step {
        Waiting => "ждёт окончания другой публикации".into(),
        Reading(0) => "чтение и проверка файла".into(),
        Reading(rows) => format!("чтение и проверка файла: {} строк", thousands(rows)),
        Merging => "изменения накладываются на последнюю версию".into(),
        Snapshot => "сборка полного пакета".into(),
        Delta => "сборка пакета изменений".into(),
        Keeping => "сохранение пакетов".into(),
        Lookup => "обновление онлайн-поиска".into(),
    }
}

/// 1234567 → "1 234 567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

// ---- tasks ----

/// A task as the console lists it, with where it is.
pub struct TaskRow {
    pub seq: i64,
    pub device: String,
    pub id: String,
    pub doc_type: String,
    pub number: String,
    pub lines: usize,
    pub created: String,
    /// `waiting`, `delivered`, `completed`, `withdrawn`.
    pub state: &'static str,
    pub state_text: &'static str,
}

#[derive(Template)]
#[template(path = "console/tasks.html")]
struct TasksPage {
    f: Frame,
    rows: Vec<TaskRow>,
    devices: Vec<String>,
    device: String,
    text: String,
    error: Option<String>,
    message: Option<String>,
}

async fn tasks_page(
    app: std::sync::Arc<crate::api::App>,
    admin: &Admin,
    headers: &HeaderMap,
    form: Option<(String, String)>,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response> {
    let (tasks, devices, received, names) = blocking(move || {
        let store = app.server.store();
        let tasks = store.tasks(500)?;
        let ids: Vec<String> = tasks.iter().map(|t| t.task_id.clone()).collect();
        Ok((tasks, app.server.devices()?, store.received(&ids)?, type_names(&app.server)?))
    })
    .await?;
    // What a terminal holds: the cursor it last asked with, or the one its last
    // status reported (after the tasks of that sync were taken).
    let cursor: HashMap<&str, i64> = devices
        .iter()
        .map(|d| {
            let reported = d.status.as_ref().and_then(|s| s.get("tasks_cursor")).and_then(|v| v.as_i64());
            (d.name.as_str(), d.tasks_cursor.unwrap_or(0).max(reported.unwrap_or(0)))
        })
        .collect();
    let done: std::collections::HashSet<(&str, &str)> = received.iter().map(|(d, id)| (d.as_str(), id.as_str())).collect();
    let rows = tasks
        .iter()
        .map(|t| {
            let body: serde_json::Value = serde_json::from_str(&t.body).unwrap_or_default();
            let doc_type = text_of(&body, "type");
            let (state, state_text) = if body.get("cancelled").and_then(|v| v.as_bool()) == Some(true) {
                ("withdrawn", "отозвано")
            } else if done.contains(&(t.device.as_str(), t.task_id.as_str())) {
                ("completed", "выполнено, документ получен")
            } else if cursor.get(t.device.as_str()).is_some_and(|&c| c >= t.seq) {
                ("delivered", "на терминале")
            } else {
                ("waiting", "ждёт обмена")
            };
            TaskRow {
                seq: t.seq,
                device: t.device.clone(),
                id: t.task_id.clone(),
                doc_type: names.get(&doc_type).cloned().unwrap_or(doc_type),
                number: text_of(&body, "number"),
                lines: body.get("lines").and_then(|v| v.as_array()).map_or(0, Vec::len),
                created: when(t.created_at),
                state,
                state_text,
            }
        })
        .collect();
    let (device, text) = form.unwrap_or_default();
    Ok(html(&TasksPage {
        f: frame(admin, "tasks", headers),
        rows,
        devices: devices.into_iter().map(|d| d.name).collect(),
        device,
        text,
        error,
        message,
    }))
}

pub async fn tasks(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    tasks_page(app, &admin, &headers, None, None, None).await.into()
}

#[derive(Deserialize)]
pub struct TasksForm {
    csrf: Option<String>,
    #[serde(default)]
    device: String,
    #[serde(default)]
    tasks: String,
}

pub async fn add_tasks(State(app): St, admin: Admin, headers: HeaderMap, Form(f): Form<TasksForm>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let (app2, device, text) = (app.clone(), f.device.clone(), f.tasks.clone());
        // Checked line by line against the configuration and the catalog before
        // anything is added (the API's rules); a refusal names its line.
        match blocking(move || app2.server.add_tasks(&device, &text)).await {
            Ok(added) => {
                let what = format!("{added} заданий для {}", f.device);
                admin.audit(&app.server, "tasks.add", &what)?;
                tasks_page(app, &admin, &headers, None, None, Some(format!("Добавлено: {what}"))).await
            }
            Err(e @ (Error::BadRequest(_) | Error::NotFound(_) | Error::Core(_))) => {
                tasks_page(
                    app,
                    &admin,
                    &headers,
                    Some((f.device, f.tasks)),
                    Some(super::russian::error(&e)),
                    None,
                )
                .await
            }
            Err(e) => Err(e),
        }
    }
    .await
    .into()
}

// ---- configuration ----

#[derive(Template)]
#[template(path = "console/config.html")]
struct ConfigPage {
    f: Frame,
    version: i64,
    text: String,
    error: Option<String>,
    message: Option<String>,
    applied: Vec<(String, String)>,
}

async fn config_page(
    app: std::sync::Arc<crate::api::App>,
    admin: &Admin,
    headers: &HeaderMap,
    edited: Option<String>,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response> {
    let (latest, devices) = blocking(move || Ok((app.server.store().latest_config()?, app.server.devices()?))).await?;
    let (version, json) = latest.unwrap_or((0, "{}".into()));
    let pretty = serde_json::from_str::<serde_json::Value>(&json)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or(json);
    let applied = devices
        .iter()
        .map(|d| {
            let has = d.status.as_ref().and_then(|s| s.get("config_version")).and_then(|v| v.as_i64());
            let state = match has {
                Some(v) if v == version => "применил".to_string(),
                Some(v) => format!("ещё v{v}"),
                None => "не сообщал".to_string(),
            };
            (d.name.clone(), state)
        })
        .collect();
    Ok(html(&ConfigPage {
        f: frame(admin, "config", headers),
        version,
        text: edited.unwrap_or(pretty),
        error,
        message,
        applied,
    }))
}

pub async fn config(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    config_page(app, &admin, &headers, None, None, None).await.into()
}

#[derive(Deserialize)]
pub struct ConfigForm {
    csrf: Option<String>,
    #[serde(default)]
    config: String,
}

pub async fn publish_config(State(app): St, admin: Admin, headers: HeaderMap, Form(f): Form<ConfigForm>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let (app2, text) = (app.clone(), f.config.clone());
        // Checked by the rules the terminal applies before anything is published;
        // a refusal is shown at the field with the text as it was typed.
        match blocking(move || app2.server.publish_config(&text)).await {
            Ok((version, changed)) => {
                let what = if changed {
                    format!("Опубликована версия настроек v{version}")
                } else {
                    format!("Совпадает с версией v{version}: новой версии нет")
                };
                admin.audit(&app.server, "config.publish", &what)?;
                config_page(app, &admin, &headers, None, None, Some(what)).await
            }
            Err(e @ (Error::Core(_) | Error::BadRequest(_))) => {
                config_page(app, &admin, &headers, Some(f.config), Some(super::russian::error(&e)), None).await
            }
            Err(e) => Err(e),
        }
    }
    .await
    .into()
}

// ---- printing ----

/// A print job as the console lists it.
pub struct PrintRow {
    pub id: i64,
    pub job: String,
    pub device: String,
    pub printer: String,
    pub template: String,
    pub status: String,
    pub message: String,
    pub attempts: i64,
    pub updated: String,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "console/printing.html")]
struct PrintingPage {
    f: Frame,
    printers: Vec<(String, String)>,
    jobs: Vec<PrintRow>,
    error: Option<String>,
}

fn print_state(s: &str) -> String {
    match s {
        "queued" => "в очереди",
        "printing" => "печатается",
        "sent" => "отправлено на принтер",
        "failed" => "не удалось",
        other => other,
    }
    .to_string()
}

async fn printing_page(
    app: std::sync::Arc<crate::api::App>,
    admin: &Admin,
    headers: &HeaderMap,
    error: Option<String>,
) -> Result<Response> {
    let (printers, jobs) = blocking(move || Ok((app.server.store().printers()?, app.server.store().print_jobs(None, 300)?))).await?;
    let jobs = jobs
        .into_iter()
        .map(|j| PrintRow {
            id: j.id,
            job: j.job.id.clone(),
            device: j.device,
            printer: j.printer,
            template: j.job.template.clone(),
            failed: j.status == "failed",
            status: print_state(&j.status),
            message: j.message.unwrap_or_default(),
            attempts: j.attempts,
            updated: when(j.updated_at),
        })
        .collect();
    Ok(html(&PrintingPage {
        f: frame(admin, "printing", headers),
        printers,
        jobs,
        error,
    }))
}

pub async fn printing(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    printing_page(app, &admin, &headers, None).await.into()
}

#[derive(Deserialize)]
pub struct PrinterForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
}

pub async fn add_printer(State(app): St, admin: Admin, headers: HeaderMap, Form(f): Form<PrinterForm>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let (app2, name, address) = (app.clone(), f.name.trim().to_string(), f.address.trim().to_string());
        match blocking(move || app2.server.add_printer(&name, &address)).await {
            Ok(()) => {
                admin.audit(&app.server, "printer.add", &format!("{} {}", f.name.trim(), f.address.trim()))?;
                Ok(Redirect::to("/admin/printing").into_response())
            }
            Err(e @ Error::BadRequest(_)) => printing_page(app, &admin, &headers, Some(e.to_string())).await,
            Err(e) => Err(e),
        }
    }
    .await
    .into()
}

#[derive(Deserialize)]
pub struct RetryForm {
    csrf: Option<String>,
    id: i64,
}

pub async fn retry_print(State(app): St, admin: Admin, Form(f): Form<RetryForm>) -> Page {
    async {
        admin.may_act(f.csrf.as_deref())?;
        let app2 = app.clone();
        blocking(move || app2.server.retry_print(f.id)).await?;
        admin.audit(&app.server, "print.retry", &format!("задание {}", f.id))?;
        Ok(Redirect::to("/admin/printing").into_response())
    }
    .await
    .into()
}

// ---- app versions ----

#[derive(Template)]
#[template(path = "console/apps.html")]
struct AppsPage {
    f: Frame,
    apps: Vec<(String, tsd_core::update::AppUpdate)>,
    runs: Vec<(String, String)>,
    message: Option<String>,
    error: Option<String>,
}

async fn apps_page(
    app: std::sync::Arc<crate::api::App>,
    admin: &Admin,
    headers: &HeaderMap,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response> {
    let (apps, devices) = blocking(move || Ok((app.server.store().apps()?, app.server.devices()?))).await?;
    let names: HashMap<i64, String> = apps.iter().map(|a| (a.version_code, a.version_name.clone())).collect();
    let runs = devices
        .iter()
        .map(|d| {
            let what = match d.app_version {
                Some(code) => match names.get(&code) {
                    Some(name) => format!("{name} (код {code})"),
                    None => format!("код {code}"),
                },
                None => "не сообщал".into(),
            };
            (d.name.clone(), what)
        })
        .collect();
    Ok(html(&AppsPage {
        f: frame(admin, "apps", headers),
        apps: apps.into_iter().map(|a| (size(a.size as i64), a)).collect(),
        runs,
        message,
        error,
    }))
}

pub async fn apps(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    apps_page(app, &admin, &headers, None, None).await.into()
}

pub async fn publish_app(State(app): St, admin: Admin, headers: HeaderMap, mut form: Multipart) -> Page {
    async {
        let dir = tempfile::tempdir_in(app.server.tmp_dir()).map_err(crate::io(&app.server.tmp_dir()))?;
        let mut fields: HashMap<String, String> = HashMap::new();
        let mut file = None;
        while let Some(mut field) = form.next_field().await.map_err(|e| Error::BadRequest(format!("the upload: {e}")))? {
            let name = field.name().unwrap_or("").to_string();
            if name == "file" {
                admin.may_act(fields.get("csrf").map(String::as_str))?;
                let path = dir.path().join("app.apk");
                save_upload(&mut field, &path, app.limits.catalog).await?;
                file = Some(path);
            } else {
                let text = field.text().await.map_err(|e| Error::BadRequest(e.to_string()))?;
                fields.insert(name, text);
            }
        }
        admin.may_act(fields.get("csrf").map(String::as_str))?;
        let number = |k: &str| fields.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        let (Some(path), Some(code)) = (file, number("version_code")) else {
            return apps_page(
                app,
                &admin,
                &headers,
                None,
                Some("Выберите файл APK и укажите код версии (целое число)".into()),
            )
            .await;
        };
        let name = fields.get("version_name").map(|v| v.trim().to_string()).unwrap_or_default();
        let min = number("min_version").unwrap_or(0);
        let app2 = app.clone();
        let name2 = name.clone();
        let published = blocking(move || app2.server.publish_app(&path, code, &name2, min)).await;
        drop(dir);
        match published {
            Ok(u) => {
                let what = format!("Опубликована версия {} (код {})", u.version_name, u.version_code);
                admin.audit(&app.server, "app.publish", &what)?;
                apps_page(app, &admin, &headers, Some(what), None).await
            }
            Err(e @ (Error::BadRequest(_) | Error::Conflict(_) | Error::Core(_))) => {
                apps_page(app, &admin, &headers, None, Some(super::russian::error(&e))).await
            }
            Err(e) => Err(e),
        }
    }
    .await
    .into()
}

// ---- logs ----

#[derive(Template)]
#[template(path = "console/logs.html")]
struct LogsPage {
    f: Frame,
    bundles: Vec<(String, String, crate::store::StoredLogs)>,
}

pub async fn logs(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    async {
        let bundles = blocking(move || app.server.store().logs(300)).await?;
        Ok(html(&LogsPage {
            f: frame(&admin, "logs", &headers),
            bundles: bundles.into_iter().map(|b| (when(b.received_at), size(b.size), b)).collect(),
        }))
    }
    .await
    .into()
}

#[derive(Template)]
#[template(path = "console/log.html")]
struct LogPage {
    f: Frame,
    id: i64,
    text: String,
}

pub async fn log_bundle(State(app): St, admin: Admin, headers: HeaderMap, Path(id): Path<i64>, Query(q): Query<ExportQuery>) -> Page {
    async {
        let text = blocking(move || app.server.logs_text(id)).await?;
        if q.format == "text" {
            return Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&format!("attachment; filename=\"logs-{id}.txt\"")).expect("ascii"),
                    ),
                ],
                text,
            )
                .into_response());
        }
        Ok(html(&LogPage {
            f: frame(&admin, "logs", &headers),
            id,
            text,
        }))
    }
    .await
    .into()
}

// ---- audit ----

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    f: Frame,
    entries: Vec<(String, AuditEntry)>,
}

pub async fn audit(State(app): St, admin: Admin, headers: HeaderMap) -> Page {
    async {
        let entries = blocking(move || app.server.store().audit_log(500)).await?;
        Ok(html(&AuditPage {
            f: frame(&admin, "audit", &headers),
            entries: entries.into_iter().map(|e| (when(e.at), e)).collect(),
        }))
    }
    .await
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_print_as_a_calendar_does() {
        assert_eq!(when(0), "01.01.1970 00:00:00");
        assert_eq!(when(1_700_000_000_000), "14.11.2023 22:13:20");
        assert_eq!(when(951_782_400_000), "29.02.2000 00:00:00");
        assert_eq!(day_ms("2023-11-14"), Some(1_699_920_000_000));
        assert_eq!(day_ms("2000-02-29"), Some(951_782_400_000));
        assert_eq!(day_ms("1970-01-01"), Some(0));
        for bad in ["", "2023-13-01", "2023-11", "x-1-1", "2023-11-00"] {
            assert_eq!(day_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        assert_eq!(csv_field("Сок; яблочный"), "\"Сок; яблочный\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
