package ru.tsd.runtime

import org.json.JSONObject
import java.io.File

/**
 * Benchmark, not a test: resolves scans from Kotlin through JNI and prints p50/p99
 * in nanoseconds as JSON — the raw call (`Native.resolve`, a JSON string back) and
 * the decoded one (`TsdRuntime.resolve`, a data class). `scripts/bench.sh` runs it
 * against the benchmark catalog with the same codes the Rust benchmark uses.
 *
 * Arguments: DATA_DIR CODES_FILE N
 */
fun main(args: Array<String>) {
    require(args.size == 3) { "usage: ResolveBench DATA_DIR CODES_FILE N" }
    val codes = File(args[1]).readLines().filter { it.isNotBlank() }
    val n = args[2].toInt()
    TsdRuntime.open(File(args[0])).use { rt ->
        val handle = rt.javaClass.getDeclaredField("handle").apply { isAccessible = true }.getLong(rt)
        repeat(minOf(n, 200_000)) { rt.resolve(codes[it % codes.size]) } // JIT and page cache
        fun measure(call: (String) -> Any): JSONObject {
            val times = LongArray(n)
            for (i in 0 until n) {
                val code = codes[i % codes.size]
                val t = System.nanoTime()
                call(code)
                times[i] = System.nanoTime() - t
            }
            times.sort()
            fun at(p: Double) = times[minOf((n * p).toInt(), n - 1)]
            return JSONObject().put("n", n).put("p50_ns", at(0.50)).put("p99_ns", at(0.99)).put("p999_ns", at(0.999))
        }
        val raw = measure { Native.resolve(handle, it) }
        val decoded = measure { rt.resolve(it) }
        println(JSONObject().put("raw", raw).put("decoded", decoded))
    }
}
