//! The entry points of `ru.tsd.runtime.Native` (see `android/runtime/.../Native.kt`;
//! a test compares this file's `Java_` names with the `external fun`s there).

use crate::errors::BridgeError;
use crate::{handles, run};
use jni::objects::{JByteArray, JClass, JObject, JString};
use jni::sys::{jboolean, jint, jlong};
use jni::{jni_sig, Env, EnvUnowned, JValue};
use serde::Serialize;
use std::path::Path;
use tsd_core::catalog::Format;
use tsd_core::Runtime;

type R<T> = Result<T, BridgeError>;

fn text(env: &Env<'_>, s: &JString<'_>) -> R<String> {
    Ok(s.try_to_string(env)?)
}

fn json<'l>(env: &mut Env<'l>, value: impl Serialize) -> R<JString<'l>> {
    let text = serde_json::to_string(&value).map_err(|e| BridgeError::Argument(format!("encoding a result: {e}")))?;
    Ok(env.new_string(text)?)
}

/// `value` as JSON, or Java `null` when there is none.
fn json_or_null<'l>(env: &mut Env<'l>, value: Option<impl Serialize>) -> R<JString<'l>> {
    match value {
        Some(v) => json(env, v),
        None => Ok(JString::null()),
    }
}

fn value<'l>(env: &mut Env<'l>, value: serde_json::Value) -> R<JString<'l>> {
    Ok(env.new_string(value.to_string())?)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_runtimeOpen<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, dir: JString<'l>) -> jlong {
    run(&mut env, |env| {
        let dir = text(env, &dir)?;
        Ok(handles::insert(Runtime::open(Path::new(&dir))?))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_runtimeClose<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) {
    run(&mut env, |_| handles::close(h))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_importCatalog<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    path: JString<'l>,
    format: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let rt = handles::get(h)?;
        let (path, format) = (text(env, &path)?, text(env, &format)?);
        let format = Format::from_name(&format).ok_or_else(|| BridgeError::Argument(format!("format {format:?}: use csv or jsonl")))?;
        let report = rt.import_catalog(Path::new(&path), format, &mut |_| true)?;
        json(env, report)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_setConfig<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong, config: JString<'l>) {
    run(&mut env, |env| {
        let config = text(env, &config)?;
        Ok(handles::get(h)?.set_config(&config)?)
    })
}

/// The lookup JSON as UTF-8 bytes: on the per-scan path a byte copy is cheaper than
/// re-encoding to modified UTF-8 and building a Java string in native code.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_resolve<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    raw: JString<'l>,
) -> JByteArray<'l> {
    run(&mut env, |env| {
        let raw = text(env, &raw)?;
        let r = handles::get(h)?.resolve(&raw);
        if let Err(e) = &r {
            if !matches!(e, tsd_core::Error::Barcode(_)) {
                return Err(BridgeError::Core(r.unwrap_err()));
            }
        }
        Ok(env.byte_array_from_slice(tsd_core::json::lookup_text(&raw, &r).as_bytes())?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_search<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    query: JString<'l>,
    limit: jint,
) -> JString<'l> {
    run(&mut env, |env| {
        let query = text(env, &query)?;
        let limit = usize::try_from(limit).map_err(|_| BridgeError::Argument(format!("limit {limit} is negative")))?;
        let found = handles::get(h)?.search(&query, limit)?;
        json(env, found)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_documents<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) -> JString<'l> {
    run(&mut env, |env| {
        let docs = handles::get(h)?.documents()?;
        json(env, docs)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_document<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    id: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let id = text(env, &id)?;
        let doc = handles::get(h)?.document(&id)?;
        json(env, doc)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_newDocument<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    doc_type: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let doc_type = text(env, &doc_type)?;
        let header = handles::get(h)?.new_document(&doc_type)?;
        json(env, header)
    })
}

/// `qty` in thousandths of the base unit; a negative value means "the code's own
/// quantity".
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_scan<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    doc: JString<'l>,
    raw: JString<'l>,
    qty: jlong,
) -> JByteArray<'l> {
    run(&mut env, |env| {
        let (doc, raw) = (text(env, &doc)?, text(env, &raw)?);
        let outcome = handles::get(h)?.scan(&doc, &raw, (qty >= 0).then_some(qty))?;
        Ok(env.byte_array_from_slice(tsd_core::json::scan_text(&raw, &outcome).as_bytes())?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_undo<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    doc: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let doc = text(env, &doc)?;
        let (undo, undone) = handles::get(h)?.undo(&doc)?;
        value(env, serde_json::json!({ "seq": undo, "undone": undone }))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_setQuantity<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    doc: JString<'l>,
    product: JString<'l>,
    qty: jlong,
) -> jlong {
    run(&mut env, |env| {
        let (doc, product) = (text(env, &doc)?, text(env, &product)?);
        Ok(handles::get(h)?.set_quantity(&doc, &product, qty)?.unwrap_or(-1))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_complete<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    doc: JString<'l>,
) -> jboolean {
    run(&mut env, |env| {
        let doc = text(env, &doc)?;
        Ok(handles::get(h)?.complete(&doc)?)
    })
}

/// Queues a price label; returns the job JSON. `price` may be null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_printLabel<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    printer: JString<'l>,
    raw: JString<'l>,
    copies: jint,
    price: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let (printer, raw) = (text(env, &printer)?, text(env, &raw)?);
        let price = if price.is_null() { None } else { Some(text(env, &price)?) };
        let copies = u32::try_from(copies).map_err(|_| BridgeError::Argument(format!("copies must be positive, got {copies}")))?;
        let job = handles::get(h)?.print_label(&printer, &raw, copies, price.as_deref())?;
        json(env, job)
    })
}

/// Queues a document form; returns the job JSON.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_printDocument<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    printer: JString<'l>,
    doc: JString<'l>,
    copies: jint,
) -> JString<'l> {
    run(&mut env, |env| {
        let (printer, doc) = (text(env, &printer)?, text(env, &doc)?);
        let copies = u32::try_from(copies).map_err(|_| BridgeError::Argument(format!("copies must be positive, got {copies}")))?;
        let job = handles::get(h)?.print_document(&printer, &doc, copies)?;
        json(env, job)
    })
}

