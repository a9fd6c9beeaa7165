package org.ptq4j.spi.engine;

import java.nio.file.Path;
import java.util.List;

/**
 * @param threads          intra-op threads (0: the engine's default)
 * @param extraOutputs     intermediate tensors to expose as outputs (calibration)
 * @param optimize         apply the engine's graph optimizations (fusions)
 * @param optimizedModelPath if set, the engine writes the graph it actually runs there
 */
public record SessionOptions(int threads, List<String> extraOutputs, boolean optimize, Path optimizedModelPath) {
    public SessionOptions {
        extraOutputs = extraOutputs == null ? List.of() : List.copyOf(extraOutputs);
    }

    public static SessionOptions defaults() { return new SessionOptions(0, List.of(), true, null); }

    public SessionOptions withThreads(int t) { return new SessionOptions(t, extraOutputs, optimize, optimizedModelPath); }
    public SessionOptions withExtraOutputs(List<String> outs) { return new SessionOptions(threads, outs, optimize, optimizedModelPath); }
    public SessionOptions withOptimize(boolean o) { return new SessionOptions(threads, extraOutputs, o, optimizedModelPath); }
    public SessionOptions withOptimizedModelPath(Path p) { return new SessionOptions(threads, extraOutputs, optimize, p); }
}
