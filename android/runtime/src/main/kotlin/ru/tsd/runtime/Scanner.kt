package ru.tsd.runtime

/** One scan from the hardware scanner: the raw string (GS kept as `\u001D`) and its symbology, if told. */
data class ScannedCode(val raw: String, val symbology: String?)

/**
 * How a vendor's scanner service broadcasts a scan: the intent action and the names
 * of the extras that carry the text, the raw bytes and the symbology. These are the
 * factory defaults the vendors document; every one of them can be changed on the
 * device, so the settings screen can define a [custom] profile with the same fields.
 */
data class ScannerProfile(
    val id: String,
    val name: String,
    val action: String,
    val textExtra: String,
    val bytesExtra: String? = null,
    val symbologyExtra: String? = null,
) {
    /**
     * The scan in an intent with [action] and [extras] (an Android `Bundle` read into a
     * map), or null when the intent is not this profile's or carries no code. Raw
     * bytes win over text when both are present: some services drop the GS
     * separator from the text form.
     */
    fun decode(action: String?, extras: Map<String, Any?>): ScannedCode? {
        if (action != this.action) return null
        val bytes = bytesExtra?.let { extras[it] as? ByteArray }
        val text = bytes?.let { String(it, Charsets.ISO_8859_1) }?.takeIf { it.isNotEmpty() }
            ?: (extras[textExtra] as? String)?.takeIf { it.isNotEmpty() }
            ?: return null
        val symbology = symbologyExtra?.let { extras[it] }?.toString()
        return ScannedCode(text.trimEnd('\r', '\n'), symbology)
    }

    companion object {
        /** Zebra DataWedge with an Intent output whose action the app sets to this. */
        val ZEBRA = ScannerProfile("zebra", "Zebra DataWedge", "ru.tsd.app.SCAN", "com.symbol.datawedge.data_string",
            symbologyExtra = "com.symbol.datawedge.label_type")
        val HONEYWELL = ScannerProfile("honeywell", "Honeywell", "com.honeywell.decode.intent.action.EDIT_DATA", "data",
            symbologyExtra = "codeId")
        val UROVO = ScannerProfile("urovo", "Urovo", "android.intent.ACTION_DECODE_DATA", "barcode_string",
            bytesExtra = "barocode", symbologyExtra = "barcodeType")
        val NEWLAND = ScannerProfile("newland", "Newland", "nlscan.action.SCANNER_RESULT", "SCAN_BARCODE1",
            symbologyExtra = "SCAN_BARCODE_TYPE")
        val POINT_MOBILE = ScannerProfile("pointmobile", "Point Mobile", "device.common.USERMSG", "EXTRA_USERMSG",
            symbologyExtra = "EXTRA_EVENT_SYMBOLOGY_NAME")
        val MERTECH = ScannerProfile("mertech", "Mertech / АТОЛ", "com.xcheng.scanner.action.BARCODE_DECODING_BROADCAST",
            "EXTRA_BARCODE_DECODING_DATA", symbologyExtra = "EXTRA_BARCODE_DECODING_SYMBOLE")

        /** The built-in profiles, in the order the settings screen lists them. */
        val BUILT_IN = listOf(ZEBRA, HONEYWELL, UROVO, NEWLAND, POINT_MOBILE, MERTECH)

        /** A user-defined profile. */
        fun custom(action: String, textExtra: String, bytesExtra: String? = null, symbologyExtra: String? = null) =
            ScannerProfile("custom", "Custom", action, textExtra, bytesExtra, symbologyExtra)

        /** The first profile that decodes this intent. */
        fun decodeAny(profiles: List<ScannerProfile>, action: String?, extras: Map<String, Any?>): ScannedCode? =
            profiles.firstNotNullOfOrNull { it.decode(action, extras) }
    }
}

/**
 * Keyboard-wedge input: the scanner types the code and presses Enter. Characters
 * collect until Enter (or Tab, if [tabEnds]); the completed code is returned. Some
 * scanners cannot type the GS separator (ASCII 29) and send a placeholder instead —
 * [gsPlaceholder] (for example `"<GS>"` or `"~"`) is turned back into GS.
 */
class KeyboardWedge(private val gsPlaceholder: String? = null, private val tabEnds: Boolean = false) {
    private val buffer = StringBuilder()

    /** Feeds one typed character; returns a complete code when this one ended it. */
    fun type(c: Char): ScannedCode? {
        if (c == '\n' || c == '\r' || (tabEnds && c == '\t')) {
            if (buffer.isEmpty()) return null
            var raw = buffer.toString()
            buffer.setLength(0)
            if (!gsPlaceholder.isNullOrEmpty()) raw = raw.replace(gsPlaceholder, "\u001D")
            return ScannedCode(raw, symbologyHint(raw))
        }
        buffer.append(c)
        return null
    }

    /** Feeds several characters; returns every code they completed. */
    fun typeAll(text: String): List<ScannedCode> = text.mapNotNull { type(it) }

    /** Drops a half-typed code (focus lost, timeout). */
    fun reset() = buffer.setLength(0)
}

/** A symbology hint from an AIM identifier prefix (`]E0` EAN-13, `]C1` GS1-128, `]d2` GS1 DataMatrix…). */
fun symbologyHint(raw: String): String? {
    if (raw.length < 3 || raw[0] != ']') return null
    return when (raw.substring(1, 3)) {
        "E0" -> "ean13"
        "E4" -> "ean8"
        "C1" -> "gs1-128"
        "d2" -> "gs1-datamatrix"
        "Q3" -> "gs1-qr"
        "I1" -> "itf"
        else -> "aim:" + raw.substring(1, 3)
    }
}

/** Setup codes (`tsd://setup?…`) are routed to [TsdRuntime.enroll], not into a document. */
object SetupCode {
    private const val PREFIX = "tsd://setup?"

    /** True when a scan is a setup code; an AIM symbology prefix such as `]Q1` is allowed. */
    fun looksLike(raw: String): Boolean {
        val s = raw.trim()
        return (if (s.length > 3 && s.startsWith("]")) s.substring(3) else s).startsWith(PREFIX)
    }
}
