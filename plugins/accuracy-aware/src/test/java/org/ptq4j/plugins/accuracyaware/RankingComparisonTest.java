package org.ptq4j.plugins.accuracyaware;

import org.junit.jupiter.api.Test;
import org.ptq4j.spi.BudgetNotMetException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The comparison, on fmnist_resnet (11 quantizable layers) with 4-bit and 3-bit weights:
 * our scheme (metric + output-error ranking on a subset, galloping search, pruning) against the
 * naive one (layers reverted in order of their own quantization error, one per full evaluation)
 * and NNCF's (our ranking, one layer per full evaluation).
 */
class RankingComparisonTest {

    record Outcome(String kase, String scheme, boolean met, int fp32Layers, int full, int ranking, double drop) {}

    static final Object[][] CASES = {
            {"DefaultQuantization W4, budget 0.005", "DefaultQuantization", AccuracyAwareQuantizationTest.BASE_PARAMS, 0.005},
            {"MinMaxQuantization W3, budget 0.005", "MinMaxQuantization", Map.of("weights", Map.of("bits", 3)), 0.005},
    };
    static final Object[][] SCHEMES = {
            {"ours (defaults: hybrid, gallop, prune)", new Object[]{}},
            {"NNCF-like: hybrid ranking, sequential", new Object[]{"ranking", "hybrid", "search", "sequential", "prune", false}},
            {"naive: own error, sequential", new Object[]{"ranking", "naive", "search", "sequential", "prune", false}},
    };

    @Test
    void oursRevertsFewerLayersWithFewerFullEvaluationsThanNaive() {
        AccuracyAwareQuantizationTest.load();
        List<Outcome> all = new ArrayList<>();
        for (Object[] c : CASES) {
            for (Object[] s : SCHEMES) {
                Map<String, Object> v = new HashMap<>(AccuracyAwareQuantizationTest.values((Object[]) s[1]));
                v.put("base_algorithm", c[1]);
                v.put("base_params", c[2]);
                v.put("maximal_drop", c[3]);
                Outcome o;
                try {
                    var r = AccuracyAwareQuantizationTest.cached(v);
                    o = new Outcome((String) c[0], (String) s[0], true, r.reverted().size(), r.fullEvaluations(), r.rankingEvaluations(), r.drop());
                } catch (BudgetNotMetException e) {
                    o = new Outcome((String) c[0], (String) s[0], false, -1, -1, -1, e.achievedDrop());
                }
                all.add(o);
            }
        }
        System.out.printf(Locale.ROOT, "%-38s %-38s %5s %11s %10s %13s %7s%n", "case (fmnist_resnet)", "scheme", "met", "FP32 layers", "full evals", "ranking evals", "drop");
        for (Outcome o : all)
            System.out.printf(Locale.ROOT, "%-38s %-38s %5s %11d %10d %13d %7.4f%n", o.kase, o.scheme, o.met, o.fp32Layers, o.full, o.ranking, o.drop);
        for (int i = 0; i < all.size(); i += SCHEMES.length) {
            Outcome ours = all.get(i), naive = all.get(i + SCHEMES.length - 1);
            assertTrue(ours.met, ours.toString());
            assertTrue(naive.met, naive.toString());
            assertTrue(ours.fp32Layers <= naive.fp32Layers, "FP32 layers: ours " + ours + " vs naive " + naive);
            assertTrue(ours.full < naive.full, "full evaluations: ours " + ours + " vs naive " + naive);
        }
    }
}
