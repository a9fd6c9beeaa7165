package org.ptq4j.plugins.metrics;

/**
 * The annotation-free fidelity measures: how close a (quantized) model's output row {@code y} is
 * to the reference (FP32) row {@code r}. All math of the fidelity metrics lives here.
 * <ul>
 *   <li>{@code cosine}: {@code y·r / (|y| |r|)} per sample; aggregate: mean.</li>
 *   <li>{@code sqnr}: {@code 10 log10(Σ r² / Σ (y − r)²)} dB per sample; aggregate: the same ratio over all
 *       samples' sums (+∞ when identical).</li>
 *   <li>{@code mse}: {@code Σ (y − r)² / n} per sample; aggregate: over all elements.</li>
 *   <li>{@code top1_agreement}: whether {@code argmax y == argmax r} along the last axis (the fraction
 *       of positions that agree, for outputs with more axes); aggregate: mean.</li>
 * </ul>
 */
enum Fidelity {
    COSINE("cosine", true, "cosine similarity to the reference (FP32) output, mean over samples"),
    SQNR("sqnr", true, "signal-to-quantization-noise ratio vs the reference (FP32) output, dB"),
    MSE("mse", false, "mean squared error vs the reference (FP32) output"),
    TOP1_AGREEMENT("top1_agreement", true, "fraction of samples whose argmax equals the reference (FP32) model's");

    final String type;
    final boolean higherIsBetter;
    final String description;

    Fidelity(String type, boolean higherIsBetter, String description) {
        this.type = type;
        this.higherIsBetter = higherIsBetter;
        this.description = description;
    }

    /** Sums one row needs for its value and for the aggregate: [signal Σr², noise Σ(y−r)², value]. */
    double[] row(float[] y, float[] r, int off, int len, int lastDim) {
        double dot = 0, yy = 0, rr = 0, noise = 0;
        for (int i = off; i < off + len; i++) {
            double a = y[i], b = r[i], d = a - b;
            dot += a * b;
            yy += a * a;
            rr += b * b;
            noise += d * d;
        }
        double v = switch (this) {
            case COSINE -> yy == 0 && rr == 0 ? 1 : yy == 0 || rr == 0 ? 0 : dot / Math.sqrt(yy * rr);
            case SQNR -> decibels(rr, noise);
            case MSE -> len == 0 ? 0 : noise / len;
            case TOP1_AGREEMENT -> agreement(y, r, off, len, lastDim);
        };
        return new double[]{rr, noise, v};
    }

    static double decibels(double signal, double noise) {
        return noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
    }

    private static double agreement(float[] y, float[] r, int off, int len, int lastDim) {
        int positions = len / lastDim, same = 0;
        for (int p = 0; p < positions; p++) {
            int s = off + p * lastDim;
            if (argmax(y, s, lastDim) == argmax(r, s, lastDim)) same++;
        }
        return positions == 0 ? 1 : (double) same / positions;
    }

    static int argmax(float[] v, int off, int len) {
        int best = 0;
        for (int i = 1; i < len; i++) if (v[off + i] > v[off + best]) best = i;
        return best;
    }
}
