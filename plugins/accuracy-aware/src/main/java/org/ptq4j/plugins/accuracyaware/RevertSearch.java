package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.model.Model;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Chooses which quantized layers go back to FP32.
 * <p>
 * <b>Ranking</b> (cheap, on the ranking subset): each remaining layer is reverted on top of the
 * current set and scored by the metric it reaches there ({@link Ranking#HYBRID}: ties, common with
 * accuracy on a few hundred samples, broken by the relative output error vs FP32), or by the output
 * error alone, or by the metric alone (POT-like); {@link Ranking#NAIVE} orders layers by their own
 * output quantization error in the fully quantized model.
 * <p>
 * <b>Search</b> (full evaluations): {@link Strategy#GALLOP} reverts the top 1, 2, 4, ... layers of the
 * ranking until the budget is met, then binary-searches the shortest prefix that meets it
 * (about 2·log2(k) full evaluations for k reverted layers instead of k). When the drop grows
 * on the way, it steps back to the best prefix seen, re-ranks the rest on top of it and goes on;
 * a top layer that does not help on its own is set aside. {@link Strategy#SEQUENTIAL} is NNCF's
 * scheme: rank once, then one more layer per full evaluation in that order.
 * The search stops at the budget, after {@code maxIter} full evaluations, or when no layer is left.
 */
final class RevertSearch {
    enum Ranking { HYBRID, METRIC, OUTPUT_ERROR, NAIVE }

    enum Strategy { GALLOP, SEQUENTIAL }

    /** One fully evaluated candidate (its model is dropped from the memo unless it can be the result). */
    record Trial(List<String> reverted, List<String> activationOnly, Model model, Evaluation evaluation, double drop) {
        int fp32Layers() { return reverted.size(); }
    }

    private final Quantizer quantizer;
    private final Judge judge;
    private final Budget budget;
    private final List<String> layers;
    private final Ranking ranking;
    private final Strategy strategy;
    private final int maxIter;
    private final Consumer<Trial> onTrial;
    private final Map<String, Trial> memo = new HashMap<>();
    private Map<String, Double> naiveErrors;
    private Trial best;
    private int iterations;
    int rankings;

    RevertSearch(Quantizer quantizer, Judge judge, Budget budget, List<String> layers, Ranking ranking,
                 Strategy strategy, int maxIter, Consumer<Trial> onTrial) {
        this.quantizer = quantizer;
        this.judge = judge;
        this.budget = budget;
        this.layers = List.copyOf(layers);
        this.ranking = ranking;
        this.strategy = strategy;
        this.maxIter = maxIter;
        this.onTrial = onTrial;
    }

    /** Candidate full evaluations used so far. */
    int iterations() { return iterations; }

    /** The trial with the smallest drop (fewest FP32 layers on ties). */
    Trial best() { return best; }

    /** Records a trial evaluated outside the search (the fully quantized model). */
    void seed(Trial t) {
        memo.put(key(t.reverted(), t.activationOnly()), t);
        consider(t);
    }

    /** Searches from {@code start}; returns the first trial that meets the budget, else {@link #best()}. */
    Trial run(Trial start) {
        Trial cur = start;
        List<String> reverted = new ArrayList<>(start.reverted());
        Set<String> setAside = new HashSet<>();
        while (!budget.met(cur.drop()) && !exhausted()) {
            List<String> left = new ArrayList<>();
            for (String l : layers) if (!reverted.contains(l) && !setAside.contains(l)) left.add(l);
            if (left.isEmpty()) break;
            List<String> order = rank(left, reverted);
            Trial next = strategy == Strategy.GALLOP ? gallop(reverted, order, cur) : sequential(reverted, order, cur);
            if (next == null) setAside.add(order.get(0)); // reverting the top layer alone did not help
            else cur = next;
            reverted = new ArrayList<>(cur.reverted());
        }
        return budget.met(cur.drop()) ? cur : best;
    }

    /**
     * Galloping + binary search over prefixes of {@code order}. Returns the shortest prefix found that
     * meets the budget; else, when the drop grew after an improvement, the best prefix (the caller
     * re-ranks on top of it); null when no prefix improved on {@code cur}.
     */
    private Trial gallop(List<String> reverted, List<String> order, Trial cur) {
        Trial bestHere = null;
        int k = 1, failK = 0;
        Trial met = null;
        int metK = 0;
        while (!exhausted()) {
            Trial t = trial(concat(reverted, order.subList(0, k)));
            if (budget.met(t.drop())) { met = t; metK = k; break; }
            failK = k;
            if (bestHere != null && t.drop() > bestHere.drop()) break; // the drop grew: step back and re-rank
            if (t.drop() < (bestHere == null ? cur.drop() : bestHere.drop())) bestHere = t;
            if (k == order.size()) break;
            k = Math.min(2 * k, order.size());
        }
        if (met == null) return bestHere;
        int lo = failK, hi = metK;
        while (hi - lo > 1 && !exhausted()) {
            int mid = (lo + hi) / 2;
            Trial t = trial(concat(reverted, order.subList(0, mid)));
            if (budget.met(t.drop())) { hi = mid; met = t; } else lo = mid;
        }
        return met;
    }

    /** NNCF's scheme: one more layer per full evaluation, in ranking order, until the budget is met. */
    private Trial sequential(List<String> reverted, List<String> order, Trial cur) {
        List<String> r = new ArrayList<>(reverted);
        Trial last = null;
        for (String layer : order) {
            if (exhausted()) break;
            r.add(layer);
            last = trial(r);
            if (budget.met(last.drop())) break;
        }
        return last;
    }

    /**
     * Fewer FP32 layers: scores putting each reverted layer back (quantized) on the ranking subset,
     * then tries them, most harmless first, one full evaluation each, until one breaks the budget.
     */
    Trial prune(Trial met) {
        if (met.reverted().size() < 2 || exhausted()) return met;
        Map<String, Judge.Score> scores = new LinkedHashMap<>();
        for (String l : met.reverted()) {
            List<String> r = new ArrayList<>(met.reverted());
            r.remove(l);
            scores.put(l, judge.score(quantizer.build(r, met.activationOnly())));
        }
        List<String> order = new ArrayList<>(met.reverted());
        order.sort(comparator(scores));
        Trial cur = met;
        for (String l : order) {
            if (exhausted()) break;
            List<String> r = new ArrayList<>(cur.reverted());
            r.remove(l);
            Trial t = trial(r, cur.activationOnly());
            if (!budget.met(t.drop())) break;
            cur = t;
        }
        return cur;
    }

    /** Orders {@code left} from most to least harmful when quantized, on top of {@code reverted}. */
    List<String> rank(List<String> left, List<String> reverted) {
        rankings++;
        if (ranking == Ranking.NAIVE) {
            if (naiveErrors == null) naiveErrors = judge.layerErrors(quantizer.build(List.of(), List.of()), layers);
            List<String> o = new ArrayList<>(left);
            o.sort(Comparator.comparingDouble((String l) -> naiveErrors.get(l)).reversed());
            return o;
        }
        Map<String, Judge.Score> scores = new LinkedHashMap<>();
        for (String l : left) scores.put(l, judge.score(quantizer.build(concat(reverted, List.of(l)), List.of())));
        List<String> o = new ArrayList<>(left);
        o.sort(comparator(scores));
        return o;
    }

    /** Best first: higher metric on the ranking subset (hybrid: ties broken by lower output error). */
    private Comparator<String> comparator(Map<String, Judge.Score> scores) {
        Comparator<String> byMetric = Comparator.comparingDouble(l -> -budget.gain(scores.get(l).metric(), 0));
        Comparator<String> byError = Comparator.comparingDouble(l -> scores.get(l).outputError());
        return switch (ranking) {
            case METRIC -> byMetric;
            case OUTPUT_ERROR -> byError;
            default -> byMetric.thenComparing(byError);
        };
    }

    /** Builds and fully evaluates a candidate (memoized; counts one iteration when new). */
    Trial trial(List<String> reverted, List<String> activationOnly) {
        String key = key(reverted, activationOnly);
        Trial t = memo.get(key);
        if (t != null) return t;
        iterations++;
        Model m = quantizer.build(reverted, activationOnly);
        Evaluation e = judge.full(m);
        t = new Trial(List.copyOf(reverted), List.copyOf(activationOnly), m, e, budget.drop(e.value()));
        consider(t);
        onTrial.accept(t);
        // only a result can be returned: keep the models of the best trial and of those meeting the budget
        memo.put(key, t == best || budget.met(t.drop()) ? t : new Trial(t.reverted(), t.activationOnly(), null, e, t.drop()));
        return t;
    }

    private Trial trial(List<String> reverted) { return trial(reverted, List.of()); }

    boolean exhausted() { return iterations >= maxIter; }

    private void consider(Trial t) {
        if (best == null || t.drop() < best.drop() - 1e-12
                || (Math.abs(t.drop() - best.drop()) <= 1e-12 && t.fp32Layers() < best.fp32Layers())) best = t;
    }

    private static String key(List<String> reverted, List<String> activationOnly) {
        return new TreeSet<>(reverted) + "|" + new TreeSet<>(activationOnly);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> r = new ArrayList<>(a);
        r.addAll(b);
        return r;
    }
}
