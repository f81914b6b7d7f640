package ru.tsd.runtime

import org.json.JSONArray
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.lang.reflect.Modifier

/** The bridge itself: every error reaches Kotlin as its own class; panics do not crash. */
class BridgeTest {
    @Test
    fun everyCoreErrorHasItsOwnExceptionClass() {
        val codes = JSONArray(Native.testingCodes()).let { a -> List(a.length()) { a.getString(it) } }
        assertTrue(codes.size >= 20, "$codes")
        val classes = mutableSetOf<Class<*>>()
        for (code in codes) {
            val e = assertThrows(TsdException::class.java) { Native.testingFail(code) }
            val want = if (code == "barcode") "bad_check_digit" else code
            assertEquals(want, e.code, "code of ${e.javaClass.simpleName}")
            assertTrue(classes.add(e.javaClass), "${e.javaClass.simpleName} thrown for two codes")
            assertTrue(e.message!!.isNotBlank())
        }
        assertEquals(codes.size, classes.size)
        // Retryable classes are the transient ones.
        assertTrue(assertThrows(TsdException::class.java) { Native.testingFail("network") }.retryable)
        assertTrue(!assertThrows(TsdException::class.java) { Native.testingFail("tls") }.retryable)
    }

    @Test
    fun aPanicIsAnExceptionAndTheLibraryStaysUsable() {
        val e = assertThrows(RustPanicException::class.java) { Native.testingPanic("boom on purpose") }
        assertEquals("panic", e.code)
        assertTrue(e.message!!.contains("boom on purpose"))
        TsdRuntime.open(tempDir("after-panic")).use { assertEquals(0, it.documents().size) }
    }

    /** Every `external fun` has its `Java_` symbol in the library and vice versa. */
    @Test
    fun nativeFunctionsMatchTheLibrarySymbols() {
        val lib = File(System.getProperty("tsd.native.lib")).readBytes().toString(Charsets.ISO_8859_1)
        val prefix = "Java_ru_tsd_runtime_Native_"
        val symbols = Regex("${prefix}([A-Za-z0-9]+)\u0000").findAll(lib).map { it.groupValues[1] }.toSet()
        val declared = Native::class.java.declaredMethods.filter { Modifier.isNative(it.modifiers) }.map { it.name }.toSet()
        assertEquals(declared, symbols)
        assertTrue(declared.all { !it.contains('_') && it[0].isLowerCase() })
    }
}
