package ru.tsd.runtime

/**
 * The native entry points of `libtsd_jni` (Rust crate `jni-bridge`). Only `Long`,
 * `Int`, `Boolean`, `String` and `ByteArray` cross; aggregates are JSON decoded in
 * [Json] (the per-scan calls return it as UTF-8 bytes).
 * Every function may throw a [TsdException] subclass. Names are lowerCamelCase;
 * a test compares them with the library's `Java_` symbols.
 *
 * The library is loaded from the path in the system property `tsd.native.lib` when
 * set (tests on a desktop JVM), else by name from the app's native libraries.
 */
internal object Native {
    init {
        val path = System.getProperty("tsd.native.lib")
        if (path.isNullOrEmpty()) System.loadLibrary("tsd_jni") else System.load(path)
    }

    @JvmStatic external fun runtimeOpen(dir: String): Long
    @JvmStatic external fun runtimeClose(handle: Long)
    @JvmStatic external fun importCatalog(handle: Long, path: String, format: String): String
    @JvmStatic external fun setConfig(handle: Long, config: String)
    @JvmStatic external fun config(handle: Long): String
    @JvmStatic external fun record(handle: Long, catalog: String, id: String): String
    @JvmStatic external fun resolve(handle: Long, raw: String): ByteArray
    @JvmStatic external fun search(handle: Long, query: String, limit: Int): String
    @JvmStatic external fun documents(handle: Long): String
    @JvmStatic external fun document(handle: Long, id: String): String
    @JvmStatic external fun newDocument(handle: Long, type: String): String
    @JvmStatic external fun scan(handle: Long, doc: String, raw: String, qty: Long): ByteArray
    @JvmStatic external fun undo(handle: Long, doc: String): String
    @JvmStatic external fun setQuantity(handle: Long, doc: String, product: String, qty: Long): Long
    @JvmStatic external fun complete(handle: Long, doc: String): Boolean
    @JvmStatic external fun addTasks(handle: Long, tasks: String): Int
    @JvmStatic external fun printLabel(handle: Long, printer: String, raw: String, copies: Int, price: String?): String
    @JvmStatic external fun printDocument(handle: Long, printer: String, doc: String, copies: Int): String
    @JvmStatic external fun printJobs(handle: Long): String
    @JvmStatic external fun enroll(handle: Long, code: String): String
    @JvmStatic external fun checkAppUpdate(handle: Long, current: Long): String?
    @JvmStatic external fun downloadAppUpdate(handle: Long, update: String): String
    @JvmStatic external fun folderAppUpdate(handle: Long, root: String, current: Long): String?
    @JvmStatic external fun sendLogs(handle: Long, appVersion: String): Long
    @JvmStatic external fun logsToFolder(handle: Long, root: String, appVersion: String): String
    @JvmStatic external fun syncServer(handle: Long, settings: String, listener: SyncProgressListener?): String
    @JvmStatic external fun syncSaved(handle: Long, listener: SyncProgressListener?): String
    @JvmStatic external fun setServer(handle: Long, settings: String?)
    @JvmStatic external fun syncFolder(handle: Long, root: String): String
    @JvmStatic external fun syncStatus(handle: Long): String
    @JvmStatic external fun syncDue(handle: Long): Boolean
    @JvmStatic external fun cancelSync(handle: Long)
    @JvmStatic external fun shellValue(handle: Long, key: String): String?
    @JvmStatic external fun setShellValue(handle: Long, key: String, value: String?)
    @JvmStatic external fun productCard(handle: Long, id: String): String?
    @JvmStatic external fun serverInfo(handle: Long): String?
    @JvmStatic external fun setupCodeInfo(code: String): String

    // Present only in a library built with the `testing` feature.
    @JvmStatic external fun testingPanic(message: String)
    @JvmStatic external fun testingFail(code: String)
    @JvmStatic external fun testingCodes(): String
    @JvmStatic external fun testingJniNames(): String
}

/**
 * Loads the library now, turning a failure (a missing or broken `.so`, a wrong
 * ABI) into [NativeLibraryException] instead of an `Error` that would end the
 * process. After a first failure the JVM reports [Native] as unusable
 * (`NoClassDefFoundError`); that is caught the same way. Outside [Native] on
 * purpose: touching a member would run the failing initialiser before any `try`.
 */
internal fun loadNativeLibrary() {
    try {
        Native.hashCode()
    } catch (e: ExceptionInInitializerError) {
        throw NativeLibraryException("native_library", describeLoadFailure(e.cause ?: e))
    } catch (e: LinkageError) {
        throw NativeLibraryException("native_library", describeLoadFailure(e))
    }
}

private fun describeLoadFailure(e: Throwable) =
    "the app's native library libtsd_jni could not be loaded (${e.message ?: e.javaClass.simpleName}): the app is damaged, reinstall it"

/** Receives sync progress on the thread that called [TsdRuntime.sync]. */
fun interface SyncProgressListener {
    /** [step] is `push`, `download`, `apply`, `tasks`, `config` or `status`; [total] is 0 when unknown. */
    fun onProgress(step: String, done: Long, total: Long)
}