/// A generic catalog record: `{"record", "source", "server_unreachable"}`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_record<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    catalog: JString<'l>,
    id: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let (catalog, id) = (text(env, &catalog)?, text(env, &id)?);
        let found = handles::get(h)?.record(&catalog, &id)?;
        json(env, found)
    })
}

/// The configuration in force (JSON, with every default filled in).
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_config<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) -> JString<'l> {
    run(&mut env, |env| {
        let config = handles::get(h)?.config();
        json(env, config)
    })
}

/// A newer app version on the kept server (JSON), or null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_checkAppUpdate<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    current: jlong,
) -> JString<'l> {
    run(&mut env, |env| {
        let update = handles::get(h)?.check_app_update(current)?;
        json_or_null(env, update)
    })
}

/// Downloads (resuming) and verifies an update (its JSON); returns the file path.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_downloadAppUpdate<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    update: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let update: tsd_core::update::AppUpdate =
            serde_json::from_str(&text(env, &update)?).map_err(|e| BridgeError::Argument(format!("not an app update: {e}")))?;
        let path = handles::get(h)?.download_app_update(&update, &mut |_, _| true)?;
        Ok(env.new_string(path.to_string_lossy())?)
    })
}

/// A verified newer update in an exchange folder: `{"update", "file"}`, or null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_folderAppUpdate<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    root: JString<'l>,
    current: jlong,
) -> JString<'l> {
    run(&mut env, |env| {
        let root = text(env, &root)?;
        match handles::get(h)?.folder_app_update(Path::new(&root), current)? {
            Some((u, file)) => value(env, serde_json::json!({ "update": u, "file": file })),
            None => Ok(JString::null()),
        }
    })
}

/// Sets the terminal up from a scanned setup code; returns the device name.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_enroll<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    code: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let code = text(env, &code)?;
        let device = handles::get(h)?.enroll(&code)?;
        Ok(env.new_string(device)?)
    })
}

/// Sends the runtime's logs to the kept server; returns the server's bundle id.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_sendLogs<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    app_version: JString<'l>,
) -> jlong {
    run(&mut env, |env| {
        let app_version = text(env, &app_version)?;
        Ok(handles::get(h)?.send_logs(&app_version)?)
    })
}

/// Leaves a log bundle in the exchange folder's `from-device/`; returns its path.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_logsToFolder<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    root: JString<'l>,
    app_version: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let (root, app_version) = (text(env, &root)?, text(env, &app_version)?);
        let path = handles::get(h)?.logs_to_folder(Path::new(&root), &app_version)?;
        Ok(env.new_string(path.to_string_lossy())?)
    })
}

