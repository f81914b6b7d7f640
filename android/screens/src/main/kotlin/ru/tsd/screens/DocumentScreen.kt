package ru.tsd.screens

import ru.tsd.runtime.BarcodeException
import ru.tsd.runtime.Document
import ru.tsd.runtime.Line
import ru.tsd.runtime.Product
import ru.tsd.runtime.ScanResult
import ru.tsd.runtime.ScannedCode

/** How a line stands against its plan; shown with a sign as well as a colour. */
enum class LineMark(val sign: String, val word: String) {
    /** Planned and done exactly. */
    DONE("✓", "выполнено"),

    /** Less than planned. */
    UNDER("−", "недобор"),

    /** More than planned. */
    OVER("+", "излишек"),

    /** Counted, but the task does not list it. */
    NOT_IN_PLAN("!", "нет в задании"),

    /** A free document's line: no plan to compare with. */
    COUNTED("", ""),
}

/** One line of the document as shown. */
data class LineView(
    val productId: String?,
    /** The code of goods the catalog does not know. */
    val raw: String?,
    val title: String,
    val plannedMilli: Long?,
    val actualMilli: Long,
    val mark: LineMark,
) {
    /** "5 / 12" for a planned line, "5" otherwise. */
    val quantityText: String get() = plannedMilli?.let { "${formatQty(actualMilli)} / ${formatQty(it)}" } ?: formatQty(actualMilli)
}

/** The last scan, shown large. */
data class LastScan(
    val code: String,
    /** Product name, cell, or the code itself. */
    val title: String,
    /** The scanned packaging's name ("Коробка 12 шт"), if not the base unit. */
    val packaging: String?,
    /** What this scan added (thousandths). */
    val qtyMilli: Long,
    /** The line's actual and planned quantity after it. */
    val actualMilli: Long,
    val plannedMilli: Long?,
    /** False when a rule refused it (shown in red with a tone and vibration). */
    val accepted: Boolean,
    /** The refusal or note in words. */
    val message: String?,
    /** `device`, `cache` or `server`. */
    val source: String,
)

/** Something the screen asks before it can store a scan. */
sealed class Prompt {
    /** A quantity for [code]: the type asks for one, or the goods are weighed. */
    data class Quantity(val code: String, val question: String) : Prompt()

    /** The discrepancies to confirm before completing. */
    data class Complete(val discrepancies: List<LineView>) : Prompt()
}

/** A beep and buzz (or not) the Activity plays once per [seq]. */
data class Signal(val seq: Int, val error: Boolean)

/** What the document screen shows. */
data class DocumentState(
    val id: String,
    val number: String = "",
    val typeName: String = "",
    val isTask: Boolean = false,
    val completed: Boolean = false,
    val lines: List<LineView> = emptyList(),
    /** The cell in force, for types that need one. */
    val cell: String? = null,
    val cellRequired: Boolean = false,
    val last: LastScan? = null,
    val prompt: Prompt? = null,
    val searchResults: List<Product> = emptyList(),
    /** What just happened, when it is not a scan ("Документ завершён…"). */
    val message: String? = null,
    val problem: Problem? = null,
    val signal: Signal = Signal(0, false),
)

/**
 * One document: lines planned against actual, the last scan large, quantity and
 * cell prompts, undo, manual quantity, search when a label cannot be scanned, and
 * completion with a confirmation that lists the discrepancies. Every action is
 * stored by the runtime before the state changes; the state is rebuilt from the
 * journal, so a new holder on the same runtime (after process death) shows the
 * same document.
 */
class DocumentScreen(private val shell: Shell, val docId: String) : Screen<DocumentState>(DocumentState(docId)) {
    private val rt = shell.runtime
    private var signals = 0

    /** Re-reads the document. */
    fun refresh() = rebuild(state)

