package ru.tsd.app

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities

/**
 * Syncs when a validated network comes back (Wi-Fi in the next aisle), if anything
 * waits. The policy drops the trigger while a sync runs.
 */
object NetworkWatcher {
    fun register(app: TsdApp) {
        val cm = app.getSystemService(Context.CONNECTIVITY_SERVICE) as ConnectivityManager
        cm.registerDefaultNetworkCallback(object : ConnectivityManager.NetworkCallback() {
            private var validated = false

            override fun onCapabilitiesChanged(network: Network, caps: NetworkCapabilities) {
                val now = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
                if (now && !validated) {
                    if (app.shell?.syncOnNetworkReturn != false) app.io.execute { app.sync.onNetworkAvailable() }
                }
                validated = now
            }

            override fun onLost(network: Network) {
                validated = false
            }
        })
    }
}
