package ru.tsd.runtime

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/** The trigger policy with a stand-in target (the real one is in ServerSyncTest). */
class SyncPolicyTest {
    private class Fake(var waiting: Int = 0, var error: String? = null, var isDue: Boolean = false) : SyncTarget<SyncReport> {
        val calls = AtomicInteger()
        val release = CountDownLatch(1)
        override fun sync(): SyncReport {
            calls.incrementAndGet()
            release.await(10, TimeUnit.SECONDS)
            return SyncReport(emptyList(), emptyList(), 0, 0, emptyList(), 0, 0, 0, 0.0)
        }
        override fun status() = SyncStatus(waiting, null, null, error, null, 0, 0, 0, waiting == 0 && error == null)
        override fun due() = isDue
    }

    @Test
    fun neverTwoSyncsAtOnce() {
        val fake = Fake()
        val done = CountDownLatch(1)
        val policy = SyncPolicy(fake, Executors.newCachedThreadPool()) { done.countDown() }
        assertTrue(policy.onSyncButton())
        assertFalse(policy.onSyncButton(), "pressed again while running")
        assertTrue(policy.isRunning)
        fake.release.countDown()
        assertTrue(done.await(10, TimeUnit.SECONDS))
        Thread.sleep(20)
        assertEquals(1, fake.calls.get())
        assertFalse(policy.isRunning)
    }

    @Test
    fun networkBackSyncsOnlyWhenSomethingWaitsAndTicksFollowTheCore() {
        val fake = Fake().apply { release.countDown() }
        val policy = SyncPolicy(fake, { it.run() })
        assertFalse(policy.onNetworkAvailable())
        fake.waiting = 2
        assertTrue(policy.onNetworkAvailable())
        fake.waiting = 0
        fake.error = "network: refused"
        assertTrue(policy.onNetworkAvailable(), "the last attempt failed")
        assertFalse(policy.onPeriodicTick(), "the core says not yet")
        fake.isDue = true
        assertTrue(policy.onPeriodicTick())
        assertEquals(3, fake.calls.get())
    }

    /** A job holds its wakelock until `done`; a failure of any kind reaches `done` too, never the thread. */
    @Test
    fun doneHearsTheEndOfTheSyncItStartedWhateverItThrew() {
        val fake = object : SyncTarget<String> {
            var fail: Exception? = null
            override fun sync(): String = fail?.let { throw it } ?: "ok"
            override fun status() = SyncStatus(0, null, null, null, null, 0, 0, 0, true)
            override fun due() = true
        }
        val heard = mutableListOf<Result<String>>()
        val policy = SyncPolicy(fake, { it.run() })
        assertTrue(policy.onPeriodicTick { heard += it })
        fake.fail = org.json.JSONException("a malformed answer")
        assertTrue(policy.onPeriodicTick { heard += it })
        assertEquals("ok", heard[0].getOrNull())
        assertTrue(heard[1].exceptionOrNull() is org.json.JSONException)
        assertFalse(policy.isRunning)
    }
}
