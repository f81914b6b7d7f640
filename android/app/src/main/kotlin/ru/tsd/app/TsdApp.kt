package ru.tsd.app

import android.app.Application
import android.content.Context
import android.content.SharedPreferences
import ru.tsd.runtime.ScannerProfile
import ru.tsd.runtime.ServerSettings
import ru.tsd.runtime.ShellConfig
import ru.tsd.runtime.SyncPolicy
import ru.tsd.runtime.SyncProgressListener
import ru.tsd.runtime.SyncReport
import ru.tsd.runtime.RuntimeSyncTarget
import ru.tsd.runtime.TsdRuntime
import java.io.File
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Holds the one runtime of the process, the background executor every native call
 * runs on, the settings, and the sync trigger policy. The activity, the scanner
 * receiver, the network callback and the periodic job all go through it.
 */
class TsdApp : Application() {
    /** Opened on first use; [onCreate] starts that on the I/O thread, not the main one. */
    val runtime: TsdRuntime by lazy { TsdRuntime.open(File(filesDir, "tsd")) }
    /** Native calls never run on the main thread. */
    val io: ExecutorService = Executors.newSingleThreadExecutor { r -> Thread(r, "tsd-io") }
    private val syncExecutor: ExecutorService = Executors.newSingleThreadExecutor { r -> Thread(r, "tsd-sync") }
    lateinit var settings: Settings
        private set
    val sync: SyncPolicy by lazy {
        val progress = SyncProgressListener { step, done, total -> progressListener?.onProgress(step, done, total) }
        SyncPolicy(RuntimeSyncTarget({ runtime }, { settings.server() }, progress), syncExecutor) { r ->
            refreshShellConfig() // a sync may have brought a new configuration
            syncListener?.invoke(r)
        }
    }
    /** The shell's part of the configuration in force; null until the runtime has opened. */
    @Volatile var shell: ShellConfig? = null
        private set

    /** Re-reads [shell] from the runtime and reschedules the periodic sync to match. Call on [io] or the sync thread. */
    fun refreshShellConfig() {
        val config = runCatching { runtime.shellConfig() }.getOrNull() ?: return
        val changed = config.periodicSyncMinutes != shell?.periodicSyncMinutes
        shell = config
        if (changed) SyncJobService.schedule(this, config.periodicSyncMinutes)
    }

    /** Who hears sync results (the visible activity), if anyone. */
    @Volatile var syncListener: ((Result<SyncReport>) -> Unit)? = null
    /** Who hears sync progress (step, done, total), if anyone; called on the sync thread. */
    @Volatile var progressListener: SyncProgressListener? = null

    override fun onCreate() {
        super.onCreate()
        settings = Settings(getSharedPreferences("tsd", Context.MODE_PRIVATE))
        io.execute { refreshShellConfig() } // opens the data folder off the main thread
        NetworkWatcher.register(this)
        SyncJobService.schedule(this, settings.syncMinutes)
    }
}

/** The settings screen's values. */
class Settings(private val prefs: SharedPreferences) {
    var serverUrl: String
        get() = prefs.getString("server_url", "") ?: ""
        set(v) = prefs.edit().putString("server_url", v).apply()
    var token: String
        get() = prefs.getString("token", "") ?: ""
        set(v) = prefs.edit().putString("token", v).apply()
    var exchangeFolder: String
        get() = prefs.getString("exchange_folder", "") ?: ""
        set(v) = prefs.edit().putString("exchange_folder", v).apply()
    var scannerProfile: String
        get() = prefs.getString("scanner_profile", ScannerProfile.ZEBRA.id) ?: ScannerProfile.ZEBRA.id
        set(v) = prefs.edit().putString("scanner_profile", v).apply()
    /** The server's name of the label printer next to this terminal. */
    var printer: String
        get() = prefs.getString("printer", "") ?: ""
        set(v) = prefs.edit().putString("printer", v).apply()
    var syncMinutes: Int
        get() = prefs.getInt("sync_minutes", 15)
        set(v) = prefs.edit().putInt("sync_minutes", v).apply()

    fun server() = ServerSettings(serverUrl, token)

    fun profile(): ScannerProfile = ScannerProfile.BUILT_IN.firstOrNull { it.id == scannerProfile } ?: ScannerProfile.ZEBRA
}
