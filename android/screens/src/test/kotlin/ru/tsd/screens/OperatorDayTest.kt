package ru.tsd.screens

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import ru.tsd.runtime.ServerProcess
import ru.tsd.runtime.TsdRuntime
import ru.tsd.runtime.tempDir
import java.io.File

/**
 * The screens' state holders driven as an operator drives them, against the real
 * `libtsd_jni.so`, a real `tsd-server` on loopback and the real `tsd` command for
 * the PC side of the exchange folder.
 */
class OperatorDayTest {
    @Test
    fun aTaskTravelsFromTheServerToTheShelfAndBackOnce() {
        val root = tempDir("day-server")
        ServerProcess(File(root, "server")).use { server ->
            val token = server.admin("device", "add", "ТСД-1")
            server.admin("catalog", "publish", File(root, "catalog.csv").apply { writeText(Day.CATALOG) }.absolutePath)
            server.admin("tasks", "add", "--device", "ТСД-1", File(root, "tasks.jsonl").apply { writeText(Day.TASKS) }.absolutePath)
            server.start()
            TsdRuntime.open(File(root, "terminal")).use { rt ->
                val shell = Day.shell(rt, root)
                val nav = Navigator(shell)
                assertEquals(Route.Home, nav.route, "a new terminal opens at home")

                // Set up by hand, then sync from home: the task arrives.
                nav.open(Route.Settings)
                (nav.screen as SettingsScreen).onServer(server.url, token)
                assertEquals(server.url, (nav.screen as SettingsScreen).state.server?.url)
                nav.open(Route.Home)
                val home = nav.screen as HomeScreen
                assertFalse(home.state.sync.ok, "never synced yet: ${home.state.sync}")
                home.onSync()
                assertNull(home.state.problem, "${home.state.problem}")
                assertFalse(home.state.syncing)
                assertTrue(home.state.message!!.contains("новых заданий: 1"), home.state.message)
                assertTrue(home.state.sync.ok, home.state.sync.text)
                assertEquals(server.url, home.state.modeTarget)

                Day.work(shell, nav)

                // Completed: waiting to be sent, then sent by the Sync button.
                nav.open(Route.Home)
                val after = nav.screen as HomeScreen
                assertEquals(1, after.state.sync.waiting)
                assertEquals("ждут отправки: 1", after.state.sync.text)
                assertEquals(0, after.state.operations.single { it.type == "picking" }.openTasks)
                after.onSync()
                assertEquals("Отправлено документов: 1", after.state.message)
                assertTrue(after.state.sync.ok)
                after.onSync()

                val stored = Day.stored(server.admin("documents", "list", "--json", "--all")).filter { it.getString("doc_id") == Day.TASK_ID }
                assertEquals(1, stored.size, "exactly once on the server")
                Day.checkSent(stored.single().getJSONObject("document"))
            }
        }
    }

    @Test
    fun theSameDayThroughTheExchangeFolder() {
        val root = tempDir("day-folder")
        val exchange = File(root, "exchange")
        val catalog = File(root, "catalog.csv").apply { writeText(Day.CATALOG) }
        val tasks = File(root, "tasks.jsonl").apply { writeText(Day.TASKS) }
        // The PC side: a catalog package and the task into to-device/.
        Day.tsd("exchange", "put-catalog", "--folder", exchange.path, catalog.path)
        Day.tsd("exchange", "put-tasks", "--folder", exchange.path, tasks.path)
        TsdRuntime.open(File(root, "terminal")).use { rt ->
            val shell = Day.shell(rt, root)
            val nav = Navigator(shell)
            nav.open(Route.Settings)
            val settings = nav.screen as SettingsScreen
            settings.onMode(Mode.FOLDER)
            assertEquals(Mode.FOLDER, settings.state.mode)
            assertEquals(exchange.path, settings.state.folder, "the app's exchange folder by default")

            nav.open(Route.Home)
            val home = nav.screen as HomeScreen
            assertEquals(Mode.FOLDER, home.state.mode)
            assertEquals(exchange.path, home.state.modeTarget)
            home.onSync()
            assertNull(home.state.problem, "${home.state.problem}")
            assertEquals(1, home.state.operations.single { it.type == "picking" }.openTasks, "the task came through the folder")

            Day.work(shell, nav)
            nav.open(Route.Home)
            (nav.screen as HomeScreen).onSync()

            // The PC collects; the next folder sync takes the acknowledgement.
            val out = File(root, "out.jsonl")
            Day.tsd("exchange", "collect", "--folder", exchange.path, "--out", out.path)
            val collected = Day.jsonLines(out).filter { it.getString("id") == Day.TASK_ID }
            assertEquals(1, collected.size)
            Day.checkSent(collected.single())
            val last = nav.screen as HomeScreen
            last.onSync()
            assertEquals(0, last.state.sync.waiting, last.state.sync.text)
            assertTrue(last.state.sync.ok, last.state.sync.text)
        }
    }

