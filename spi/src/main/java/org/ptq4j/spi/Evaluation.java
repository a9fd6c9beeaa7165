package org.ptq4j.spi;

/**
 * A metric evaluated over a set of samples.
 *
 * @param metric    metric name
 * @param value     the aggregate value
 * @param perSample per-sample values, in the order of the evaluated indices
 * @param samples   number of samples
 */
public record Evaluation(String metric, double value, double[] perSample, int samples) {}
