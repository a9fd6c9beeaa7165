package org.ptq4j.plugins.transformer;

import org.junit.jupiter.api.Test;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Pooling, masking, merging and serialization of the embedding_cosine metric. */
class EmbeddingCosineTest {
    static Metric metric() {
        return new EmbeddingCosineMetricFactory().create(Params.empty(), new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return List.of(new ValueInfo("last_hidden_state", DType.FLOAT, null)); }
            @Override public Path baseDir() { return Path.of("."); }
        });
    }

    @Test
    void poolsOnlyMaskedTokensAndMergesAcrossShards() throws Exception {
        // 2 sentences, 3 tokens, 2 dims; the padded token (mask 0) of sentence 0 is garbage and must not count
        float[] y = {1, 0, 1, 0, 100, -100, /**/ 0, 1, 0, 1, 0, 1};
        float[] r = {1, 0, 1, 0, 7, 7, /**/ 0, 1, 1, 0, 0, 1};
        Map<String, Tensor> out = Map.of("last_hidden_state", Tensor.ofFloats(new long[]{2, 3, 2}, y));
        Map<String, Tensor> ref = Map.of("last_hidden_state", Tensor.ofFloats(new long[]{2, 3, 2}, r));
        Tensor mask = Tensor.ofLongs(new long[]{2, 3}, new long[]{1, 1, 0, 1, 1, 1});
        Metric m = metric();
        Metric.Accumulator a = m.newAccumulator();
        double[] per = a.update(out, ref, null, Map.of("attention_mask", mask));
        assertEquals(1.0, per[0], 1e-12);
        // sentence 1: pooled (0,1) vs (1/3, 2/3): cos = (2/3) / sqrt(5/9)
        assertEquals((2.0 / 3) / Math.sqrt(5.0 / 9), per[1], 1e-7);
        // shard-wise: two accumulators merged == one, also after a serialization round trip
        Metric.Accumulator b1 = m.newAccumulator(), b2 = m.newAccumulator();
        b1.update(Map.of("last_hidden_state", Tensor.ofFloats(new long[]{1, 3, 2}, java.util.Arrays.copyOf(y, 6))),
                Map.of("last_hidden_state", Tensor.ofFloats(new long[]{1, 3, 2}, java.util.Arrays.copyOf(r, 6))), null, Map.of("attention_mask", mask.slice0(0, 1)));
        b2.update(Map.of("last_hidden_state", Tensor.ofFloats(new long[]{1, 3, 2}, java.util.Arrays.copyOfRange(y, 6, 12))),
                Map.of("last_hidden_state", Tensor.ofFloats(new long[]{1, 3, 2}, java.util.Arrays.copyOfRange(r, 6, 12))), null, Map.of("attention_mask", mask.slice0(1, 2)));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(bytes)) { o.writeObject(b2); }
        Metric.Accumulator b2copy = (Metric.Accumulator) new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject();
        b1.merge(b2copy);
        assertEquals(a.value(), b1.value(), 1e-12);
        assertEquals(2, b1.count());
    }

    @Test
    void unknownOutputIsAPtqException() {
        PtqException e = assertThrows(PtqException.class, () -> new EmbeddingCosineMetricFactory().create(new Params(Map.of("output", "pooled")),
                new MetricContext() {
                    @Override public List<ValueInfo> modelOutputs() { return List.of(new ValueInfo("last_hidden_state", DType.FLOAT, null)); }
                    @Override public Path baseDir() { return Path.of("."); }
                }));
        assertTrue(e.getMessage().contains("'pooled'"), e.getMessage());
    }
}
