package ru.tsd.runtime

import org.json.JSONArray
import org.json.JSONObject

/** Quantities cross as JSON numbers in base units (`1.25`); kept here as thousandths. */
private fun milli(o: JSONObject, key: String): Long = Math.round(o.optDouble(key, 0.0) * 1000)
private fun milliOrNull(o: JSONObject, key: String): Long? = if (o.isNull(key) || !o.has(key)) null else milli(o, key)
private fun str(o: JSONObject, key: String): String? = if (o.isNull(key) || !o.has(key)) null else o.getString(key)

/** A catalog product. */
data class Product(val id: String, val code: String, val name: String, val unit: String, val weighted: Boolean, val marked: Boolean)

/** What a scan resolved to (no journal write). */
data class Resolution(
    val input: String,
    val found: Boolean,
    val kind: String?,
    val gtin: String?,
    val product: Product?,
    val packagingId: String?,
    val quantityMilli: Long,
    val cellId: String?,
    /** The barcode error code when the input is not a valid barcode. */
    val errorCode: String?,
    /** Where the answer came from: `device`, `cache` (an earlier online answer) or `server`. */
    val source: String = "device",
    /** Set when the configuration routes this catalog to the server and it could not answer: why. */
    val serverUnreachable: String? = null,
)

/** The result of one scan into a document. */
data class ScanResult(
    /** Journal sequence number; null when nothing was stored (quantity needed). */
    val seq: Long?,
    /** `accepted`, `refused`, `cell` or `need_quantity`. */
    val status: String,
    /** The rule that refused it (`overscan`, `not_in_plan`, `duplicate_mark`…). */
    val violation: String?,
    /** What to tell the operator about the refusal. */
    val message: String?,
    val found: Boolean,
    val productId: String?,
    val name: String?,
    /** The scanned packaging's id; null for the base unit. */
    val packagingId: String? = null,
    /** The barcode kind read (`ean13`, `weight`, `marking`…). */
    val kind: String? = null,
    val qtyMilli: Long,
    val actualMilli: Long,
    val plannedMilli: Long?,
    /** Where the product came from: `device`, `cache` or `server`. */
    val source: String = "device",
    /** Set when the server was to be asked and could not answer: why. */
    val serverUnreachable: String? = null,
    /** The goods are sold by weight: a `need_quantity` answer asks for the weight. */
    val weighed: Boolean = false,
) {
    /** True when the scan counted. */
    val accepted get() = status == "accepted"
}

/** A document without its lines. */
data class DocumentHeader(val id: String, val type: String, val number: String, val origin: String, val status: String, val createdAt: Long, val completedAt: Long?)

/** One line: planned and actual quantities of a product (or an unknown code). */
data class Line(val productId: String?, val raw: String?, val name: String?, val plannedMilli: Long?, val actualMilli: Long)

/** A document with its lines; [scans] journal entries; [cell] the cell in force (the latest entry's), if any. */
data class Document(val header: DocumentHeader, val lines: List<Line>, val scans: Int, val cell: String? = null)

/** A print job and where it stands: `waiting` (not yet on the server), `queued`, `printing`, `sent`, `failed`. */
data class PrintJobStatus(
    val id: String,
    val printer: String,
    /** `label` or `document`. */
    val template: String,
    val copies: Int,
    val status: String,
    /** Why it failed, or the last problem while the server retries. */
    val message: String?,
)

/**
 * What the configuration in force (published on the server or dropped into the
 * exchange folder) tells the shell: sync intervals, UI options, extra scanner
 * profiles. Catalog routing and document rules stay inside the runtime.
 */
data class ShellConfig(
    val periodicSyncMinutes: Int,
    val syncOnNetworkReturn: Boolean,
    val sound: Boolean,
    val vibrate: Boolean,
    val fontPercent: Int,
    val confirmComplete: Boolean,
    val scannerProfiles: List<ScannerProfile>,
)

