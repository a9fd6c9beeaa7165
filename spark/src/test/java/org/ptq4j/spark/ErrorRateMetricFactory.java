package org.ptq4j.spark;

import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A third-party metric that knows nothing of Spark, defined only here (spi types only): top-1
 * error rate with its own accumulator. With {@code fail_once: <file>}, the first accumulator that
 * creates that file throws in the middle of its shard (after one batch): an executor failure
 * that happens once.
 */
public final class ErrorRateMetricFactory implements MetricFactory {
    @Override public String type() { return "test_error_rate"; }
    @Override public String description() { return "top-1 error rate (test plugin)"; }
    @Override public List<ParamSpec> parameters() {
        return List.of(ParamSpec.string("fail_once", null, "a file: the accumulator that creates it fails (once)"));
    }

    @Override
    public Metric create(Params params, MetricContext context) {
        String output = context.modelOutputs().get(0).name();
        String failOnce = params.string("fail_once").orElse(null);
        return new Metric() {
            @Override public String name() { return "test_error_rate"; }
            @Override public boolean higherIsBetter() { return false; }
            @Override public boolean needsAnnotations() { return true; }
            @Override public boolean needsReference() { return false; }
            @Override public Accumulator newAccumulator() { return new Acc(output, failOnce); }
        };
    }

    static final class Acc implements Metric.Accumulator {
        private final String output;
        private final String failOnce;
        private long wrong, count, batches;

        Acc(String output, String failOnce) {
            this.output = output;
            this.failOnce = failOnce;
        }

        @Override
        public double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations) {
            if (failOnce != null && ++batches == 2) {
                try {
                    Files.createFile(Path.of(failOnce));
                    throw new IllegalStateException("injected executor failure (test_error_rate fail_once)");
                } catch (FileAlreadyExistsException already) {
                    // failed before: run normally
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
            Tensor t = outputs.get(output);
            int n = (int) t.dim(0), c = (int) (t.numElements() / n);
            float[] s = t.floats();
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int j = 1; j < c; j++) if (s[i * c + j] > s[i * c + best]) best = j;
                long label = annotations.get(i).longs()[0];
                v[i] = best == label ? 0 : 1;
                wrong += (long) v[i];
            }
            count += n;
            return v;
        }

        @Override
        public void merge(Metric.Accumulator other) {
            Acc o = (Acc) other;
            wrong += o.wrong;
            count += o.count;
        }

        @Override public double value() { return count == 0 ? 0 : (double) wrong / count; }
        @Override public long count() { return count; }
    }
}
