package ru.tsd.app

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import java.util.zip.ZipFile
import java.util.zip.ZipOutputStream

/**
 * The app's, the screens' and the runtime's classes plus the Kotlin standard
 * library converted to DEX with the AOSP dexer (`dalvik-dx`), so bytecode that
 * Android cannot load fails here rather than on a terminal. dx cannot desugar
 * `invokedynamic`, hence `--min-sdk-version=26`, and it refuses the stdlib's
 * multi-release `META-INF/versions/` classes, which are stripped first. AGP's D8
 * (with desugaring down to API 24) remains the device build.
 */
class DexTest {
    private val classpath = (System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path"))
        .split(File.pathSeparator).map(::File)

    private fun classesOf(module: String) = classpath.single { it.isDirectory && it.path.endsWith("$module/target/classes") }

    @Test
    fun theAppDexes() {
        val dx = classpath.single { it.name.startsWith("dalvik-dx-") }
        val stdlib = classpath.single { it.name.matches(Regex("kotlin-stdlib-[0-9.]+\\.jar")) }
        val work = Files.createTempDirectory("dex").toFile()
        val inputs = listOf(classesOf("app"), classesOf("screens"), classesOf("runtime"), strip(stdlib, File(work, "kotlin-stdlib.jar")))
        val out = File(work, "classes.zip")
        val java = File(System.getProperty("java.home"), "bin/java").path
        val p = ProcessBuilder(
            listOf(java, "-cp", dx.path, "com.android.dx.command.Main", "--dex", "--min-sdk-version=26", "--output=${out.path}") + inputs.map { it.path },
        ).redirectErrorStream(true).start()
        val log = p.inputStream.bufferedReader().readText()
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "dx did not finish")
        assertEquals(0, p.exitValue(), log)
        ZipFile(out).use { zip -> assertTrue(zip.getEntry("classes.dex").size > 100_000, "a dex with the app and the stdlib") }
        work.deleteRecursively()
    }

    private fun strip(jar: File, to: File): File {
        ZipFile(jar).use { zip ->
            ZipOutputStream(to.outputStream()).use { out ->
                for (e in zip.entries()) {
                    if (e.name.startsWith("META-INF/versions/") || e.isDirectory) continue
                    out.putNextEntry(java.util.zip.ZipEntry(e.name))
                    zip.getInputStream(e).use { it.copyTo(out) }
                    out.closeEntry()
                }
            }
        }
        return to
    }
}
