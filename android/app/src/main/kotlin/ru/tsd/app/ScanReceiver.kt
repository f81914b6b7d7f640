package ru.tsd.app

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.Bundle
import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.ScannerProfile

/**
 * Receives hardware-scanner broadcasts while the operator's screen is visible. It
 * is registered at run time only (none in the manifest), once, for the actions of
 * every profile in use — so each scan has exactly one delivery path. Setup codes
 * reach the settings' confirmation only through this receiver (the actions the
 * app registered) and the keyboard wedge.
 */
class ScanReceiver(
    private val profiles: List<ScannerProfile>,
    private val deliver: (ScannedCode) -> Unit,
) : BroadcastReceiver() {
    /** One filter with each profile's action once. */
    val filter: IntentFilter = IntentFilter().apply { actionsOf(profiles).forEach(::addAction) }

    override fun onReceive(context: Context, intent: Intent) {
        decode(intent, profiles)?.let(deliver)
    }

    companion object {
        /** The distinct actions of [profiles], in order. */
        fun actionsOf(profiles: List<ScannerProfile>): List<String> = profiles.map { it.action }.distinct()

        /** The scan an intent carries under the first of [profiles] that reads it, or null. */
        fun decode(intent: Intent, profiles: List<ScannerProfile>): ScannedCode? =
            ScannerProfile.decodeAny(profiles, intent.action, extrasOf(intent.extras))

        /** A bundle's extras as a plain map (what the pure-Kotlin profiles read). */
        @Suppress("DEPRECATION") // Bundle.get(String) is the only API-24 way to read any type
        fun extrasOf(bundle: Bundle?): Map<String, Any?> =
            bundle?.keySet()?.associateWith { bundle.get(it) } ?: emptyMap()
    }
}
