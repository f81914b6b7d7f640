package ru.tsd.app

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.graphics.Color
import android.media.AudioManager
import android.media.ToneGenerator
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.os.VibrationEffect
import android.os.Vibrator
import android.text.InputType
import android.view.KeyEvent
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ProgressBar
import android.widget.TextView
import ru.tsd.runtime.KeyboardWedge
import ru.tsd.runtime.ScannedCode
import ru.tsd.runtime.ScanResult
import ru.tsd.runtime.SetupCode
import ru.tsd.runtime.SyncProgressListener
import ru.tsd.runtime.SyncReport
import ru.tsd.runtime.TsdException

/**
 * The operator's screen: the current document, the last scan (rule violations in
 * red with a beep and a buzz), a quantity field, and a big Sync button with
 * progress. Views are built in code: no resources to compile (no AndroidX, no R).
 * Every native call runs on the app's I/O thread; results come back on the main one.
 */
class MainActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())
    private val wedge = KeyboardWedge(gsPlaceholder = "<GS>")
    private lateinit var app: TsdApp
    private lateinit var docView: TextView
    private lateinit var lastScan: TextView
    private lateinit var quantity: EditText
    private lateinit var status: TextView
    private lateinit var progress: ProgressBar
    private var docId: String? = null
    private var lastCode: String? = null
    private var receiver: ScanReceiver? = null
    private val tone by lazy { ToneGenerator(AudioManager.STREAM_NOTIFICATION, 80) }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        app = application as TsdApp
        val pad = (16 * resources.displayMetrics.density).toInt()
        docView = TextView(this).apply { textSize = 18f }
        lastScan = TextView(this).apply { textSize = 22f }
        quantity = EditText(this).apply {
            hint = "Количество"
            inputType = InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_FLAG_DECIMAL
        }
        status = TextView(this)
        progress = ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal).apply { isIndeterminate = false }
        val syncButton = Button(this).apply {
            text = "Синхронизация"
            textSize = 24f
            setOnClickListener { if (!app.sync.onSyncButton()) status.text = "Синхронизация уже идёт" }
        }
        val newDoc = Button(this).apply {
            text = "Новая приёмка"
            setOnClickListener { background { app.runtime.newDocument("receiving") }.then { docId = it.id; showDocument() } }
        }
        val label = Button(this).apply {
            text = "Этикетка"
            setOnClickListener { printLabel() }
        }
        val settings = Button(this).apply {
            text = "Настройки"
            setOnClickListener { startActivity(Intent(this@MainActivity, SettingsActivity::class.java)) }
        }
        setContentView(LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(pad, pad, pad, pad)
            listOf(docView, lastScan, quantity, newDoc, syncButton, progress, status, label, settings).forEach { addView(it) }
        })
    }

    override fun onResume() {
        super.onResume()
        ScanReceiver.listener = { code -> main.post { onScan(code) } }
        app.syncListener = { r -> main.post { onSynced(r) } }
        app.progressListener = SyncProgressListener { step, done, total ->
            main.post {
                status.text = "Синхронизация: $step"
                progress.max = if (total > 0) minOf(total, Int.MAX_VALUE.toLong()).toInt() else 1
                progress.progress = if (total > 0) minOf(done, total).toInt() else 0
            }
        }
        // The profile in force may use another action than the manifest's default.
        val r = ScanReceiver()
        val filter = IntentFilter(app.settings.profile().action)
        if (Build.VERSION.SDK_INT >= 33) registerReceiver(r, filter, Context.RECEIVER_EXPORTED) else registerReceiver(r, filter)
        receiver = r
        refreshStatus()
    }

    override fun onPause() {
        receiver?.let { unregisterReceiver(it) }
        receiver = null
        ScanReceiver.listener = null
        app.syncListener = null
        app.progressListener = null
        super.onPause()
    }

    /** Keyboard-wedge scanners type the code and press Enter. */
    override fun dispatchKeyEvent(event: KeyEvent): Boolean {
        if (event.action == KeyEvent.ACTION_DOWN && !quantity.hasFocus()) {
            val c = if (event.keyCode == KeyEvent.KEYCODE_ENTER) '\n' else event.unicodeChar.toChar()
            if (c != '\u0000') {
                wedge.type(c)?.let(::onScan)
                return true
            }
        }
        return super.dispatchKeyEvent(event)
    }

    /** A price label for the last scanned goods on the server's printer; it goes with a sync started now. */
    private fun printLabel() {
        val code = lastCode ?: run { status.text = "Сначала отсканируйте товар"; return }
        val printer = app.settings.printer.ifEmpty { run { status.text = "Укажите принтер в настройках"; return } }
        background { app.runtime.printLabel(printer, code) }.then {
            status.text = "Этикетка в очереди на $printer"
            app.sync.onSyncButton()
        }
    }

    private fun onScan(code: ScannedCode) {
        if (SetupCode.looksLike(code.raw)) {
            background { app.runtime.enroll(code.raw) }.then { device ->
                status.text = "Терминал настроен: $device"
                app.sync.onSyncButton()
            }
            return
        }
        lastCode = code.raw
        val doc = docId ?: run { lastScan.text = "Сначала создайте документ"; return }
        val qty = quantity.text.toString().replace(',', '.').toDoubleOrNull()?.let { Math.round(it * 1000) }
        background { app.runtime.scan(doc, code.raw, qty) }.then { showScan(it) }
    }

    private fun showScan(r: ScanResult) {
        quantity.text.clear()
        if (r.accepted) {
            lastScan.setTextColor(Color.BLACK)
            lastScan.text = "${r.name ?: r.productId ?: "?"}  +${r.qtyMilli / 1000.0} = ${r.actualMilli / 1000.0}" +
                if (!r.found && r.serverUnreachable != null) "\nне найден: сервер недоступен" else ""
        } else {
            lastScan.setTextColor(Color.RED)
            lastScan.text = r.message ?: r.status
            if (app.shell?.sound != false) tone.startTone(ToneGenerator.TONE_PROP_NACK, 300)
            if (app.shell?.vibrate != false) buzz()
        }
        showDocument()
        refreshStatus()
    }

    private fun buzz() {
        val v = getSystemService(Context.VIBRATOR_SERVICE) as? Vibrator ?: return
        if (Build.VERSION.SDK_INT >= 26) v.vibrate(VibrationEffect.createOneShot(250, VibrationEffect.DEFAULT_AMPLITUDE))
        else @Suppress("DEPRECATION") v.vibrate(250)
    }

    private fun showDocument() {
        val id = docId ?: return
        background { app.runtime.document(id) }.then { d ->
            docView.text = "${d.header.number}: ${d.lines.size} строк, ${d.scans} записей"
        }
    }

    private fun onSynced(r: Result<SyncReport>) {
        r.onSuccess {
            status.text = "Отправлено ${it.pushed.size}, каталог v${it.catalogVersion}" +
                (it.configApplied?.let { v -> ", конфигурация v$v" } ?: "") +
                (if (it.printJobsSent.isNotEmpty()) ", на печать ${it.printJobsSent.size}" else "")
        }
        r.onFailure { status.text = (it as? TsdException)?.message ?: it.toString() }
        progress.progress = 0
        refreshStatus()
    }

    private fun refreshStatus() {
        background { app.runtime.syncStatus() }.then { s ->
            val waiting = if (s.waiting > 0) "ждут отправки: ${s.waiting}" else "всё отправлено"
            status.text = listOfNotNull(waiting, s.lastError?.let { "ошибка: $it" }).joinToString("\n")
            status.setTextColor(if (s.synced) Color.rgb(0, 120, 0) else Color.RED)
        }
    }

    /** Runs [work] on the I/O thread; `then` gets its result on the main thread. */
    private fun <T> background(work: () -> T) = Later(work)

    private inner class Later<T>(private val work: () -> T) {
        fun then(done: (T) -> Unit) {
            app.io.execute {
                val result = try {
                    Result.success(work())
                } catch (e: TsdException) {
                    Result.failure(e)
                }
                main.post {
                    result.onSuccess(done).onFailure { lastScan.setTextColor(Color.RED); lastScan.text = it.message }
                }
            }
        }
    }
}
