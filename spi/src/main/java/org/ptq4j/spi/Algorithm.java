package org.ptq4j.spi;

import org.pf4j.ExtensionPoint;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.List;

/**
 * Extension point: one step of a pipeline ({@code algorithm:} in YAML), such as
 * {@code DefaultQuantization}. An algorithm is its math: it declares the statistics it needs on
 * the model it will receive, and turns that model and those statistics into a new model.
 * <p>
 * The host calls {@link #statistics} for every step before running any, collects all requests
 * in one pass over the calibration data, then calls {@link #apply} step by step. Steps whose
 * needs depend on an earlier step's output collect more through {@link PipelineContext#collect}.
 */
public interface Algorithm extends ExtensionPoint {
    /** Name used in YAML, e.g. {@code MinMaxQuantization}. */
    String name();

    String description();

    List<ParamSpec> parameters();

    /** Statistics this step needs, on tensors of {@code model} (the pipeline's input model). */
    default List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        return List.of();
    }

    /**
     * Returns the transformed model (a copy: {@code model} must not be modified).
     * Throw {@link PtqException} for bad input.
     */
    Model apply(Model model, Params params, Statistics statistics, PipelineContext context);
}
