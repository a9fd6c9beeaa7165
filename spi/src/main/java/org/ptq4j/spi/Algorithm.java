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
 * The host first lets every step {@link #transform} the FP32 model without data (in order), then
 * calls {@link #statistics} for every step on the transformed model, collects all requests
 * in one pass over the calibration data, then calls {@link #apply} step by step. Steps whose
 * needs depend on an earlier step's output collect more through {@link PipelineContext#collect}.
 */
public interface Algorithm extends ExtensionPoint {
    /** Name used in YAML, e.g. {@code MinMaxQuantization}. */
    String name();

    String description();

    List<ParamSpec> parameters();

    /**
     * A data-free, function-preserving rewrite of the FP32 model that statistics are then measured on,
     * e.g. cross-layer equalization (activation ranges change with it, so they must be measured after it).
     * Returns {@code model} itself when there is nothing to do; a copy otherwise ({@code model} must not be modified).
     */
    default Model transform(Model model, Params params, PipelineContext context) {
        return model;
    }

    /** Statistics this step needs, on tensors of {@code model} (the pipeline's input model, after every step's {@link #transform}). */
    default List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        return List.of();
    }

    /**
     * Returns the transformed model (a copy: {@code model} must not be modified).
     * Throw {@link PtqException} for bad input.
     */
    Model apply(Model model, Params params, Statistics statistics, PipelineContext context);
}
