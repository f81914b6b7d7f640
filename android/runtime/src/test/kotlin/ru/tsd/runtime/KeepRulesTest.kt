package ru.tsd.runtime

import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * R8 must keep what the native library finds by name, or a release build fails on
 * the first error or progress callback. The library reports its own lookups
 * (`testingJniNames`); each must be covered by `consumer-rules.pro` and exist.
 */
class KeepRulesTest {
    private val rules = File("consumer-rules.pro").readLines().filterNot { it.trimStart().startsWith("#") }.joinToString("\n")

    private fun javaTypes(signature: String): List<String> {
        val args = signature.substringAfter('(').substringBefore(')')
        val out = mutableListOf<String>()
        var i = 0
        while (i < args.length) {
            when (args[i]) {
                'L' -> args.indexOf(';', i).let { end -> out += args.substring(i + 1, end).replace('/', '.'); i = end }
                'J' -> out += "long"
                'I' -> out += "int"
                'Z' -> out += "boolean"
                else -> error("signature $signature: extend javaTypes")
            }
            i++
        }
        return out
    }

    @Test
    fun everyNameTheLibraryLooksUpIsKept() {
        val names = JSONObject(Native.testingJniNames())
        assertTrue(rules.contains("class ${names.getString("natives").replace('/', '.')} {\n    native <methods>;"), "natives")

        val ctor = "<init>(${javaTypes(names.getString("constructor_signature")).joinToString(", ")});"
        val classes = names.getJSONArray("constructors")
        assertTrue(classes.length() >= 20)
        for (i in 0 until classes.length()) {
            val name = classes.getString(i).replace('/', '.')
            val cls = Class.forName(name)
            cls.getConstructor(String::class.java, String::class.java)
            val byName = rules.contains("class $name {\n    $ctor")
            val bySuper = TsdException::class.java.isAssignableFrom(cls) &&
                rules.contains("class * extends ru.tsd.runtime.TsdException {\n    $ctor")
            assertTrue(byName || bySuper, "$name$ctor has no keep rule")
        }

        val methods = names.getJSONArray("methods")
        for (i in 0 until methods.length()) {
            val m = methods.getJSONArray(i)
            val owner = m.getString(0).replace('/', '.')
            val types = javaTypes(m.getString(2))
            Class.forName(owner).getMethod(m.getString(1), *types.map(::primitive).toTypedArray())
            assertTrue(rules.contains("$owner {\n    void ${m.getString(1)}(${types.joinToString(", ")});"), "$owner.${m.getString(1)} has no keep rule")
        }
    }

    private fun primitive(t: String): Class<*> = when (t) {
        "long" -> Long::class.javaPrimitiveType!!
        "int" -> Int::class.javaPrimitiveType!!
        "boolean" -> Boolean::class.javaPrimitiveType!!
        else -> Class.forName(t)
    }

    /** A library that cannot load is a typed exception, twice in a row, never an Error that ends the process. */
    @Test
    fun aMissingLibraryIsAnExceptionNotACrash() {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val p = ProcessBuilder(
            java, "-cp", System.getProperty("java.class.path"), "-Dtsd.native.lib=/nonexistent/libtsd_jni.so", LoadProbe::class.java.name,
        ).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        assertTrue(p.waitFor(60, TimeUnit.SECONDS))
        assertEquals(0, p.exitValue(), out)
        val lines = out.lines().filter { it.startsWith("NativeLibraryException") }
        assertEquals(2, lines.size, out)
        assertTrue(lines.all { "native_library" in it && "reinstall" in it }, out)
    }
}

/** Run in its own JVM by [KeepRulesTest]: opens a runtime twice with a library path that does not exist. */
object LoadProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        repeat(2) {
            try {
                TsdRuntime.open(File(System.getProperty("java.io.tmpdir"), "never-opened"))
                println("opened")
            } catch (e: TsdException) {
                println("${e.javaClass.simpleName} ${e.code}: ${e.message}")
            }
        }
    }
}
