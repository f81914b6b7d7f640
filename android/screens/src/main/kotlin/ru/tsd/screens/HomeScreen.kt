package ru.tsd.screens

import ru.tsd.runtime.DocumentHeader
import ru.tsd.runtime.SyncStatus

/** One operation on the home screen: a document type of the configuration in force. */
data class Operation(
    val type: String,
    val name: String,
    /** Task documents of this type not yet completed. */
    val openTasks: Int,
    /** Documents of this type started on the terminal and not yet completed. */
    val openFree: Int,
    /** The operator may start one without a task. */
    val canCreate: Boolean,
)

/** The sync state in one line, and whether it is good news. */
data class SyncLine(val text: String, val ok: Boolean, val waiting: Int)

/** Sync progress: the step and how far it is (total 0: unknown). */
data class SyncProgress(val step: String, val done: Long, val total: Long)

/** What the home screen shows. */
data class HomeState(
    val operations: List<Operation> = emptyList(),
    val sync: SyncLine = SyncLine("", true, 0),
    val syncing: Boolean = false,
    val progress: SyncProgress? = null,
    val mode: Mode = Mode.SERVER,
    /** Where the mode points: the server's address or the exchange folder. */
    val modeTarget: String = "",
    /** The result of the last sync started here, or a problem. */
    val message: String? = null,
    val problem: Problem? = null,
)

/**
 * Home: the operations of the configuration in force with their open tasks, the
 * sync state in one line, the Sync button with its progress, and the mode.
 */
class HomeScreen(private val shell: Shell) : Screen<HomeState>(HomeState()) {
    private val rt = shell.runtime
    private val subscriptions = listOf(
        shell.onSynced { result -> onSyncEnded(result) },
        shell.onProgress { step, done, total -> publish(state.copy(syncing = true, progress = SyncProgress(step, done, total))) },
    )

    /** Re-reads everything from the runtime. */
    fun refresh() {
        attempt {
            val docs = rt.documents()
            val mode = shell.mode
            HomeState(
                operations = rt.documentTypes().map { t ->
                    val open = docs.filter { it.type == t.id && it.status == "open" }
                    Operation(t.id, t.name, open.count(DocumentHeader::isTask), open.count { !it.isTask }, t.allowFree)
                },
                sync = syncLine(rt.syncStatus(), shell.clock()),
                syncing = shell.sync.isRunning,
                progress = state.progress.takeIf { shell.sync.isRunning },
                mode = mode,
                modeTarget = when (mode) {
                    Mode.SERVER -> rt.serverInfo()?.url ?: "сервер не настроен"
                    Mode.FOLDER -> shell.folder.path
                },
                message = state.message,
            )
        }.onSuccess(::publish).onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    /** The Sync button: one sync in the mode in force (dropped while one runs). */
    fun onSync() {
        // Published before the start: the sync may end (and say so) before onSyncButton returns.
        publish(state.copy(syncing = true, progress = null, message = null, problem = null))
        if (!shell.sync.onSyncButton()) publish(state.copy(message = "Синхронизация уже идёт"))
    }

    private fun onSyncEnded(result: Result<SyncOutcome>) {
        val message = result.fold(
            onSuccess = { o ->
                buildList {
                    add(if (o.sent > 0) "Отправлено документов: ${o.sent}" else "Синхронизация выполнена")
                    if (o.tasksAdded > 0) add("новых заданий: ${o.tasksAdded}")
                    o.configApplied?.let { add("конфигурация v$it") }
                    if (o.rejected.isNotEmpty()) add("отклонено: ${o.rejected.joinToString("; ")}")
                }.joinToString(", ")
            },
            onFailure = { null },
        )
        publish(state.copy(syncing = false, progress = null, message = message, problem = result.exceptionOrNull()?.let(::problemOf)))
        refresh()
    }

    /** Stops hearing syncs (the screen is gone). */
    fun close() = subscriptions.forEach { it.close() }

    companion object {
        /** The sync state as one line: synced / N waiting / the last error and when it retries. */
        fun syncLine(s: SyncStatus, now: Long): SyncLine {
            val line = baseLine(s, now)
            if (s.setAsideTasks.isEmpty()) return line
            val tasks = s.setAsideTasks.joinToString("; ") { (id, why) -> "$id: $why" }
            return line.copy(text = "${line.text}; задания не приняты — $tasks")
        }

        private fun baseLine(s: SyncStatus, now: Long): SyncLine {
            val waiting = if (s.waiting > 0) "ждут отправки: ${s.waiting}" else null
            if (s.lastError != null) {
                val minutes = ((s.nextAttemptAt - now).coerceAtLeast(0) + 59_999) / 60_000
                val retry = if (minutes <= 0) "повтор сейчас" else "повтор через $minutes мин"
                return SyncLine(listOfNotNull(waiting, "ошибка: ${s.lastError}", retry).joinToString("; "), false, s.waiting)
            }
            if (waiting != null) return SyncLine(waiting, false, s.waiting)
            val last = s.lastSuccessAt ?: return SyncLine("ещё не синхронизировался", false, 0)
            val ago = (now - last).coerceAtLeast(0) / 60_000
            return SyncLine(if (ago == 0L) "всё отправлено, синхронизирован только что" else "всё отправлено, синхронизирован $ago мин назад", true, 0)
        }
    }
}

/** True for a task from the accounting system. */
val DocumentHeader.isTask: Boolean get() = origin == "task"