/// Print jobs with their status, newest first: `[{"job", "status", "message"}]`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_printJobs<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) -> JString<'l> {
    run(&mut env, |env| {
        let jobs = handles::get(h)?.print_jobs()?;
        let list: Vec<_> = jobs
            .iter()
            .map(|(j, s)| serde_json::json!({"job": j, "status": s.status, "message": s.message}))
            .collect();
        value(env, serde_json::Value::Array(list))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_addTasks<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    tasks: JString<'l>,
) -> jint {
    run(&mut env, |env| {
        let tasks = text(env, &tasks)?;
        let tasks: Vec<tsd_core::documents::TaskDocument> = serde_json::from_str(&tasks)
            .map_err(|e| BridgeError::Argument(format!("tasks are not a JSON array of task documents: {e}")))?;
        Ok(handles::get(h)?.add_tasks(&tasks)? as jint)
    })
}

/// Settings JSON: `{"url", "token", "ca_pem"?, "pin_sha256"?, "timeout_ms"?,
/// "backoff_base_ms"?, "backoff_cap_ms"?}`. `listener` (nullable) gets
/// `onProgress(step, done, total)` on the calling thread; if it throws, the sync is
/// cancelled and the exception propagates.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_syncServer<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    settings: JString<'l>,
    listener: JObject<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let settings = parse_settings(&text(env, &settings)?)?;
        sync_reporting(env, h, &listener, |rt, progress| rt.sync_server(&settings, progress))
    })
}

/// A sync with the server kept by `setServer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_syncSaved<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    listener: JObject<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        sync_reporting(env, h, &listener, |rt, progress| rt.sync_saved_server(progress))
    })
}

/// The callback the library calls by name: (interface, method). R8 must keep it.
pub const PROGRESS_CALLBACK: (&str, &str) = ("ru/tsd/runtime/SyncProgressListener", "onProgress");
/// Its signature: `onProgress(String step, long done, long total)`.
pub const PROGRESS_SIGNATURE: jni::signature::MethodSignature<'static, 'static> = jni_sig!("(Ljava/lang/String;JJ)V");

/// Runs a sync, passing its progress to `listener.onProgress(step, done, total)` on
/// this thread; a listener that throws cancels the sync and its exception wins.
fn sync_reporting<'l>(
    env: &mut Env<'l>,
    h: jlong,
    listener: &JObject<'l>,
    sync: impl FnOnce(&tsd_core::Runtime, &mut dyn FnMut(tsd_core::sync::Progress)) -> tsd_core::Result<tsd_core::sync::SyncReport>,
) -> R<JString<'l>> {
    let rt = handles::get(h)?;
    let mut failed = None;
    let result = sync(&rt, &mut |p| {
        if listener.is_null() || failed.is_some() {
            return;
        }
        let step = serde_json::to_value(p.step)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let called = env.new_string(step).and_then(|s| {
            env.call_method(
                listener,
                jni::strings::JNIString::from(PROGRESS_CALLBACK.1),
                PROGRESS_SIGNATURE,
                &[JValue::Object(&s), JValue::Long(p.done as i64), JValue::Long(p.total as i64)],
            )
        });
        if let Err(e) = called {
            failed = Some(e);
            rt.cancel_sync();
        }
    });
    if let Some(e) = failed {
        return Err(BridgeError::Jni(e));
    }
    json(env, result?)
}

/// Keeps (settings JSON) or forgets (null) the sync server, for online lookups and
/// `syncSaved`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_setServer<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong, settings: JString<'l>) {
    run(&mut env, |env| {
        let settings = if settings.is_null() {
            None
        } else {
            Some(parse_settings(&text(env, &settings)?)?)
        };
        handles::get(h)?.set_server(settings.as_ref())?;
        Ok(())
    })
}

