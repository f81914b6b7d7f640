package ru.tsd.runtime

import org.json.JSONObject
import java.io.File

/** How to reach the sync server. */
data class ServerSettings(
    val url: String,
    val token: String,
    /** An extra trusted CA certificate (PEM text), for a warehouse's own CA. */
    val caPem: String? = null,
    /** SHA-256 of the server certificate (hex); when set, exactly that certificate is trusted. */
    val pinSha256: String? = null,
    val timeoutMs: Long? = null,
    val backoffBaseMs: Long? = null,
    val backoffCapMs: Long? = null,
) {
    internal fun toJson(): String = JSONObject().apply {
        put("url", url)
        put("token", token)
        caPem?.let { put("ca_pem", it) }
        pinSha256?.let { put("pin_sha256", it) }
        timeoutMs?.let { put("timeout_ms", it) }
        backoffBaseMs?.let { put("backoff_base_ms", it) }
        backoffCapMs?.let { put("backoff_cap_ms", it) }
    }.toString()

    /** The token never appears in logs or crash reports. */
    override fun toString() = "ServerSettings(url=$url, token=***, ca=${caPem != null}, pin=${pinSha256 != null})"
}

/**
 * The terminal runtime over one data folder: catalog, scans, documents, sync.
 * Thread-safe; every call blocks, so call it off the main thread. Close it when
 * done; calls after [close] throw [ClosedHandleException].
 *
 * ```
 * TsdRuntime.open(File(filesDir, "tsd")).use { rt ->
 *     val doc = rt.newDocument("receiving")
 *     val r = rt.scan(doc.id, "4601234567893")
 * }
 * ```
 */
class TsdRuntime private constructor(private val handle: Long) : AutoCloseable {
    @Volatile private var closed = false

    companion object {
        /**
         * Opens (creating) the data folder [dir]. A library that cannot be loaded is
         * a [NativeLibraryException], never an `Error` that would end the process.
         */
        @JvmStatic
        @Throws(TsdException::class)
        fun open(dir: File): TsdRuntime {
            loadNativeLibrary()
            return TsdRuntime(Native.runtimeOpen(dir.absolutePath))
        }

        /** What a setup code would do (its server, whether it pins the certificate), without using it. */
        @JvmStatic
        @Throws(TsdException::class)
        fun setupCodeInfo(code: String): SetupInfo {
            loadNativeLibrary()
            return Json.setupInfo(Native.setupCodeInfo(code))
        }
    }

    private val h: Long get() = handle

    /** Imports a catalog file (`csv` or `jsonl`) in one transaction; returns the report JSON. */
    @Throws(TsdException::class)
    fun importCatalog(file: File, format: String = if (file.name.endsWith(".jsonl")) "jsonl" else "csv"): String =
        Native.importCatalog(h, file.absolutePath, format)

    /** Validates and applies a configuration (document types, weight templates). */
    @Throws(TsdException::class)
    fun setConfig(json: String) = Native.setConfig(h, json)

    /**
     * A record of a generic catalog (`reasons`, `carriers`…) as JSON text, or null:
     * on the terminal, or online when the configuration routes that catalog there.
     */
    @Throws(TsdException::class)
    fun record(catalog: String, id: String): String? =
        JSONObject(Native.record(h, catalog, id)).optJSONObject("record")?.toString()

    /** The shell's part of the configuration in force (sync intervals, UI options, scanner profiles). */
    @Throws(TsdException::class)
    fun shellConfig(): ShellConfig = Json.shellConfig(Native.config(h))

    /**
     * Resolves a scan without storing it: against the terminal's catalog, or online
     * for catalogs the configuration routes to the server (bounded by its timeout,
     * default 1.5 s). A bad barcode gives [Resolution.errorCode].
     */
    @Throws(TsdException::class)
    fun resolve(raw: String): Resolution = Json.resolution(String(Native.resolve(h, raw), Charsets.UTF_8))

