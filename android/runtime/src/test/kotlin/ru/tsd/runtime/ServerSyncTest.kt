package ru.tsd.runtime

import org.json.JSONArray
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.Executors
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * The Kotlin runtime against the real `tsd-server` binary on loopback: scan into a
 * task document → complete → sync → the server has it once; server down → scans go
 * on and the status says what waits; server back → the trigger policy syncs and the
 * document arrives exactly once.
 */
class ServerSyncTest {
    @Test
    fun aTaskDocumentTravelsOnceThroughAnOutage() {
        val root = tempDir("tsd-sync")
        ServerProcess(File(root, "server")).use { server ->
            val token = server.admin("device", "add", "ТСД-1")
            val csv = File(root, "catalog.csv").apply { writeText(CATALOG) }
            server.admin("catalog", "publish", csv.absolutePath)
            val tasks = File(root, "tasks.jsonl").apply {
                writeText("""{"id":"ОТ-7","type":"picking","number":"ОТ-7","lines":[{"product":"P1","qty":2}]}""" + "\n")
            }
            server.admin("tasks", "add", "--device", "ТСД-1", tasks.absolutePath)
            server.start()
            val settings = ServerSettings(server.url, token, timeoutMs = 3_000, backoffBaseMs = 50, backoffCapMs = 200)

            TsdRuntime.open(File(root, "terminal")).use { rt ->
                val steps = mutableListOf<String>()
                val first = rt.sync(settings) { step, _, _ -> steps += step }
                assertEquals(1, first.catalogVersion)
                assertEquals(1, first.tasksAdded)
                assertTrue("apply" in steps && "tasks" in steps, "$steps")
                assertTrue(rt.resolve("4601234567893").found, "the catalog came down")

                // Scan into the task, complete, sync: on the server once.
                assertTrue(rt.scan("ОТ-7", "4601234567893").accepted)
                assertTrue(rt.scan("ОТ-7", "4601234567893").accepted)
                assertTrue(rt.complete("ОТ-7"))
                assertEquals(listOf("ОТ-7"), rt.sync(settings).pushed)
                assertEquals(1, storedCount(server, "ОТ-7"))

                // Server down: scanning goes on, the status tells the truth.
                server.kill()
                val doc = rt.newDocument("receiving")
                rt.scan(doc.id, "4601234567909")
                rt.complete(doc.id)
                val e = assertThrows(NetworkException::class.java) { rt.sync(settings) }
                assertTrue(e.retryable)
                val down = rt.syncStatus()
                assertEquals(1, down.waiting)
                assertFalse(down.synced)
                assertEquals("network", down.lastErrorCode)
                assertNotNull(down.lastError)

                // Server back on the same address: the network callback's trigger syncs.
                server.start(server.address)
                val results = LinkedBlockingQueue<Result<SyncReport>>()
                val executor = Executors.newSingleThreadExecutor()
                val policy = SyncPolicy(RuntimeSyncTarget(rt, { settings }), executor) { results.put(it) }
                assertTrue(policy.onNetworkAvailable(), "something waits, so the network coming back syncs")
                val report = results.poll(30, TimeUnit.SECONDS)!!.getOrThrow()
                assertEquals(listOf(doc.id), report.pushed)
                assertTrue(rt.syncStatus().synced)
                assertFalse(policy.onNetworkAvailable(), "nothing waits: no sync")
                assertFalse(policy.onPeriodicTick(), "nothing due")
                executor.shutdown()
                assertEquals(1, storedCount(server, doc.id))
                assertEquals(1, storedCount(server, "ОТ-7"), "still once")
            }
        }
    }

    @Test
    fun anOnlineLookupFindsWhatTheTerminalLacksAndAnOutageSaysSo() {
        val root = tempDir("tsd-hydb")
        ServerProcess(File(root, "server")).use { server ->
            val token = server.admin("device", "add", "ТСД-2")
            val csv = File(root, "catalog.csv").apply { writeText(CATALOG) }
            server.admin("catalog", "publish", csv.absolutePath)
            server.start()
            TsdRuntime.open(File(root, "terminal")).use { rt ->
                rt.setConfig(
                    """{"document_types": [{"id": "receiving", "allow_unknown": true}],
                        "catalogs": {"products": "device_then_server"}}""",
                )
                rt.setServer(ServerSettings(server.url, token))
                val online = rt.resolve("4601234567893")
                assertTrue(online.found, "the terminal holds no catalog; the server knows the code")
                assertEquals("server", online.source)
                assertEquals("Молоко 3.2%", online.product?.name)
                assertEquals("cache", rt.resolve("4601234567893").source)

                server.kill()
                val offline = rt.resolve("4601234567909")
                assertFalse(offline.found)
                assertNotNull(offline.serverUnreachable)
                val doc = rt.newDocument("receiving")
                val scan = rt.scan(doc.id, "4601234567909")
                assertTrue(scan.accepted, "stored by its code where the document type allows it")
                assertNotNull(scan.serverUnreachable)
                assertThrows(NetworkException::class.java) { rt.sync() }
            }
        }
    }

