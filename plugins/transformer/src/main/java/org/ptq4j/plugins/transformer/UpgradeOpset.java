package org.ptq4j.plugins.transformer;

import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.transform.OpsetUpgrade;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;

import java.util.List;

/**
 * {@code UpgradeOpset}: raises an opset-11/12 model to opset 13 (so that later steps can use
 * per-channel {@code DequantizeLinear}), rewriting the operators whose form changed
 * ({@link OpsetUpgrade}); the report says what was converted.
 */
@Extension
public final class UpgradeOpset implements Algorithm {
    public static final String NAME = "UpgradeOpset";

    @Override public String name() { return NAME; }

    @Override public String description() { return "upgrades the ai.onnx opset to 13 (Unsqueeze/Squeeze/ReduceSum/Split/Softmax rewritten)"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(ParamSpec.integer("opset", 13, "target ai.onnx opset").withRange(12.0, 13.0));
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext context) {
        OpsetUpgrade.Result r = OpsetUpgrade.upgrade(model, params.getInt("opset"));
        context.report().put(NAME, "summary", r.summary());
        return r.model();
    }
}
