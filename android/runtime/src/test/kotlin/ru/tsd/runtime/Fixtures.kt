package ru.tsd.runtime

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/** A small real catalog. */
const val CATALOG = """product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode
P1,A-1,Молоко 3.2%,шт,0,0,,,,4601234567893
P1,A-1,Молоко 3.2%,шт,0,0,box,Коробка 12 шт,12,14601234567890
P2,A-2,Кефир 1%,шт,0,0,,,,4601234567909
"""

fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile().apply { deleteOnExit() }

/** The real `tsd-server` binary (built by `cargo build`), run in its own data folder. */
class ServerProcess(val data: File) : AutoCloseable {
    private val bin = System.getProperty("tsd.server.bin") ?: error("set -Dtsd.server.bin")
    private var process: Process? = null
    var url: String = ""
        private set

    fun admin(vararg args: String): String {
        val p = ProcessBuilder(listOf(bin, "--data", data.absolutePath) + args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) { "tsd-server ${args.toList()}: $out" }
        return out.trim()
    }

    /** Starts `serve` on [listen] and waits for `listening on URL`. */
    fun start(listen: String = "127.0.0.1:0"): ServerProcess {
        repeat(100) {
            val p = ProcessBuilder(bin, "--data", data.absolutePath, "serve", "--listen", listen)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start()
            val line = p.inputStream.bufferedReader().readLine()
            if (line != null && line.startsWith("listening on ")) {
                process = p
                url = line.removePrefix("listening on ")
                return this
            }
            p.destroyForcibly().waitFor()
            Thread.sleep(50) // the port may still be held by the process before
        }
        error("tsd-server did not start on $listen")
    }

    /** Kills the server the hard way (SIGKILL). */
    fun kill() {
        process?.destroyForcibly()?.waitFor()
        process = null
    }

    val address: String get() = url.removePrefix("http://")

    override fun close() = kill()
}