    /** A scan from the scanner or the keyboard wedge. */
    fun onScan(code: ScannedCode) {
        // The runtime decides whether a quantity is needed (the type asks for one, or
        // weighed goods came without a weight): nothing is stored until it is given.
        attempt { store(code.raw, null) }.onFailure(::fail)
    }

    /** The quantity asked for by [Prompt.Quantity], as typed. */
    fun onQuantity(text: String) {
        val prompt = state.prompt as? Prompt.Quantity ?: return
        val qty = parseQty(text)
        if (qty == null) {
            publish(state.copy(problem = Problem("Введите положительное число, например 2 или 1,5", false), signal = signal(true)))
            return
        }
        attempt { store(prompt.code, qty) }.onFailure(::fail)
    }

    /** Drops a prompt: nothing was stored for it. */
    fun onCancelPrompt() = publish(state.copy(prompt = null, problem = null))

    /** Undoes the latest scan or correction in force. */
    fun onUndo() {
        attempt { rt.undo(docId) }
            .onSuccess { rebuild(state.copy(last = null, message = "Последнее сканирование отменено", problem = null)) }
            .onFailure(::fail)
    }

    /** Sets a line's actual quantity by hand (a correction entry in the journal). */
    fun onSetQuantity(productId: String, text: String) {
        val qty = if (text.trim() == "0") 0L else parseQty(text)
        if (qty == null) {
            publish(state.copy(problem = Problem("Введите количество: 0 или положительное число", false), signal = signal(true)))
            return
        }
        attempt { rt.setQuantity(docId, productId, qty) }
            .onSuccess { rebuild(state.copy(message = "Количество исправлено: ${formatQty(qty)}", problem = null)) }
            .onFailure(::fail)
    }

    /** Search by name or article when a label cannot be scanned. */
    fun onSearch(text: String) {
        attempt { if (text.isBlank()) emptyList() else rt.search(text, 20) }
            .onSuccess { publish(state.copy(searchResults = it, problem = if (it.isEmpty()) Problem("Ничего не найдено: «$text»", false) else null)) }
            .onFailure(::fail)
    }

    /**
     * Adds [product] found by search: as a scan of its own base-unit barcode, so
     * the type's rules (over-scan, plan, cell) apply as to any scan; a product with
     * no barcode gets a correction entry instead. Weighed goods ask for the weight.
     */
    fun onPick(product: Product, qtyText: String = "1") {
        val qty = parseQty(qtyText) ?: run {
            publish(state.copy(problem = Problem("Введите положительное число", false), signal = signal(true)))
            return
        }
        attempt {
            val barcode = rt.productCard(product.id)?.barcodes?.firstOrNull { it.second == null }?.first
            if (barcode != null) {
                store(barcode, qty)
            } else {
                val actual = rt.document(docId).lines.firstOrNull { it.productId == product.id }?.actualMilli ?: 0
                rt.setQuantity(docId, product.id, actual + qty)
                rebuild(state.copy(searchResults = emptyList(), message = "${product.name}: +${formatQty(qty)} (вручную)", problem = null))
            }
        }.onFailure(::fail)
    }

    /** "Complete": asks for confirmation, listing the discrepancies (or completes at once when there are none and the configuration does not ask). */
    fun onComplete() {
        attempt {
            val discrepancies = state.lines.filter { it.mark == LineMark.UNDER || it.mark == LineMark.OVER || it.mark == LineMark.NOT_IN_PLAN }
            if (discrepancies.isEmpty() && !rt.shellConfig().confirmComplete) confirmComplete() else publish(state.copy(prompt = Prompt.Complete(discrepancies), problem = null))
        }.onFailure(::fail)
    }

    /** The operator confirmed: the document is frozen and queued for sending. */
    fun onConfirmComplete() {
        if (state.prompt !is Prompt.Complete) return
        attempt { confirmComplete() }.onFailure(::fail)
    }

    private fun confirmComplete() {
        rt.complete(docId)
        val how = when (shell.mode) {
            Mode.SERVER -> "уйдёт на сервер при синхронизации"
            Mode.FOLDER -> "уйдёт в папку обмена при синхронизации"
        }
        rebuild(state.copy(prompt = null, message = "Документ завершён и поставлен в очередь: $how", problem = null))
    }

