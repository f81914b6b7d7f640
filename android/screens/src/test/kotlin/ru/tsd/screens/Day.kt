package ru.tsd.screens

import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.TsdRuntime
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * An operator's working day, shared by both modes: a picking task with milk (2),
 * kefir (1), cheese by weight (1.5 kg) and marked shoes (2). Codes are those of
 * the core's own document tests (check digits valid, a marking code with its
 * crypto tail).
 */
object Day {
    const val CATALOG = """product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode
P1,A-1,Молоко 3.2%,шт,0,0,,,,4601234567893
P1,A-1,Молоко 3.2%,шт,0,0,box,Коробка 12 шт,12,14601234567890
P2,A-2,Кефир 1%,шт,0,0,,,,4601234567909
P3,A-3,Сыр Российский,кг,1,0,,,,2200123000002
P4,A-4,Туфли женские,шт,0,1,,,,4607000000014
"""
    const val TASK_ID = "ОТ-7"
    const val TASKS =
        """{"id":"$TASK_ID","type":"picking","number":"ОТ-7","lines":[{"product":"P1","qty":2},{"product":"P2","qty":1},{"product":"P3","qty":1.5},{"product":"P4","qty":2}]}""" + "\n"
    private const val CRYPTO = "MEUCIQDa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ+/"

    fun marking(serial: String) = "]d20104607000000014" + "21$serial\u001D91EE06\u001D92${CRYPTO.take(44)}"

    /** 1.25 kg of cheese on a scale label (prefix 22, item 00123, 01250 g). */
    val WEIGHT_LABEL = withCheck("220012301250")

    private fun withCheck(body: String): String {
        val sum = body.reversed().mapIndexed { i, c -> (c - '0') * if (i % 2 == 0) 3 else 1 }.sum()
        return body + ((10 - sum % 10) % 10)
    }

    fun scan(raw: String) = ScannedCode(raw, null)

    /** From the operation list to a completed task, as the operator does it; returns the document screen. */
    fun work(shell: Shell, nav: Navigator): DocumentScreen {
        nav.open(Route.Home)
        val home = nav.screen as HomeScreen
        val picking = home.state.operations.single { it.type == "picking" }
        assertEquals("Отбор", picking.name)
        assertEquals(1, picking.openTasks, "${home.state}")
        assertFalse(picking.canCreate, "picking comes only as tasks")

        nav.open(Route.Tasks("picking"))
        val tasks = nav.screen as TasksScreen
        val item = tasks.state.items.single()
        assertEquals(TASK_ID, item.id)
        assertEquals("0 из 4 строк", item.progressText)
        assertFalse(tasks.state.canCreate)

        nav.open(Route.Document(item.id))
        val doc = nav.screen as DocumentScreen
        assertEquals(4, doc.state.lines.size)
        assertTrue(doc.state.lines.all { it.mark == LineMark.UNDER })

        // Milk: two fit the plan, the third is refused as an over-scan, in red with a signal.
        repeat(2) { nav.onScan(scan("]E04601234567893")) }
        assertTrue(doc.state.last!!.accepted)
        assertEquals("Молоко 3.2%", doc.state.last!!.title)
        assertEquals(LineMark.DONE, doc.state.line("P1").mark)
        val before = doc.state.signal.seq
        nav.onScan(scan("4601234567893"))
        assertFalse(doc.state.last!!.accepted)
        assertEquals("Больше, чем по заданию", doc.state.last!!.message)
        assertTrue(doc.state.signal.error && doc.state.signal.seq > before)
        assertEquals(2000, doc.state.line("P1").actualMilli, "a refusal does not count")

        // An unknown code: picking refuses it and says why.
        nav.onScan(scan("]C0NOT-IN-CATALOG"))
        assertFalse(doc.state.last!!.accepted)
        assertEquals("Товара нет в справочнике", doc.state.last!!.message)

        // Cheese: the scale label carries the weight; the plain code asks for it.
        nav.onScan(scan(WEIGHT_LABEL))
        assertEquals(1250, doc.state.last!!.qtyMilli)
        nav.onScan(scan("2200123000002"))
        val ask = doc.state.prompt as Prompt.Quantity
        assertTrue("вес" in ask.question, ask.question)
        doc.onQuantity("abc")
        assertNotNull(doc.state.problem, "not a number: asked again")
        doc.onQuantity("0,25")
        assertEquals(null, doc.state.prompt)
        assertEquals(1500, doc.state.line("P3").actualMilli)
        assertEquals(LineMark.DONE, doc.state.line("P3").mark)

        // Shoes: one marked pair, the same code again is refused, a second pair counts.
        nav.onScan(scan(marking("5Ab7Xz9Qw2Lk9")))
        assertTrue(doc.state.last!!.accepted)
        nav.onScan(scan(marking("5Ab7Xz9Qw2Lk9")))
        assertEquals("Эта марка уже отсканирована", doc.state.last!!.message)
        nav.onScan(scan(marking("6Cd8Yz0Rx3Mn1")))
        assertEquals(LineMark.DONE, doc.state.line("P4").mark)

        // Kefir was not found on the shelf: completing lists it as a discrepancy.
        doc.onComplete()
        val confirm = doc.state.prompt as Prompt.Complete
        assertEquals(listOf("P2"), confirm.discrepancies.map { it.productId })
        assertEquals(LineMark.UNDER, confirm.discrepancies.single().mark)
        doc.onConfirmComplete()
        assertTrue(doc.state.completed)
        assertTrue(doc.state.message!!.startsWith("Документ завершён"), doc.state.message)
        return doc
    }

    fun DocumentState.line(product: String) = lines.single { it.productId == product }

    /** The document as it left the terminal: every journal entry of the day, in order. */
    fun checkSent(document: JSONObject) {
        val scans = document.getJSONArray("scans")
        val kinds = List(scans.length()) { scans.getJSONObject(it).getString("kind") }
        // 2 milk + 1 refused milk + 1 refused unknown + 2 cheese + 3 shoes (1 refused) + complete.
        assertEquals(listOf("scan", "scan", "refused", "refused", "scan", "scan", "scan", "refused", "scan", "complete"), kinds)
        val raws = List(scans.length()) { scans.getJSONObject(it).optString("raw") }
        assertEquals(WEIGHT_LABEL, raws[4])
        assertEquals("]C0NOT-IN-CATALOG", raws[3])
    }

    /** Runs the `tsd` desktop command (the PC side of the exchange folder). */
    fun tsd(vararg args: String): String {
        val bin = System.getProperty("tsd.cli.bin") ?: error("set -Dtsd.cli.bin")
        val p = ProcessBuilder(listOf(bin) + args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS)) { "tsd ${args.toList()} did not finish" }
        return out
    }

    fun jsonLines(file: File): List<JSONObject> = file.readLines().filter { it.isNotBlank() }.map(::JSONObject)

    fun stored(array: String): List<JSONObject> = JSONArray(array).let { a -> List(a.length()) { a.getJSONObject(it) } }

    fun shell(rt: TsdRuntime, root: File, clock: () -> Long = System::currentTimeMillis) =
        Shell(rt, File(root, "exchange"), { it.run() }, clock)
}
