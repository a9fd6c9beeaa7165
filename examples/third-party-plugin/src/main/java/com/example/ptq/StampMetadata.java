package com.example.ptq;

import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A pipeline step that records provenance in the model's {@code metadata_props}: the given
 * entries (under a prefix) and a census of the operators the model now contains, so that a
 * deployed model says how it was made. It changes no computation.
 */
@Extension
public class StampMetadata implements Algorithm {
    @Override public String name() { return "StampMetadata"; }

    @Override public String description() { return "writes provenance entries and an operator census into metadata_props"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.string("prefix", "example.", "prefix of every key written"),
                ParamSpec.anyMap("entries", "key: value pairs to record"),
                ParamSpec.bool("op_census", true, "record how many nodes of each op type the model has"));
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext context) {
        Model out = model.copy();
        String prefix = params.getString("prefix");
        params.map("entries").asMap().forEach((k, v) -> out.metadata().put(prefix + k, String.valueOf(v)));
        if (params.getBool("op_census")) {
            Map<String, Integer> census = new TreeMap<>();
            for (Node n : out.graph().nodes()) census.merge(n.opType(), 1, Integer::sum);
            out.metadata().put(prefix + "ops", census.toString());
            context.report().put("StampMetadata", "ops", census.toString());
        }
        return out;
    }
}
