package org.ptq4j.spi.engine;

import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Latency of several sessions on the same inputs, timed interleaved (1, 2, ..., repeated) after a warm-up so that
 * machine noise hits all of them alike: the one timing loop of {@code ptq benchmark}, the API's benchmark and algorithms that time candidate models (target_device HOST).
 */
public final class Interleaved {
    private Interleaved() {}

    /** Nanoseconds of each run: {@code [session][run]}. */
    public static long[][] time(List<Session> sessions, Map<String, Tensor> feeds, int warmup, int runs) {
        for (int i = 0; i < warmup; i++) for (Session s : sessions) s.run(feeds);
        long[][] ns = new long[sessions.size()][runs];
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < sessions.size(); k++) {
                long t = System.nanoTime();
                sessions.get(k).run(feeds);
                ns[k][r] = System.nanoTime() - t;
            }
        return ns;
    }

    /** {median, p90} in milliseconds (nearest rank). */
    public static double[] medianP90(long[] ns) {
        long[] sorted = ns.clone();
        Arrays.sort(sorted);
        return new double[]{percentile(sorted, 0.5) / 1e6, percentile(sorted, 0.9) / 1e6};
    }

    /** Nearest-rank percentile of sorted values. */
    public static double percentile(long[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }
}
