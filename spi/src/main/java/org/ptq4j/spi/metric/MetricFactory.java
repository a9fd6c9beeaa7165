package org.ptq4j.spi.metric;

import org.pf4j.ExtensionPoint;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;

import java.util.List;

/** Extension point: a kind of metric ({@code type:} in YAML), e.g. {@code accuracy} or {@code cosine}. */
public interface MetricFactory extends ExtensionPoint {
    String type();

    String description();

    List<ParamSpec> parameters();

    /** Creates the metric; throw {@link org.ptq4j.spi.PtqException} when it cannot judge this model's outputs. */
    Metric create(Params params, MetricContext context);
}
