package org.ptq4j.plugins.metrics;

import org.pf4j.Extension;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;

import java.util.List;

/** {@code accuracy}: top-1 (or top-{@code top_k}) accuracy of class scores against labels. */
@Extension
public class AccuracyMetricFactory implements MetricFactory {
    @Override public String type() { return "accuracy"; }

    @Override public String description() { return "top-1 / top-k classification accuracy against the dataset's labels"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(Outputs.OUTPUT, ParamSpec.integer("top_k", defaultK(), "a sample is correct when its label is among the k best scores").withRange(1.0, null));
    }

    protected int defaultK() { return 1; }

    @Override
    public Metric create(Params params, MetricContext context) {
        int k = params.integer("top_k").orElse(defaultK());
        if (k < 1) throw new PtqException("metric '" + type() + "': top_k must be >= 1, got " + k);
        ValueInfo out = Outputs.select(type(), params, context);
        if (out.shape() != null) {
            if (out.shape().size() != 2)
                throw new PtqException("metric '" + type() + "': output '" + out.name() + "' has shape " + out.shape()
                        + "; expected class scores [batch, classes] (choose another with 'output')");
            var classes = out.shape().get(1);
            if (classes.isFixed() && k > classes.value())
                throw new PtqException("metric '" + type() + "': top_k " + k + " exceeds the " + classes.value() + " classes of output '"
                        + out.name() + "' " + out.shape());
        }
        return new AccuracyMetric(type(), out.name(), k);
    }
}
