package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.SplittableRandom;

/**
 * Hard-to-quantize models made from the shared FMNIST models by function-preserving rewrites
 * (FP32 predictions unchanged; tests check it): outlier activation channels, as trained networks
 * without BatchNorm folding discipline often have.
 */
final class HardModels {
    private HardModels() {}

    /**
     * In every equalizable layer pair A -> (ReLU / pooling) -> B, {@code count} output channels of A are
     * multiplied by {@code factor} (weights and bias; ReLU and pooling are positively homogeneous) and the
     * matching input channels of B divided by it. The activation between them then spans ~factor times
     * its usual range in a few channels, which a per-tensor uint8 grid cannot serve.
     */
    static Planted outlierChannels(Model fp32, double factor, int count, long seed) {
        Model m = fp32.copy();
        Graph g = m.graph();
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Set<Integer>> planted = new LinkedHashMap<>();
        for (Equalization.Pair p : Equalization.pairs(g)) {
            double[] s = new double[(int) Equalization.outChannels(g, p.a())];
            Arrays.fill(s, 1);
            Set<Integer> channels = new TreeSet<>();
            for (int k = 0; k < count; k++) {
                int c = r.nextInt(s.length);
                s[c] = 1 / factor;
                channels.add(c);
            }
            Equalization.scale(g, p, s);
            planted.put(p.between().get(p.between().size() - 1), channels);
        }
        g.touch();
        return new Planted(m, planted);
    }

    /** A hard model and, per tensor between a pair, the channels made outliers. */
    record Planted(Model model, Map<String, Set<Integer>> channels) {}

}
