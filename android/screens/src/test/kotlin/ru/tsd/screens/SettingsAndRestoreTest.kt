package ru.tsd.screens

import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.ServerProcess
import ru.tsd.runtime.TsdRuntime
import ru.tsd.runtime.tempDir
import java.io.File
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

class SettingsAndRestoreTest {
    /** A scanned setup code asks first, then enrols; the sync that follows works; an empty form keeps the enrolment. */
    @Test
    fun enrolmentBySetupCodeThenSyncAndAnEmptyFormKeepsIt() {
        val root = tempDir("setup")
        ServerProcess(File(root, "server")).use { server ->
            server.admin("catalog", "publish", File(root, "catalog.csv").apply { writeText(Day.CATALOG) }.absolutePath)
            server.start()
            val code = JSONObject(server.admin("device", "add", "ТСД-5", "--qr", "--json", "--url", server.url)).getString("setup_code")
            TsdRuntime.open(File(root, "terminal")).use { rt ->
                val shell = Day.shell(rt, root)
                val nav = Navigator(shell)
                nav.onScan(ScannedCode("]Q1$code", "qr"))
                assertEquals(Route.Settings, nav.route, "a setup code opens the settings")
                val settings = nav.screen as SettingsScreen
                assertEquals(server.url, settings.state.setup?.url, "the operator sees where the terminal would go")
                assertFalse(settings.state.setup.toString().contains(code.substringAfter("e=").take(12)), "the enrolment token is not shown")
                assertNull(rt.serverInfo(), "nothing changes before the operator agrees")
                settings.onConfirmSetup()
                assertTrue(settings.state.message!!.contains("ТСД-5"), settings.state.message)
                assertEquals(true, settings.state.server?.enrolled)

                nav.open(Route.Home)
                (nav.screen as HomeScreen).onSync()
                assertNull((nav.screen as HomeScreen).state.problem, "${(nav.screen as HomeScreen).state.problem}")
                assertEquals(1, rt.syncStatus().catalogVersion, "the sync after enrolment works")

                nav.open(Route.Settings)
                val again = nav.screen as SettingsScreen
                again.onServer("", "")
                assertEquals("Ничего не изменено", again.state.message)
                again.onServer(server.url, "")
                assertEquals("Сервер не изменён", again.state.message)
                again.onServer("http://127.0.0.1:1", "")
                assertNotNull(again.state.problem, "another server needs its own token")
                assertEquals(true, rt.serverInfo()?.enrolled)
                assertEquals(server.url, rt.serverInfo()?.url)
                nav.open(Route.Home)
                (nav.screen as HomeScreen).onSync()
                assertNull((nav.screen as HomeScreen).state.problem, "still enrolled: ${(nav.screen as HomeScreen).state.problem}")

                // A cancelled code changes nothing; a damaged one is text, not a crash.
                nav.onScan(ScannedCode("tsd://setup?u=http%3A%2F%2F127.0.0.1%3A9&e=x", null))
                (nav.screen as SettingsScreen).onCancelSetup()
                assertEquals(server.url, rt.serverInfo()?.url)
                nav.onScan(ScannedCode("tsd://setup?garbage", null))
                assertNotNull((nav.screen as SettingsScreen).state.problem)
            }
        }
    }

    /** Process death mid-document: a new runtime on the same folder opens the same screen with the same lines. */
    @Test
    fun processDeathMidDocumentRestoresTheDocumentAndItsLines() {
        val root = tempDir("restore")
        val data = File(root, "terminal")
        val id: String
        val lines: List<LineView>
        TsdRuntime.open(data).use { rt ->
            rt.importCatalog(File(root, "catalog.csv").apply { writeText(Day.CATALOG) })
            val nav = Navigator(Day.shell(rt, root))
            nav.open(Route.Tasks("receiving"))
            id = (nav.screen as TasksScreen).onNew()!!
            nav.open(Route.Document(id))
            nav.onScan(Day.scan("4601234567893"))
            nav.onScan(Day.scan("14601234567890"))
            nav.onScan(Day.scan(Day.WEIGHT_LABEL))
            lines = (nav.screen as DocumentScreen).state.lines
            assertEquals(listOf("P1", "P3"), lines.map { it.productId })
            // No close, no save: the holder is simply dropped, as when the process is killed.
        }
        TsdRuntime.open(data).use { rt ->
            val nav = Navigator(Day.shell(rt, root))
            assertEquals(Route.Document(id), nav.route)
            val doc = nav.screen as DocumentScreen
            assertEquals(lines, doc.state.lines)
            assertEquals(13_000, doc.state.lines.single { it.productId == "P1" }.actualMilli)
            assertTrue(nav.back())
            assertEquals(Route.Tasks("receiving"), nav.route)
            assertEquals(listOf(id), (nav.screen as TasksScreen).state.items.map { it.id }, "a document in progress stays in the list")
            assertTrue(nav.back())
            assertFalse(nav.back(), "home is the last screen")
        }
    }