fn parse_settings(text: &str) -> R<tsd_core::sync::ServerSettings> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| BridgeError::Argument(format!("sync settings are not JSON: {e}")))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let ms = |k: &str| v.get(k).and_then(|x| x.as_u64()).map(std::time::Duration::from_millis);
    let url = s("url").ok_or_else(|| BridgeError::Argument("sync settings need \"url\"".into()))?;
    let token = s("token").ok_or_else(|| BridgeError::Argument("sync settings need \"token\"".into()))?;
    let mut settings = tsd_core::sync::ServerSettings::new(&url, &token);
    settings.ca_pem = s("ca_pem").map(String::into_bytes);
    settings.pin_sha256 = s("pin_sha256");
    if let Some(t) = ms("timeout_ms") {
        settings.timeout = t;
    }
    if let Some(b) = ms("backoff_base_ms") {
        settings.backoff.base = b;
    }
    if let Some(c) = ms("backoff_cap_ms") {
        settings.backoff.cap = c;
    }
    Ok(settings)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_syncFolder<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    root: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let root = text(env, &root)?;
        let report = handles::get(h)?.sync_folder(Path::new(&root), None, false)?;
        json(env, report)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_syncStatus<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) -> JString<'l> {
    run(&mut env, |env| {
        let status = handles::get(h)?.sync_status()?;
        json(env, status)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_syncDue<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) -> jboolean {
    run(&mut env, |_| Ok(handles::get(h)?.sync_due()?))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_cancelSync<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) {
    run(&mut env, |_| {
        handles::get(h)?.cancel_sync();
        Ok(())
    })
}

/// A value the shell kept under `key` (screen, mode, folder…), or null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_shellValue<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    key: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let key = text(env, &key)?;
        match handles::get(h)?.shell_value(&key)? {
            Some(v) => Ok(env.new_string(v)?),
            None => Ok(JString::null()),
        }
    })
}

/// Keeps `value` under `key` in the journal; null forgets it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_setShellValue<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    key: JString<'l>,
    value: JString<'l>,
) {
    run(&mut env, |env| {
        let key = text(env, &key)?;
        let value = if value.is_null() { None } else { Some(text(env, &value)?) };
        Ok(handles::get(h)?.set_shell_value(&key, value.as_deref())?)
    })
}

/// A product card (product, packagings, barcodes) as JSON, or null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_productCard<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    h: jlong,
    id: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let id = text(env, &id)?;
        let card = handles::get(h)?.product_card(&id)?;
        json_or_null(env, card)
    })
}

/// The kept server without its token (`{"url", "enrolled", "pin_sha256", "custom_ca"}`), or null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_serverInfo<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, h: jlong) -> JString<'l> {
    run(&mut env, |env| {
        let info = handles::get(h)?.server_info();
        json_or_null(env, info)
    })
}

/// What a setup code would do (`{"url", "pinned"}`), without using it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_setupCodeInfo<'l>(
    mut env: EnvUnowned<'l>,
    _c: JClass<'l>,
    code: JString<'l>,
) -> JString<'l> {
    run(&mut env, |env| {
        let code = text(env, &code)?;
        json(env, tsd_core::shell::setup_info(&code)?)
    })
}

/// Test-only: every class and method the library finds by name (JSON), so a test
/// can check that each one has a keep rule for R8.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_testingJniNames<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>) -> JString<'l> {
    run(&mut env, |env| {
        let classes: Vec<String> = crate::errors::CLASSES
            .iter()
            .map(|c| format!("{}{c}", crate::errors::PACKAGE))
            .collect();
        let (class, method) = PROGRESS_CALLBACK;
        let signature = PROGRESS_SIGNATURE.sig().to_str().into_owned();
        value(
            env,
            serde_json::json!({
                "natives": "ru/tsd/runtime/Native",
                "constructors": classes,
                "constructor_signature": crate::errors::CONSTRUCTOR.sig().to_str().into_owned(),
                "methods": [[class, method, signature]],
            }),
        )
    })
}

/// Test-only: panics with `message`.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_testingPanic<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, message: JString<'l>) {
    run(&mut env, |env| -> R<()> {
        let message = text(env, &message)?;
        panic!("{message}")
    })
}

/// Test-only: fails with the core error whose code is `code`.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_testingFail<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>, code: JString<'l>) {
    run(&mut env, |env| -> R<()> {
        let code = text(env, &code)?;
        Err(crate::testing::error_for(&code))
    })
}

/// Test-only: the codes `testingFail` knows, as a JSON array.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "system" fn Java_ru_tsd_runtime_Native_testingCodes<'l>(mut env: EnvUnowned<'l>, _c: JClass<'l>) -> JString<'l> {
    run(&mut env, |env| json(env, crate::testing::CODES))
}
