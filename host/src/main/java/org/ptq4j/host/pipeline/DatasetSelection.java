package org.ptq4j.host.pipeline;

import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.param.ParamSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * Keys every dataset accepts, whatever its type: {@code subset_size} (0 = all), {@code seed} and
 * {@code shuffle} pick the samples (the first N, or a seeded random N in file order). The host
 * applies them as an index view, so dataset plugins never re-implement selection.
 */
public final class DatasetSelection {
    private DatasetSelection() {}

    public static final List<ParamSpec> PARAMS = List.of(
            ParamSpec.integer("subset_size", 0, "use only this many samples (0: all)").withRange(0.0, null),
            ParamSpec.integer("seed", 0, "seed of the random choice when shuffle is true"),
            ParamSpec.bool("shuffle", false, "pick subset_size samples at random (seeded) instead of the first ones"));

    /** A factory's own parameters plus the selection keys. */
    public static List<ParamSpec> parameters(DatasetFactory f) {
        List<ParamSpec> all = new ArrayList<>(f.parameters());
        for (ParamSpec p : PARAMS) if (all.stream().noneMatch(x -> x.name().equals(p.name()))) all.add(p);
        return all;
    }

    /** Opens the dataset and applies the selection keys. */
    public static Dataset open(PipelineConfig.DatasetConfig d, DatasetContext ctx) {
        Dataset ds = d.factory().open(d.params(), ctx);
        // a factory that declares a selection key itself handles it
        if (d.factory().parameters().stream().anyMatch(p -> p.name().equals("subset_size"))) return ds;
        int n = d.params().integer("subset_size").orElse(0);
        if (n <= 0 || n >= ds.size()) return ds;
        int[] idx = HostContext.subsetOf(ds.size(), n, d.params().integer("seed").orElse(0), d.params().has("shuffle") && d.params().getBool("shuffle"));
        return new Dataset() {
            @Override public int size() { return idx.length; }
            @Override public Sample get(int i) {
                Sample s = ds.get(idx[i]);
                return new Sample(i, s.id(), s.inputs(), s.annotation());
            }
            @Override public boolean annotated() { return ds.annotated(); }
            @Override public void close() { ds.close(); }
        };
    }
}
