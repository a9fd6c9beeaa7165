package org.ptq4j.host.run;

import org.ptq4j.spi.Progress;

import java.io.PrintStream;

/**
 * A progress line on stderr: redrawn in place on a terminal, otherwise printed at most every
 * 10 % so that logs stay short.
 */
public final class ConsoleProgress implements Progress {
    private final String task;
    private final long total;
    private final PrintStream out;
    private final boolean tty;
    private final long start = System.nanoTime();
    private long done;
    private int lastDecile = -1;
    private long lastDraw;

    public ConsoleProgress(String task, long total, PrintStream out, boolean tty) {
        this.task = task;
        this.total = Math.max(1, total);
        this.out = out;
        this.tty = tty;
    }

    @Override
    public synchronized void advance(long units) {
        done = Math.min(total, done + units);
        int decile = (int) (done * 10 / total);
        long now = System.nanoTime();
        if (tty && (now - lastDraw > 100_000_000L || done == total)) {
            out.print("\r" + line());
            lastDraw = now;
        } else if (!tty && decile != lastDecile && decile < 10) {
            out.println(line());
            lastDecile = decile;
        }
    }

    private String line() {
        int pct = (int) (done * 100 / total);
        int bar = pct / 5;
        double secs = (System.nanoTime() - start) / 1e9;
        return String.format("%-28s [%s%s] %3d%% %d/%d %.1fs", task, "#".repeat(bar), ".".repeat(20 - bar), pct, done, total, secs);
    }

    @Override
    public synchronized void close() {
        if (tty) out.print("\r" + line() + "\n");
        else out.println(line());
        out.flush();
    }
}
