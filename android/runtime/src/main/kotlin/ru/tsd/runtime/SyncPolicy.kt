package ru.tsd.runtime

import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicBoolean

/** What the policy drives: the runtime in one sync mode, or a stand-in in tests. [R] is what one sync reports. */
interface SyncTarget<R> {
    /** One sync; throws on failure. */
    fun sync(): R
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
) : SyncTarget<SyncReport> {
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
 *
 * A trigger may pass `done`, called once when the sync it started has ended (a
 * `JobService` holds its job until then); when the trigger starts nothing, `done`
 * is not called and the trigger returns false. Every failure — a runtime error or
 * anything else thrown — ends as a failed [Result], never as an exception on the
 * sync thread (which would end the process).
 */
class SyncPolicy<R>(
    private val target: SyncTarget<R>,
    private val executor: Executor,
    private val onResult: (Result<R>) -> Unit = {},
) {
    private val running = AtomicBoolean(false)

    /** True while a sync runs. */
    val isRunning: Boolean get() = running.get()

    /** The Sync button: sync now. Returns false if one is already running. */
    fun onSyncButton(done: ((Result<R>) -> Unit)? = null): Boolean = start(done)

    /** A validated network came back: sync if anything waits or the last attempt failed. */
    fun onNetworkAvailable(done: ((Result<R>) -> Unit)? = null): Boolean {
        val s = target.status()
        return if (s.waiting > 0 || s.lastError != null) start(done) else false
    }

    /** The periodic job: sync when the core's schedule says an attempt is due. */
    fun onPeriodicTick(done: ((Result<R>) -> Unit)? = null): Boolean = if (target.due()) start(done) else false

    private fun start(done: ((Result<R>) -> Unit)?): Boolean {
        if (!running.compareAndSet(false, true)) return false
        try {
            executor.execute {
                val result = try {
                    Result.success(target.sync())
                } catch (e: Exception) {
                    Result.failure(e)
                } finally {
                    running.set(false)
                }
                try {
                    onResult(result)
                } finally {
                    done?.invoke(result)
                }
            }
        } catch (e: RuntimeException) {
            running.set(false)
            throw e
        }
        return true
    }
}
