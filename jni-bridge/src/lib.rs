//! `tsd-jni`: the TSD runtime as a native library for the Kotlin shell
//! (`android/runtime`, class `ru.tsd.runtime.Native`).
//!
//! Every `Java_…` function is one call into [`run`], which catches panics and turns
//! every error into a typed Kotlin exception ([`errors`]). Runtimes live in a
//! handle table ([`handles`]): Kotlin holds a `long`; a zero, unknown or closed
//! handle is a `ClosedHandleException`, never a crash. Only `long`, `int`,
//! `boolean`, `String` and `byte[]` cross the boundary; aggregates cross as JSON (the shapes of
//! `tsd_core::json` and the core's `Serialize` types), decoded in one Kotlin file.
//!
//! The only `unsafe` of the workspace is in `JNI_OnLoad` (taking the VM pointer).
#![deny(unsafe_op_in_unsafe_fn)]

mod api;
mod errors;
mod handles;
#[cfg(any(feature = "testing", test))]
mod testing;

use errors::BridgeError;
use jni::{Env, EnvUnowned};

/// Runs one entry point: panics and errors become Kotlin exceptions, and the
/// function returns `T::default()` to the JVM (which the exception supersedes).
pub(crate) fn run<'local, T: Default>(env: &mut EnvUnowned<'local>, f: impl FnOnce(&mut Env<'local>) -> Result<T, BridgeError>) -> T {
    env.with_env(f).resolve::<errors::ThrowTsd>()
}

/// Called by the JVM when the library loads: installs logging and a panic hook
/// that logs file and line, and caches the exception classes (on a device, later
/// calls from other threads would not find the app's classes by name).
///
/// # Safety
/// Called by the JVM only, with its own live `JavaVM` pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(vm: *mut jni::sys::JavaVM, _reserved: *mut std::ffi::c_void) -> jni::sys::jint {
    init_logging();
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        log::error!("panic at {at}: {}", errors::panic_message(info.payload()));
    }));
    // SAFETY: the JVM calls JNI_OnLoad with a valid, live JavaVM pointer.
    let vm = unsafe { jni::JavaVM::from_raw(vm) };
    let cached = vm.attach_current_thread(errors::cache_classes);
    if let Err(e) = cached {
        log::error!("tsd-jni: caching exception classes failed: {e}");
    }
    jni::sys::JNI_VERSION_1_6
}

#[cfg(target_os = "android")]
fn init_logging() {
    // The runtime's logger writes its rotating files and passes every (redacted)
    // record on to logcat.
    let logcat = android_logger::AndroidLogger::new(
        android_logger::Config::default()
            .with_max_level(log::LevelFilter::Info)
            .with_tag("tsd"),
    );
    tsd_core::logs::init(Some(Box::new(logcat)));
}

#[cfg(not(target_os = "android"))]
fn init_logging() {
    // Off a device: the runtime's file log only (the host JVM has no logcat).
    tsd_core::logs::init(None);
}
