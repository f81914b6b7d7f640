package ru.tsd.runtime

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test

class ScannerTest {
    @Test
    fun vendorProfilesDecodeTheirOwnIntentsOnly() {
        val zebra = mapOf("com.symbol.datawedge.data_string" to "4601234567893", "com.symbol.datawedge.label_type" to "LABEL-TYPE-EAN13")
        assertEquals(ScannedCode("4601234567893", "LABEL-TYPE-EAN13"), ScannerProfile.ZEBRA.decode("ru.tsd.app.SCAN", zebra))
        assertNull(ScannerProfile.HONEYWELL.decode("ru.tsd.app.SCAN", zebra), "another vendor's action")
        assertNull(ScannerProfile.ZEBRA.decode("ru.tsd.app.SCAN", emptyMap()), "no code, no scan")

        // Urovo: the raw bytes keep the GS separator the text form lost.
        val gs = "0104601234567893215Ab7Xz9Qw2Lk9\u001D91EE06"
        val urovo = mapOf("barcode_string" to gs.replace("\u001D", ""), "barocode" to gs.toByteArray(Charsets.ISO_8859_1), "barcodeType" to 28.toByte())
        assertEquals(gs, ScannerProfile.UROVO.decode("android.intent.ACTION_DECODE_DATA", urovo)!!.raw)

        val all = ScannerProfile.BUILT_IN + ScannerProfile.custom("com.example.SCAN", "code")
        assertEquals("X1", ScannerProfile.decodeAny(all, "com.example.SCAN", mapOf("code" to "X1\n"))!!.raw)
        assertEquals("46", ScannerProfile.decodeAny(all, "nlscan.action.SCANNER_RESULT", mapOf("SCAN_BARCODE1" to "46"))!!.raw)
        assertEquals(6, ScannerProfile.BUILT_IN.map { it.action }.toSet().size, "one action per vendor")
    }

    @Test
    fun keyboardWedgeCollectsUntilEnterAndRestoresGs() {
        val wedge = KeyboardWedge(gsPlaceholder = "<GS>")
        assertEquals(emptyList<ScannedCode>(), wedge.typeAll("]E0460123"))
        val codes = wedge.typeAll("4567893\n\n]d2010460123456789321abc<GS>91EE06\r")
        assertEquals(listOf("]E04601234567893", "]d2010460123456789321abc\u001D91EE06"), codes.map { it.raw })
        assertEquals(listOf("ean13", "gs1-datamatrix"), codes.map { it.symbology })
        wedge.typeAll("half")
        wedge.reset()
        assertEquals("Z", wedge.typeAll("Z\n").single().raw)
    }
}