    /** Name/article search: word prefixes, any case, ё = е. */
    @Throws(TsdException::class)
    fun search(query: String, limit: Int = 20): List<Product> = Json.products(Native.search(h, query, limit))

    /** All documents, newest first. */
    @Throws(TsdException::class)
    fun documents(): List<DocumentHeader> = Json.headers(Native.documents(h))

    /** A document with its lines. */
    @Throws(TsdException::class)
    fun document(id: String): Document = Json.document(Native.document(h, id))

    /** Creates a free document of a configured type. */
    @Throws(TsdException::class)
    fun newDocument(type: String): DocumentHeader = Json.header(JSONObject(Native.newDocument(h, type)))

    /**
     * Records a scan under the document type's rules. When this returns, the journal
     * entry is on disk. [qtyMilli] (thousandths of the base unit) overrides the
     * code's own quantity. A refused scan is a normal result ([ScanResult.violation]).
     */
    @Throws(TsdException::class)
    fun scan(doc: String, raw: String, qtyMilli: Long? = null): ScanResult =
        Json.scan(String(Native.scan(h, doc, raw, qtyMilli ?: -1), Charsets.UTF_8))

    /** Undoes the latest scan or correction in force. */
    @Throws(TsdException::class)
    fun undo(doc: String): String = Native.undo(h, doc)

    /** Sets a product's actual quantity (thousandths); returns the journal seq, or null if unchanged. */
    @Throws(TsdException::class)
    fun setQuantity(doc: String, product: String, qtyMilli: Long): Long? =
        Native.setQuantity(h, doc, product, qtyMilli).takeIf { it >= 0 }

    /** Completes a document and queues it for sending; false if it already was. */
    @Throws(TsdException::class)
    fun complete(doc: String): Boolean = Native.complete(h, doc)

    /** Adds task documents (a JSON array of tasks); returns how many were new. */
    @Throws(TsdException::class)
    fun addTasks(tasksJson: String): Int = Native.addTasks(h, tasksJson)

    /**
     * One sync with the server: the outbox first, then catalog changes and tasks.
     * Throws on failure ([NetworkException] is retryable); the failure is recorded in
     * [syncStatus] with the time the next attempt is due.
     */
    @Throws(TsdException::class)
    fun sync(settings: ServerSettings, listener: SyncProgressListener? = null): SyncReport =
        Json.report(Native.syncServer(h, settings.toJson(), listener))

    /**
     * Queues a price label for the product [raw] names (name, barcode, [price] or the
     * price in the code, today's date) on the server's printer [printer]. Durable when
     * this returns; it goes with the next sync.
     */
    @Throws(TsdException::class)
    fun printLabel(printer: String, raw: String, copies: Int = 1, price: String? = null): PrintJobStatus =
        Json.printJob(JSONObject(Native.printLabel(h, printer, raw, copies, price)))

    /** Queues a document form (number, type, lines) on the server's printer [printer]. */
    @Throws(TsdException::class)
    fun printDocument(printer: String, docId: String, copies: Int = 1): PrintJobStatus =
        Json.printJob(JSONObject(Native.printDocument(h, printer, docId, copies)))

    /** Print jobs, newest first, with their status as of the last sync. */
    @Throws(TsdException::class)
    fun printJobs(): List<PrintJobStatus> = Json.printJobs(Native.printJobs(h))

    /**
     * Sets the terminal up from a scanned setup code (`tsd-server device add NAME --qr`):
     * the server URL, its pinned certificate and a device token issued for the
     * single-use enrolment token. Returns the device's name on the server.
     */
    @Throws(TsdException::class)
    fun enroll(code: String): String = Native.enroll(h, code)

    /** A newer app version on the kept server than [current] (the app's versionCode), or null. */
    @Throws(TsdException::class)
    fun checkAppUpdate(current: Long): AppUpdate? = Native.checkAppUpdate(h, current)?.let(Json::appUpdate)

