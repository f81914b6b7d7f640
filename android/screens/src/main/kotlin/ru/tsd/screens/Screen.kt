package ru.tsd.screens

import ru.tsd.runtime.BadUpdateException
import ru.tsd.runtime.ConfigException
import ru.tsd.runtime.CorruptDatabaseException
import ru.tsd.runtime.DatabaseException
import ru.tsd.runtime.DocumentCompletedException
import ru.tsd.runtime.NativeLibraryException
import ru.tsd.runtime.NetworkException
import ru.tsd.runtime.NothingToUndoException
import ru.tsd.runtime.PackageException
import ru.tsd.runtime.SchemaTooNewException
import ru.tsd.runtime.ServerException
import ru.tsd.runtime.StorageException
import ru.tsd.runtime.SyncInProgressException
import ru.tsd.runtime.TlsException
import ru.tsd.runtime.TsdException
import java.util.concurrent.CopyOnWriteArrayList

/**
 * A screen's state holder: it takes the operator's intents as method calls and
 * exposes one immutable [state], rebuilt from the runtime after every action.
 * Intents block (they call the runtime), so the app calls them off the main thread,
 * one at a time ([SerialIntents]); observers hear each new state on that thread.
 */
abstract class Screen<S>(initial: S) {
    private val observers = CopyOnWriteArrayList<(S) -> Unit>()

    /** What the screen shows now. */
    @Volatile var state: S = initial
        private set

    /** Hears [state] now and after every change, until closed. */
    fun observe(observer: (S) -> Unit): AutoCloseable {
        observers += observer
        observer(state)
        return AutoCloseable { observers -= observer }
    }

    protected fun publish(s: S) {
        state = s
        observers.forEach { it(s) }
    }
}

/** What the operator reads about a failure: a sentence that says what to do. */
data class Problem(val text: String, val retryable: Boolean)

/**
 * Turns anything an intent can throw into text an operator can act on. The runtime's
 * errors keep their message (it names what failed); anything else — a malformed
 * answer, a bug — is reported as an internal error with the advice to send the
 * logs, and never ends the process.
 */
fun problemOf(e: Throwable): Problem = when (e) {
    is NetworkException -> Problem("Нет связи с сервером: ${e.message}. Данные сохранены, отправка повторится сама.", true)
    is TlsException -> Problem("Сервер не прошёл проверку сертификата: ${e.message}. Отсканируйте код настройки заново.", false)
    is ServerException -> Problem("Сервер отказал: ${e.message}. Обратитесь к администратору.", false)
    is SyncInProgressException -> Problem("Синхронизация уже идёт.", true)
    is NothingToUndoException -> Problem("Отменять нечего.", false)
    is DocumentCompletedException -> Problem("Документ уже завершён: изменить его нельзя.", false)
    is SchemaTooNewException -> Problem("Данные записаны более новой версией приложения: обновите приложение.", false)
    is CorruptDatabaseException -> Problem("Файл данных повреждён: ${e.message}. Отправьте журналы администратору.", false)
    is DatabaseException, is StorageException -> Problem("Ошибка памяти терминала: ${e.message}. Проверьте свободное место.", true)
    is PackageException -> Problem("Пакет обмена не принят: ${e.message}", false)
    is ConfigException -> Problem("Конфигурация не принята: ${e.message}", false)
    is BadUpdateException -> Problem("Обновление повреждено и не установлено: ${e.message}. Повторите позже.", true)
    is NativeLibraryException -> Problem("Приложение повреждено: ${e.message}", false)
    is TsdException -> Problem(e.message ?: e.code, e.retryable)
    else -> Problem("Внутренняя ошибка приложения (${e.javaClass.simpleName}: ${e.message}). Данные сохранены; отправьте журналы администратору.", false)
}

/** Runs [block]; a failure of any kind becomes a [Problem] (a catch-all on purpose: the process must survive). */
internal inline fun <T> attempt(block: () -> T): Result<T> = try {
    Result.success(block())
} catch (e: Exception) {
    Result.failure(e)
}

/** Thousandths as a person writes them: `12`, `1,25`, `0,005`. */
fun formatQty(milli: Long): String {
    val sign = if (milli < 0) "-" else ""
    val a = Math.abs(milli)
    val whole = a / 1000
    val frac = a % 1000
    return if (frac == 0L) "$sign$whole" else "$sign$whole," + frac.toString().padStart(3, '0').trimEnd('0')
}

/** A quantity typed by the operator (`2`, `1,5`, `0.25`) in thousandths, or null when it is not a positive number. */
fun parseQty(text: String): Long? {
    val t = text.trim().replace(',', '.').replace(" ", "").replace("\u00a0", "")
    if (!Regex("""\d{1,9}(\.\d{1,3})?""").matches(t)) return null
    val parts = t.split('.')
    val milli = parts[0].toLong() * 1000 + (parts.getOrNull(1)?.padEnd(3, '0')?.toLong() ?: 0)
    return milli.takeIf { it > 0 }
}
