package org.ptq4j.plugins.metrics;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Metrics on real FP32 outputs: the golden logits of the shared Fashion-MNIST models (rows 0..99
 * of the test split) and the test labels, checked against independent computations.
 */
class MetricsTest {
    static final Tensor CNN = org.ptq4j.spi.io.Npy.read(TestAssets.model("fmnist_cnn.golden-logits-test100.npy"));
    static final Tensor RESNET = org.ptq4j.spi.io.Npy.read(TestAssets.model("fmnist_resnet.golden-logits-test100.npy"));
    static final long[] LABELS = java.util.Arrays.copyOf(TestAssets.npy("fmnist-test-1k-labels.npy").longs(), 100);

    static MetricContext outputs(ValueInfo... outs) {
        return new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return List.of(outs); }
            @Override public Path baseDir() { return Path.of("."); }
        };
    }

    static final MetricContext LOGITS = outputs(new ValueInfo("logits", DType.FLOAT, List.of(Dim.named("batch"), Dim.of(10))));

    static List<Tensor> labels(int from, int to) {
        List<Tensor> l = new ArrayList<>();
        for (int i = from; i < to; i++) l.add(Tensor.ofLongs(new long[0], new long[]{LABELS[i]}));
        return l;
    }

    static Metric metric(org.ptq4j.spi.metric.MetricFactory f, Map<String, Object> params) {
        return f.create(new Params(params), LOGITS);
    }

    static int argmax(float[] v, int off) {
        int b = 0;
        for (int j = 1; j < 10; j++) if (v[off + j] > v[off + b]) b = j;
        return b;
    }

    @Test
    void top1AndTopKAccuracyMatchAHandCount() {
        float[] v = CNN.floats();
        int correct = 0, top3 = 0;
        for (int i = 0; i < 100; i++) {
            if (argmax(v, i * 10) == LABELS[i]) correct++;
            int better = 0;
            for (int j = 0; j < 10; j++) if (v[i * 10 + j] > v[i * 10 + (int) LABELS[i]]) better++;
            if (better < 3) top3++;
        }
        Metric top1 = metric(new AccuracyMetricFactory(), Map.of());
        var acc = top1.newAccumulator();
        double[] per = acc.update(Map.of("logits", CNN), null, labels(0, 100));
        assertEquals(correct / 100.0, acc.value(), 1e-12);
        assertEquals(correct, java.util.Arrays.stream(per).sum(), 1e-12);
        assertTrue(correct >= 85, "the FP32 CNN gets ~90 % of these right, got " + correct);

        var k3 = metric(new AccuracyMetricFactory(), Map.of("top_k", 3)).newAccumulator();
        k3.update(Map.of("logits", CNN), null, labels(0, 100));
        assertEquals(top3 / 100.0, k3.value(), 1e-12);
        assertTrue(top3 > correct);
        var all = metric(new TopKMetricFactory(), Map.of("top_k", 10)).newAccumulator();
        all.update(Map.of("logits", CNN), null, labels(0, 100));
        assertEquals(1.0, all.value());
        assertEquals(5, ((AccuracyMetric) new TopKMetricFactory().create(Params.empty(), LOGITS)).k());
    }

    @Test
    void accumulatorsMergeAndSerialize() throws Exception {
        for (var f : List.of(new AccuracyMetricFactory(), new FidelityMetricFactory.Cosine(), new FidelityMetricFactory.Sqnr(),
                new FidelityMetricFactory.Mse(), new FidelityMetricFactory.Top1Agreement())) {
            Metric m = metric(f, Map.of());
            var whole = m.newAccumulator();
            whole.update(Map.of("logits", RESNET), Map.of("logits", CNN), labels(0, 100));
            var a = m.newAccumulator();
            var b = m.newAccumulator();
            a.update(Map.of("logits", RESNET.slice0(0, 37)), Map.of("logits", CNN.slice0(0, 37)), labels(0, 37));
            b.update(Map.of("logits", RESNET.slice0(37, 100)), Map.of("logits", CNN.slice0(37, 100)), labels(37, 100));
            var bytes = new ByteArrayOutputStream();
            try (var out = new ObjectOutputStream(bytes)) { out.writeObject(b); }
            var b2 = (Metric.Accumulator) new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject();
            a.merge(b2);
            assertEquals(100, a.count());
            assertEquals(whole.value(), a.value(), 1e-9 * Math.max(1, Math.abs(whole.value())), m.name());
        }
    }

    @Test
    void fidelityOfIdenticalOutputsIsPerfect() {
        assertEquals(1.0, run(new FidelityMetricFactory.Cosine(), CNN, CNN), 1e-6);
        assertEquals(Double.POSITIVE_INFINITY, run(new FidelityMetricFactory.Sqnr(), CNN, CNN));
        assertEquals(0.0, run(new FidelityMetricFactory.Mse(), CNN, CNN));
        assertEquals(1.0, run(new FidelityMetricFactory.Top1Agreement(), CNN, CNN));
    }

    @Test
    void fidelityBetweenTwoRealModelsMatchesAnIndependentComputation() {
        float[] y = RESNET.floats(), r = CNN.floats();
        double cos = 0, sig = 0, noise = 0;
        int agree = 0;
        for (int i = 0; i < 100; i++) {
            double dot = 0, yy = 0, rr = 0;
            for (int j = 0; j < 10; j++) {
                double a = y[i * 10 + j], b = r[i * 10 + j];
                dot += a * b; yy += a * a; rr += b * b; noise += (a - b) * (a - b);
            }
            sig += rr;
            cos += dot / Math.sqrt(yy * rr);
            if (argmax(y, i * 10) == argmax(r, i * 10)) agree++;
        }
        assertEquals(cos / 100, run(new FidelityMetricFactory.Cosine(), RESNET, CNN), 1e-6);
        assertEquals(10 * Math.log10(sig / noise), run(new FidelityMetricFactory.Sqnr(), RESNET, CNN), 1e-6);
        assertEquals(noise / 1000, run(new FidelityMetricFactory.Mse(), RESNET, CNN), 1e-6 * noise / 1000);
        assertEquals(agree / 100.0, run(new FidelityMetricFactory.Top1Agreement(), RESNET, CNN), 1e-12);
        // two independently trained ~90 % models agree on most, not all, test images
        assertTrue(agree > 80 && agree < 100, "agreement " + agree);
    }

    @Test
    void sqnrAndMseOfKnownNoise() {
        float[] r = CNN.floats(), y = r.clone();
        Random rnd = new Random(7);
        double sigma = 0.5, sig = 0;
        for (int i = 0; i < y.length; i++) { y[i] += (float) (sigma * rnd.nextGaussian()); sig += r[i] * (double) r[i]; }
        Tensor noisy = Tensor.ofFloats(CNN.shape(), y);
        double expectedDb = 10 * Math.log10(sig / r.length / (sigma * sigma));
        assertEquals(expectedDb, run(new FidelityMetricFactory.Sqnr(), noisy, CNN), 0.5);
        assertEquals(sigma * sigma, run(new FidelityMetricFactory.Mse(), noisy, CNN), 0.03);
        // cosine ignores scale, MSE does not
        float[] twice = r.clone();
        for (int i = 0; i < twice.length; i++) twice[i] *= 2;
        Tensor doubled = Tensor.ofFloats(CNN.shape(), twice);
        assertEquals(1.0, run(new FidelityMetricFactory.Cosine(), doubled, CNN), 1e-6);
        assertTrue(run(new FidelityMetricFactory.Mse(), doubled, CNN) > 1);
    }

    static double run(org.ptq4j.spi.metric.MetricFactory f, Tensor y, Tensor ref) {
        Metric m = metric(f, Map.of());
        assertTrue(m.needsReference());
        assertFalse(m.needsAnnotations());
        var acc = m.newAccumulator();
        double[] per = acc.update(Map.of("logits", y), Map.of("logits", ref), null);
        assertEquals(y.dim(0), per.length);
        return acc.value();
    }

    @Test
    void labelOutsideTheModelsClassesIsNamed() {
        var acc = metric(new AccuracyMetricFactory(), Map.of()).newAccumulator();
        List<Tensor> l = labels(0, 100);
        l.set(42, Tensor.ofLongs(new long[0], new long[]{10}));
        var e = assertThrows(PtqException.class, () -> acc.update(Map.of("logits", CNN), null, l));
        assertTrue(e.getMessage().contains("label 10") && e.getMessage().contains("sample 42") && e.getMessage().contains("10 classes")
                && e.getMessage().contains("'logits'"), e.getMessage());
    }

    @Test
    void shapeExpectationsThatDoNotFitTheModelAreNamed() {
        var image = outputs(new ValueInfo("features", DType.FLOAT, List.of(Dim.named("batch"), Dim.of(1), Dim.of(28), Dim.of(28))));
        var e = assertThrows(PtqException.class, () -> new AccuracyMetricFactory().create(Params.empty(), image));
        assertTrue(e.getMessage().contains("'accuracy'") && e.getMessage().contains("'features'") && e.getMessage().contains("[batch, 1, 28, 28]"), e.getMessage());

        e = assertThrows(PtqException.class, () -> metric(new AccuracyMetricFactory(), Map.of("top_k", 20)));
        assertTrue(e.getMessage().contains("top_k 20") && e.getMessage().contains("10 classes"), e.getMessage());

        e = assertThrows(PtqException.class, () -> metric(new FidelityMetricFactory.Cosine(), Map.of("output", "probs")));
        assertTrue(e.getMessage().contains("no output 'probs'") && e.getMessage().contains("logits"), e.getMessage());

        var acc = metric(new FidelityMetricFactory.Mse(), Map.of()).newAccumulator();
        e = assertThrows(PtqException.class, () -> acc.update(Map.of("logits", CNN), Map.of("logits", CNN.slice0(0, 50)), null));
        assertTrue(e.getMessage().contains("'mse'") && e.getMessage().contains("'logits'") && e.getMessage().contains("[100, 10]")
                && e.getMessage().contains("[50, 10]"), e.getMessage());

        var top1 = metric(new AccuracyMetricFactory(), Map.of()).newAccumulator();
        e = assertThrows(PtqException.class, () -> top1.update(Map.of("logits", CNN.reshape(100, 2, 5)), null, labels(0, 100)));
        assertTrue(e.getMessage().contains("[100, 2, 5]") && e.getMessage().contains("[batch, classes]"), e.getMessage());
    }
}