    /**
     * Downloads [update] (resuming a cut download), verifies its size and SHA-256 and
     * returns the file for the platform installer. A file that does not verify is
     * deleted and [BadUpdateException] thrown: it is never offered for install.
     */
    @Throws(TsdException::class)
    fun downloadAppUpdate(update: AppUpdate): File = File(Native.downloadAppUpdate(h, update.json))

    /** A verified update newer than [current] left by the PC in [root]`/update/`, with its file; or null. */
    @Throws(TsdException::class)
    fun folderAppUpdate(root: File, current: Long): Pair<AppUpdate, File>? =
        Native.folderAppUpdate(h, root.absolutePath, current)?.let {
            val o = JSONObject(it)
            Json.appUpdate(o.getJSONObject("update").toString()) to File(o.getString("file"))
        }

    /**
     * Sends the runtime's log files (tokens and marking-code crypto tails removed)
     * with the device name and [appVersion] to the kept server; returns its bundle id.
     */
    @Throws(TsdException::class)
    fun sendLogs(appVersion: String): Long = Native.sendLogs(h, appVersion)

    /** Leaves a log bundle in the exchange folder's `from-device/` for the PC side. */
    @Throws(TsdException::class)
    fun logsToFolder(root: File, appVersion: String): File = File(Native.logsToFolder(h, root.absolutePath, appVersion))

    /** One sync with the server kept by [setServer]. */
    @Throws(TsdException::class)
    fun sync(listener: SyncProgressListener? = null): SyncReport = Json.report(Native.syncSaved(h, listener))

    /**
     * Keeps the sync server (in the runtime's journal, so it survives restarts) for
     * online lookups and [sync] without settings; `null` forgets it. Checked (URL,
     * CA, pin), not contacted.
     */
    @Throws(TsdException::class)
    fun setServer(settings: ServerSettings?) = Native.setServer(h, settings?.toJson())

    /** One exchange-folder sync (the folder a PC fills over USB or RDP); report JSON. */
    @Throws(TsdException::class)
    fun syncFolder(root: File): String = Native.syncFolder(h, root.absolutePath)

    /** One exchange-folder sync, decoded. */
    @Throws(TsdException::class)
    fun syncFolderReport(root: File): FolderReport = Json.folderReport(syncFolder(root))

    /** The configuration in force as JSON (document types, rules, options). */
    @Throws(TsdException::class)
    fun configJson(): String = Native.config(h)

    /** The document types of the configuration in force, in its order. */
    @Throws(TsdException::class)
    fun documentTypes(): List<DocumentType> = Json.documentTypes(Native.config(h))

    /** A value the shell keeps in the runtime's journal (survives process death), or null. */
    @Throws(TsdException::class)
    fun shellValue(key: String): String? = Native.shellValue(h, key)

    /** Keeps [value] under [key] durably; null forgets it. */
    @Throws(TsdException::class)
    fun setShellValue(key: String, value: String?) = Native.setShellValue(h, key, value)

    /** A product with its packagings and barcodes from the terminal's catalog, or null. */
    @Throws(TsdException::class)
    fun productCard(id: String): ProductCard? = Native.productCard(h, id)?.let(Json::productCard)

    /** The kept server as it may be shown: never its token. Null when none is kept. */
    @Throws(TsdException::class)
    fun serverInfo(): ServerInfo? = Native.serverInfo(h)?.let(Json::serverInfo)

    /** What waits, the last success and error, when the next attempt is due. */
    @Throws(TsdException::class)
    fun syncStatus(): SyncStatus = Json.status(Native.syncStatus(h))

    /** True when something waits (or the last attempt failed) and its backoff has passed. */
    @Throws(TsdException::class)
    fun syncDue(): Boolean = Native.syncDue(h)

    /** Asks a running sync to stop at its next check. */
    @Throws(TsdException::class)
    fun cancelSync() = Native.cancelSync(h)

    /** Closes the runtime; a second close does nothing. */
    override fun close() {
        if (!closed) {
            closed = true
            Native.runtimeClose(handle)
        }
    }
}
