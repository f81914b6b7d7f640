package ru.tsd.app

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import ru.tsd.screens.Mode

/**
 * Syncs when a validated network comes back (Wi-Fi in the next aisle), if anything
 * waits and the terminal syncs with a server (a network does not bring an exchange
 * folder back). The policy drops the trigger while a sync runs.
 */
object NetworkWatcher {
    fun register(app: TsdApp) {
        val cm = app.getSystemService(Context.CONNECTIVITY_SERVICE) as ConnectivityManager
        cm.registerDefaultNetworkCallback(object : ConnectivityManager.NetworkCallback() {
            private var validated = false

            override fun onCapabilitiesChanged(network: Network, caps: NetworkCapabilities) {
                val now = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
                if (now && !validated) {
                    app.io.execute {
                        val shell = app.shell ?: return@execute
                        runCatching {
                            if (shell.mode == Mode.SERVER && shell.runtime.shellConfig().syncOnNetworkReturn) shell.sync.onNetworkAvailable()
                        }
                    }
                }
                validated = now
            }

            override fun onLost(network: Network) {
                validated = false
            }
        })
    }
}
