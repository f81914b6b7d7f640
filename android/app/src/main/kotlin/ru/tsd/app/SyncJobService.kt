package ru.tsd.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context

/**
 * The periodic sync: runs every N minutes when a network is up and asks the core
 * whether an attempt is due (its backoff decides; this job only knocks).
 */
class SyncJobService : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        val app = application as TsdApp
        app.io.execute {
            try {
                app.sync.onPeriodicTick()
            } finally {
                jobFinished(params, false)
            }
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        (application as TsdApp).io.execute { (application as TsdApp).runtime.cancelSync() }
        return true
    }

    companion object {
        private const val JOB_ID = 4242

        fun schedule(context: Context, minutes: Int) {
            val js = context.getSystemService(Context.JOB_SCHEDULER_SERVICE) as JobScheduler
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, SyncJobService::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .setPeriodic(maxOf(15, minutes) * 60_000L)
                .setPersisted(false)
                .build()
            js.schedule(job)
        }
    }
}