    /** Scans that arrive while one is being stored are queued in order: none lost, none reordered, even on a pool. */
    @Test
    fun scansArrivingTogetherAreStoredInTheirOrder() {
        val root = tempDir("serial")
        TsdRuntime.open(File(root, "terminal")).use { rt ->
            val nav = Navigator(Day.shell(rt, root))
            nav.open(Route.Tasks("receiving"))
            val id = (nav.screen as TasksScreen).onNew()!!
            nav.open(Route.Document(id))
            val pool = Executors.newFixedThreadPool(4)
            val intents = SerialIntents(pool)
            val codes = List(40) { "]C0BOX-%03d".format(it) }
            codes.forEach { c -> intents.post { nav.onScan(Day.scan(c)) } }
            val done = java.util.concurrent.CountDownLatch(1)
            intents.post { done.countDown() }
            assertTrue(done.await(60, TimeUnit.SECONDS))
            pool.shutdown()
            assertEquals(codes, (nav.screen as DocumentScreen).state.lines.map { it.raw })
        }
    }

    /** The exchange folder the app uses by default is the one `tsd exchange usb` reaches. */
    @Test
    fun theDefaultExchangeFolderIsWhereTheUsbCommandLooks() {
        val usb = File("../../cli/src/usb.rs").readText()
        val remote = Regex("""pub const REMOTE: &str = "([^"]+)";""").find(usb)!!.groupValues[1]
        assertEquals("/sdcard/Android/data/ru.tsd.app/files/${Shell.EXCHANGE_DIR}", remote)
    }

    @Test
    fun quantitiesAsOperatorsTypeThem() {
        assertEquals(1500, parseQty("1,5"))
        assertEquals(1500, parseQty(" 1.5 "))
        assertEquals(1_000_000, parseQty("1 000"))
        assertNull(parseQty("0"))
        assertNull(parseQty("-1"))
        assertNull(parseQty("1,2345"))
        assertNull(parseQty("abc"))
        assertEquals("1,25", formatQty(1250))
        assertEquals("12", formatQty(12_000))
        assertEquals("0,005", formatQty(5))
    }

    @Test
    fun theSyncLineSaysWhatWaitsAndWhenItRetries() {
        val now = 1_000_000_000L
        val failed = ru.tsd.runtime.SyncStatus(2, null, now - 1000, "network: refused", "network", 1, now + 125_000, 0, false)
        val line = HomeScreen.syncLine(failed, now)
        assertEquals("ждут отправки: 2; ошибка: network: refused; повтор через 3 мин", line.text)
        assertFalse(line.ok)
        val ok = ru.tsd.runtime.SyncStatus(0, now - 5 * 60_000, now - 5 * 60_000, null, null, 0, 0, 3, true)
        assertEquals("всё отправлено, синхронизирован 5 мин назад", HomeScreen.syncLine(ok, now).text)
        val aside = ok.copy(setAsideTasks = listOf("A-1" to "document type \"audit\" is not in this terminal's configuration"))
        assertTrue(HomeScreen.syncLine(aside, now).text.endsWith("задания не приняты — A-1: document type \"audit\" is not in this terminal's configuration"))
    }

    /** Anything an intent throws becomes text: a malformed answer is an internal error, not a crash. */
    @Test
    fun everyFailureIsTextToActOn() {
        assertTrue(problemOf(org.json.JSONException("bad")).text.startsWith("Внутренняя ошибка"))
        assertTrue(problemOf(ru.tsd.runtime.NetworkException("network", "refused")).retryable)
    }
}
