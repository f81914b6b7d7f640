package ru.tsd.runtime

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File

/** The runtime through the real bridge: a real `.so`, real SQLite files. */
class RuntimeTest {
    private fun withCatalog(block: (TsdRuntime) -> Unit) {
        val dir = tempDir("tsd-rt")
        val csv = File(dir, "c.csv").apply { writeText(CATALOG) }
        TsdRuntime.open(File(dir, "data")).use { rt ->
            rt.importCatalog(csv)
            block(rt)
        }
    }

    @Test
    fun theShellReadsItsPartOfTheConfiguration() = withCatalog { rt ->
        assertEquals(15, rt.shellConfig().periodicSyncMinutes, "defaults before any configuration")
        assertTrue(rt.shellConfig().sound)
        rt.setConfig(
            """{"document_types": [{"id": "receiving"}], "sync": {"periodic_minutes": 5, "on_network_return": false},
                "ui": {"sound": false, "font_percent": 140},
                "scanner_profiles": [{"id": "site", "action": "com.vendor.SCAN", "text_extra": "data"}]}""",
        )
        val c = rt.shellConfig()
        assertEquals(5, c.periodicSyncMinutes)
        assertFalse(c.syncOnNetworkReturn || c.sound)
        assertTrue(c.vibrate, "not set: the default")
        assertEquals(140, c.fontPercent)
        val code = ScannerProfile.decodeAny(c.scannerProfiles, "com.vendor.SCAN", mapOf("data" to "4601234567893"))
        assertEquals("4601234567893", code?.raw, "a profile from the configuration decodes its intents")
    }

    @Test
    fun scansAreStoredAndRulesAnswerInResults() = withCatalog { rt ->
        val hit = rt.resolve("]E04601234567893")
        assertTrue(hit.found)
        assertEquals("P1", hit.product?.id)
        assertEquals("Молоко 3.2%", hit.product?.name)
        val box = rt.resolve("14601234567890")
        assertEquals("box", box.packagingId)
        assertEquals(12_000, box.quantityMilli)
        assertEquals("bad_check_digit", rt.resolve("4601234567890").errorCode)

        val doc = rt.newDocument("receiving")
        val r = rt.scan(doc.id, "14601234567890")
        assertTrue(r.accepted)
        assertNotNull(r.seq)
        assertEquals(12_000, r.actualMilli)
        rt.scan(doc.id, "4601234567893", qtyMilli = 2_500)
        assertEquals(14_500, rt.document(doc.id).lines.single { it.productId == "P1" }.actualMilli)
        rt.undo(doc.id)
        assertEquals(12_000, rt.document(doc.id).lines.single { it.productId == "P1" }.actualMilli)

        assertThrows(BarcodeException::class.java) { rt.scan(doc.id, "4601234567890") }.also {
            assertEquals("bad_check_digit", it.code)
        }
        assertTrue(rt.complete(doc.id))
        assertFalse(rt.complete(doc.id))
        assertThrows(DocumentCompletedException::class.java) { rt.scan(doc.id, "4601234567893") }
        assertEquals(1, rt.syncStatus().waiting)
        assertFalse(rt.syncStatus().synced, "a waiting document is never 'synced'")
        assertEquals("Кефир 1%", rt.search("кеф").single().name)
    }

    @Test
    fun tasksRefuseOverscanAsAResultNotAnError() = withCatalog { rt ->
        assertEquals(1, rt.addTasks("""[{"id":"T-1","type":"picking","number":"ОТ-1","lines":[{"product":"P2","qty":1}]}]"""))
        assertTrue(rt.scan("T-1", "4601234567909").accepted)
        val over = rt.scan("T-1", "4601234567909")
        assertEquals("refused", over.status)
        assertEquals("overscan", over.violation)
        assertEquals(1_000, over.actualMilli)
        assertEquals(1_000, rt.document("T-1").lines.single().plannedMilli)
    }

    @Test
    fun aClosedRuntimeThrowsInsteadOfCrashing() {
        val rt = TsdRuntime.open(tempDir("tsd-closed"))
        rt.close()
        rt.close() // a second close does nothing
        val e = assertThrows(ClosedHandleException::class.java) { rt.documents() }
        assertEquals("closed_handle", e.code)
        assertThrows(ClosedHandleException::class.java) { Native.documents(0) }
        assertThrows(ClosedHandleException::class.java) { Native.runtimeClose(987654321) }
    }

    @Test
    fun badArgumentsAreTypedErrors() = withCatalog { rt ->
        assertThrows(UnknownDocumentTypeException::class.java) { rt.newDocument("no-such-type") }
        assertThrows(DocumentNotFoundException::class.java) { rt.document("nope") }
        assertThrows(InvalidArgumentException::class.java) { rt.search("x", -1) }
        assertThrows(InvalidArgumentException::class.java) { rt.addTasks("not json") }
        assertThrows(ConfigException::class.java) { rt.setConfig("""{"document_types": 5}""") }
        assertThrows(ImportException::class.java) {
            rt.importCatalog(File(tempDir("bad"), "bad.csv").apply { writeText("product_id,name,barcode\nP9,X,4601234567890\n") })
        }.also { assertTrue(it.message!!.contains("line 2"), it.message) }
        assertNull(rt.resolve("2999999999999").product)
    }

    @Test
    fun oneRuntimeServesManyThreads() = withCatalog { rt ->
        val doc = rt.newDocument("receiving")
        val threads = (1..4).map { Thread { repeat(50) { rt.scan(doc.id, "4601234567893") } } }
        threads.forEach(Thread::start)
        threads.forEach(Thread::join)
        assertEquals(200_000, rt.document(doc.id).lines.single().actualMilli)
    }
}
