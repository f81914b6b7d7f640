package ru.tsd.app

import android.app.Activity
import android.os.Bundle
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.Spinner
import android.widget.TextView
import ru.tsd.runtime.ScannerProfile

/** Server URL and token, or an exchange folder; the scanner profile; the sync period. */
class SettingsActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as TsdApp
        val settings = app.settings
        val url = EditText(this).apply { hint = "https://сервер:8480"; setText(settings.serverUrl) }
        val token = EditText(this).apply { hint = "Токен устройства"; setText(settings.token) }
        val folder = EditText(this).apply { hint = "Папка обмена (без сервера)"; setText(settings.exchangeFolder) }
        val minutes = EditText(this).apply { hint = "Период синхронизации, мин"; setText(settings.syncMinutes.toString()) }
        val profiles = ScannerProfile.BUILT_IN
        val scanner = Spinner(this).apply {
            adapter = ArrayAdapter(this@SettingsActivity, android.R.layout.simple_spinner_dropdown_item, profiles.map { it.name })
            setSelection(maxOf(0, profiles.indexOfFirst { it.id == settings.scannerProfile }))
        }
        val save = Button(this).apply {
            text = "Сохранить"
            setOnClickListener {
                settings.serverUrl = url.text.toString().trim()
                settings.token = token.text.toString().trim()
                settings.exchangeFolder = folder.text.toString().trim()
                settings.scannerProfile = profiles[scanner.selectedItemPosition].id
                settings.syncMinutes = minutes.text.toString().toIntOrNull() ?: 15
                SyncJobService.schedule(this@SettingsActivity, settings.syncMinutes)
                // The runtime keeps the server too: online lookups use it between syncs.
                val server = settings.server().takeIf { it.url.isNotEmpty() && it.token.isNotEmpty() }
                app.io.execute { runCatching { app.runtime.setServer(server) } }
                finish()
            }
        }
        setContentView(LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            listOf(TextView(this@SettingsActivity).apply { text = "Сервер" }, url, token, folder, minutes, scanner, save).forEach { addView(it) }
        })
    }
}
