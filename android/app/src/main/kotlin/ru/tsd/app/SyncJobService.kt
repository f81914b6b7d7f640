package ru.tsd.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context

/**
 * The periodic sync: runs when a network is up and asks the core whether an attempt
 * is due (its backoff decides; this job only knocks). The job is held until the
 * sync it started has ended — the system keeps the device awake for it — and
 * [onStopJob] cancels that sync.
 */
class SyncJobService : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        val app = application as TsdApp
        app.io.execute {
            val shell = app.shell
            val started = shell != null && runCatching { shell.sync.onPeriodicTick { jobFinished(params, false) } }.getOrDefault(false)
            if (!started) jobFinished(params, false)
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        val app = application as TsdApp
        // On the sync thread's side: cancelSync only sets a flag the running sync checks.
        Thread { runCatching { app.shell?.runtime?.cancelSync() } }.start()
        return true
    }

    companion object {
        private const val JOB_ID = 4242

        /**
         * Follows the configuration: 0 minutes is "button and network return only"
         * (no job); otherwise every [minutes], at least the platform's 15.
         */
        fun schedule(context: Context, minutes: Int) {
            val js = context.getSystemService(Context.JOB_SCHEDULER_SERVICE) as JobScheduler
            val period = periodMillis(minutes)
            if (period == null) {
                js.cancel(JOB_ID)
                return
            }
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, SyncJobService::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .setPeriodic(period)
                .setPersisted(false)
                .build()
            js.schedule(job)
        }

        /** The job's period for the configured minutes; null for 0 (no periodic sync). */
        fun periodMillis(minutes: Int): Long? = if (minutes <= 0) null else maxOf(15, minutes) * 60_000L
    }
}
