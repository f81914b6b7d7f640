package ru.tsd.runtime

/**
 * Every failure of the runtime. [code] is stable (the same codes as the `tsd`
 * command's JSON errors); the message says what failed and never contains a
 * marking code's crypto tail or a token. Each subclass is thrown for exactly one
 * kind of core error; all share the constructor `(code, message)` the bridge calls.
 */
sealed class TsdException(val code: String, message: String) : Exception(message) {
    /** True when trying again later may succeed (the sync schedule does). */
    open val retryable: Boolean get() = false
}

/** The database was written by a newer app; nothing was changed. */
class SchemaTooNewException(code: String, message: String) : TsdException(code, message)
/** A data file is not ours or is damaged; it was left as it is. */
class CorruptDatabaseException(code: String, message: String) : TsdException(code, message)
/** SQLite failed (disk full, I/O error). */
class DatabaseException(code: String, message: String) : TsdException(code, message) {
    override val retryable get() = true
}
/** A file could not be read or written. */
class StorageException(code: String, message: String) : TsdException(code, message) {
    override val retryable get() = true
}
/** A catalog file has a bad row (file, line, reason); nothing was imported. */
class ImportException(code: String, message: String) : TsdException(code, message)
/** The scan is not a valid barcode; [code] names why (`bad_check_digit`…). */
class BarcodeException(code: String, message: String) : TsdException(code, message)
class DocumentNotFoundException(code: String, message: String) : TsdException(code, message)
class DocumentCompletedException(code: String, message: String) : TsdException(code, message)
class UnknownDocumentTypeException(code: String, message: String) : TsdException(code, message)
class NothingToUndoException(code: String, message: String) : TsdException(code, message)
/** A configuration that does not validate; the previous one stays in force. */
class ConfigException(code: String, message: String) : TsdException(code, message)
class InvalidArgumentException(code: String, message: String) : TsdException(code, message)
/** A package was refused (truncated, damaged, foreign, unsigned, too new, out of order). */
class PackageException(code: String, message: String) : TsdException(code, message)
/** The operation was cancelled; what was committed stays. */
class CancelledException(code: String, message: String) : TsdException(code, message) {
    override val retryable get() = true
}
/** The server could not be reached or answered a transient failure. */
class NetworkException(code: String, message: String) : TsdException(code, message) {
    override val retryable get() = true
}
/** The server refused the request (bad token…); someone has to act. */
class ServerException(code: String, message: String) : TsdException(code, message)
/** An app update does not match its size or SHA-256; it was not offered for install (a download will be fetched again). */
class BadUpdateException(code: String, message: String) : TsdException(code, message) {
    override val retryable get() = true
}
/** The server speaks another protocol version; the message says which side to update. */
class ProtocolException(code: String, message: String) : TsdException(code, message)
/** The TLS connection was refused (unknown CA, wrong pinned fingerprint). */
class TlsException(code: String, message: String) : TsdException(code, message)
/** Another sync is running. */
class SyncInProgressException(code: String, message: String) : TsdException(code, message) {
    override val retryable get() = true
}
/** The runtime handle is zero, unknown or closed. */
class ClosedHandleException(code: String, message: String) : TsdException(code, message)
/** A JNI call inside the bridge failed. */
class JniException(code: String, message: String) : TsdException(code, message)
/** The native code panicked; the runtime stays usable (nothing half-written). */
class RustPanicException(code: String, message: String) : TsdException(code, message)
/**
 * The native library could not be loaded (missing, damaged, built for another
 * processor). Thrown by Kotlin, not by the library; the app shows it as "the app
 * is damaged: reinstall it" instead of crashing.
 */
class NativeLibraryException(code: String, message: String) : TsdException(code, message)
