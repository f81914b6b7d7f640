package ru.tsd.app

import android.app.Activity
import android.app.AlertDialog
import android.content.Context
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
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ProgressBar
import android.widget.ScrollView
import android.widget.TextView
import ru.tsd.runtime.KeyboardWedge
import ru.tsd.runtime.ScannedCode
import ru.tsd.screens.DocumentScreen
import ru.tsd.screens.DocumentState
import ru.tsd.screens.HomeScreen
import ru.tsd.screens.HomeState
import ru.tsd.screens.LineMark
import ru.tsd.screens.Mode
import ru.tsd.screens.Navigator
import ru.tsd.screens.Problem
import ru.tsd.screens.ProductScreen
import ru.tsd.screens.ProductState
import ru.tsd.screens.Prompt
import ru.tsd.screens.Route
import ru.tsd.screens.Screen
import ru.tsd.screens.SettingsScreen
import ru.tsd.screens.SettingsState
import ru.tsd.screens.TasksScreen
import ru.tsd.screens.TasksState

/**
 * The operator's one Activity: it renders the state of the screen in use (home,
 * an operation's documents, a document, product info, settings) and forwards the
 * operator's intents — scans from the registered scanner receiver or the keyboard
 * wedge, buttons, typed quantities — to its state holder through the app's serial
 * intent queue. It decides nothing: what a screen shows and does lives in
 * `ru.tsd.screens`, tested on the JVM. Views are built in code (no AndroidX, no R).
 */
class MainActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())
    private val wedge = KeyboardWedge(gsPlaceholder = "<GS>")
    private lateinit var app: TsdApp
    private lateinit var root: LinearLayout
    private var receiver: ScanReceiver? = null
    private var watching: AutoCloseable? = null
    private var heardSignal = 0
    private var sound = true
    private var vibrate = true
    private var textScale = 1f
    private val tone by lazy { ToneGenerator(AudioManager.STREAM_NOTIFICATION, 80) }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        app = application as TsdApp
        val pad = (12 * resources.displayMetrics.density).toInt()
        root = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(pad, pad, pad, pad)
        }
        setContentView(ScrollView(this).apply { addView(root) })
        root.addView(text("Загрузка…", 20f))
        // The screen in use is restored from the runtime's journal, not from savedInstanceState.
        app.io.execute(::bind)
    }

    private fun bind() {
        val broken = app.broken
        val nav = app.navigator
        if (broken != null || nav == null) {
            main.post { showBroken(broken ?: Problem("Приложение не запустилось", false)) }
            return
        }
        runCatching { app.shell?.runtime?.shellConfig() }.getOrNull()?.let { c ->
            sound = c.sound
            vibrate = c.vibrate
            textScale = c.fontPercent / 100f
        }
        nav.onMove = { _, screen -> watch(screen) }
        watch(nav.screen)
    }

    @Suppress("UNCHECKED_CAST")
    private fun watch(screen: Screen<*>) {
        watching?.close()
        watching = (screen as Screen<Any?>).observe { state -> main.post { render(state) } }
    }

    override fun onResume() {
        super.onResume()
        app.io.execute {
            val shell = app.shell ?: return@execute
            val profiles = runCatching { shell.scannerProfiles() }.getOrDefault(ru.tsd.runtime.ScannerProfile.BUILT_IN)
            main.post { register(ScanReceiver(profiles) { code -> onScan(code) }) }
        }
        post { nav -> refresh(nav) }
    }

    override fun onPause() {
        receiver?.let { runCatching { unregisterReceiver(it) } }
        receiver = null
        super.onPause()
    }

    override fun onDestroy() {
        watching?.close()
        super.onDestroy()
    }

    private fun register(r: ScanReceiver) {
        receiver?.let { runCatching { unregisterReceiver(it) } }
        // Vendor scanner services are other apps: the receiver must be exported to hear them.
        if (Build.VERSION.SDK_INT >= 33) registerReceiver(r, r.filter, Context.RECEIVER_EXPORTED) else registerReceiver(r, r.filter)
        receiver = r
    }

    @Deprecated("Deprecated in Java")
    override fun onBackPressed() {
        post { nav -> if (!nav.back()) main.post { finish() } }
    }

    /** Keyboard-wedge scanners type the code and press Enter (not while a field is being typed in). */
    override fun dispatchKeyEvent(event: KeyEvent): Boolean {
        if (event.action == KeyEvent.ACTION_DOWN && currentFocus !is EditText) {
            val c = if (event.keyCode == KeyEvent.KEYCODE_ENTER) '\n' else event.unicodeChar.toChar()
            if (c != '\u0000') {
                wedge.type(c)?.let(::onScan)
                return true
            }
        }
        return super.dispatchKeyEvent(event)
    }

    private fun onScan(code: ScannedCode) = post { nav -> nav.onScan(code) }

    /** Queues an intent for the screen in use: on the I/O thread, in order. */
    private fun post(intent: (Navigator) -> Unit) = app.intents.post { app.navigator?.let(intent) }

    private fun refresh(nav: Navigator) {
        when (val s = nav.screen) {
            is HomeScreen -> s.refresh()
            is TasksScreen -> s.refresh()
            is DocumentScreen -> s.refresh()
            is SettingsScreen -> s.refresh()
            else -> Unit
        }
    }

    private fun render(state: Any?) {
        root.removeAllViews()
        when (state) {
            is HomeState -> home(state)
            is TasksState -> tasks(state)
            is DocumentState -> document(state)
            is ProductState -> product(state)
            is SettingsState -> settings(state)
        }
    }

    // ---- screens ----

    private fun home(s: HomeState) {
        add(text("${s.mode.title}: ${s.modeTarget}", 14f))
        add(text((if (s.sync.ok) "✓ " else "! ") + s.sync.text, 16f, if (s.sync.ok) GREEN else Color.RED))
        add(button(if (s.syncing) "Синхронизация…" else "Синхронизация", 24f) { post { (it.screen as? HomeScreen)?.onSync() } })
        if (s.syncing) {
            add(ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal).apply {
                val p = s.progress
                isIndeterminate = p == null || p.total <= 0
                if (p != null && p.total > 0) {
                    max = 1000
                    progress = (p.done * 1000 / p.total).toInt()
                }
            })
            s.progress?.let { add(text("Шаг: ${it.step}", 14f)) }
        }
        for (op in s.operations) {
            val counts = listOfNotNull(
                "заданий: ${op.openTasks}".takeIf { op.openTasks > 0 },
                "в работе: ${op.openFree}".takeIf { op.openFree > 0 },
            ).joinToString(", ")
            add(button(op.name + if (counts.isEmpty()) "" else " ($counts)", 20f) { nav -> nav.open(Route.Tasks(op.type)) })
        }
        add(button("Информация о товаре", 16f) { it.open(Route.Product) })
        add(button("Настройки", 16f) { it.open(Route.Settings) })
        message(s.message, s.problem)
    }

    private fun tasks(s: TasksState) {
        add(text(s.name, 22f))
        if (s.canCreate) {
            add(button("Новый документ", 20f) { nav -> (nav.screen as? TasksScreen)?.onNew()?.let { nav.open(Route.Document(it)) } })
        }
        if (s.items.isEmpty()) add(text("Заданий нет: нажмите «Синхронизация» на главном экране", 16f))
        for (item in s.items) {
            val label = "${item.number} — ${item.progressText}" + if (item.isTask) "" else " (свой)"
            add(button(label, 18f) { it.open(Route.Document(item.id)) })
        }
        add(button("Назад", 16f) { it.back() })
        message(null, s.problem)
    }

    private fun document(s: DocumentState) {
        add(text("${s.number} · ${s.typeName}", 18f))
        if (s.cellRequired) add(text("Отсканируйте ячейку", 18f, Color.RED)) else s.cell?.let { add(text("Ячейка: $it", 16f)) }
        s.last?.let { last ->
            val qty = if (last.accepted && last.qtyMilli != 0L) "  +${fmt(last.qtyMilli)}" else ""
            val plan = last.plannedMilli?.let { " из ${fmt(it)}" } ?: ""
            add(text(last.title + (last.packaging?.let { " · $it" } ?: "") + qty, 26f, if (last.accepted) Color.BLACK else Color.RED))
            add(text(listOfNotNull(last.message, "всего ${fmt(last.actualMilli)}$plan".takeIf { last.accepted }, "с сервера".takeIf { last.source == "server" }).joinToString(" · "), 16f, if (last.accepted) Color.DKGRAY else Color.RED))
        }
        if (s.signal.seq != heardSignal) {
            heardSignal = s.signal.seq
            if (s.signal.error) alarm()
        }
        when (val p = s.prompt) {
            is Prompt.Quantity -> {
                add(text(p.question, 18f))
                val field = field("Количество", numeric = true)
                add(field)
                add(row(button("ОК", 18f) { (it.screen as? DocumentScreen)?.onQuantity(field.text.toString()) }, button("Отмена", 18f) { (it.screen as? DocumentScreen)?.onCancelPrompt() }))
                field.requestFocus()
            }
            is Prompt.Complete -> {
                add(text(if (p.discrepancies.isEmpty()) "Расхождений нет. Завершить документ?" else "Расхождения:", 18f))
                p.discrepancies.forEach { add(text("${it.mark.sign} ${it.title}: ${it.quantityText} (${it.mark.word})", 16f, colour(it.mark))) }
                add(row(button("Завершить", 18f) { (it.screen as? DocumentScreen)?.onConfirmComplete() }, button("Отмена", 18f) { (it.screen as? DocumentScreen)?.onCancelPrompt() }))
            }
            null -> Unit
        }
        message(s.message, s.problem)
        for (line in s.lines) {
            val view = text("${line.mark.sign} ${line.title}  ${line.quantityText}", 16f, colour(line.mark))
            val product = line.productId
            if (product != null && !s.completed) view.setOnClickListener { askQuantity(line.title) { q -> post { (it.screen as? DocumentScreen)?.onSetQuantity(product, q) } } }
            add(view)
        }
        if (!s.completed) {
            val search = field("Поиск по названию или артикулу", numeric = false)
            add(row(search, button("Найти", 16f) { (it.screen as? DocumentScreen)?.onSearch(search.text.toString()) }))
            s.searchResults.forEach { p -> add(button("${p.name} (${p.code})", 16f) { (it.screen as? DocumentScreen)?.onPick(p) }) }
            add(row(button("Отменить последнее", 16f) { (it.screen as? DocumentScreen)?.onUndo() }, button("Завершить", 16f) { (it.screen as? DocumentScreen)?.onComplete() }))
        }
        add(button("Назад", 16f) { it.back() })
    }

    private fun product(s: ProductState) {
        add(text("Отсканируйте товар или найдите его", 16f))
        val search = field("Название или артикул", numeric = false).apply { setText(s.query) }
        add(row(search, button("Найти", 16f) { (it.screen as? ProductScreen)?.onSearch(search.text.toString()) }))
        s.results.forEach { p -> add(button("${p.name} (${p.code})", 16f) { (it.screen as? ProductScreen)?.onOpen(p) }) }
        s.product?.let { p ->
            add(text(p.name, 22f))
            add(text("Артикул ${p.code} · ${p.unit}" + (if (p.weighted) " · весовой" else "") + (if (p.marked) " · маркируемый" else ""), 16f))
            add(text("Источник: " + when (s.source) { "server" -> "сервер"; "cache" -> "сохранённый ответ сервера"; else -> "терминал" }, 14f))
            s.packagings.forEach { add(text("Упаковка ${it.name}: ${fmt(it.factorMilli)} ${p.unit}", 16f)) }
            s.barcodes.forEach { (code, what) -> add(text("$code — $what", 16f)) }
            add(button("Этикетка", 16f) { (it.screen as? ProductScreen)?.onPrintLabel() })
        }
        message(s.message, s.problem)
        add(button("Назад", 16f) { it.back() })
    }

    private fun settings(s: SettingsState) {
        add(text("Режим обмена", 18f))
        add(row(
            button((if (s.mode == Mode.SERVER) "● " else "○ ") + Mode.SERVER.title, 16f) { (it.screen as? SettingsScreen)?.onMode(Mode.SERVER) },
            button((if (s.mode == Mode.FOLDER) "● " else "○ ") + Mode.FOLDER.title, 16f) { (it.screen as? SettingsScreen)?.onMode(Mode.FOLDER) },
        ))
        s.setup?.let { setup ->
            add(text("Подключить терминал к серверу ${setup.url}?" + if (setup.pinned) " (сертификат закреплён)" else "", 18f, Color.BLUE))
            add(row(button("Подключить", 18f) { (it.screen as? SettingsScreen)?.onConfirmSetup() }, button("Отмена", 18f) { (it.screen as? SettingsScreen)?.onCancelSetup() }))
        }
        add(text("Сервер: " + (s.server?.let { "${it.url}" + if (it.enrolled) " — терминал подключён" else "" } ?: "не настроен (отсканируйте код настройки)"), 16f))
        val url = field("https://сервер:8480", numeric = false).apply { setText(s.server?.url.orEmpty()) }
        // The token is never shown; an empty field keeps the one the runtime holds.
        val token = field("Токен устройства (пусто — не менять)", numeric = false).apply { inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_VARIATION_PASSWORD }
        add(url)
        add(token)
        add(button("Сохранить сервер", 16f) { (it.screen as? SettingsScreen)?.onServer(url.text.toString(), token.text.toString()) })
        add(text("Папка обмена", 16f))
        val folder = field("Папка обмена", numeric = false).apply { setText(s.folder) }
        add(row(folder, button("Сохранить", 16f) { (it.screen as? SettingsScreen)?.onFolder(folder.text.toString()) }))
        add(text(s.folderHint, 13f, Color.DKGRAY))
        add(text("Сканер", 16f))
        s.profiles.forEach { p -> add(button((if (p.id == s.profileId) "● " else "○ ") + p.name, 14f) { (it.screen as? SettingsScreen)?.onProfile(p.id) }) }
        val printer = field("Принтер этикеток (имя на сервере)", numeric = false).apply { setText(s.printer) }
        add(row(printer, button("Сохранить", 16f) { (it.screen as? SettingsScreen)?.onPrinter(printer.text.toString()) }))
        add(button("Отправить журналы", 16f) { (it.screen as? SettingsScreen)?.onSendLogs(versionName()) })
        add(button("Проверить обновление", 16f) { nav ->
            val current = runCatching { Updater.currentVersion(this) }.getOrDefault(0L)
            (nav.screen as? SettingsScreen)?.onCheckUpdate(current)?.let { file -> runCatching { Updater.install(this, file) } }
        })
        message(s.message, s.problem)
        add(button("Назад", 16f) { it.back() })
    }

    /** The library or the data folder could not open: say so plainly; nothing else works. */
    private fun showBroken(p: Problem) {
        root.removeAllViews()
        add(text("Приложение повреждено", 24f, Color.RED))
        add(text(p.text, 16f))
        add(text("Переустановите приложение. Отсканированные данные хранятся в памяти терминала и не удаляются " +
            "переустановкой поверх. Сообщите администратору текст выше; журналы терминала администратор " +
            "забирает командой «tsd exchange usb» или через «Отправить журналы» после восстановления.", 14f))
    }

    // ---- small view helpers ----

    private fun add(v: View) = root.addView(v)

    private fun text(s: String, size: Float, colour: Int = Color.BLACK) = TextView(this).apply {
        text = s
        textSize = size * textScale
        setTextColor(colour)
    }

    private fun button(label: String, size: Float, intent: (Navigator) -> Unit) = Button(this).apply {
        text = label
        textSize = size * textScale
        isAllCaps = false
        setOnClickListener { post(intent) }
    }

    private fun field(hint: String, numeric: Boolean) = EditText(this).apply {
        this.hint = hint
        inputType = if (numeric) InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_FLAG_DECIMAL else InputType.TYPE_CLASS_TEXT
        layoutParams = LinearLayout.LayoutParams(0, LinearLayout.LayoutParams.WRAP_CONTENT, 1f)
    }

    private fun row(vararg views: View) = LinearLayout(this).apply {
        orientation = LinearLayout.HORIZONTAL
        views.forEach { v ->
            if (v !is EditText) v.layoutParams = LinearLayout.LayoutParams(0, LinearLayout.LayoutParams.WRAP_CONTENT, 1f)
            addView(v)
        }
    }

    private fun message(message: String?, problem: Problem?) {
        message?.let { add(text(it, 16f, GREEN)) }
        problem?.let { add(text(it.text, 16f, Color.RED)) }
    }

    private fun askQuantity(title: String, then: (String) -> Unit) {
        val field = field("Количество", numeric = true)
        AlertDialog.Builder(this).setTitle(title).setView(field)
            .setPositiveButton("Исправить") { _, _ -> then(field.text.toString()) }
            .setNegativeButton("Отмена", null).show()
    }

    private fun colour(mark: LineMark) = when (mark) {
        LineMark.DONE -> GREEN
        LineMark.UNDER -> Color.rgb(160, 100, 0)
        LineMark.OVER, LineMark.NOT_IN_PLAN -> Color.RED
        LineMark.COUNTED -> Color.BLACK
    }

    private fun fmt(milli: Long) = ru.tsd.screens.formatQty(milli)

    private fun alarm() {
        if (sound) runCatching { tone.startTone(ToneGenerator.TONE_PROP_NACK, 300) }
        if (!vibrate) return
        val v = getSystemService(Context.VIBRATOR_SERVICE) as? Vibrator ?: return
        if (Build.VERSION.SDK_INT >= 26) v.vibrate(VibrationEffect.createOneShot(250, VibrationEffect.DEFAULT_AMPLITUDE))
        else @Suppress("DEPRECATION") v.vibrate(250)
    }

    private fun versionName(): String {
        @Suppress("DEPRECATION")
        return runCatching { packageManager.getPackageInfo(packageName, 0).versionName }.getOrNull() ?: "?"
    }

    private companion object {
        val GREEN = Color.rgb(0, 120, 0)
    }
}
