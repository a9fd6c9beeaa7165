package org.ptq4j.plugins.accuracyaware;

import org.junit.jupiter.api.Test;
import org.ptq4j.spi.param.Params;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tune_hyperparams on the real quantizer; the budget arithmetic and the ranking subset choice. */
class TuningAndBudgetTest {

    @Test
    @SuppressWarnings("unchecked")
    void tuningTriesTheMixedPresetAndRangeEstimatorsBeforeReverting() {
        AccuracyAwareQuantizationTest.load();
        var r = AccuracyAwareQuantizationTest.run(AccuracyAwareQuantizationTest.values(
                "base_algorithm", "MinMaxQuantization", "base_params", Map.of("weights", Map.of("bits", 4)), "tune_hyperparams", true));
        List<Map<String, Object>> rows = (List<Map<String, Object>>) r.report().get("tuning");
        System.out.println("tuning: " + rows + " -> base_params " + r.report().get("base_params") + ", FP32 layers " + r.reverted());
        assertFalse(rows.isEmpty());
        assertEquals("preset=mixed", rows.get(0).get("option"));
        // range estimator presets follow (weights first: with 4-bit weights, MSE clipping already meets the budget)
        assertTrue(rows.stream().anyMatch(x -> x.get("option").toString().matches("(weights|activations)\\.range_estimator\\.preset=.*")), rows.toString());
        assertTrue((Boolean) r.report().get("budget_met"));
        // each tried option is one full evaluation of a fully quantized model
        assertTrue(r.fullEvaluations() >= 1 + rows.size());
    }

    @Test
    void dropFollowsTheMetricDirectionAndType() {
        Budget acc = new Budget(0.01, false, true, 0.90);
        assertEquals(0.02, acc.drop(0.88), 1e-12);
        assertTrue(acc.met(0.01));
        assertFalse(acc.met(0.0101));
        Budget rel = new Budget(0.01, true, true, 0.80);
        assertEquals(0.025, rel.drop(0.78), 1e-12);
        Budget err = new Budget(0.1, false, false, 2.0); // lower is better (e.g. mse)
        assertEquals(0.5, err.drop(2.5), 1e-12);
        assertEquals(-0.5, err.drop(1.5), 1e-12);
    }

    @Test
    void rankingSubsetTakesChangedSamplesFirstThenASeededRandomRest() {
        double[] fp32 = {1, 1, 1, 0, 1, 1, 0, 1, 1, 1};
        double[] int8 = {1, 0, 1, 0, 1, 0, 1, 1, 1, 1}; // samples 1, 5, 6 changed
        Params p = new Params(Map.of("ranking_subset_size", 6, "metric_subset_ratio", 0.5, "seed", 7));
        int[] s = AccuracyAwareQuantization.rankingSubset(fp32, int8, p);
        assertEquals(6, s.length);
        for (int changed : new int[]{1, 5, 6}) assertTrue(Arrays.stream(s).anyMatch(i -> i == changed), Arrays.toString(s));
        assertEquals(6, Arrays.stream(s).distinct().count());
        assertArrayEquals(s, AccuracyAwareQuantization.rankingSubset(fp32, int8, p), "seeded");
    }
}