    @Test
    fun aLabelPrintsThroughTheServer() {
        val root = tempDir("tsd-print")
        CapturePrinter().use { printer ->
            ServerProcess(File(root, "server")).use { server ->
                val token = server.admin("device", "add", "ТСД-3")
                val csv = File(root, "catalog.csv").apply { writeText(CATALOG) }
                server.admin("catalog", "publish", csv.absolutePath)
                server.admin("printer", "add", "zebra-1", printer.address)
                server.start()
                TsdRuntime.open(File(root, "terminal")).use { rt ->
                    rt.setServer(ServerSettings(server.url, token))
                    rt.sync()
                    val job = rt.printLabel("zebra-1", "4601234567893", copies = 2, price = "59.90")
                    assertEquals("waiting", rt.printJobs().single().status)
                    assertEquals(listOf(job.id), rt.sync().printJobsSent)
                    val deadline = System.currentTimeMillis() + 20_000
                    while (!server.admin("print", "list", "--json").contains("\"sent\"")) {
                        assertTrue(System.currentTimeMillis() < deadline, "the server did not print")
                        Thread.sleep(50)
                    }
                    val zpl = printer.received()
                    assertTrue("Молоко 3.2%" in zpl && "59.90" in zpl && "^PQ2," in zpl && zpl.endsWith("^XZ~HS"), zpl)
                    rt.sync()
                    assertEquals("sent", rt.printJobs().single().status)
                }
            }
        }
    }

    @Test
    fun aScannedSetupCodeSetsTheTerminalUp() {
        val root = tempDir("tsd-setup")
        ServerProcess(File(root, "server")).use { server ->
            val csv = File(root, "catalog.csv").apply { writeText(CATALOG) }
            server.admin("catalog", "publish", csv.absolutePath)
            server.start()
            val code = org.json.JSONObject(server.admin("device", "add", "ТСД-5", "--qr", "--json", "--url", server.url))
                .getString("setup_code")
            assertTrue(SetupCode.looksLike("]Q1$code"))
            assertFalse(SetupCode.looksLike("4601234567893"))
            TsdRuntime.open(File(root, "terminal")).use { rt ->
                assertEquals("ТСД-5", rt.enroll("]Q1$code"))
                assertEquals(1, rt.sync().catalogVersion)
                val again = assertThrows(TsdException::class.java) { rt.enroll(code) }
                assertTrue("already used" in (again.message ?: ""), again.message)
            }
        }
    }

    @Test
    fun anAppUpdateIsOfferedOnlyVerified() {
        val root = tempDir("tsd-update")
        ServerProcess(File(root, "server")).use { server ->
            val token = server.admin("device", "add", "ТСД-6")
            val apk = File(root, "tsd.apk").apply { writeBytes(ByteArray(200_000) { (it * 31).toByte() }) }
            server.admin("app", "publish", apk.absolutePath, "--version-code", "7", "--version-name", "1.7", "--min-version", "5")
            server.start()
            TsdRuntime.open(File(root, "terminal")).use { rt ->
                rt.setServer(ServerSettings(server.url, token))
                val update = rt.checkAppUpdate(4)!!
                assertEquals(7L, update.versionCode)
                assertTrue(update.requiredFor(4) && !update.requiredFor(5))
                assertEquals(null, rt.checkAppUpdate(7))
                assertTrue(rt.downloadAppUpdate(update).readBytes().contentEquals(apk.readBytes()))

                val stored = File(server.data, "apps/app-7.apk")
                stored.writeBytes(stored.readBytes().also { it[100] = (it[100] + 1).toByte() })
                File(root, "terminal/updates/app-7.apk").delete()
                val e = assertThrows(BadUpdateException::class.java) { rt.downloadAppUpdate(update) }
                assertTrue(e.retryable && "SHA-256" in (e.message ?: ""), e.message)
                assertFalse(File(root, "terminal/updates/app-7.apk").exists(), "never offered for install")
            }
        }
    }

    private fun storedCount(server: ServerProcess, docId: String): Int {
        val docs = JSONArray(server.admin("documents", "list", "--json", "--all"))
        return (0 until docs.length()).count { docs.getJSONObject(it).getString("doc_id") == docId }
    }
}

/** A label printer's raw port on loopback: keeps what it receives, answers `~HS`. */
class CapturePrinter : AutoCloseable {
    private val socket = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val bytes = java.io.ByteArrayOutputStream()
    val address = "127.0.0.1:${socket.localPort}"

    init {
        Thread {
            while (!socket.isClosed) {
                val conn = runCatching { socket.accept() }.getOrNull() ?: break
                conn.use { c ->
                    val input = c.getInputStream()
                    var seen = ""
                    while (true) {
                        val b = input.read()
                        if (b < 0) break
                        synchronized(bytes) { bytes.write(b) }
                        seen = (seen + b.toChar()).takeLast(3)
                        if (seen == "~HS") c.getOutputStream().write("\u0002status\u0003\r\n\u0002a\u0003\r\n\u0002b\u0003\r\n".toByteArray())
                    }
                }
            }
        }.apply { isDaemon = true }.start()
    }

    fun received(): String = synchronized(bytes) { bytes.toString(Charsets.UTF_8) }

    override fun close() = socket.close()
}
