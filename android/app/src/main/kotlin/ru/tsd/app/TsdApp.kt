package ru.tsd.app

import android.app.Application
import ru.tsd.runtime.TsdRuntime
import ru.tsd.screens.Navigator
import ru.tsd.screens.Problem
import ru.tsd.screens.SerialIntents
import ru.tsd.screens.Shell
import ru.tsd.screens.problemOf
import java.io.File
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Holds the process's one runtime (inside the [Shell]), the I/O thread every
 * native call runs on, the serial intent queue, and the [Navigator]. Everything the
 * app keeps lives in the runtime's journal; this class keeps nothing of its own.
 */
class TsdApp : Application() {
    /** Native calls never run on the main thread. */
    val io: ExecutorService = Executors.newSingleThreadExecutor { r -> Thread(r, "tsd-io") }
    private val syncExecutor: ExecutorService = Executors.newSingleThreadExecutor { r -> Thread(r, "tsd-sync") }

    /** The operator's intents, one at a time in order, on [io]. */
    val intents = SerialIntents(io)

    /** The shell, or why it could not open (a damaged library or data folder). Opened on [io]. */
    private val opened: Result<Pair<Shell, Navigator>> by lazy {
        try {
            val runtime = TsdRuntime.open(File(filesDir, "tsd"))
            val exchange = File(getExternalFilesDir(null) ?: filesDir, Shell.EXCHANGE_DIR)
            val shell = Shell(runtime, exchange, syncExecutor)
            Result.success(shell to Navigator(shell))
        } catch (e: Exception) {
            Result.failure(e)
        }
    }

    /** The shell; null when it could not open ([broken] says why). Call on [io]. */
    val shell: Shell? get() = opened.getOrNull()?.first
    val navigator: Navigator? get() = opened.getOrNull()?.second

    /** Why the app cannot work, or null. Call on [io]. */
    val broken: Problem? get() = opened.exceptionOrNull()?.let(::problemOf)

    override fun onCreate() {
        super.onCreate()
        io.execute {
            val shell = shell ?: return@execute
            // Whatever a sync brought (a new configuration) reschedules the periodic job.
            shell.onSynced { io.execute { SyncJobService.schedule(this, runCatching { shell.runtime.shellConfig().periodicSyncMinutes }.getOrDefault(15)) } }
            SyncJobService.schedule(this, runCatching { shell.runtime.shellConfig().periodicSyncMinutes }.getOrDefault(15))
        }
        NetworkWatcher.register(this)
    }
}
