package ru.tsd.screens

import ru.tsd.runtime.BarcodeException
import ru.tsd.runtime.Packaging
import ru.tsd.runtime.Product
import ru.tsd.runtime.ScannedCode

/** What the product-info screen shows. */
data class ProductState(
    val query: String = "",
    val results: List<Product> = emptyList(),
    val product: Product? = null,
    val packagings: List<Packaging> = emptyList(),
    /** Barcode → packaging name ("шт" for the base unit). */
    val barcodes: List<Pair<String, String>> = emptyList(),
    /** Where the product came from: `device`, `cache` or `server`. */
    val source: String? = null,
    /** What just happened ("Этикетка в очереди…"). */
    val message: String? = null,
    val problem: Problem? = null,
)

/** Product info: scan or search → product, packagings, barcodes, and where the answer came from. */
class ProductScreen(private val shell: Shell) : Screen<ProductState>(ProductState()) {
    private val rt = shell.runtime

    fun onScan(code: ScannedCode) {
        attempt {
            val r = rt.resolve(code.raw)
            val p = r.product
            when {
                r.errorCode != null -> publish(ProductState(query = code.raw, problem = Problem("Штрихкод не распознан (${r.errorCode})", false)))
                p == null -> publish(
                    ProductState(
                        query = code.raw,
                        problem = Problem(if (r.serverUnreachable != null) "Не найден: сервер недоступен" else "Товара с кодом ${code.raw} нет в справочнике", r.serverUnreachable != null),
                    ),
                )
                else -> show(p, r.source, code.raw)
            }
        }.onFailure { publish(state.copy(problem = if (it is BarcodeException) Problem("Штрихкод не распознан: ${it.message}", false) else problemOf(it))) }
    }

    fun onSearch(text: String) {
        attempt { if (text.isBlank()) emptyList() else rt.search(text, 30) }
            .onSuccess { publish(ProductState(query = text, results = it, problem = if (it.isEmpty()) Problem("Ничего не найдено: «$text»", false) else null)) }
            .onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    /** A price label for the product shown, on the server's printer beside this terminal; it goes with the sync started now. */
    fun onPrintLabel() {
        val code = state.barcodes.firstOrNull()?.first ?: return publish(state.copy(problem = Problem("Сначала найдите товар", false)))
        val printer = shell.printer.ifEmpty { return publish(state.copy(problem = Problem("Укажите принтер этикеток в настройках", false))) }
        attempt { rt.printLabel(printer, code) }
            .onSuccess { shell.sync.onSyncButton(); publish(state.copy(message = "Этикетка в очереди на $printer", problem = null)) }
            .onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    /** A product picked from the search results. */
    fun onOpen(product: Product) {
        attempt { show(product, "device", state.query) }.onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    private fun show(p: Product, source: String, query: String) {
        val card = rt.productCard(p.id)
        val names = card?.packagings?.associate { it.id to it.name }.orEmpty()
        publish(
            ProductState(
                query = query,
                product = card?.product ?: p,
                packagings = card?.packagings.orEmpty(),
                barcodes = card?.barcodes?.map { (code, packaging) -> code to (packaging?.let { names[it] ?: it } ?: p.unit.ifEmpty { "шт" }) }.orEmpty(),
                source = source,
            ),
        )
    }
}
