package org.ptq4j.plugins.metrics;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;

import java.util.List;

/**
 * Base of the annotation-free metrics that compare a model's output with the reference (FP32)
 * model's output on the same inputs; the math is in {@link Fidelity}.
 */
public abstract class FidelityMetricFactory implements MetricFactory {
    private final Fidelity kind;

    FidelityMetricFactory(Fidelity kind) { this.kind = kind; }

    @Override public String type() { return kind.type; }

    @Override public String description() { return kind.description; }

    @Override public List<ParamSpec> parameters() { return List.of(Outputs.OUTPUT); }

    @Override
    public Metric create(Params params, MetricContext context) {
        ValueInfo out = Outputs.select(type(), params, context);
        if (out.shape() != null && out.shape().isEmpty())
            throw new PtqException("metric '" + type() + "': output '" + out.name() + "' is a scalar; expected a batch axis 0");
        if (kind == Fidelity.TOP1_AGREEMENT && out.shape() != null && out.shape().size() < 2)
            throw new PtqException("metric '" + type() + "': output '" + out.name() + "' has shape " + out.shape()
                    + "; expected scores with a class axis, e.g. [batch, classes]");
        return new FidelityMetric(kind, out.name());
    }

    /** {@code cosine}. */
    @org.pf4j.Extension
    public static class Cosine extends FidelityMetricFactory { public Cosine() { super(Fidelity.COSINE); } }

    /** {@code sqnr} (dB). */
    @org.pf4j.Extension
    public static class Sqnr extends FidelityMetricFactory { public Sqnr() { super(Fidelity.SQNR); } }

    /** {@code mse}. */
    @org.pf4j.Extension
    public static class Mse extends FidelityMetricFactory { public Mse() { super(Fidelity.MSE); } }

    /** {@code top1_agreement}. */
    @org.pf4j.Extension
    public static class Top1Agreement extends FidelityMetricFactory { public Top1Agreement() { super(Fidelity.TOP1_AGREEMENT); } }
}
