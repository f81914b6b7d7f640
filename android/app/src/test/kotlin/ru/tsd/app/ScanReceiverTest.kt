package ru.tsd.app

import android.content.Intent
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import ru.tsd.runtime.ScannerProfile

/** The receiver's decoding with the real framework's Intent and Bundle (android-all on the JVM). */
class ScanReceiverTest {
    @Test
    fun intentsFromVendorScannersAreDecoded() {
        val honeywell = Intent("com.honeywell.decode.intent.action.EDIT_DATA").putExtra("data", "]E04601234567893").putExtra("codeId", "d")
        assertEquals("]E04601234567893", ScanReceiver.decode(honeywell, ScannerProfile.BUILT_IN)!!.raw)
        val gs = "0104601234567893215Ab7Xz9\u001D91EE06"
        val urovo = Intent("android.intent.ACTION_DECODE_DATA")
            .putExtra("barcode_string", gs.replace("\u001D", ""))
            .putExtra("barocode", gs.toByteArray(Charsets.ISO_8859_1))
        assertEquals(gs, ScanReceiver.decode(urovo, ScannerProfile.BUILT_IN)!!.raw, "bytes keep the GS")
        assertNull(ScanReceiver.decode(Intent("some.other.ACTION").putExtra("data", "x"), ScannerProfile.BUILT_IN))
        assertEquals(emptyMap<String, Any?>(), ScanReceiver.extrasOf(null))
    }
}
