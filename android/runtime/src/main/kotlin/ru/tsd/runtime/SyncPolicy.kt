package ru.tsd.runtime

import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean

/** What the policy drives: the runtime, or a stand-in in tests. */
interface SyncTarget {
    /** One sync; throws on failure. */
    fun sync(): SyncReport
    /** The status the shell shows. */
    fun status(): SyncStatus
    /** True when an automatic sync is due (the core's backoff has passed). */
    fun due(): Boolean
}

/**
 * A [SyncTarget] over a runtime and its server settings. The runtime is asked for
 * on each call, so an app can open it lazily on a background thread.
 */
class RuntimeSyncTarget(
    private val runtime: () -> TsdRuntime,
    private val settings: () -> ServerSettings,
    private val listener: SyncProgressListener? = null,
) : SyncTarget {
    constructor(runtime: TsdRuntime, settings: () -> ServerSettings, listener: SyncProgressListener? = null) :
        this({ runtime }, settings, listener)

    override fun sync() = runtime().sync(settings(), listener)
    override fun status() = runtime().syncStatus()
    override fun due() = runtime().syncDue()
}

/**
 * When to sync — the shell's half of the work; *what* a sync does and the retry
 * schedule belong to the core ([TsdRuntime.syncDue]). Triggers: the Sync button
 * (now), a validated network coming back (now, if anything waits or the last
 * attempt failed), and a periodic tick (if the core says an attempt is due). Never
 * two syncs at once: a trigger while one runs is dropped (the running one will
 * leave the status true).
 */
class SyncPolicy(
    private val target: SyncTarget,
    private val executor: Executor,
    private val onResult: (Result<SyncReport>) -> Unit = {},
) {
    private val running = AtomicBoolean(false)

    /** True while a sync runs. */
    val isRunning: Boolean get() = running.get()

    /** The Sync button: sync now. Returns false if one is already running. */
    fun onSyncButton(): Boolean = start()

    /** A validated network came back: sync if anything waits or the last attempt failed. */
    fun onNetworkAvailable(): Boolean {
        val s = target.status()
        return if (s.waiting > 0 || s.lastError != null) start() else false
    }

    /** The periodic job: sync when the core's schedule says an attempt is due. */
    fun onPeriodicTick(): Boolean = if (target.due()) start() else false

    private fun start(): Boolean {
        if (!running.compareAndSet(false, true)) return false
        try {
            executor.execute {
                val result = try {
                    Result.success(target.sync())
                } catch (e: TsdException) {
                    Result.failure(e)
                } finally {
                    running.set(false)
                }
                onResult(result)
            }
        } catch (e: RuntimeException) {
            running.set(false)
            throw e
        }
        return true
    }
}