/** A published app version. [json] is what [TsdRuntime.downloadAppUpdate] takes back. */
data class AppUpdate(
    val versionCode: Long,
    val versionName: String,
    val size: Long,
    val sha256: String,
    val minVersion: Long,
    internal val json: String,
) {
    /** The app running [current] must install this before it goes on. */
    fun requiredFor(current: Long) = current < minVersion
}

/** What one sync did. */
data class SyncReport(
    val pushed: List<String>,
    val alreadyStored: List<String>,
    val catalogFrom: Long,
    val catalogVersion: Long,
    val packages: List<String>,
    val tasksAdded: Int,
    val bytesDown: Long,
    val waiting: Int,
    val seconds: Double,
    /** The configuration version applied by this sync, if a newer one came. */
    val configApplied: Long? = null,
    /** Print jobs handed to the server by this sync. */
    val printJobsSent: List<String> = emptyList(),
)

/** What the shell shows about sync; always read from the runtime, never cached. */
data class SyncStatus(
    val waiting: Int,
    val lastSuccessAt: Long?,
    val lastAttemptAt: Long?,
    val lastError: String?,
    val lastErrorCode: String?,
    val failures: Int,
    /** Unix ms when the next automatic attempt is due (0: now). */
    val nextAttemptAt: Long,
    val catalogVersion: Long,
    /** True only when nothing waits and the last attempt succeeded. */
    val synced: Boolean,
    /** Tasks the terminal could not take (task id → why), and tasks withdrawn after work had started. */
    val setAsideTasks: List<Pair<String, String>> = emptyList(),
)

/** A document type of the configuration in force, with the rules the screens show. */
data class DocumentType(
    val id: String,
    /** Name shown to the operator (the id when the configuration gives none). */
    val name: String,
    val allowOverscan: Boolean,
    val requireCell: Boolean,
    val quantityPrompt: Boolean,
    val allowUnknown: Boolean,
    /** The operator may start one on the terminal (else only tasks). */
    val allowFree: Boolean,
)

/** A packaging of a product: [factorMilli] base units (thousandths) each. */
data class Packaging(val id: String, val name: String, val factorMilli: Long)

/** A product card: the product, its packagings and its barcodes ([barcodes] pairs: barcode → packaging id or null). */
data class ProductCard(val product: Product, val packagings: List<Packaging>, val barcodes: List<Pair<String, String?>>)

/** The kept server as it may be shown. */
data class ServerInfo(val url: String, val enrolled: Boolean, val pinSha256: String?, val customCa: Boolean)

/** What a setup code would do. */
data class SetupInfo(val url: String, val pinned: Boolean)

/** What one exchange-folder sync did. */
data class FolderReport(
    val pushed: List<String>,
    val acknowledged: List<String>,
    val applied: List<String>,
    val skipped: List<String>,
    /** Files refused, each "name: reason". */
    val rejected: List<String>,
    val waiting: Int,
)

/** Decodes the bridge's JSON. The one place that knows the shapes. */
internal object Json {
    private fun strings(a: JSONArray?): List<String> = if (a == null) emptyList() else List(a.length()) { a.getString(it) }

    fun product(o: JSONObject) = Product(
        id = o.getString("id"), code = o.optString("code"), name = o.getString("name"), unit = o.optString("unit"),
        weighted = o.optBoolean("weighted"), marked = o.optBoolean("marked"),
    )

    fun products(text: String): List<Product> = JSONArray(text).let { a -> List(a.length()) { product(a.getJSONObject(it)) } }

    fun resolution(text: String): Resolution {
        val o = JSONObject(text)
        return Resolution(
            input = o.getString("input"),
            found = o.optBoolean("found"),
            kind = str(o, "kind"),
            gtin = str(o, "gtin"),
            product = o.optJSONObject("product")?.let(::product),
            packagingId = o.optJSONObject("packaging")?.optString("id"),
            quantityMilli = milli(o, "quantity"),
            cellId = o.optJSONObject("cell")?.optString("id"),
            errorCode = o.optJSONObject("error")?.optString("code"),
            source = str(o, "source") ?: "device",
            serverUnreachable = str(o, "server_unreachable"),
        )
    }

