package org.ptq4j.spi.stats;

/** The collected statistics of one pass: a request's result, and how many samples were seen. */
public interface Statistics {
    /** The result of a request, typed as its spec documents; throws if it was not collected. */
    Object get(StatisticRequest request);

    boolean has(StatisticRequest request);

    @SuppressWarnings("unchecked")
    default <T> T get(String tensor, CollectorSpec spec) { return (T) get(new StatisticRequest(tensor, spec)); }

    /** Number of samples the statistics were collected over. */
    int samples();

    Statistics EMPTY = new Statistics() {
        @Override public Object get(StatisticRequest request) { throw new IllegalStateException("no statistics collected for " + request); }
        @Override public boolean has(StatisticRequest request) { return false; }
        @Override public int samples() { return 0; }
    };
}
