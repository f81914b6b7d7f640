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
        val printer = EditText(this).apply { hint = "Принтер этикеток (имя на сервере)"; setText(settings.printer) }
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
                settings.printer = printer.text.toString().trim()
                settings.scannerProfile = profiles[scanner.selectedItemPosition].id
                settings.syncMinutes = minutes.text.toString().toIntOrNull() ?: 15
                SyncJobService.schedule(this@SettingsActivity, settings.syncMinutes)
                // The runtime keeps the server too: online lookups use it between syncs.
                val server = settings.server().takeIf { it.url.isNotEmpty() && it.token.isNotEmpty() }
                app.io.execute { runCatching { app.runtime.setServer(server) } }
                finish()
            }
        }
        val result = TextView(this)
        val sendLogs = Button(this).apply {
            text = "Отправить журналы"
            setOnClickListener {
                @Suppress("DEPRECATION")
                val version = runCatching { packageManager.getPackageInfo(packageName, 0).versionName }.getOrNull() ?: "?"
                app.io.execute {
                    val r = runCatching { app.runtime.sendLogs(version) }
                    runOnUiThread {
                        result.text = r.fold({ "Журналы отправлены (№ $it)" }, { "Не отправлены: ${it.message}" })
                    }
                }
            }
        }
        val update = Button(this).apply {
            text = "Проверить обновление"
            setOnClickListener {
                app.io.execute {
                    val r = runCatching {
                        val current = Updater.currentVersion(this@SettingsActivity)
                        val fromFolder = settings.exchangeFolder.takeIf { it.isNotEmpty() }
                            ?.let { app.runtime.folderAppUpdate(java.io.File(it), current) }
                        val (found, file) = fromFolder
                            ?: app.runtime.checkAppUpdate(current)?.let { it to app.runtime.downloadAppUpdate(it) }
                            ?: return@runCatching "Обновлений нет"
                        Updater.install(this@SettingsActivity, file)
                        "Устанавливается версия ${found.versionName} (${found.versionCode})"
                    }
                    runOnUiThread { result.text = r.fold({ it }, { "Обновление не получено: ${it.message}" }) }
                }
            }
        }
        setContentView(LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            listOf(TextView(this@SettingsActivity).apply { text = "Сервер" }, url, token, folder, printer, minutes, scanner, save, sendLogs, update, result).forEach { addView(it) }
        })
    }
}
