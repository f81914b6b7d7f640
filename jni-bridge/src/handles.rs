//! Runtime handles: Kotlin holds a `long` that names an `Arc<Runtime>` in this
//! table. No pointer crosses the boundary, so a zero, unknown or already closed
//! handle is an error, not undefined behaviour; a call in flight keeps its runtime
//! alive through its own `Arc` even if another thread closes the handle meanwhile.

use crate::errors::BridgeError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tsd_core::Runtime;

fn table() -> MutexGuard<'static, HashMap<i64, Arc<Runtime>>> {
    static TABLE: OnceLock<Mutex<HashMap<i64, Arc<Runtime>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

static NEXT: AtomicI64 = AtomicI64::new(1);

/// Registers a runtime and returns its handle (never 0).
pub fn insert(rt: Runtime) -> i64 {
    let h = NEXT.fetch_add(1, Ordering::Relaxed);
    table().insert(h, Arc::new(rt));
    h
}

/// The runtime of a handle.
pub fn get(h: i64) -> Result<Arc<Runtime>, BridgeError> {
    table().get(&h).cloned().ok_or(BridgeError::ClosedHandle(h))
}

/// Removes a handle and closes its runtime when no call is using it (otherwise it
/// closes when the last call returns). Closing twice is an error.
pub fn close(h: i64) -> Result<(), BridgeError> {
    let rt = table().remove(&h).ok_or(BridgeError::ClosedHandle(h))?;
    if let Ok(rt) = Arc::try_unwrap(rt) {
        rt.close()?;
    }
    Ok(())
}
