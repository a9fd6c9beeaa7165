package org.ptq4j.host.testing;

import org.ptq4j.spi.PtqException;

import java.lang.management.ManagementFactory;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The property every loader must keep on any input: it succeeds, or throws a {@link PtqException}
 * with a message; never another exception, never more than {@code maxBytes} of heap allocated,
 * never longer than {@code timeoutSeconds}. Fuzz tests call {@link #check} once per generated input.
 * <p>
 * jqwik runs {@code jqwik.tries.default} inputs per property (module's
 * {@code junit-platform.properties}: a few hundred, seconds in CI); a longer run sets it on the
 * command line, e.g. {@code ./mvnw -B verify -pl host,plugins/data-numpy,plugins/data-image -am
 * -Dtest='*FuzzTest' -Dsurefire.failIfNoSpecifiedTests=false -Djqwik.tries.default=10000}.
 */
public final class Fuzz {
    private Fuzz() {}

    /** Runs the loaders; replaced after a hang (the stuck thread is abandoned). */
    private static ExecutorService worker = newWorker();

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-worker");
            t.setDaemon(true);
            return t;
        });
    }

    /** Inputs accepted and inputs refused with a PtqException, per test class (printed by {@link #report}). */
    private static final java.util.Map<String, long[]> COUNTS = new java.util.concurrent.ConcurrentHashMap<>();

    /** Prints how many inputs {@code test} saw, accepted and refused. */
    public static void report(Class<?> test) {
        long[] c = COUNTS.getOrDefault(test.getSimpleName(), new long[2]);
        System.out.println(test.getSimpleName() + ": " + (c[0] + c[1]) + " inputs, " + c[0] + " read, " + c[1] + " refused with a PtqException");
    }

    private static void count(int i) {
        for (StackTraceElement e : new Throwable().getStackTrace()) {
            if (e.getClassName().endsWith("FuzzTest")) {
                COUNTS.computeIfAbsent(e.getClassName().substring(e.getClassName().lastIndexOf('.') + 1), k -> new long[2])[i]++;
                return;
            }
        }
    }

    /** Runs {@code loader} on the worker thread and checks the property; {@code what} describes the input in failures. */
    public static synchronized void check(String what, long maxBytes, int timeoutSeconds, Runnable loader) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Future<long[]> f = worker.submit(() -> {
            long id = Thread.currentThread().getId();
            long before = mx.getThreadAllocatedBytes(id);
            loader.run();
            return new long[]{mx.getThreadAllocatedBytes(id) - before};
        });
        try {
            long allocated = f.get(timeoutSeconds, TimeUnit.SECONDS)[0];
            assertTrue(allocated <= maxBytes, what + ": allocated " + allocated + " bytes (limit " + maxBytes + ")");
            count(0);
        } catch (TimeoutException e) {
            f.cancel(true);
            worker.shutdownNow();
            worker = newWorker();
            fail(what + ": no answer after " + timeoutSeconds + " s (a hang)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof PtqException p) {
                assertNotNull(p.getMessage(), what + ": a PtqException without a message");
                assertFalse(p.getMessage().isBlank(), what + ": a PtqException with a blank message");
                count(1);
                return;
            }
            throw new AssertionError(what + ": " + c, c);
        }
    }

    /** {@code bytes} with {@code edits} applied: each is (kind, position, value) over the current length. */
    public static byte[] mutate(byte[] bytes, java.util.List<int[]> edits) {
        byte[] b = bytes.clone();
        for (int[] e : edits) {
            if (b.length == 0) break;
            int at = Math.floorMod(e[1], b.length), v = e[2];
            switch (Math.floorMod(e[0], 5)) {
                case 0 -> b[at] = (byte) v;                                            // set a byte
                case 1 -> b[at] ^= (byte) (1 << Math.floorMod(v, 8));                  // flip a bit
                case 2 -> b = java.util.Arrays.copyOf(b, at);                          // truncate
                case 3 -> {                                                            // insert a few bytes
                    int n = 1 + Math.floorMod(v, 8);
                    byte[] c = new byte[b.length + n];
                    System.arraycopy(b, 0, c, 0, at);
                    for (int i = 0; i < n; i++) c[at + i] = (byte) (v >>> (i % 4 * 8));
                    System.arraycopy(b, at, c, at + n, b.length - at);
                    b = c;
                }
                default -> {                                                           // an extreme 4-byte value (sizes, lengths)
                    int[] extremes = {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 0x7f, 0xff, 1 << 20};
                    int x = extremes[Math.floorMod(v, extremes.length)];
                    for (int i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (byte) (x >>> (8 * i));
                }
            }
        }
        return b;
    }
}
