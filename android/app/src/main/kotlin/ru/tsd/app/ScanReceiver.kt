package ru.tsd.app

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.os.Bundle
import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.ScannerProfile

/**
 * Receives hardware-scanner broadcasts and hands the code to whoever listens (the
 * visible activity). The vendor profile decides which action and extras carry it.
 */
class ScanReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val app = context.applicationContext as? TsdApp ?: return
        val fromConfig = app.shell?.scannerProfiles.orEmpty()
        val code = decode(intent, listOf(app.settings.profile()) + fromConfig + ScannerProfile.BUILT_IN) ?: return
        listener?.invoke(code)
    }

    companion object {
        /** The visible activity's scan handler. */
        @Volatile var listener: ((ScannedCode) -> Unit)? = null

        /** The scan an intent carries under any of [profiles], or null. */
        fun decode(intent: Intent, profiles: List<ScannerProfile>): ScannedCode? =
            ScannerProfile.decodeAny(profiles, intent.action, extrasOf(intent.extras))

        /** A bundle's extras as a plain map (what the pure-Kotlin profiles read). */
        @Suppress("DEPRECATION") // Bundle.get(String) is the only API-24 way to read any type
        fun extrasOf(bundle: Bundle?): Map<String, Any?> =
            bundle?.keySet()?.associateWith { bundle.get(it) } ?: emptyMap()
    }
}
