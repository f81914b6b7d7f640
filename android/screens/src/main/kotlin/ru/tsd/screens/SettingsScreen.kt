package ru.tsd.screens

import ru.tsd.runtime.ScannerProfile
import ru.tsd.runtime.ServerInfo
import ru.tsd.runtime.ServerSettings
import ru.tsd.runtime.TsdRuntime
import java.io.File

/** A scanned setup code waiting for the operator's yes: it would point the terminal at [url]. */
data class SetupConfirm(val url: String, val pinned: Boolean, internal val code: String) {
    /** Never shows the enrolment token. */
    override fun toString() = "SetupConfirm(url=$url, pinned=$pinned)"
}

/** What the settings screen shows. The device token is never part of it. */
data class SettingsState(
    val mode: Mode = Mode.SERVER,
    /** The kept server (address, enrolled or not, pinned), or null. */
    val server: ServerInfo? = null,
    val folder: String = "",
    /** Where the PC finds the folder. */
    val folderHint: String = "",
    val profiles: List<ScannerProfile> = ScannerProfile.BUILT_IN,
    val profileId: String = ScannerProfile.ZEBRA.id,
    val printer: String = "",
    val setup: SetupConfirm? = null,
    val message: String? = null,
    val problem: Problem? = null,
)

/**
 * Settings: the mode (server or exchange folder), the server — set up by scanning a
 * setup code (after a confirmation that shows the server's address) or by hand —,
 * the exchange folder, the scanner profile and the label printer. The enrolled
 * token is never shown, and an empty form never wipes it.
 */
class SettingsScreen(private val shell: Shell) : Screen<SettingsState>(SettingsState()) {
    private val rt = shell.runtime

    fun refresh() {
        attempt {
            SettingsState(
                mode = shell.mode,
                server = rt.serverInfo(),
                folder = shell.folder.path,
                folderHint = "ПК видит эту папку по USB (MTP: «Внутренняя память › Android › data › ru.tsd.app › files › ${Shell.EXCHANGE_DIR}») " +
                    "или через «tsd exchange usb»",
                profiles = ScannerProfile.BUILT_IN + rt.shellConfig().scannerProfiles,
                profileId = shell.scannerProfileId,
                printer = shell.printer,
                setup = state.setup,
                message = state.message,
            )
        }.onSuccess(::publish).onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    fun onMode(mode: Mode) = change("Режим: ${mode.title}") { shell.mode = mode }

    fun onFolder(path: String) {
        val p = path.trim()
        if (p.isEmpty()) return change("Папка обмена: по умолчанию") { rt.setShellValue("folder", null) }
        change("Папка обмена: $p") { shell.folder = File(p) }
    }

    fun onProfile(id: String) = change("Сканер: $id") { shell.scannerProfileId = id }

    fun onPrinter(name: String) = change(if (name.isBlank()) "Принтер не задан" else "Принтер: ${name.trim()}") { shell.printer = name.trim() }

    /**
     * The server typed by hand. Both fields empty: nothing changes (the enrolment
     * stays). A URL without a token keeps the token only when the URL is the one
     * already kept; another server needs its own token or setup code.
     */
    fun onServer(url: String, token: String) {
        val u = url.trim()
        val t = token.trim()
        val kept = rt.serverInfo()
        when {
            u.isEmpty() && t.isEmpty() -> publish(state.copy(message = "Ничего не изменено", problem = null))
            t.isEmpty() && kept != null && kept.url.trimEnd('/') == u.trimEnd('/') -> publish(state.copy(message = "Сервер не изменён", problem = null))
            t.isEmpty() -> publish(state.copy(problem = Problem("Для сервера $u нужен токен устройства или код настройки", false)))
            u.isEmpty() -> publish(state.copy(problem = Problem("Введите адрес сервера", false)))
            else -> change("Сервер: $u") { rt.setServer(ServerSettings(u, t)) }
        }
    }

    /** A setup code from the scanner or the keyboard wedge: shown for confirmation, not used yet. */
    fun onSetupCode(raw: String) {
        attempt { TsdRuntime.setupCodeInfo(raw) }
            .onSuccess { publish(state.copy(setup = SetupConfirm(it.url, it.pinned, raw), message = null, problem = null)) }
            .onFailure { publish(state.copy(setup = null, problem = problemOf(it))) }
    }

    /** The operator agreed: the terminal enrolls with the server the code names. */
    fun onConfirmSetup() {
        val setup = state.setup ?: return
        attempt { rt.enroll(setup.code) }
            .onSuccess { device ->
                shell.mode = Mode.SERVER
                publish(state.copy(setup = null, message = "Терминал настроен: $device на ${setup.url}", problem = null))
                refresh()
            }
            .onFailure { publish(state.copy(setup = null, problem = problemOf(it))) }
    }

    fun onCancelSetup() = publish(state.copy(setup = null, message = "Настройка отменена"))

    /** Sends the runtime's logs (secrets removed): to the server, or into the exchange folder for the PC. */
    fun onSendLogs(appVersion: String) {
        attempt {
            when (shell.mode) {
                Mode.SERVER -> "Журналы отправлены на сервер (№ ${rt.sendLogs(appVersion)})"
                Mode.FOLDER -> "Журналы оставлены в папке обмена: ${rt.logsToFolder(shell.folder, appVersion).name}"
            }
        }.onSuccess { publish(state.copy(message = it, problem = null)) }.onFailure { publish(state.copy(problem = problemOf(it))) }
    }

    /**
     * Looks for an app newer than [current] (the exchange folder's `update/` in
     * folder mode, the server otherwise), downloads and verifies it; returns the
     * verified file for the platform installer, or null (the state says why).
     */
    fun onCheckUpdate(current: Long): File? = attempt {
        when (shell.mode) {
            Mode.FOLDER -> rt.folderAppUpdate(shell.folder, current)
            Mode.SERVER -> rt.checkAppUpdate(current)?.let { it to rt.downloadAppUpdate(it) }
        }
    }.fold(
        onSuccess = { found ->
            publish(state.copy(message = found?.let { "Устанавливается версия ${it.first.versionName} (${it.first.versionCode})" } ?: "Обновлений нет", problem = null))
            found?.second
        },
        onFailure = { publish(state.copy(problem = problemOf(it))); null },
    )

    private fun change(message: String, block: () -> Unit) {
        attempt(block)
            .onSuccess { publish(state.copy(message = message, problem = null)); refresh() }
            .onFailure { publish(state.copy(problem = problemOf(it))) }
    }
}
