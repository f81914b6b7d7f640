package ru.tsd.app

import android.content.ContextWrapper
import android.content.Intent
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.ScannerProfile
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory

/** The receiver with the real framework's Intent, Bundle and IntentFilter (android-all on the JVM). */
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

    /**
     * One scan, one delivery: the receiver is registered once for every profile's
     * action (a configuration profile that reuses the DataWedge action adds no second
     * registration), decodes an intent once, and the manifest declares no receiver of
     * its own for any scanner action.
     */
    @Test
    fun oneScanIntentIsHandledOnce() {
        val site = ScannerProfile("site", "site", ScannerProfile.ZEBRA.action, "data")
        val profiles = listOf(ScannerProfile.ZEBRA, site) + ScannerProfile.BUILT_IN
        val heard = mutableListOf<ScannedCode>()
        val receiver = ScanReceiver(profiles) { heard += it }
        val actions = List(receiver.filter.countActions()) { receiver.filter.getAction(it) }
        assertEquals(actions.distinct(), actions, "each action once in the filter")
        assertEquals(ScannerProfile.BUILT_IN.map { it.action }.toSet(), actions.toSet())

        val intent = Intent(ScannerProfile.ZEBRA.action).putExtra("com.symbol.datawedge.data_string", "4601234567893").putExtra("data", "4601234567893")
        assertTrue(receiver.filter.matchAction(intent.action))
        receiver.onReceive(ContextWrapper(null), intent)
        assertEquals(listOf("4601234567893"), heard.map { it.raw })

        val manifest = DocumentBuilderFactory.newInstance().apply { isNamespaceAware = true }
            .newDocumentBuilder().parse(File("src/main/AndroidManifest.xml"))
        val receivers = manifest.getElementsByTagName("receiver")
        val scannerActions = ScannerProfile.BUILT_IN.map { it.action }.toSet()
        for (i in 0 until receivers.length) {
            val declared = (receivers.item(i) as org.w3c.dom.Element).getElementsByTagName("action")
            for (j in 0 until declared.length) {
                val name = (declared.item(j) as org.w3c.dom.Element).getAttributeNS("http://schemas.android.com/apk/res/android", "name")
                assertTrue(name !in scannerActions, "the manifest also receives $name: a scan would be delivered twice")
            }
        }
    }

    /** The periodic job follows the configuration: 0 is "button only", never turned into 15. */
    @Test
    fun periodicSyncFollowsTheConfiguration() {
        assertNull(SyncJobService.periodMillis(0))
        assertEquals(15 * 60_000L, SyncJobService.periodMillis(5), "the platform's shortest period")
        assertEquals(30 * 60_000L, SyncJobService.periodMillis(30))
    }
}