    fun scan(text: String): ScanResult {
        val o = JSONObject(text)
        return ScanResult(
            seq = if (o.isNull("seq")) null else o.getLong("seq"),
            status = o.getString("status"),
            violation = str(o, "violation"),
            message = str(o, "message"),
            found = o.optBoolean("found"),
            productId = str(o, "product"),
            name = str(o, "name"),
            packagingId = str(o, "packaging"),
            kind = str(o, "kind"),
            qtyMilli = milli(o, "qty"),
            actualMilli = milli(o, "actual"),
            plannedMilli = milliOrNull(o, "planned"),
            source = str(o, "source") ?: "device",
            serverUnreachable = str(o, "server_unreachable"),
            weighed = o.optBoolean("weighed"),
        )
    }

    fun header(o: JSONObject) = DocumentHeader(
        id = o.getString("id"), type = o.getString("type"), number = o.getString("number"), origin = o.getString("origin"),
        status = o.getString("status"), createdAt = o.getLong("created_at"),
        completedAt = if (o.isNull("completed_at")) null else o.getLong("completed_at"),
    )

    fun headers(text: String): List<DocumentHeader> = JSONArray(text).let { a -> List(a.length()) { header(a.getJSONObject(it)) } }

    fun document(text: String): Document {
        val o = JSONObject(text)
        val lines = o.getJSONArray("lines")
        val scans = o.getJSONArray("scans")
        return Document(
            header = header(o),
            lines = List(lines.length()) {
                val l = lines.getJSONObject(it)
                Line(str(l, "product"), str(l, "raw"), str(l, "name"), milliOrNull(l, "planned"), milli(l, "actual"))
            },
            scans = scans.length(),
            cell = if (scans.length() == 0) null else str(scans.getJSONObject(scans.length() - 1), "cell"),
        )
    }

    fun printJob(o: JSONObject, status: String = "waiting", message: String? = null) = PrintJobStatus(
        id = o.getString("id"), printer = o.getString("printer"), template = o.getString("template"),
        copies = o.getInt("copies"), status = status, message = message,
    )

    fun printJobs(text: String): List<PrintJobStatus> = JSONArray(text).let { a ->
        List(a.length()) { i ->
            val o = a.getJSONObject(i)
            printJob(o.getJSONObject("job"), o.getString("status"), str(o, "message"))
        }
    }

    fun shellConfig(text: String): ShellConfig {
        val o = JSONObject(text)
        val sync = o.optJSONObject("sync") ?: JSONObject()
        val ui = o.optJSONObject("ui") ?: JSONObject()
        val profiles = o.optJSONArray("scanner_profiles") ?: JSONArray()
        return ShellConfig(
            periodicSyncMinutes = sync.optInt("periodic_minutes", 15),
            syncOnNetworkReturn = sync.optBoolean("on_network_return", true),
            sound = ui.optBoolean("sound", true),
            vibrate = ui.optBoolean("vibrate", true),
            fontPercent = ui.optInt("font_percent", 100),
            confirmComplete = ui.optBoolean("confirm_complete", true),
            scannerProfiles = List(profiles.length()) { i ->
                val p = profiles.getJSONObject(i)
                ScannerProfile(
                    p.getString("id"), p.getString("id"), p.getString("action"), p.getString("text_extra"),
                    str(p, "bytes_extra"), str(p, "symbology_extra"),
                )
            },
        )
    }

    fun appUpdate(text: String): AppUpdate {
        val o = JSONObject(text)
        return AppUpdate(
            versionCode = o.getLong("version_code"), versionName = o.optString("version_name"), size = o.getLong("size"),
            sha256 = o.getString("sha256"), minVersion = o.optLong("min_version"), json = text,
        )
    }

