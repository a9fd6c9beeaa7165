package org.ptq4j.spi;

/** A progress bar for long work: advance it, close it when done. */
public interface Progress extends AutoCloseable {
    void advance(long units);

    @Override
    void close();

    Progress NONE = new Progress() {
        @Override public void advance(long units) {}
        @Override public void close() {}
    };
}
