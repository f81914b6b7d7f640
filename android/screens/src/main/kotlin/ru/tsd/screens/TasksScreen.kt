package ru.tsd.screens

/** One document in an operation's list. */
data class TaskItem(
    val id: String,
    val number: String,
    /** A task from the accounting system (else started on the terminal). */
    val isTask: Boolean,
    /** Sum of the planned quantities (thousandths); 0 for a free document. */
    val plannedMilli: Long,
    /** Sum of the actual quantities counted toward the plan (thousandths, capped per line at its plan). */
    val doneMilli: Long,
    /** Lines fully done / lines planned. */
    val linesDone: Int,
    val linesPlanned: Int,
    /** Anything scanned yet. */
    val started: Boolean,
) {
    /** "3 из 5 строк" for a task, "12 строк" for a free document. */
    val progressText: String get() = if (isTask) "$linesDone из $linesPlanned строк" else "строк: $linesDone"
}

/** What an operation's list shows. */
data class TasksState(
    val type: String,
    val name: String = type,
    val items: List<TaskItem> = emptyList(),
    val canCreate: Boolean = false,
    val problem: Problem? = null,
)

/**
 * The documents of one operation: tasks that came by sync and documents in
 * progress (both stay after a restart: they are read from the journal), and "new
 * document" where the type allows free documents.
 */
class TasksScreen(private val shell: Shell, val type: String) : Screen<TasksState>(TasksState(type)) {
    private val rt = shell.runtime

    fun refresh() {
        attempt {
            val docType = rt.documentTypes().firstOrNull { it.id == type }
            val items = rt.documents().filter { it.type == type && it.status == "open" }.map { h ->
                val doc = rt.document(h.id)
                val planned = doc.lines.filter { it.plannedMilli != null }
                if (h.isTask) {
                    TaskItem(
                        h.id, h.number, true,
                        plannedMilli = planned.sumOf { it.plannedMilli ?: 0 },
                        doneMilli = planned.sumOf { minOf(it.actualMilli, it.plannedMilli ?: 0) },
                        linesDone = planned.count { it.actualMilli >= (it.plannedMilli ?: 0) },
                        linesPlanned = planned.size,
                        started = doc.scans > 0,
                    )
                } else {
                    val counted = doc.lines.filter { it.actualMilli != 0L }
                    TaskItem(h.id, h.number, false, 0, counted.sumOf { it.actualMilli }, counted.size, 0, doc.scans > 0)
                }
            }.sortedWith(compareBy({ !it.isTask }, { it.number }))
            TasksState(type, docType?.name ?: type, items, docType?.allowFree == true)
        }.onSuccess(::publish).onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    /** "New document": starts a free document of this type; returns its id, or null with the problem shown. */
    fun onNew(): String? = attempt { rt.newDocument(type).id }
        .onFailure { publish(state.copy(problem = problemOf(it))) }
        .getOrNull()
}
