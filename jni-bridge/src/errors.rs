//! Errors → Kotlin exceptions: one table, stable codes. Every class extends the
//! sealed `ru.tsd.runtime.TsdException` and has the constructor `(code: String,
//! message: String)`. A class that cannot be found falls back to
//! `java.lang.AssertionError` carrying both messages.

use jni::errors::ErrorPolicy;
use jni::objects::JClass;
use jni::refs::Global;
use jni::{jni_sig, jni_str, Env, JValue};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Where the exception classes live.
pub const PACKAGE: &str = "ru/tsd/runtime/";
/// The constructor every exception class has: `(code, message)`.
pub const CONSTRUCTOR: jni::signature::MethodSignature<'static, 'static> = jni_sig!("(Ljava/lang/String;Ljava/lang/String;)V");

/// What an entry point can fail with.
#[derive(Debug)]
pub enum BridgeError {
    /// The runtime refused or failed.
    Core(tsd_core::Error),
    /// A zero, unknown or closed handle.
    ClosedHandle(i64),
    /// A bad argument from Kotlin (not valid JSON, a negative limit).
    Argument(String),
    /// A JNI call failed (a Java exception may be pending).
    Jni(jni::errors::Error),
}

impl From<jni::errors::Error> for BridgeError {
    fn from(e: jni::errors::Error) -> Self {
        BridgeError::Jni(e)
    }
}

impl From<tsd_core::Error> for BridgeError {
    fn from(e: tsd_core::Error) -> Self {
        BridgeError::Core(e)
    }
}

/// The Kotlin class (simple name) and code of an error. One exhaustive match.
pub fn class_of(e: &BridgeError) -> (&'static str, String) {
    use tsd_core::Error as E;
    let class = match e {
        BridgeError::Core(core) => match core {
            E::SchemaTooNew { .. } => "SchemaTooNewException",
            E::Corrupt { .. } => "CorruptDatabaseException",
            E::Sqlite { .. } => "DatabaseException",
            E::Io { .. } => "StorageException",
            E::Import { .. } => "ImportException",
            E::Barcode(_) => "BarcodeException",
            E::DocumentNotFound(_) => "DocumentNotFoundException",
            E::DocumentCompleted(_) => "DocumentCompletedException",
            E::UnknownDocumentType(_) => "UnknownDocumentTypeException",
            E::NothingToUndo(_) => "NothingToUndoException",
            E::Config(_) => "ConfigException",
            E::InvalidArgument(_) => "InvalidArgumentException",
            E::Package(_) => "PackageException",
            E::Cancelled => "CancelledException",
            E::Network { .. } => "NetworkException",
            E::Server { .. } => "ServerException",
            E::Protocol(_) => "ProtocolException",
            E::Tls { .. } => "TlsException",
            E::SyncInProgress => "SyncInProgressException",
            E::BadUpdate { .. } => "BadUpdateException",
        },
        BridgeError::ClosedHandle(_) => "ClosedHandleException",
        BridgeError::Argument(_) => "InvalidArgumentException",
        BridgeError::Jni(_) => "JniException",
    };
    let code = match e {
        BridgeError::Core(tsd_core::Error::Barcode(b)) => b.code.as_str().to_string(),
        BridgeError::Core(core) => core.code().to_string(),
        BridgeError::ClosedHandle(_) => "closed_handle".into(),
        BridgeError::Argument(_) => "invalid_argument".into(),
        BridgeError::Jni(_) => "jni".into(),
    };
    (class, code)
}

/// Every class the table can name (cached at load), plus the panic class.
pub const CLASSES: &[&str] = &[
    "SchemaTooNewException",
    "CorruptDatabaseException",
    "DatabaseException",
    "StorageException",
    "ImportException",
    "BarcodeException",
    "DocumentNotFoundException",
    "DocumentCompletedException",
    "UnknownDocumentTypeException",
    "NothingToUndoException",
    "ConfigException",
    "InvalidArgumentException",
    "PackageException",
    "CancelledException",
    "NetworkException",
    "ServerException",
    "ProtocolException",
    "TlsException",
    "SyncInProgressException",
    "BadUpdateException",
    "ClosedHandleException",
    "JniException",
    "RustPanicException",
];

fn message(e: &BridgeError) -> String {
    match e {
        BridgeError::Core(core) => core.to_string(),
        BridgeError::ClosedHandle(h) => format!("runtime handle {h} is closed or was never opened"),
        BridgeError::Argument(m) => m.clone(),
        BridgeError::Jni(j) => format!("JNI: {j}"),
    }
}

static CACHE: OnceLock<HashMap<&'static str, Global<JClass<'static>>>> = OnceLock::new();

/// Looks every exception class up once, with the class loader of the thread that
/// loads the library (the app's), and keeps global references.
pub fn cache_classes(env: &mut Env<'_>) -> jni::errors::Result<()> {
    let mut map = HashMap::new();
    for name in CLASSES {
        match env.find_class(jni::strings::JNIString::from(format!("{PACKAGE}{name}"))) {
            Ok(class) => {
                map.insert(*name, env.new_global_ref(class)?);
            }
            Err(_) => {
                // Missing class: the fallback (AssertionError) covers it.
                env.exception_clear();
            }
        }
    }
    let _ = CACHE.set(map);
    Ok(())
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}

/// Throws `class(code, message)`; falls back to `AssertionError`.
fn throw(env: &mut Env<'_>, class: &str, code: &str, message: &str) -> jni::errors::Result<()> {
    let thrown = (|| -> jni::errors::Result<()> {
        let cached = CACHE.get().and_then(|m| m.get(class));
        let Some(class_ref) = cached else {
            return Err(jni::errors::Error::NullPtr("exception class not cached"));
        };
        let code_s = env.new_string(code)?;
        let msg_s = env.new_string(message)?;
        let obj = env.new_object(class_ref, CONSTRUCTOR, &[JValue::Object(&code_s), JValue::Object(&msg_s)])?;
        let throwable = jni::objects::JThrowable::cast_local(env, obj)?;
        env.throw(throwable)
    })();
    match thrown {
        Err(jni::errors::Error::JavaException) => Ok(()),
        Err(_) => {
            env.exception_clear();
            env.throw_new(
                jni_str!("java/lang/AssertionError"),
                jni::strings::JNIString::from(format!("{class} unavailable; {code}: {message}")),
            )
        }
        Ok(()) => Ok(()),
    }
}

/// The bridge's error policy: a pending Java exception (a listener threw) wins;
/// else the error is thrown as its class; a panic as `RustPanicException`.
pub struct ThrowTsd;

impl<T: Default> ErrorPolicy<T, BridgeError> for ThrowTsd {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        err: BridgeError,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            return Ok(T::default());
        }
        let (class, code) = class_of(&err);
        throw(env, class, &code, &message(&err))?;
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            env.exception_clear();
        }
        throw(env, "RustPanicException", "panic", &panic_message(&*payload))?;
        Ok(T::default())
    }
}
