package org.ptq4j.plugins.metrics;

import org.pf4j.Extension;

/** {@code top_k}: the {@link AccuracyMetricFactory accuracy} metric with {@code top_k} defaulting to 5. */
@Extension
public class TopKMetricFactory extends AccuracyMetricFactory {
    @Override public String type() { return "top_k"; }

    @Override public String description() { return "top-k accuracy (default k = 5) against the dataset's labels"; }

    @Override protected int defaultK() { return 5; }
}