    fun report(text: String): SyncReport {
        val o = JSONObject(text)
        return SyncReport(
            pushed = strings(o.optJSONArray("pushed")), alreadyStored = strings(o.optJSONArray("already_stored")),
            catalogFrom = o.optLong("catalog_from"), catalogVersion = o.optLong("catalog_version"),
            packages = strings(o.optJSONArray("packages")), tasksAdded = o.optInt("tasks_added"),
            bytesDown = o.optLong("bytes_down"), waiting = o.optInt("waiting"), seconds = o.optDouble("seconds"),
            configApplied = if (o.isNull("config_applied")) null else o.getLong("config_applied"),
            printJobsSent = strings(o.optJSONArray("print_jobs_sent")),
        )
    }

    fun documentTypes(config: String): List<DocumentType> {
        val a = JSONObject(config).optJSONArray("document_types") ?: JSONArray()
        return List(a.length()) { i ->
            val t = a.getJSONObject(i)
            val id = t.getString("id")
            DocumentType(
                id = id, name = t.optString("name").ifEmpty { id },
                allowOverscan = t.optBoolean("allow_overscan"), requireCell = t.optBoolean("require_cell"),
                quantityPrompt = t.optBoolean("quantity_prompt"), allowUnknown = t.optBoolean("allow_unknown"),
                allowFree = t.optBoolean("allow_free", true),
            )
        }
    }

    fun productCard(text: String): ProductCard {
        val o = JSONObject(text)
        val packagings = o.getJSONArray("packagings")
        val barcodes = o.getJSONArray("barcodes")
        return ProductCard(
            product = product(o.getJSONObject("product")),
            packagings = List(packagings.length()) {
                val k = packagings.getJSONObject(it)
                Packaging(k.getString("id"), k.optString("name"), k.getLong("factor_milli"))
            },
            barcodes = List(barcodes.length()) {
                val b = barcodes.getJSONObject(it)
                b.getString("barcode") to str(b, "packaging")
            },
        )
    }

    fun serverInfo(text: String): ServerInfo {
        val o = JSONObject(text)
        return ServerInfo(o.getString("url"), o.getBoolean("enrolled"), str(o, "pin_sha256"), o.optBoolean("custom_ca"))
    }

    fun setupInfo(text: String): SetupInfo = JSONObject(text).let { SetupInfo(it.getString("url"), it.getBoolean("pinned")) }

    fun folderReport(text: String): FolderReport {
        val o = JSONObject(text)
        val rejected = o.optJSONArray("rejected") ?: JSONArray()
        return FolderReport(
            pushed = strings(o.optJSONArray("pushed")), acknowledged = strings(o.optJSONArray("acknowledged")),
            applied = strings(o.optJSONArray("applied")), skipped = strings(o.optJSONArray("skipped")),
            rejected = List(rejected.length()) { i ->
                val r = rejected.getJSONObject(i)
                "${r.optString("file")}: ${r.optString("reason")}"
            },
            waiting = o.optInt("waiting"),
        )
    }

    fun status(text: String): SyncStatus {
        val o = JSONObject(text)
        return SyncStatus(
            waiting = o.getInt("waiting"),
            lastSuccessAt = if (o.isNull("last_success_at")) null else o.getLong("last_success_at"),
            lastAttemptAt = if (o.isNull("last_attempt_at")) null else o.getLong("last_attempt_at"),
            lastError = str(o, "last_error"), lastErrorCode = str(o, "last_error_code"),
            failures = o.getInt("failures"), nextAttemptAt = o.getLong("next_attempt_at"),
            catalogVersion = o.getLong("catalog_version"), synced = o.getBoolean("synced"),
            setAsideTasks = (o.optJSONArray("set_aside_tasks") ?: JSONArray()).let { a ->
                List(a.length()) { a.getJSONObject(it).let { t -> t.getString("id") to t.optString("reason") } }
            },
        )
    }
}
