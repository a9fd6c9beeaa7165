package org.ptq4j.plugins.metrics;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.Map;

/** Choosing the judged model output ({@code output} parameter) and fetching it from a batch's results. */
final class Outputs {
    private Outputs() {}

    static final ParamSpec OUTPUT = ParamSpec.string("output", null, "model output to judge (default: the first output)");

    /** The declared output named by {@code output} (default: the first); a name-only info when the model's outputs are unknown. */
    static ValueInfo select(String metric, Params params, MetricContext context) {
        var declared = context == null || context.modelOutputs() == null ? java.util.List.<ValueInfo>of() : context.modelOutputs();
        String name = params.string("output").orElse(null);
        if (declared.isEmpty()) {
            if (name == null) throw new PtqException("metric '" + metric + "': the model declares no outputs; set 'output'");
            return ValueInfo.nameOnly(name);
        }
        if (name == null) return declared.get(0);
        for (ValueInfo v : declared) if (v.name().equals(name)) return v;
        throw new PtqException("metric '" + metric + "': the model has no output '" + name + "' (outputs: "
                + declared.stream().map(ValueInfo::name).toList() + ")");
    }

    /** The output tensor of a batch; {@code role} is "model" or "reference" for the message. */
    static Tensor get(String metric, String output, Map<String, Tensor> outputs, String role) {
        if (outputs == null) throw new PtqException("metric '" + metric + "' needs the " + role + " outputs, none were given");
        Tensor t = outputs.get(output);
        if (t == null) throw new PtqException("metric '" + metric + "': the " + role + " has no output '" + output + "' (got " + outputs.keySet() + ")");
        if (t.rank() < 1) throw new PtqException("metric '" + metric + "': output '" + output + "' of the " + role + " is a scalar; expected a batch axis 0");
        return t;
    }

    static String shape(Tensor t) { return Arrays.toString(t.shape()); }
}
