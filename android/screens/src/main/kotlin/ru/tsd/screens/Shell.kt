package ru.tsd.screens

import ru.tsd.runtime.FolderReport
import ru.tsd.runtime.InvalidArgumentException
import ru.tsd.runtime.ScannerProfile
import ru.tsd.runtime.SyncPolicy
import ru.tsd.runtime.SyncProgressListener
import ru.tsd.runtime.SyncReport
import ru.tsd.runtime.SyncStatus
import ru.tsd.runtime.SyncTarget
import ru.tsd.runtime.TsdRuntime
import java.io.File
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.Executor

/** How this terminal exchanges with the accounting system. */
enum class Mode(val key: String, val title: String) {
    /** Over HTTP(S) with `tsd-server`. */
    SERVER("server", "Сервер"),

    /** Through the exchange folder a PC fills over a USB cable or RDP. */
    FOLDER("folder", "Папка обмена");

    companion object {
        fun of(key: String?): Mode = entries.firstOrNull { it.key == key } ?: SERVER
    }
}

/** A sync that ran: what the operator is told about it. */
data class SyncOutcome(
    val mode: Mode,
    /** Documents handed over now. */
    val sent: Int,
    /** Documents still waiting. */
    val waiting: Int,
    /** Catalog packages or versions taken. */
    val catalogVersion: Long,
    val tasksAdded: Int,
    val configApplied: Long?,
    /** Files the folder sync refused, "name: reason". */
    val rejected: List<String>,
) {
    companion object {
        fun of(r: SyncReport) = SyncOutcome(Mode.SERVER, r.pushed.size, r.waiting, r.catalogVersion, r.tasksAdded, r.configApplied, emptyList())
        fun of(r: FolderReport, catalogVersion: Long) =
            SyncOutcome(Mode.FOLDER, r.pushed.size, r.waiting, catalogVersion, 0, null, r.rejected)
    }
}

/**
 * The app's one runtime and what the shell keeps beside it. Every value the shell
 * needs after a restart — the screen in use, the sync mode, the exchange folder,
 * the scanner profile, the printer — is kept **in the runtime's journal**
 * ([TsdRuntime.shellValue]), never only in memory and never in a second store:
 * killing the process loses nothing, and the device token stays in the runtime
 * alone. Syncs go through one [SyncPolicy] (button, network back, periodic job),
 * in the mode in force.
 *
 * [defaultFolder] is the app's exchange folder on shared storage, the one
 * `tsd exchange usb` reaches over adb (`/sdcard/Android/data/ru.tsd.app/files/exchange`).
 */
class Shell(
    val runtime: TsdRuntime,
    val defaultFolder: File,
    syncExecutor: Executor,
    /** The clock the screens show times against (tests pass their own). */
    val clock: () -> Long = System::currentTimeMillis,
) {
    private val syncListeners = CopyOnWriteArrayList<(Result<SyncOutcome>) -> Unit>()
    private val progressListeners = CopyOnWriteArrayList<SyncProgressListener>()

    /** The sync trigger policy every trigger goes through. */
    val sync = SyncPolicy(ModeSyncTarget(), syncExecutor) { result -> syncListeners.forEach { it(result) } }

    /** How the terminal syncs. */
    var mode: Mode
        get() = Mode.of(runtime.shellValue(MODE))
        set(value) = runtime.setShellValue(MODE, value.key)

    /** The exchange folder in folder mode. */
    var folder: File
        get() = runtime.shellValue(FOLDER)?.let(::File) ?: defaultFolder
        set(value) = runtime.setShellValue(FOLDER, value.path)

    /** The built-in scanner profile chosen in the settings. */
    var scannerProfileId: String
        get() = runtime.shellValue(SCANNER) ?: ScannerProfile.ZEBRA.id
        set(value) = runtime.setShellValue(SCANNER, value)

    /** The server's name of the label printer beside this terminal, or empty. */
    var printer: String
        get() = runtime.shellValue(PRINTER).orEmpty()
        set(value) = runtime.setShellValue(PRINTER, value.ifBlank { null })

    /**
     * Every scanner profile whose broadcasts the app takes: the one chosen, then the
     * configuration's own (so a site-specific service works without a new app),
     * then the other built-in ones. One receiver is registered for all their actions.
     */
    fun scannerProfiles(): List<ScannerProfile> {
        val chosen = ScannerProfile.BUILT_IN.firstOrNull { it.id == scannerProfileId } ?: ScannerProfile.ZEBRA
        return (listOf(chosen) + runtime.shellConfig().scannerProfiles + ScannerProfile.BUILT_IN).distinct()
    }

    /** Hears every sync's result (on the sync thread). */
    fun onSynced(listener: (Result<SyncOutcome>) -> Unit): AutoCloseable {
        syncListeners += listener
        return AutoCloseable { syncListeners -= listener }
    }

    /** Hears sync progress (on the sync thread). */
    fun onProgress(listener: SyncProgressListener): AutoCloseable {
        progressListeners += listener
        return AutoCloseable { progressListeners -= listener }
    }

    internal fun route(): String? = runtime.shellValue(ROUTE)
    internal fun keepRoute(route: String) = runtime.setShellValue(ROUTE, route)

    /** The sync target of the mode in force when the sync starts. */
    private inner class ModeSyncTarget : SyncTarget<SyncOutcome> {
        private val progress = SyncProgressListener { step, done, total -> progressListeners.forEach { it.onProgress(step, done, total) } }

        override fun sync(): SyncOutcome = when (mode) {
            Mode.SERVER -> SyncOutcome.of(runtime.sync(progress))
            Mode.FOLDER -> {
                val root = folder
                if (!root.isDirectory && !root.mkdirs()) {
                    throw InvalidArgumentException("invalid_argument", "папка обмена $root недоступна: проверьте её в настройках")
                }
                val report = runtime.syncFolderReport(root)
                SyncOutcome.of(report, runtime.syncStatus().catalogVersion)
            }
        }

        override fun status(): SyncStatus = runtime.syncStatus()
        override fun due(): Boolean = runtime.syncDue()
    }

    companion object {
        /** The exchange folder's name under the app's external files folder. */
        const val EXCHANGE_DIR = "exchange"
        private const val MODE = "mode"
        private const val FOLDER = "folder"
        private const val SCANNER = "scanner"
        private const val PRINTER = "printer"
        private const val ROUTE = "route"
    }
}