    private fun store(raw: String, qty: Long?) {
        val r = rt.scan(docId, raw, qty)
        if (r.status == "need_quantity") {
            val question = if (r.weighed) "введите вес, кг" else "введите количество"
            rebuild(state.copy(prompt = Prompt.Quantity(raw, "${r.name ?: "Товар"}: $question"), problem = null))
            return
        }
        rebuild(state.copy(last = lastOf(raw, r), prompt = null, searchResults = emptyList(), message = null, problem = null, signal = signal(r.status == "refused")))
    }

    private fun lastOf(raw: String, r: ScanResult): LastScan {
        val packaging = r.packagingId?.let { id -> r.productId?.let { rt.productCard(it) }?.packagings?.firstOrNull { it.id == id }?.name ?: id }
        val note = when {
            r.status == "cell" -> "ячейка"
            r.status == "refused" -> refusal(r.violation, r.message)
            !r.found && r.serverUnreachable != null -> "не найден: сервер недоступен — записан по коду"
            !r.found -> "нет в справочнике — записан по коду"
            else -> null
        }
        val title = when {
            r.status == "cell" -> "Ячейка ${raw.trim()}"
            else -> r.name ?: r.productId ?: raw
        }
        return LastScan(raw, title, packaging, r.qtyMilli, r.actualMilli, r.plannedMilli, r.status != "refused", note, r.source)
    }

    private fun fail(e: Throwable) {
        val problem = if (e is BarcodeException) Problem("Штрихкод не распознан: ${e.message}", false) else problemOf(e)
        publish(state.copy(problem = problem, signal = signal(true)))
    }

    private fun signal(error: Boolean) = Signal(++signals, error)

    private fun rebuild(base: DocumentState) {
        attempt {
            val doc = rt.document(docId)
            val type = rt.documentTypes().firstOrNull { it.id == doc.header.type }
            base.copy(
                number = doc.header.number,
                typeName = type?.name ?: doc.header.type,
                isTask = doc.header.origin == "task",
                completed = doc.header.status == "completed",
                lines = lines(doc),
                cell = doc.cell,
                cellRequired = type?.requireCell == true && doc.cell == null,
            )
        }.onSuccess(::publish).onFailure { publish(base.copy(problem = problemOf(it))) }
    }

    companion object {
        /** The operator's words for a refusal. */
        fun refusal(violation: String?, fallback: String?): String = when (violation) {
            "overscan" -> "Больше, чем по заданию"
            "not_in_plan" -> "Этого товара нет в задании"
            "duplicate_mark" -> "Эта марка уже отсканирована"
            "cell_required" -> "Сначала отсканируйте ячейку"
            "unknown_product" -> "Товара нет в справочнике"
            "marked_quantity" -> "Маркированный товар — только по одной штуке"
            "gs1_rules" -> "Код нарушает правила GS1 (нет обязательного AI или недопустимое сочетание)"
            "weight_label_for_piece" -> "Весовая этикетка, а товар штучный"
            else -> fallback ?: "Отклонено"
        }

        fun lines(doc: Document): List<LineView> {
            val task = doc.header.origin == "task"
            return doc.lines.map { l -> LineView(l.productId, l.raw, l.name ?: l.productId ?: l.raw ?: "?", l.plannedMilli, l.actualMilli, mark(task, l)) }
        }

        private fun mark(task: Boolean, l: Line): LineMark {
            if (!task) return LineMark.COUNTED
            val planned = l.plannedMilli ?: return if (l.actualMilli != 0L) LineMark.NOT_IN_PLAN else LineMark.COUNTED
            return when {
                l.actualMilli < planned -> LineMark.UNDER
                l.actualMilli > planned -> LineMark.OVER
                else -> LineMark.DONE
            }
        }
    }
}
