package ru.tsd.screens

import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.SetupCode
import java.util.ArrayDeque
import java.util.concurrent.Executor

/** Where the operator is. Kept in the runtime's journal as [key]. */
sealed class Route(val key: String) {
    object Home : Route("home")
    data class Tasks(val type: String) : Route("tasks:$type")
    data class Document(val id: String) : Route("doc:$id")
    object Product : Route("product")
    object Settings : Route("settings")

    companion object {
        fun of(key: String?): Route = when {
            key == null -> Home
            key.startsWith("tasks:") -> Tasks(key.removePrefix("tasks:"))
            key.startsWith("doc:") -> Document(key.removePrefix("doc:"))
            key == Product.key -> Product
            key == Settings.key -> Settings
            else -> Home
        }
    }
}

/**
 * The app's screens and which one is in use. The route is kept in the runtime's
 * journal on every move, so after rotation or process death the app opens where
 * the operator was — the same document with its lines, read back from the journal.
 * Scans are routed here: a setup code goes to the settings' confirmation (only the
 * scanner paths the app registered and the keyboard wedge call [onScan]); anything
 * else to the document or product screen in use.
 */
class Navigator(private val shell: Shell) {
    /** The route in use. */
    @Volatile var route: Route = Route.of(runCatching { shell.route() }.getOrNull())
        private set

    /** The holder of the route in use (made on first use, refreshed). */
    @Volatile var screen: Screen<*> = make(route)
        private set

    /** Hears every move (new route and its holder). */
    var onMove: ((Route, Screen<*>) -> Unit)? = null

    /** Opens [to] and keeps it. */
    fun open(to: Route) {
        (screen as? HomeScreen)?.close()
        route = to
        runCatching { shell.keepRoute(to.key) }
        screen = make(to)
        onMove?.invoke(to, screen)
    }

    /** Back: a document → its operation, anything else → home. False at home (the app may close). */
    fun back(): Boolean {
        val to = when (val r = route) {
            Route.Home -> return false
            is Route.Document -> docType(r.id)?.let { Route.Tasks(it) } ?: Route.Home
            else -> Route.Home
        }
        open(to)
        return true
    }

    /** A scan from the scanner or the keyboard wedge. */
    fun onScan(code: ScannedCode) {
        if (SetupCode.looksLike(code.raw)) {
            if (route != Route.Settings) open(Route.Settings)
            (screen as SettingsScreen).onSetupCode(code.raw)
            return
        }
        when (val s = screen) {
            is DocumentScreen -> s.onScan(code)
            is ProductScreen -> s.onScan(code)
            else -> {
                open(Route.Product)
                (screen as ProductScreen).onScan(code)
            }
        }
    }

    private fun docType(id: String): String? = runCatching { shell.runtime.documents().firstOrNull { it.id == id }?.type }.getOrNull()

    private fun make(r: Route): Screen<*> = when (r) {
        Route.Home -> HomeScreen(shell).apply { refresh() }
        is Route.Tasks -> TasksScreen(shell, r.type).apply { refresh() }
        is Route.Document -> DocumentScreen(shell, r.id).apply { refresh() }
        Route.Product -> ProductScreen(shell)
        Route.Settings -> SettingsScreen(shell).apply { refresh() }
    }
}

/**
 * Runs the operator's intents one at a time in the order they came, on any
 * executor: a scan that arrives while the previous one is still being stored waits
 * its turn — never lost, never reordered, never on the main thread.
 */
class SerialIntents(private val executor: Executor) {
    private val queue = ArrayDeque<Runnable>()
    private var active = false

    /** Queues [intent]. */
    fun post(intent: () -> Unit) {
        synchronized(queue) {
            queue.addLast(Runnable(intent))
            if (active) return
            active = true
        }
        executor.execute(::drain)
    }

    private fun drain() {
        while (true) {
            val next = synchronized(queue) {
                queue.pollFirst() ?: run {
                    active = false
                    null
                }
            } ?: return
            try {
                next.run()
            } catch (e: Exception) {
                // Every holder turns failures into state; this only keeps the queue alive.
            }
        }
    }
}
