package org.ptq4j.spi.stats;

/** "Collect {@code spec} on tensor {@code tensor} of the model being calibrated." */
public record StatisticRequest(String tensor, CollectorSpec spec) {}
