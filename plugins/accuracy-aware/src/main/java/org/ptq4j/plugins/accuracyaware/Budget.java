package org.ptq4j.plugins.accuracyaware;

/**
 * The accuracy budget: how a metric value turns into a drop versus FP32, and whether that drop is
 * acceptable. A positive drop means worse than FP32, whatever the metric's direction.
 *
 * @param maximalDrop    largest acceptable drop
 * @param relative       drop as a fraction of the FP32 value instead of an absolute difference
 * @param higherIsBetter the metric's direction
 * @param fp32Value      the FP32 model's metric value on the validation set
 */
record Budget(double maximalDrop, boolean relative, boolean higherIsBetter, double fp32Value) {

    /** drop = (fp32 - value) for higher-is-better metrics, (value - fp32) otherwise; relative: divided by |fp32|. */
    double drop(double value) {
        double d = higherIsBetter ? fp32Value - value : value - fp32Value;
        return relative ? d / Math.max(Math.abs(fp32Value), 1e-12) : d;
    }

    /** Improvement of {@code value} over {@code base} in the metric's good direction. */
    double gain(double value, double base) { return higherIsBetter ? value - base : base - value; }

    boolean met(double drop) { return drop <= maximalDrop + 1e-12; }
}