    /**
     * The integrator publishes the catalog as 1C writes it (Windows-1251, `;`,
     * CRLF, Russian headers, weighed goods by their scale item code); the operator
     * syncs from home and, in a receiving document, scans a scale label whose item
     * code only the PLU column names, then a marking code cut short.
     */
    @Test
    fun aScaleLabelFindsGoodsA1cExportListedByTheirScaleCode() {
        val root = tempDir("day-1c")
        val export = "Код;Наименование;Ед. изм.;Весовой;Код весового товара;Штрихкод\r\n" +
            "P7;Колбаса докторская;кг;да;00789;\r\nP4;Туфли женские;шт;нет;;4607000000014\r\n"
        val file = File(root, "Выгрузка.csv").apply { writeBytes(export.toByteArray(charset("windows-1251"))) }
        ServerProcess(File(root, "server")).use { server ->
            val token = server.admin("device", "add", "ТСД-1")
            server.admin("catalog", "publish", file.absolutePath)
            server.start()
            TsdRuntime.open(File(root, "terminal")).use { rt ->
                val nav = Navigator(Day.shell(rt, root))
                nav.open(Route.Settings)
                (nav.screen as SettingsScreen).onServer(server.url, token)
                nav.open(Route.Home)
                (nav.screen as HomeScreen).onSync()
                assertNull((nav.screen as HomeScreen).state.problem)
                nav.open(Route.Tasks("receiving"))
                val id = (nav.screen as TasksScreen).onNew()!!
                nav.open(Route.Document(id))
                val doc = nav.screen as DocumentScreen
                // 22 00789 01250 C: 1.25 kg of the sausage, found by its item code.
                val body = "220078901250"
                val sum = body.reversed().mapIndexed { i, c -> (c - '0') * if (i % 2 == 0) 3 else 1 }.sum()
                nav.onScan(Day.scan(body + ((10 - sum % 10) % 10)))
                assertTrue(doc.state.last!!.accepted, "${doc.state.last}")
                assertEquals("Колбаса докторская", doc.state.last!!.title)
                assertEquals(1250, doc.state.last!!.qtyMilli)
                // A marking code whose crypto signature was cut: refused, saying which part.
                nav.onScan(Day.scan(Day.marking("5Ab7Xz9Qw2Lk9").dropLast(10)))
                val problem = doc.state.problem?.text ?: doc.state.last?.message
                assertNotNull(problem)
                assertTrue("AI 92" in problem!!, problem)
                assertEquals(1250, doc.state.lines.sumOf { it.actualMilli }, "the cut code counted nothing")
            }
        }
    }

    @Test
    fun aFreeDocumentWithCellsUndoSearchAndCorrections() {
        val root = tempDir("day-free")
        TsdRuntime.open(File(root, "terminal")).use { rt ->
            rt.importCatalog(File(root, "catalog.csv").apply { writeText(Day.CATALOG) })
            rt.importCatalog(File(root, "cells.csv").apply { writeText("cell_id,name,barcode\nA-01,Ряд A,CELL-A-01\n") })
            val shell = Day.shell(rt, root)
            val nav = Navigator(shell)
            nav.open(Route.Tasks("transfer"))
            val list = nav.screen as TasksScreen
            assertTrue(list.state.canCreate)
            val id = list.onNew()!!
            nav.open(Route.Document(id))
            val doc = nav.screen as DocumentScreen
            assertTrue(doc.state.cellRequired, "a transfer needs a cell first")
            nav.onScan(Day.scan("4601234567893"))
            assertEquals("Сначала отсканируйте ячейку", doc.state.last!!.message)
            nav.onScan(Day.scan("CELL-A-01"))
            assertEquals("A-01", doc.state.cell)
            assertFalse(doc.state.cellRequired)
            nav.onScan(Day.scan("14601234567890"))
            assertEquals("Коробка 12 шт", doc.state.last!!.packaging)
            assertEquals(12_000, doc.state.last!!.qtyMilli)
            doc.onUndo()
            assertEquals(0, doc.state.lines.sumOf { it.actualMilli })
            doc.onUndo()
            doc.onUndo()
            assertEquals("Отменять нечего.", doc.state.problem?.text)

            // A label that will not scan: search by name, pick, then correct by hand.
            doc.onSearch("кеф")
            assertEquals(listOf("P2"), doc.state.searchResults.map { it.id })
            doc.onPick(doc.state.searchResults.single(), "3")
            assertEquals(3000, doc.state.lines.single { it.productId == "P2" }.actualMilli)
            doc.onSetQuantity("P2", "2")
            assertEquals(2000, doc.state.lines.single { it.productId == "P2" }.actualMilli)
            assertEquals(LineMark.COUNTED, doc.state.lines.single().mark)

            // A bad code is text to act on, not a crash.
            nav.onScan(Day.scan("4601234567890"))
            assertTrue(doc.state.problem!!.text.startsWith("Штрихкод не распознан"), doc.state.problem!!.text)

            // Product info from the list: scan or search.
            nav.open(Route.Product)
            nav.onScan(Day.scan("14601234567890"))
            val info = nav.screen as ProductScreen
            assertEquals("Молоко 3.2%", info.state.product?.name)
            assertEquals("device", info.state.source)
            assertTrue("4601234567893" to "шт" in info.state.barcodes, "${info.state.barcodes}")
            assertTrue("14601234567890" to "Коробка 12 шт" in info.state.barcodes)
            nav.onScan(Day.scan("4600000000008"))
            assertNotNull(info.state.problem)
        }
    }
}
